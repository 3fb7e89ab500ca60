"""Fixtures for the runtime's integration tests: a real local runtime with worker processes.

``runtime`` starts ``caliper.init(num_cpus=4, num_gpus=4)`` (logical GPUs: the machine needs
none) and shuts it down afterwards; ``runtime_factory(**kwargs)`` starts one with other
arguments. Both check at teardown that every worker process the runtime started is gone.
"""

from __future__ import annotations

import pytest
from procs import wait_gone

import caliper
from caliper.core import context


def _shutdown_and_check() -> None:
    backend = context.peek()
    if backend is None:
        return
    pids = list(getattr(backend, "worker_pids", list)())
    zygote = getattr(backend, "_zygote", None)
    if zygote is not None:
        pids.append(zygote.pid)
    caliper.shutdown()
    assert not caliper.is_initialized()
    left = wait_gone(pids)
    assert not left, f"processes left behind after shutdown: {left}"


@pytest.fixture
def runtime_factory(monkeypatch):
    """``runtime_factory(**init_kwargs)`` starts a runtime; it is shut down after the test."""
    # Logical GPUs named 0..n-1 whatever the machine has, and no nvidia-smi probe.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    if caliper.is_initialized():  # a previous test leaked one: do not let it leak into this
        caliper.shutdown()

    def start(**kwargs):
        return caliper.init(**kwargs)

    yield start
    _shutdown_and_check()


@pytest.fixture
def runtime(runtime_factory):
    """A runtime with 4 CPUs and 4 logical GPUs."""
    return runtime_factory(num_cpus=4, num_gpus=4)


@pytest.fixture
def processes_gone():
    """``processes_gone(pids, timeout=5.0)``: the pids still alive after waiting for them."""
    return wait_gone


@pytest.fixture
def no_runtime(monkeypatch):
    """No runtime at the start; whatever the test starts (e.g. implicitly) is shut down."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    if caliper.is_initialized():
        caliper.shutdown()
    yield
    _shutdown_and_check()
