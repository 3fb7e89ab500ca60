"""Fixtures of the storage tests: an S3-compatible server (moto) on 127.0.0.1 for the whole
session, the environment a user of such a server sets (endpoint and credentials, inherited by
every process the tests start), and a fresh bucket per test."""

from __future__ import annotations

import os
import uuid

import pytest
from storage_helpers import S3_ENV, client, free_port

for module, extra in (("pyarrow.fs", "caliper[storage]"), ("moto.server", "moto[server]")):
    pytest.importorskip(module, reason=f"the storage tests need {module}: pip install '{extra}'")
pytest.importorskip("boto3", reason="the storage tests need boto3 (moto[server] has it)")


@pytest.fixture(scope="session")
def s3_server():
    """``http://127.0.0.1:PORT`` of a moto S3 server running for the session."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def staging_in_tmp_path(tmp_path, monkeypatch):
    """Local staging copies of the tests' experiments go to their tmp_path."""
    monkeypatch.setenv("CALIPER_STAGING_DIR", str(tmp_path / "staging"))


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """The environment pointing pyarrow (and boto3) at the server, as a user of an
    S3-compatible store sets it: ``AWS_ENDPOINT_URL`` and the credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)


@pytest.fixture
def bucket(s3_env, s3_server):
    """A new, empty bucket's name."""
    name = f"caliper-{uuid.uuid4().hex[:12]}"
    client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def rt(s3_env, runtime_factory):
    """A runtime with 2 CPUs, started after the storage environment is set (its workers
    inherit it)."""
    return runtime_factory(num_cpus=2)
