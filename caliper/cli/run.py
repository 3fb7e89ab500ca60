"""``tune run config.yaml``: build a Tuner from the file and fit it (or show it: ``--dry-run``)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import yaml

from caliper.cli.document import apply_override, load_document
from caliper.cli.experiment import Experiment, build_experiment
from caliper.cli.trainable import save_spec
from caliper.tune.experiment_state import read_status
from caliper.tune.trainable_wrappers import RESOURCES_ATTR

DRY_RUN_SAMPLES = 3


def add_arguments(parser: Any) -> None:
    parser.add_argument("config", help="the experiment file (YAML)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the file, e.g. --set tune_config.num_samples=4 "
        "(the value is read as YAML; repeat for several keys)",
    )
    parser.add_argument("--name", help="the experiment name (run_config.name)")
    parser.add_argument(
        "--storage-path", help="the parent directory of the experiment (run_config.storage_path)"
    )
    add_address_argument(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved experiment and a few sampled configs; run nothing",
    )


def add_address_argument(parser: Any) -> None:
    parser.add_argument(
        "--address",
        help="run the trials on a running Ray cluster: auto, host:port or ray://host:port "
        "(needs caliper[ray]); default: this machine",
    )


def connect(args: Any) -> None:
    """Start the runtime on the cluster ``--address`` names (nothing to do without it)."""
    if getattr(args, "address", None):
        import caliper

        caliper.init(address=args.address)


def load_experiment_file(args: Any) -> tuple[Any, Experiment]:
    doc = load_document(args.config)
    for assignment in args.overrides:
        apply_override(doc, assignment)
    for option, key in ((args.name, "name"), (args.storage_path, "storage_path")):
        if option is not None:
            doc.data.setdefault("run_config", {})
            if isinstance(doc.data["run_config"], dict):
                doc.data["run_config"][key] = option
                doc.overrides.add(("run_config", key))
    return doc, build_experiment(doc)


def _tuner(doc: Any, experiment: Experiment) -> Any:
    from caliper import tune

    tune_config, run_config = experiment.tuner_configs()
    try:
        return tune.Tuner(
            experiment.wrapped_trainable(),
            param_space=experiment.param_space,
            tune_config=tune_config,
            run_config=run_config,
        )
    except (TypeError, ValueError) as exc:  # e.g. a trainable that cannot take the config
        raise doc.error(("trainable",), str(exc).replace("\n", " ")) from None


def _sampled_configs(experiment: Experiment, count: int) -> tuple[int, list[dict]]:
    import numpy as np

    from caliper.tune.variants import count_variants, generate_variants

    num_samples = experiment.tune_kwargs.get("num_samples", 1)
    seed = experiment.tune_kwargs.get("search_seed")
    total = count_variants(experiment.param_space, num_samples) if num_samples > 0 else -1
    variants = generate_variants(
        experiment.param_space, max(num_samples, 1), np.random.default_rng(seed)
    )
    configs = []
    for config in variants:
        configs.append(config)
        if len(configs) >= count:
            break
    return total, configs


def _plain(value: Any) -> Any:
    """``value`` as YAML can print it (numpy scalars as numbers, other objects as text)."""
    from caliper.tune.storage import json_safe

    return json_safe(value)


def dry_run(doc: Any, experiment: Experiment, out: Any = None) -> None:
    out = out or sys.stdout
    tuner = _tuner(doc, experiment)
    total, configs = _sampled_configs(experiment, DRY_RUN_SAMPLES)
    search = experiment.tune_kwargs.get("search_alg")
    scheduler = experiment.tune_kwargs.get("scheduler")
    resolved = {key: doc.data[key] for key in doc.data}
    print(f"# Experiment {doc.file} (dry run: nothing is started)", file=out)
    print(
        yaml.safe_dump(_plain(resolved), sort_keys=False, default_flow_style=None).rstrip(),
        file=out,
    )
    print("", file=out)
    print(f"trainable: {experiment.spec} -> {_describe(experiment.trainable)}", file=out)
    print(f"searcher: {type(search).__name__ if search else 'BasicVariantGenerator'}", file=out)
    print(f"scheduler: {type(scheduler).__name__ if scheduler else 'FIFOScheduler'}", file=out)
    own = getattr(experiment.trainable, RESOURCES_ATTR, None)  # e.g. a TorchTrainer's
    shown = own.bundles if own is not None else experiment.resources or {"cpu": 1}
    print(f"resources per trial: {shown}", file=out)
    trials = "until the searcher ends" if total < 0 else str(total)
    print(f"trials: {trials}", file=out)
    print(f"experiment directory: {tuner.storage.location}", file=out)
    note = " (the searcher chooses the real ones)" if search else ""
    print(f"sampled configs{note}:", file=out)
    for config in configs:
        print(f"  {json.dumps(_plain(config), sort_keys=True)}", file=out)


def _describe(obj: Any) -> str:
    module = getattr(obj, "__module__", "?")
    if module.startswith("_caliper_cli_"):
        module = getattr(sys.modules.get(module), "__file__", module)
    return f"{getattr(obj, '__qualname__', repr(obj))} in {module}"


def _experiment_status(path: str) -> str | None:
    status = read_status(path)
    return status.value if status is not None else None


def run(args: Any) -> int:
    doc, experiment = load_experiment_file(args)
    if args.dry_run:
        dry_run(doc, experiment)
        return 0
    connect(args)
    tuner = _tuner(doc, experiment)
    save_spec(tuner.experiment_path, experiment.spec, experiment.base_dir, experiment.resources)
    results = tuner.fit()
    metric, mode = experiment.tune_kwargs.get("metric"), experiment.tune_kwargs.get("mode")
    verbose = experiment.run_kwargs.get("verbose")
    where = tuner.storage.location  # a URI for remote storage
    return report_results(results, tuner.experiment_path, metric, mode, verbose, where)


def report_results(
    results: Any,
    path: str,
    metric: str | None,
    mode: str | None,
    verbose: int | None,
    where: str | None = None,
) -> int:
    """Print where the results are (``where``, e.g. a storage URI, else ``path``, the local
    experiment directory) and the best trial (unless the end summary of the progress display
    did); the exit status of the run."""
    summary_shown = verbose is None or verbose >= 1
    status = _experiment_status(path)
    path = where or path
    if not summary_shown:
        print(f"Results: {path}")
    print(f"Inspect them with: tune ls {path}  |  tune best {path}")
    if metric and mode and len(results) and not summary_shown:
        try:
            best = results.get_best_result(metric, mode)
        except ValueError as exc:
            print(f"No best trial: {exc}")
        else:
            value = best.metrics.get(metric)
            print(f"Best trial: {os.path.basename(best.path or '')} {metric}={value}")
            print(f"  config: {json.dumps(_plain(best.config), sort_keys=True)}")
    if status == "INTERRUPTED":
        print(f"Interrupted; continue with: tune restore {path}")
        return 130
    if results.num_errors:
        print(f"{results.num_errors} trial(s) failed; see the error.txt of each")
        return 1
    return 0
