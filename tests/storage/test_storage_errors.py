"""Bad storage input: one-line errors that name what was tried, raised when the Tuner is made
(before any trial starts)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storage_helpers import free_port

from caliper import tune

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]


def train(config):
    raise AssertionError("no trial may start")


def tuner(storage_path, filesystem=None):
    return tune.Tuner(
        train,
        run_config=tune.RunConfig(
            name="exp", storage_path=storage_path, storage_filesystem=filesystem
        ),
    )


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


def test_a_scheme_pyarrow_does_not_know():
    with pytest.raises(ValueError) as caught:
        tuner("nosuchscheme://bucket/prefix")
    text = one_line(caught.value)
    assert "'nosuchscheme://bucket/prefix'" in text and "pyarrow.fs" in text


def test_a_bucket_that_does_not_exist(s3_env):
    with pytest.raises(ValueError) as caught:
        tuner("s3://caliper-no-such-bucket/prefix")
    text = one_line(caught.value)
    assert "'caliper-no-such-bucket'" in text and "does not exist" in text


def test_a_uri_without_a_bucket(s3_env):
    with pytest.raises(ValueError, match="names no bucket"):
        tuner("s3://")


def test_a_filesystem_of_another_kind_than_the_uri():
    import pyarrow.fs

    with pytest.raises(ValueError) as caught:
        tune.RunConfig(
            storage_path="gs://bucket/prefix", storage_filesystem=pyarrow.fs.LocalFileSystem()
        )
    text = one_line(caught.value)
    assert "LocalFileSystem" in text and "gs://" in text and "path inside it" in text


def test_a_filesystem_that_is_not_a_pyarrow_one():
    with pytest.raises(TypeError, match=r"pyarrow\.fs\.FileSystem"):
        tune.RunConfig(storage_path="/tmp/x", storage_filesystem=object())


def test_a_uri_without_pyarrow(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.fs", None)  # ``import pyarrow.fs`` fails
    with pytest.raises(ImportError) as caught:
        tuner("s3://bucket/prefix")
    text = one_line(caught.value)
    assert "caliper[storage]" in text and "s3://bucket/prefix" in text


@pytest.fixture(scope="module")
def strict_server():
    """A moto server that checks credentials (its own process: moto reads that at import)."""
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("credentials", ["wrong", "missing"])
def test_credentials_the_store_refuses(strict_server, s3_env, monkeypatch, tmp_path, credentials):
    monkeypatch.setenv("AWS_ENDPOINT_URL", strict_server)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    if credentials == "missing":
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    started = time.monotonic()
    with pytest.raises(ValueError) as caught:
        tuner("s3://some-bucket/prefix")
    text = one_line(caught.value)
    assert "'s3://some-bucket/prefix'" in text and "'some-bucket'" in text
    if credentials == "missing":
        assert "no AWS credentials were found" in text
    else:
        assert "check the credentials" in text
    assert time.monotonic() - started < 20


def test_local_paths_never_import_pyarrow(tmp_path):
    script = (
        "import sys\n"
        "from caliper import tune\n"
        "def train(config):\n"
        "    tune.report({'loss': 1}, checkpoint=tune.Checkpoint.from_dict({'a': 1}))\n"
        f"r = tune.Tuner(train, run_config=tune.RunConfig(storage_path={str(tmp_path)!r}, "
        "name='exp', verbose=0)).fit()\n"
        "tune.ResultGrid.from_path(r.experiment_path)[0].checkpoint.to_dict()\n"
        "print('pyarrow' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=50
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
