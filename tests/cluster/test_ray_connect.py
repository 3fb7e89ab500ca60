"""caliper.init(address=...): addresses resolved and checked before Ray is asked, one-line
errors within seconds, and an ImportError naming the extra when Ray is missing."""

from __future__ import annotations

import socket
import sys
import time

import pytest
from procs import run_cli

import caliper
from caliper.core import ray_connect
from caliper.core.ray_connect import ClusterConnectionError, resolve_address, split_host_port

pytestmark = pytest.mark.timeout(60)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_address_forms():
    assert split_host_port("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert split_host_port("ray://head:10001") == ("head", 10001)
    assert split_host_port("[::1]:6379") == ("::1", 6379)
    for bad in ("head", "head:", ":6379", "head:port", "head:70000"):
        with pytest.raises(ValueError, match="'auto', 'ray://host:port' or 'host:port'"):
            split_host_port(bad)


def test_auto_reads_ray_address_then_the_local_cluster_file(tmp_path):
    assert resolve_address("auto", {"RAY_ADDRESS": "1.2.3.4:6379"}) == "1.2.3.4:6379"
    (tmp_path / "ray_current_cluster").write_text("127.0.0.1:7777\n")
    assert resolve_address("auto", {}, temp_dir=str(tmp_path)) == "127.0.0.1:7777"
    assert resolve_address(" 5.6.7.8:1 ", {}) == "5.6.7.8:1"
    with pytest.raises(ClusterConnectionError, match="ray start --head"):
        resolve_address("auto", {}, temp_dir=str(tmp_path / "none"))


@pytest.mark.parametrize("form", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}"])
def test_an_address_that_does_not_answer_fails_in_seconds(form):
    pytest.importorskip("ray", reason="needs the ray extra")
    address = form.format(port=_closed_port())
    started = time.monotonic()
    with pytest.raises(ClusterConnectionError) as info:
        caliper.init(address=address)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert address in message and "\n" not in message
    assert not caliper.is_initialized()


def test_resource_arguments_with_an_address_are_refused():
    with pytest.raises(ValueError, match="leave out num_cpus, num_gpus"):
        caliper.init(address="127.0.0.1:1", num_cpus=2, num_gpus=1)
    with pytest.raises(ValueError, match="runtime_env applies to trials on a Ray cluster"):
        caliper.init(runtime_env={"pip": ["x"]})
    assert not caliper.is_initialized()


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'caliper\[ray\]'"):
        caliper.init(address="auto")
    with pytest.raises(ImportError, match=r"caliper\[ray\]"):
        ray_connect.import_ray()


def test_tune_run_with_a_dead_address_is_one_line():
    pytest.importorskip("ray", reason="needs the ray extra")
    address = f"127.0.0.1:{_closed_port()}"
    proc = run_cli("run", "examples/quickstart.yaml", "--address", address, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Ray cluster answers at " + address in lines[0], proc.stderr


def test_the_hub_gives_each_workers_posts_in_the_order_they_were_sent():
    """Ray may run one caller's calls to an async actor out of order (seen through Ray
    Client: a trial's last results before its first): the hub holds a post back until the
    earlier ones of its worker are in, and ``holds`` waits for all of them."""
    import asyncio

    pytest.importorskip("ray", reason="needs the ray extra")
    from caliper.core.ray_remote import Hub

    async def scenario():
        hub = Hub()
        await hub.post(7, 2, b"second")
        await hub.post(9, 1, b"other worker")
        assert [p[1:] for p in hub._after(0)] == [(9, 0, b"other worker")]
        assert hub.counts == {9: 1, 7: 0}
        waiting = asyncio.ensure_future(hub.holds(7, 3))
        await hub.post(7, 3, b"third")
        await asyncio.sleep(0)
        assert not waiting.done()  # the first is still missing
        await hub.post(7, 1, b"first")
        await asyncio.wait_for(waiting, 5)
        assert [p[3] for p in hub._after(0)] == [b"other worker", b"first", b"second", b"third"]
        assert [p[0] for p in hub._after(0)] == [1, 2, 3, 4]
        assert hub.counts == {9: 1, 7: 3} and not hub.early
        taken = await hub.take_from(1, 7, 3, timeout=5)
        assert [p[3] for p in taken] == [b"first", b"second", b"third"]

    asyncio.run(scenario())
