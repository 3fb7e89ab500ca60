"""Schedulers and searchers named in an experiment file.

``scheduler: asha`` or ``scheduler: {asha: {max_t: 27, grace_period: 1}}``;
``search_alg: {optuna: {seed: 0}, concurrency_limit: 4}`` wraps the searcher in a
``ConcurrencyLimiter`` (``max_concurrent`` is accepted as the same key beside the name).
Arguments are the classes' own keyword arguments; search-space values inside them (PBT's
``hyperparam_mutations``, a searcher's ``space``) take the YAML form of ``param_space``.
"""

from __future__ import annotations

import inspect
from typing import Any

from caliper.cli.document import Document, Path
from caliper.cli.space import convert

SCHEDULERS = {
    "fifo": "FIFOScheduler",
    "asha": "ASHAScheduler",
    "async_hyperband": "AsyncHyperBandScheduler",
    "hyperband": "HyperBandScheduler",
    "median_stopping": "MedianStoppingRule",
    "pbt": "PopulationBasedTraining",
    "pbt_replay": "PopulationBasedTrainingReplay",
    "pb2": "PB2",
}
SEARCHERS = {
    "random": "BasicVariantGenerator",
    "basic_variant": "BasicVariantGenerator",
    "optuna": "OptunaSearch",
    "hyperopt": "HyperOptSearch",
    "bayesopt": "BayesOptSearch",
}
_LIMIT_KEYS = ("concurrency_limit", "max_concurrent")
_SPACE_ARGUMENTS = ("hyperparam_mutations", "space")


def _split(doc: Document, path: Path, value: Any, names: dict, extra: tuple = ()) -> tuple:
    """``(name, arguments, extras)`` of ``name`` or ``{name: {arguments}, extra_key: ...}``."""
    expected = f"one of {', '.join(names)}"
    if isinstance(value, str):
        value = {value: None}
    chosen = [key for key in value if key not in extra]
    if len(chosen) != 1:
        what = "no name" if not chosen else f"several names {chosen}"
        raise doc.error(path, f"{what}; expected exactly one of {', '.join(names)}")
    (name,) = chosen
    if name not in names:
        raise doc.error((*path, name), f"unknown name {name!r}; expected {expected}")
    arguments = value[name]
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise doc.error(
            (*path, name), f"expected a mapping of {names[name]} arguments, got {arguments!r}"
        )
    extras = {key: value[key] for key in extra if key in value}
    return name, arguments, extras


def _instantiate(doc: Document, path: Path, module: Any, class_name: str, arguments: dict) -> Any:
    cls = getattr(module, class_name)
    parameters = inspect.signature(cls.__init__).parameters
    for key in arguments:
        if key not in parameters or key == "self":
            known = ", ".join(p for p in parameters if p not in ("self", "args", "kwargs"))
            raise doc.error(
                (*path, key), f"unknown {class_name} argument {key!r}; expected one of: {known}"
            )
    kwargs = {
        key: convert(value, doc, (*path, key)) if key in _SPACE_ARGUMENTS else value
        for key, value in arguments.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, ImportError) as exc:
        raise doc.error(path, f"{class_name}: {exc}".replace("\n", " ")) from None


def scheduler(doc: Document, path: Path, value: Any) -> Any:
    import caliper.schedulers as module

    name, arguments, _ = _split(doc, path, value, SCHEDULERS)
    return _instantiate(doc, (*path, name), module, SCHEDULERS[name], arguments)


def searcher(doc: Document, path: Path, value: Any) -> Any:
    import caliper.searchers as module

    name, arguments, extras = _split(doc, path, value, SEARCHERS, _LIMIT_KEYS)
    search = _instantiate(doc, (*path, name), module, SEARCHERS[name], arguments)
    if len(extras) > 1:
        raise doc.error(path, f"give one of {' or '.join(_LIMIT_KEYS)}, not both")
    for key, limit in extras.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise doc.error((*path, key), f"expected an int >= 1, got {limit!r}")
        search = module.ConcurrencyLimiter(search, max_concurrent=limit)
    return search
