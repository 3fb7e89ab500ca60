"""Fixtures of the command-line tests: a runtime shut down after each in-process run (the
helpers that run the command are in tests/procs.py)."""

from __future__ import annotations

import pytest

import caliper


@pytest.fixture
def shutdown_runtime():
    """Shut down the runtime an in-process ``tune run`` started."""
    yield
    if caliper.is_initialized():
        caliper.shutdown()
