"""An experiment directory on remote storage (``s3://bucket/prefix``, ``gs://...``, or a
``pyarrow.fs`` filesystem): :class:`RemoteStorage`.

The driver writes into a local staging copy of the experiment directory exactly as for a local
path. After each snapshot of the experiment state a background thread uploads what changed
(:mod:`caliper.tune.syncer`), at most about once a second; the first upload (at the start of
``fit``, before any trial) and the last (at its end, also after Ctrl-C or an error) run in the
caller's thread.
Each round uploads the trials' files first, then the searcher's and scheduler's state, then
``experiment_state.json``, so the state in the bucket only names files already there; a
checkpoint that pruning dropped is deleted only after a state that no longer names it is up.
Checkpoints never pass through the driver: each trial's process uploads its own.

Reading an experiment (``Tuner.restore``, ``ResultGrid.from_path``, ``tune ls``) downloads its
files but not its checkpoints (:func:`open_experiment`, :func:`mirror_root`).
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Any

from caliper.tune import remote_files as rf
from caliper.tune.storage import PREVIOUS, Storage, is_uri
from caliper.tune.syncer import Syncer
from caliper.tune.trial_storage import DRIVER_MARKER, TrialStorage, changed, scan_files

STATE_FILE = "experiment_state.json"


def staging_root() -> str:
    """Where local copies of remote experiments are kept (``$CALIPER_STAGING_DIR``, else a
    folder of the temporary directory)."""
    root = os.environ.get("CALIPER_STAGING_DIR")
    if not root:
        root = os.path.join(tempfile.gettempdir(), f"caliper-{os.getuid()}")
    os.makedirs(root, exist_ok=True)
    return root


def _split(location: str) -> tuple[str, str]:
    """``(parent, name)`` of an experiment's URI or filesystem path."""
    if is_uri(location):
        return rf.uri_split(location)
    head, _, name = location.rstrip("/").rpartition("/")
    if not name:
        raise ValueError(f"{location!r} names no experiment directory (<storage>/<name>)")
    return head or "/", name


class RemoteStorage(Storage):
    """See the module docstring.

    Args:
        storage_path: a URI (``s3://bucket/prefix``; query options such as
            ``?endpoint_override=host:port&scheme=http`` are pyarrow's), or with
            ``filesystem`` a path inside it.
        name: the experiment's directory name.
        filesystem: a ``pyarrow.fs.FileSystem`` (``None``: the one the URI names).
        staging: the local folder that holds the staging copy ``<staging>/<name>`` (default:
            a new folder under :func:`staging_root`).
        driver: whether this process runs the experiment (and uploads); ``False`` for a
            read-only copy.
    """

    remote = True

    def __init__(
        self,
        storage_path: str,
        name: str,
        filesystem: Any = None,
        *,
        staging: str | None = None,
        driver: bool = True,
    ) -> None:
        self.storage_uri = storage_path
        self.filesystem, parent = rf.resolve(storage_path, filesystem)
        shown = rf.redact(storage_path)
        rf.check_reachable(self.filesystem, parent, shown)
        base = parent.rstrip("/")
        self.root = f"{base}/{name}" if base or parent.startswith("/") else name
        if is_uri(storage_path):
            self.shown = rf.redact(rf.uri_join(storage_path, name))
        else:
            self.shown = f"{self.filesystem.type_name}:{self.root}"
        if staging is None:
            staging = tempfile.mkdtemp(prefix=f"{name[:40]}-", dir=staging_root())
        super().__init__(staging, name)
        os.makedirs(self.experiment_path, exist_ok=True)
        self.checkpoints_found: set[str] | None = None  # of a downloaded experiment
        self._checkpoint_dirs: set[str] = set()
        self._captured: dict[str, bytes] = {}  # state files as last written
        self._named: dict[str, bytes] = {}  # state files as the stored state names them
        self._sent: dict[str, tuple[int, int]] = {}
        self._deletions: list[tuple[int, str]] = []
        self._deleted_seq = 0
        self._lock = threading.Lock()
        self._begun = False
        self.trial_storage = None
        self._syncer = None
        if driver:
            token = os.urandom(8).hex()
            with open(os.path.join(self.experiment_path, DRIVER_MARKER), "w") as f:
                f.write(token)
            self.trial_storage = TrialStorage(
                self.filesystem, self.root, self.experiment_path, token
            )
            self._syncer = Syncer(self._round, self.shown)

    # -- paths -----------------------------------------------------------------------------

    def remote_path(self, local_path: str) -> str:
        rel = os.path.relpath(local_path, self.experiment_path)
        return self.root if rel == "." else self.root + "/" + rel.replace(os.sep, "/")

    @property
    def location(self) -> str:
        return self.shown

    @property
    def parent_location(self) -> tuple[str, Any]:
        """``(storage_path, storage_filesystem)`` to give ``RunConfig`` for this experiment."""
        return self.storage_uri, None if is_uri(self.storage_uri) else self.filesystem

    # -- writing -------------------------------------------------------------------------------

    def write_atomic(self, relpath: str, data: bytes | str, keep_previous: bool = False) -> None:
        super().write_atomic(relpath, data, keep_previous)
        self._captured[relpath] = data.encode() if isinstance(data, str) else data

    def begin(self) -> None:
        """Upload what is written so far (``tuner.pkl``) in this thread: storage that cannot
        be written fails here, before any trial starts."""
        if self._syncer is None:
            return
        try:
            self._syncer.run_now((dict(self._captured), self._deleted_seq))
        except OSError as exc:
            raise OSError(
                f"cannot write the experiment to {self.shown} ({rf.one_line(exc)})"
                f"{rf.credentials_hint(self.filesystem)}"
            ) from None
        self._begun = True

    def on_snapshot(self) -> None:
        if self._syncer is not None:
            self._syncer.request((dict(self._captured), self._deleted_seq))

    def close(self) -> None:
        """Upload what is left (in this thread) and stop the background uploads. A failure
        is said, not raised: the experiment's files stay in the staging copy."""
        if self._syncer is None or not self._begun:  # nothing to add to a failed start
            return
        job = self._syncer.close() or (dict(self._captured), self._deleted_seq)
        try:
            self._syncer.run_now(job)
        except Exception as exc:
            import sys

            print(
                f"caliper: the last upload to {self.shown} failed ({type(exc).__name__}: "
                f"{rf.one_line(exc)}); the experiment's files are in {self.experiment_path}",
                file=sys.stderr,
            )

    def _skip(self, relpath: str) -> bool:
        return (
            relpath in self._captured
            or relpath.endswith(PREVIOUS)
            or relpath in (DRIVER_MARKER, STATE_FILE)
        )

    def _round(self, job: tuple[dict[str, bytes], int]) -> None:
        """One upload: changed files, then state parts, then the state, then deletions."""
        captured, deleted_seq = job
        fs = self.filesystem
        found = scan_files(self.experiment_path, self._skip)
        _parallel(
            lambda name: rf.put_file(
                fs, os.path.join(self.experiment_path, name), f"{self.root}/{name}"
            ),
            changed(found, self._sent),
            lambda name: self._sent.__setitem__(name, found[name]),
        )
        named = dict(self._named)
        for name, data in captured.items():
            if name == STATE_FILE or named.get(name) == data:
                continue
            if name in named:  # the version the stored state names stays readable
                rf.put_bytes(fs, f"{self.root}/{name}{PREVIOUS}", named[name])
            rf.put_bytes(fs, f"{self.root}/{name}", data)
            named[name] = data
        if STATE_FILE in captured:
            rf.put_bytes(fs, f"{self.root}/{STATE_FILE}", captured[STATE_FILE])
        self._named = named
        with self._lock:
            due = [path for seq, path in self._deletions if seq <= deleted_seq]
            self._deletions = [(s, p) for s, p in self._deletions if s > deleted_seq]
        for path in due:
            rf.delete_dir(fs, path)

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoint(self, path: str):
        from caliper.tune.checkpoint import Checkpoint

        return Checkpoint(self.remote_path(path), filesystem=self.filesystem)

    def checkpoint_exists(self, path: str) -> bool:
        if self.checkpoints_found is not None:
            rel = os.path.relpath(path, self.experiment_path).replace(os.sep, "/")
            return rel in self.checkpoints_found
        return rf.exists(self.filesystem, f"{self.remote_path(path)}/{rf.CHECKPOINT_MARKER}")

    def drop_unnamed(self, named: set[str]) -> None:
        """Delete (after the next state upload) the checkpoint directories of the downloaded
        experiment that its state does not name (``named``: ``<trial dir>/<checkpoint>``):
        deletions and uploads that a killed driver left undone."""
        for rel in sorted(self._checkpoint_dirs - named):
            self.delete_checkpoint(os.path.join(self.experiment_path, *rel.split("/")))

    def delete_checkpoint(self, path: str) -> None:
        """Deleted after the next state (which no longer names it) is uploaded."""
        with self._lock:
            self._deleted_seq += 1
            self._deletions.append((self._deleted_seq, self.remote_path(path)))

    def copy_checkpoint(self, source: str, target: str) -> None:
        rf.copy_checkpoint(self.filesystem, self.remote_path(source), self.remote_path(target))

    def move_checkpoint(self, source: str, target: str) -> None:
        self.copy_checkpoint(source, target)
        rf.delete_dir(self.filesystem, self.remote_path(source))

    # -- reading ---------------------------------------------------------------------------

    def download(self, only: tuple[str, ...] | None = None) -> None:
        """Download the experiment's files (not its checkpoints; only the top-level files
        ``only`` if given) into the staging copy; remembers which checkpoints are complete."""
        files = rf.list_files(self.filesystem, self.root)
        if STATE_FILE not in files and STATE_FILE + PREVIOUS not in files:
            raise FileNotFoundError(
                f"{self.shown} holds no {STATE_FILE}: pass an experiment directory, "
                "<storage_path>/<name>, of an experiment started with Tuner.fit()"
            )
        self.checkpoints_found = rf.complete_checkpoints(files)
        self._checkpoint_dirs = {
            "/".join(parts[:2])
            for parts in (name.split("/") for name in files)
            if len(parts) > 2 and rf.in_checkpoint("/".join(parts[:2]) + "/")
        }
        wanted = [
            name
            for name in files
            if not rf.in_checkpoint(name)
            and name != DRIVER_MARKER
            and (only is None or name in only)
        ]
        local = self.experiment_path
        _parallel(
            lambda name: rf.get_file(
                self.filesystem, f"{self.root}/{name}", os.path.join(local, *name.split("/"))
            ),
            wanted,
        )
        for name in wanted:
            path = os.path.join(local, *name.split("/"))
            if "/" not in name and name.endswith(".pkl"):  # tuner.pkl, searcher/scheduler
                with open(path, "rb") as f:
                    self._named[name] = f.read()  # what the stored state goes with
            info = os.stat(path)
            self._sent[name] = (info.st_mtime_ns, info.st_size)


def _parallel(work, names: list[str], done=None) -> None:
    """``work(name)`` for each name, 8 at a time; ``done(name)`` after each success."""
    if not names:
        return
    if len(names) == 1:
        work(names[0])
        if done is not None:
            done(names[0])
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        for name, _ in zip(names, pool.map(work, names), strict=True):
            if done is not None:
                done(name)


def open_experiment(
    location: str, filesystem: Any = None, *, driver: bool, only: tuple[str, ...] | None = None
) -> RemoteStorage:
    """The remote experiment ``location`` (``s3://bucket/prefix/name``, or a path inside
    ``filesystem``), its files downloaded: into a new staging copy for the ``driver`` that
    continues it, else into a copy kept per location (read-only uses; overwritten each time).
    """
    parent, name = _split(location)
    staging = None
    if not driver:
        staging = _mirror_dir(location, filesystem)
        os.makedirs(staging, exist_ok=True)
    storage = RemoteStorage(parent, name, filesystem, staging=staging, driver=driver)
    storage.download(only)
    return storage


def _mirror_dir(location: str, filesystem: Any) -> str:
    """The local folder that holds the read-only copy of ``location``'s parent."""
    parent = _split(location)[0]
    kind = rf.uri_scheme(parent) if is_uri(parent) else filesystem.type_name
    path = parent.partition("://")[2] if is_uri(parent) else parent
    path = path.partition("?")[0].strip("/")
    safe = [p for p in path.split("/") if p not in ("", ".", "..")]
    return os.path.join(staging_root(), "mirror", kind, *safe)


def mirror_root(location: str, filesystem: Any = None, also: tuple[str, ...] = ()) -> str:
    """A local copy of what ``tune ls`` needs of ``location``: the experiment's state file
    (and the top-level files ``also``) if it is an experiment, else each experiment's state
    file under it; returns the local path that corresponds to ``location``."""
    fs, root = rf.resolve(location, filesystem)
    rf.check_reachable(fs, root, rf.redact(location))
    if rf.exists(fs, f"{root}/{STATE_FILE}") or rf.exists(fs, f"{root}/{STATE_FILE}{PREVIOUS}"):
        only = (STATE_FILE, STATE_FILE + PREVIOUS, *also)
        copy = open_experiment(location, filesystem, driver=False, only=only)
        return copy.experiment_path
    pafs = rf.pyarrow_fs(location)
    selector = pafs.FileSelector(root, recursive=False, allow_not_found=True)
    folders = [i.path for i in fs.get_file_info(selector) if i.type == pafs.FileType.Directory]
    states = [f"{folder}/{STATE_FILE}" for folder in folders]
    kind = rf.uri_scheme(location) if is_uri(location) else fs.type_name
    local_root = os.path.join(
        staging_root(), "mirror", kind, *[p for p in root.split("/") if p not in ("", ".", "..")]
    )
    os.makedirs(local_root, exist_ok=True)
    for info in fs.get_file_info(states) if states else []:
        if info.type == pafs.FileType.File:
            name = info.path.rsplit("/", 2)[-2]
            rf.get_file(fs, info.path, os.path.join(local_root, name, STATE_FILE))
    return local_root
