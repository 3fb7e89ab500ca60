"""Trial schedulers (FIFO, ASHA, HyperBand, MedianStoppingRule, PBT). Empty in this version."""

__all__: list[str] = []
