"""An experiment file checked and turned into the arguments of ``tune.Tuner``.

Sections: ``trainable`` (required), ``param_space``, ``tune_config``, ``run_config``,
``resources_per_trial``. Every key is checked against what it may hold before anything is
built; the first problem is a :class:`ConfigError` naming the key path and its line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from caliper.cli import components
from caliper.cli.document import Document, Path
from caliper.cli.space import convert
from caliper.cli.trainable import import_object
from caliper.tune.trainable_wrappers import RESOURCES_ATTR

NUMBER = (int, float)
_OPTIONAL = (type(None),)

# key -> (accepted types, what is expected). A dict value is a nested section.
SCHEMA: dict[str, Any] = {
    "trainable": ((str,), "module:function or path/to/file.py:function"),
    "param_space": ((dict,), "a mapping of hyperparameters"),
    "resources_per_trial": ((dict,), "a mapping of resources, e.g. {cpu: 1, gpu: 0.5}"),
    "tune_config": {
        "metric": ((str, *_OPTIONAL), "a metric name"),
        "mode": ((str, *_OPTIONAL), "min or max"),
        "num_samples": ((int,), "an int >= 1 (-1: until the searcher ends)"),
        "max_concurrent_trials": ((int, *_OPTIONAL), "an int >= 1"),
        "time_budget_s": ((*NUMBER, *_OPTIONAL), "a number of seconds"),
        "search_seed": ((int, *_OPTIONAL), "an int"),
        "reuse_actors": ((bool, *_OPTIONAL), "true or false"),
        "search_alg": ((str, dict, *_OPTIONAL), "a searcher name or {name: {arguments}}"),
        "scheduler": ((str, dict, *_OPTIONAL), "a scheduler name or {name: {arguments}}"),
    },
    "run_config": {
        "name": ((str, *_OPTIONAL), "a directory name"),
        "storage_path": ((str, *_OPTIONAL), "a directory"),
        "stop": ((dict, *_OPTIONAL), "a mapping of result keys to thresholds"),
        "verbose": ((int, *_OPTIONAL), "0, 1, 2 or 3"),
        "log_to_file": ((bool, str), "true, false or a file name"),
        "failure_config": {
            "max_failures": ((int,), "an int (-1: retry forever)"),
            "fail_fast": ((bool, str), "true, false or raise"),
        },
        "checkpoint_config": {
            "num_to_keep": ((int, *_OPTIONAL), "an int >= 1"),
            "checkpoint_score_attribute": ((str, *_OPTIONAL), "a metric name"),
            "checkpoint_score_order": ((str,), "min or max"),
            "checkpoint_frequency": ((int,), "an int >= 0"),
            "checkpoint_at_end": ((bool, *_OPTIONAL), "true or false"),
        },
    },
}


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else f"a {type(value).__name__}"
    )


def check_schema(doc: Document, schema: dict = SCHEMA, data: Any = None, path: Path = ()) -> None:
    """Unknown keys and values of the wrong type, in file order."""
    data = doc.data if data is None else data
    for key, value in data.items():
        sub = (*path, key)
        rule = schema.get(key) if isinstance(key, str) else None
        if rule is None:
            known = ", ".join(schema)
            where = f"in {'.'.join(path)}" if path else "at the top level"
            raise doc.error(sub, f"unknown key {key!r} {where}; expected one of: {known}")
        if isinstance(rule, dict):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise doc.error(sub, f"expected a mapping, got {_type_name(value)}")
            check_schema(doc, rule, value, sub)
            continue
        types, expected = rule
        bad_bool = isinstance(value, bool) and bool not in types
        if bad_bool or not isinstance(value, types):
            raise doc.error(sub, f"expected {expected}, got {_type_name(value)} {value!r}")
    if not path and "trainable" not in data:
        raise doc.error((), f"missing key 'trainable': {SCHEMA['trainable'][1]}")


def _check_resources(doc: Document, resources: dict) -> dict:
    out = {}
    for key, value in resources.items():
        if not isinstance(key, str):
            raise doc.error(("resources_per_trial", key), "expected a resource name")
        if isinstance(value, bool) or not isinstance(value, NUMBER) or value < 0:
            raise doc.error(("resources_per_trial", key), f"expected a number >= 0, got {value!r}")
        out[key] = value
    return out


@dataclass
class Experiment:
    """What ``tune run`` will run, resolved from the file and the command line."""

    spec: str
    trainable: Any
    param_space: dict
    tune_kwargs: dict = field(default_factory=dict)
    run_kwargs: dict = field(default_factory=dict)
    resources: dict | None = None
    base_dir: str = ""

    def wrapped_trainable(self) -> Any:
        from caliper.cli.trainable import with_resources

        return with_resources(self.trainable, self.resources)

    def tuner_configs(self) -> tuple[Any, Any]:
        from caliper import tune

        return tune.TuneConfig(**self.tune_kwargs), tune.RunConfig(**self.run_kwargs)


def _construct(doc: Document, path: Path, cls: Any, kwargs: dict) -> Any:
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        message = str(exc).replace("\n", " ")
        words = set(re.findall(r"\w+", message))
        key = next((key for key in kwargs if key in words), None)  # the key it is about
        raise doc.error((*path, key) if key else path, message) from None


def _check_search_properties(doc: Document, section: dict, space: dict) -> None:
    """What the searcher and scheduler say of the search space (e.g. that Optuna cannot
    search a grid), found now on copies of them rather than once the run started."""
    import copy

    metric, mode = section.get("metric"), section.get("mode")
    for key in ("search_alg", "scheduler"):
        component = section.get(key)
        if component is None:
            continue
        try:
            component = copy.deepcopy(component)
        except Exception:  # a component that cannot be copied is checked when it runs
            continue
        try:
            if key == "search_alg":
                samples = section.get("num_samples", 1)
                component.set_search_properties(metric, mode, space, num_samples=samples)
            else:
                component.set_search_properties(metric, mode, config=space)
        except (TypeError, ValueError, ImportError) as exc:
            message = str(exc).replace("\n", " ")
            found = re.search(r" at '([^']+)'", message)
            path: Path = ("tune_config", key)
            if found:
                parameter = ("param_space", *re.split(r"[/.]", found.group(1)))
                path = parameter if parameter in doc.lines else path
            raise doc.error(path, message) from None


def build_experiment(doc: Document) -> Experiment:
    """Check ``doc`` and build everything a Tuner needs (the trainable imported)."""
    from caliper import tune

    check_schema(doc)
    data = doc.data
    base_dir = os.getcwd()
    config_dir = os.path.dirname(os.path.abspath(doc.file))
    trainable = import_object(data["trainable"], doc, ("trainable",), base_dir, config_dir)
    if not callable(trainable):
        raise doc.error(("trainable",), f"{data['trainable']!r} is not a function or a class")
    space = convert(data.get("param_space") or {}, doc, ("param_space",))
    resources = _check_resources(doc, data.get("resources_per_trial") or {}) or None
    if resources and getattr(trainable, RESOURCES_ATTR, None) is not None:
        raise doc.error(
            ("resources_per_trial",),
            "the trainable asks for its own resources (e.g. a TorchTrainer's ScalingConfig); "
            "remove resources_per_trial or change them where the trainable is made",
        )

    tune_section = dict(data.get("tune_config") or {})
    for key in ("search_alg", "scheduler"):
        if tune_section.get(key) is not None:
            build = components.searcher if key == "search_alg" else components.scheduler
            tune_section[key] = build(doc, ("tune_config", key), tune_section[key])
    _construct(doc, ("tune_config",), tune.TuneConfig, tune_section)  # checked now
    metric, mode = tune_section.get("metric"), tune_section.get("mode")
    if (metric is None) != (mode is None):
        missing = "mode" if mode is None else "metric"
        raise doc.error(
            ("tune_config", "metric" if mode is None else "mode"),
            f"tune_config.{missing} is missing: give metric and mode together "
            "(e.g. metric: loss, mode: min) or neither",
        )

    _check_search_properties(doc, tune_section, space)

    run_section = dict(data.get("run_config") or {})
    for key, cls in (
        ("failure_config", tune.FailureConfig),
        ("checkpoint_config", tune.CheckpointConfig),
    ):
        if run_section.get(key) is not None:
            run_section[key] = _construct(doc, ("run_config", key), cls, run_section[key])
    _construct(doc, ("run_config",), tune.RunConfig, run_section)
    return Experiment(
        spec=data["trainable"],
        trainable=trainable,
        param_space=space,
        tune_kwargs=tune_section,
        run_kwargs=run_section,
        resources=resources,
        base_dir=base_dir,
    )
