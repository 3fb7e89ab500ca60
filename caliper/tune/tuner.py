"""``tune.Tuner``: configure an experiment, ``fit()`` it, get a ``ResultGrid``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from caliper.tune import naming
from caliper.tune.config import RunConfig, TuneConfig
from caliper.tune.experiment_state import STATE_FILE
from caliper.tune.restore import restore_tuner, save_tuner_state
from caliper.tune.result_grid import ResultGrid
from caliper.tune.storage import Storage, is_uri, open_storage
from caliper.tune.trainable import Trainable


def check_trainable(trainable: Any) -> None:
    """A function of the config or a ``tune.Trainable`` subclass that can be pickled."""
    if isinstance(trainable, type):
        if not issubclass(trainable, Trainable):
            raise TypeError(
                f"trainable class {trainable.__name__} must subclass tune.Trainable (or pass a "
                "function of the config)"
            )
    elif not callable(trainable):
        raise TypeError(
            f"trainable must be a function of the config or a tune.Trainable subclass, got "
            f"{type(trainable).__name__}"
        )
    else:
        _check_signature(trainable)
    import cloudpickle

    try:
        cloudpickle.dumps(trainable)
    except Exception as exc:
        culprit = _unpicklable_part(trainable)
        where = f" (it refers to {culprit})" if culprit else ""
        raise TypeError(
            f"the trainable {naming.trainable_name(trainable)} cannot be pickled to run in a "
            f"trial{where}: {type(exc).__name__}: {exc}; create such objects inside the "
            "trainable, or pass them with tune.with_parameters"
        ) from None


def _check_signature(fn: Any) -> None:
    """A function trainable is called with the config alone."""
    import inspect

    try:
        inspect.signature(fn).bind({})
    except TypeError:
        raise TypeError(
            f"the trainable {naming.trainable_name(fn)}{inspect.signature(fn)} cannot be "
            "called with the config alone; define it as def train(config): ... (pass other "
            "objects with tune.with_parameters)"
        ) from None
    except ValueError:  # no signature to inspect (a builtin): let the trial say
        pass


def _unpicklable_part(fn: Any, depth: int = 0) -> str | None:
    """The name of the variable a function uses (global, closure, default) that fails to
    pickle, looked for one level of wrapping deep."""
    import cloudpickle

    code = getattr(fn, "__code__", None)
    if code is None or depth > 2:
        return None
    named: list[tuple[str, Any]] = []
    if fn.__closure__:
        for var, cell in zip(code.co_freevars, fn.__closure__, strict=False):
            try:
                named.append((var, cell.cell_contents))
            except ValueError:
                continue
    globals_ = getattr(fn, "__globals__", {})
    named += [(n, globals_[n]) for n in code.co_names if n in globals_]
    named += [(f"default {i}", v) for i, v in enumerate(fn.__defaults__ or ())]
    wrapped = getattr(fn, "__wrapped__", None)
    for name, value in named:
        try:
            cloudpickle.dumps(value)
        except Exception:
            inner = _unpicklable_part(value, depth + 1) if callable(value) else None
            return inner or f"{name!r} (a {type(value).__name__})"
    return _unpicklable_part(wrapped, depth + 1) if wrapped is not None else None


def check_metric_mode(metric: Any, mode: Any, where: str = "TuneConfig") -> None:
    if (metric is None) != (mode is None):
        given, missing = ("metric", "mode") if mode is None else ("mode", "metric")
        raise ValueError(
            f"{where}: {given} is set but {missing} is not; give both (e.g. "
            f"metric='loss', mode='min') or neither"
        )


class Tuner:
    """An experiment: ``trainable`` run on configs drawn from ``param_space``.

    Args:
        trainable: a function ``config -> None | dict`` that calls ``tune.report``, or a
            ``tune.Trainable`` subclass; optionally wrapped by ``tune.with_resources`` /
            ``tune.with_parameters``.
        param_space: the search space (dict of constants, domains such as
            ``tune.loguniform(1e-4, 1e-1)`` and ``tune.grid_search([...])``, nested freely).
        tune_config: metric, mode, searcher, scheduler, number of samples.
        run_config: name, storage path, stopping, callbacks, verbosity.
    """

    def __init__(
        self,
        trainable: Any = None,
        *,
        param_space: Mapping | None = None,
        tune_config: TuneConfig | None = None,
        run_config: RunConfig | None = None,
        _storage: Storage | None = None,
    ) -> None:
        if trainable is None:
            raise TypeError("Tuner needs a trainable: a function of the config or a Trainable")
        check_trainable(trainable)
        if param_space is not None and not isinstance(param_space, Mapping):
            raise TypeError(f"param_space must be a dict, got {type(param_space).__name__}")
        if tune_config is not None and not isinstance(tune_config, TuneConfig):
            raise TypeError(f"tune_config must be a tune.TuneConfig, got {tune_config!r}")
        if run_config is not None and not isinstance(run_config, RunConfig):
            raise TypeError(f"run_config must be a tune.RunConfig, got {run_config!r}")
        self.trainable = trainable
        self.param_space = dict(param_space or {})
        self.tune_config = tune_config or TuneConfig()
        self.run_config = run_config or RunConfig()
        check_metric_mode(self.tune_config.metric, self.tune_config.mode)
        name = self.run_config.name or naming.experiment_name(trainable, datetime.now())
        self.storage = _storage or open_storage(
            self.run_config.storage_path, name, self.run_config.storage_filesystem
        )
        self._results: ResultGrid | None = None
        self._restored: dict | None = None

    @classmethod
    def can_restore(cls, path: str | os.PathLike, storage_filesystem: Any = None) -> bool:
        """Whether ``path`` (a directory, a URI, or a path in ``storage_filesystem``) holds an
        experiment that :meth:`restore` can continue."""
        path = os.fspath(path)
        if storage_filesystem is not None or is_uri(path):
            from caliper.tune import remote_files as rf

            fs, root = rf.resolve(path, storage_filesystem)
            try:
                return any(rf.exists(fs, f"{root}/{STATE_FILE}{s}") for s in ("", ".prev"))
            except OSError:
                return False
        state = os.path.join(os.path.expanduser(path), STATE_FILE)
        return os.path.isfile(state) or os.path.isfile(state + ".prev")

    @classmethod
    def restore(
        cls,
        path: str | os.PathLike,
        trainable: Any = None,
        *,
        resume_unfinished: bool = True,
        resume_errored: bool = False,
        restart_errored: bool = False,
        param_space: Mapping | None = None,
        storage_filesystem: Any = None,
    ) -> Tuner:
        """Continue the experiment in directory ``path`` (after a crash or Ctrl-C): a local
        directory, a URI such as ``"s3://bucket/prefix/name"`` (its files, not its checkpoints,
        are downloaded; the run goes on uploading there), or a path inside
        ``storage_filesystem`` (a ``pyarrow.fs.FileSystem``).

        Finished trials are kept as they are; unfinished ones (pending, paused, running at the
        crash) start again from their newest checkpoint (from scratch without one), unless
        ``resume_unfinished=False``; errored ones stay errored unless ``resume_errored``
        (from their newest checkpoint) or ``restart_errored`` (from scratch). The searcher
        continues where it was. ``trainable`` must be given again (it is never unpickled from
        the directory); ``param_space`` replaces the saved one, e.g. to refresh object refs.
        """
        if trainable is None:
            raise TypeError(
                "Tuner.restore needs the trainable again: Tuner.restore(path, "
                "trainable=train_fn); it is never unpickled from the experiment directory"
            )
        path = os.fspath(path)
        if storage_filesystem is not None or is_uri(path):
            from caliper.tune.remote_storage import open_experiment

            storage = open_experiment(path, storage_filesystem, driver=True)
        else:
            storage = Storage(*os.path.split(os.path.abspath(os.path.expanduser(path))))
        return restore_tuner(
            cls,
            storage,
            trainable,
            resume_unfinished=resume_unfinished,
            resume_errored=resume_errored,
            restart_errored=restart_errored,
            param_space=param_space,
        )

    @property
    def experiment_path(self) -> str:
        return self.storage.experiment_path

    def fit(self) -> ResultGrid:
        """Run the experiment; returns every trial's results (errored trials included)."""
        from caliper.core.api import preload

        # workers import these while the controller sets up
        preload("caliper.tune.runner", "caliper.tune.result_writer")
        from caliper.tune.controller import TuneController

        controller = TuneController(
            self.trainable,
            self.param_space,
            self.tune_config,
            self.run_config,
            self.storage,
            restored=self._restored,
        )
        try:
            if self._restored is None:
                save_tuner_state(self)
            self.storage.begin()  # remote storage that cannot be written fails here
            trials = controller.run()
        finally:
            self.storage.close()  # remote storage: the last upload, in this thread
        self._results = ResultGrid(
            trials,
            self.storage.experiment_path,
            self.tune_config.metric,
            self.tune_config.mode,
            storage=self.storage,
        )
        return self._results

    def get_results(self) -> ResultGrid:
        """The results of :meth:`fit` (or, before it, of the experiment directory on disk)."""
        if self._results is not None:
            return self._results
        if self.storage.remote:
            return ResultGrid.from_path(self.storage.root, self.storage.filesystem)
        return ResultGrid.from_path(self.storage.experiment_path)
