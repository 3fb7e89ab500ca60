"""Files on a ``pyarrow.fs`` filesystem (an object store such as S3 or GCS, or any pyarrow
``FileSystem``): the operations the driver and the trials' processes need to keep an
experiment under a storage URI. pyarrow is imported here only, and only when such a storage
is used; nothing here holds state.

A checkpoint directory counts once its marker file (:data:`CHECKPOINT_MARKER`) is written,
after all its files: an upload cut short by a crash leaves a directory that nothing takes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterable
from typing import Any

CHECKPOINT_MARKER = ".checkpoint_complete"
OBJECT_STORES = frozenset({"s3", "gcs", "abfs"})  # a PUT replaces an object in one step
_SECRETS = ("secret_key", "access_key", "session_token")
_SCHEME_TYPES = {"gs": "gcs", "file": "local", "az": "abfs", "abfss": "abfs"}
_CHUNK = 1 << 20


def pyarrow_fs(what: str) -> Any:
    """The ``pyarrow.fs`` module, or an ImportError naming the extra to install."""
    try:
        import pyarrow.fs
    except ImportError:
        raise ImportError(
            f"{what} needs pyarrow (pyarrow.fs): pip install 'caliper[storage]'"
        ) from None
    return pyarrow.fs


def redact(uri: str) -> str:
    """``uri`` with its credentials hidden (``s3://KEY:SECRET@bucket``, credential query
    parameters), for messages."""
    base, _, query = uri.partition("?")
    scheme, sep, rest = base.partition("://")
    user, at, _ = rest.partition("/")[0].rpartition("@")
    if sep and at:
        base = f"{scheme}://***@{rest[len(user) + 1 :]}"
    if not query:
        return base
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    shown = [(k, "***" if k in _SECRETS else v) for k, v in pairs]
    return base + "?" + "&".join(f"{k}={v}" for k, v in shown)


def uri_scheme(uri: str) -> str:
    return uri.partition("://")[0].lower()


def uri_join(uri: str, *parts: str) -> str:
    """``uri`` with path ``parts`` appended (its query, e.g. ``?endpoint_override=...``,
    stays at the end)."""
    base, sep, query = uri.partition("?")
    joined = base.rstrip("/")
    for part in parts:
        joined += "/" + part.strip("/")
    return joined + sep + query


def uri_split(uri: str) -> tuple[str, str]:
    """``(parent URI, last path component)`` of ``uri`` (the query stays with the parent)."""
    base, sep, query = uri.partition("?")
    scheme, _, rest = base.rstrip("/").partition("://")
    head, _, name = rest.rpartition("/")
    if not head or not name:
        raise ValueError(f"{redact(uri)!r} names no experiment directory (<storage>/<name>)")
    return f"{scheme}://{head}{sep}{query}", name


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def is_object_store(fs: Any) -> bool:
    return fs.type_name in OBJECT_STORES


def resolve(storage_path: str, filesystem: Any = None) -> tuple[Any, str]:
    """``(filesystem, path inside it)`` for ``storage_path`` (a URI, or a path inside
    ``filesystem``). Raises ValueError (scheme pyarrow does not know, a filesystem of another
    kind than the URI's scheme), TypeError (``filesystem`` is not a pyarrow FileSystem)."""
    shown = redact(storage_path)
    pafs = pyarrow_fs(f"storage_path {shown!r}")
    if filesystem is not None:
        check_filesystem(filesystem, storage_path, pafs)
        if "://" in storage_path:
            _, _, rest = storage_path.partition("://")
            path = rest.partition("?")[0]
            return filesystem, path.rstrip("/")
        if filesystem.type_name == "local":
            return filesystem, os.path.abspath(os.path.expanduser(storage_path))
        return filesystem, storage_path.rstrip("/")
    uri = storage_path
    if uri_scheme(uri) == "s3" and "allow_delayed_open" not in uri.partition("?")[2]:
        # small files then go up in one PUT instead of a three-request multipart upload
        uri += ("&" if "?" in uri else "?") + "allow_delayed_open=true"
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except Exception as exc:  # ArrowInvalid, OSError (a missing native library), ...
        raise ValueError(
            f"storage_path {shown!r}: pyarrow.fs cannot open it ({one_line(exc)}); use a local "
            "path or a URI pyarrow supports, such as 's3://bucket/prefix' or 'gs://bucket/prefix'"
        ) from None
    return fs, path.rstrip("/")


def check_filesystem(filesystem: Any, storage_path: str | None, pafs: Any = None) -> None:
    """``filesystem`` is a pyarrow FileSystem whose kind matches the URI's scheme, if any."""
    pafs = pafs or pyarrow_fs("RunConfig.storage_filesystem")
    if not isinstance(filesystem, pafs.FileSystem):
        raise TypeError(
            "RunConfig.storage_filesystem must be a pyarrow.fs.FileSystem (e.g. "
            f"pyarrow.fs.S3FileSystem(...)), got {type(filesystem).__name__}"
        )
    if storage_path is None or "://" not in storage_path:
        return
    scheme = uri_scheme(storage_path)
    kind = filesystem.type_name
    if _SCHEME_TYPES.get(scheme, scheme) != kind and kind != f"py::fsspec+{scheme}":
        raise ValueError(
            f"RunConfig: storage_filesystem is a {type(filesystem).__name__} ({kind!r}) but "
            f"storage_path {redact(storage_path)!r} is a {scheme}:// URI; with a "
            "storage_filesystem, give storage_path as a path inside it (e.g. 'bucket/prefix')"
        )


def credentials_hint(fs: Any, environ: dict | None = None) -> str:
    """What to check when the store refused or could not be asked (by the filesystem kind)."""
    env = os.environ if environ is None else environ
    if fs.type_name == "s3":
        found = (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")) or any(
            env.get(k) for k in ("AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")
        )
        found = found or os.path.exists(
            env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.expanduser("~/.aws/credentials")
        )
        if not found:
            return (
                "; no AWS credentials were found: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (~/.aws/credentials)"
            )
        return "; check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
    if fs.type_name == "gcs":
        return "; check the credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud auth)"
    return ""


def check_reachable(fs: Any, root: str, shown: str) -> None:
    """Raise ValueError (one line) unless ``root`` can hold an experiment: for an object
    store its bucket exists and these credentials reach it; otherwise the directory can be
    made."""
    pafs = pyarrow_fs(shown)
    if is_object_store(fs):
        bucket = root.split("/", 1)[0]
        if not bucket:
            raise ValueError(f"storage_path {shown!r} names no bucket (e.g. 's3://bucket/prefix')")
        try:
            info = fs.get_file_info(bucket)
        except OSError as exc:
            raise ValueError(
                f"storage_path {shown!r}: cannot reach the bucket {bucket!r} "
                f"({one_line(exc)}){credentials_hint(fs)}"
            ) from None
        if info.type == pafs.FileType.NotFound:
            raise ValueError(
                f"storage_path {shown!r}: the bucket {bucket!r} does not exist (or these "
                f"credentials cannot see it); create it first{credentials_hint(fs)}"
            )
        return
    try:
        fs.create_dir(root, recursive=True)
    except OSError as exc:
        raise ValueError(
            f"storage_path {shown!r}: cannot make {root!r} ({one_line(exc)})"
        ) from None


# -- single files ------------------------------------------------------------------------------


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def put_stream(fs: Any, path: str, source: Any) -> None:
    """Write what the binary file object ``source`` holds to ``path``; on a filesystem that
    is not an object store, through a temporary name renamed over it (one step)."""
    if is_object_store(fs):
        with fs.open_output_stream(path) as out:
            shutil.copyfileobj(source, out, _CHUNK)
        return
    folder = _parent(path)
    if folder:
        fs.create_dir(folder, recursive=True)
    tmp = f"{folder}/.tmp-{os.urandom(4).hex()}" if folder else f".tmp-{os.urandom(4).hex()}"
    try:
        with fs.open_output_stream(tmp) as out:
            shutil.copyfileobj(source, out, _CHUNK)
        fs.move(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.delete_file(tmp)
        raise


def put_bytes(fs: Any, path: str, data: bytes) -> None:
    import io

    put_stream(fs, path, io.BytesIO(data))


def put_file(fs: Any, local: str, path: str) -> None:
    with open(local, "rb") as source:
        put_stream(fs, path, source)


def get_file(fs: Any, path: str, local: str) -> None:
    """Download ``path`` to ``local`` (a temporary file renamed over it)."""
    folder = os.path.dirname(local)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out, fs.open_input_stream(path) as source:
            shutil.copyfileobj(source, out, _CHUNK)
        os.replace(tmp, local)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_bytes(fs: Any, path: str) -> bytes:
    with fs.open_input_stream(path) as source:
        return source.read()


def list_files(fs: Any, root: str) -> dict[str, int]:
    """Every file under ``root`` as ``{path relative to root: size}`` (empty if none)."""
    pafs = pyarrow_fs(root)
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    prefix = root.rstrip("/") + "/"
    return {
        info.path[len(prefix) :]: info.size
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.File and info.path.startswith(prefix)
    }


def exists(fs: Any, path: str) -> bool:
    pafs = pyarrow_fs(path)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def delete_dir(fs: Any, path: str) -> None:
    """Delete directory ``path`` and what it holds (nothing if it does not exist)."""
    with contextlib.suppress(FileNotFoundError):
        fs.delete_dir(path)


# -- checkpoint directories --------------------------------------------------------------------


def upload_checkpoint(local_dir: str, fs: Any, path: str) -> None:
    """Upload directory ``local_dir`` as checkpoint ``path`` (replacing what an earlier run
    left there), its marker last."""
    pafs = pyarrow_fs(path)
    delete_dir(fs, path)
    if not is_object_store(fs):
        fs.create_dir(path, recursive=True)
    pafs.copy_files(
        local_dir, path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs
    )
    put_bytes(fs, f"{path}/{CHECKPOINT_MARKER}", b"")


def download_checkpoint(fs: Any, path: str, local_dir: str) -> str:
    """Download checkpoint ``path`` into ``local_dir`` (without its marker); returns it."""
    pafs = pyarrow_fs(path)
    os.makedirs(local_dir, exist_ok=True)
    pafs.copy_files(
        path, local_dir, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem()
    )
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(local_dir, CHECKPOINT_MARKER))
    return local_dir


def copy_checkpoint(fs: Any, source: str, target: str) -> None:
    """Copy checkpoint ``source`` to ``target`` in the same filesystem (on an object store the
    store copies; nothing passes through this process), its marker last."""
    delete_dir(fs, target)
    for name in list_files(fs, source):
        if name != CHECKPOINT_MARKER:
            if not is_object_store(fs) and "/" in name:
                fs.create_dir(_parent(f"{target}/{name}"), recursive=True)
            fs.copy_file(f"{source}/{name}", f"{target}/{name}")
    if not is_object_store(fs):
        fs.create_dir(target, recursive=True)
    put_bytes(fs, f"{target}/{CHECKPOINT_MARKER}", b"")


def complete_checkpoints(files: Iterable[str]) -> set[str]:
    """The checkpoint directories (relative paths) among ``files`` (relative paths) that
    hold their marker."""
    suffix = "/" + CHECKPOINT_MARKER
    return {name[: -len(suffix)] for name in files if name.endswith(suffix)}


def in_checkpoint(relpath: str) -> bool:
    """Whether ``relpath`` lies in a checkpoint directory (or one being written)."""
    return any(
        part.startswith("checkpoint_") or part.endswith(".partial") or part == ".exploit_checkpoint"
        for part in relpath.split("/")[:-1]
    )
