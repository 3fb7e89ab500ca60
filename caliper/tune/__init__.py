"""The tuning API (``Tuner``, ``TuneConfig``, search spaces, ``report``...) and the experiment
controller. Empty in this version: only the core runtime exists so far."""

__all__: list[str] = []
