"""Fixtures of the scheduler tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def rt(runtime_factory):
    """A runtime with 2 CPUs, like the machine the project is measured on."""
    return runtime_factory(num_cpus=2)
