"""A real Ray cluster on loopback for tests: a head node and more nodes on this machine, each
with logical CPUs and GPUs, in their own temp dir so a cluster the user runs is not touched.

Every node is a ``ray start --block`` process in its own process group: killing that group
takes the node down (its raylet and agents; its workers exit with their raylet).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

START_TIMEOUT_S = 150  # a loaded 2-core machine starts a node in 10-60 s
ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_env() -> dict[str, str]:
    return {**os.environ, **ENV}


class Node:
    """One node of the cluster (``ray start --block`` in its own process group)."""

    def __init__(self, proc: subprocess.Popen, log_path: str) -> None:
        self.proc, self.log_path = proc, log_path

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` runs on this node: a Ray worker's parent is its node's raylet, a
        child of this node's ``ray start`` process."""
        try:
            raylet = _ppid(pid)
            return _ppid(raylet) == self.proc.pid
        except OSError:
            return False

    def started(self) -> bool:
        with open(self.log_path, errors="replace") as f:
            return "Ray runtime started" in f.read()

    def log_tail(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()[-2000:]

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


class Cluster:
    """``Cluster().start()``, ``add_node(...)``, ``shutdown()``; ``address`` is host:port."""

    def __init__(self) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="crt", dir="/tmp")  # short: unix sockets
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.client_port = free_port()
        self.client_address = f"ray://127.0.0.1:{self.client_port}"  # through Ray Client
        self.nodes: list[Node] = []

    def _start(self, args: list[str], num_cpus: int, num_gpus: int, resources: dict) -> Node:
        log_path = os.path.join(self.temp_dir, f"node{len(self.nodes)}.log")
        cmd = [
            shutil.which("ray") or "ray", "start", "--block", "--disable-usage-stats",
            "--node-ip-address=127.0.0.1", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}",
            f"--resources={json.dumps(resources)}", "--object-store-memory=100000000", *args,
        ]  # fmt: skip
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=ray_env(),
                start_new_session=True, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        node = Node(proc, log_path)
        self.nodes.append(node)
        return node

    def start(self, num_cpus: int = 2, num_gpus: int = 1) -> Cluster:
        self._start(
            ["--head", f"--port={self.port}", "--include-dashboard=false",
             f"--temp-dir={self.temp_dir}", f"--ray-client-server-port={self.client_port}"],
            num_cpus, num_gpus, {"head": 1},
        )  # fmt: skip
        self.wait_for_nodes(1)
        return self

    def add_node(self, num_cpus: int = 2, num_gpus: int = 1, resources=None) -> Node:
        node = self._start([f"--address={self.address}"], num_cpus, num_gpus, resources or {})
        self.wait_for_nodes(sum(1 for n in self.nodes if n.proc.poll() is None))
        return node

    def wait_for_nodes(self, count: int) -> None:
        """Block until ``count`` nodes are alive in the cluster: every node's ``ray start``
        said it started, then ``ray status`` lists them (asked only then: before the head is
        up it hangs retrying)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        for node in self.nodes:
            while not node.started():
                if node.proc.poll() is not None:
                    raise RuntimeError(f"a Ray node exited at start:\n{node.log_tail()}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"a Ray node did not start:\n{node.log_tail()}")
                time.sleep(0.2)
        while time.monotonic() < deadline:
            out = subprocess.run(
                ["ray", "status", f"--address={self.address}"], capture_output=True,
                text=True, env=ray_env(), timeout=START_TIMEOUT_S,
            ).stdout  # fmt: skip
            active = out.split("Active:", 1)[-1].split("Pending:", 1)[0]
            if active.count(" node_") >= count:
                return
            time.sleep(0.5)
        raise TimeoutError(f"the Ray cluster did not reach {count} nodes in {START_TIMEOUT_S} s")

    def shutdown(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
