"""Search algorithms (BasicVariantGenerator, OptunaSearch, HyperOptSearch, ConcurrencyLimiter,
Repeater). Empty in this version."""

__all__: list[str] = []
