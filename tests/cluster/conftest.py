"""Fixtures for running on a real Ray cluster on loopback (skipped without the ray extra).

``ray_cluster``: one cluster for the session, a head and one more node, each with 2 logical
CPUs and 1 logical GPU. ``on_cluster``: this process connected to it with
``caliper.init(address=...)`` for one test, shut down afterwards.
"""

from __future__ import annotations

import os
import shutil

import pytest
from raycluster import ENV, Cluster

import caliper


@pytest.fixture(scope="session")
def ray_cluster():
    pytest.importorskip("ray", reason="the Ray backend needs the ray extra: caliper[ray]")
    if shutil.which("ray") is None:
        pytest.skip("the `ray` command is not on PATH (install caliper[ray])")
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)  # the drivers of the tests connect without a token
    cluster = Cluster()
    try:
        cluster.start()
        cluster.add_node()
        yield cluster
    finally:
        cluster.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def on_cluster(ray_cluster):
    caliper.init(address=ray_cluster.address)
    try:
        yield ray_cluster
    finally:
        caliper.shutdown()
