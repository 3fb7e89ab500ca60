"""``caliper.init(address=...)``: find the Ray cluster, check that it answers, connect.

A cluster that does not answer is a one-line error within seconds (Ray itself retries for a
long time); so is a missing ``ray`` package, naming the extra to install.
"""

from __future__ import annotations

import os
import socket
import tempfile

CONNECT_TIMEOUT_S = 5.0
RAY_EXTRA = "pip install 'caliper[ray]'"
_CLUSTER_FILE = "ray_current_cluster"


class ClusterConnectionError(ConnectionError):
    """No Ray cluster answers at the address given to ``caliper.init``."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError(
            f"running trials on a Ray cluster (caliper.init(address=...)) needs Ray: {RAY_EXTRA}"
        ) from None
    return ray


def resolve_address(address: str, environ=os.environ, temp_dir: str | None = None) -> str:
    """The concrete address for ``address``: ``"auto"`` becomes ``RAY_ADDRESS`` or the
    address of the cluster started on this machine (``ray start`` records it)."""
    if not isinstance(address, str) or not address.strip():
        raise TypeError(
            f"address must be 'auto', 'ray://host:port' or 'host:port', got {address!r}"
        )
    address = address.strip()
    if address != "auto":
        return address
    found = environ.get("RAY_ADDRESS", "").strip()
    if found and found != "auto":
        return found
    path = os.path.join(temp_dir or _ray_temp_dir(environ), _CLUSTER_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            found = f.read().strip()
    except OSError:
        found = ""
    if not found:
        raise ClusterConnectionError(
            "address='auto': no Ray cluster was started on this machine and RAY_ADDRESS is not "
            "set; start one with `ray start --head`, or give its address"
        )
    return found


def _ray_temp_dir(environ) -> str:
    return environ.get("RAY_TMPDIR") or os.path.join(tempfile.gettempdir(), "ray")


def split_host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; ValueError naming the rule."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"address {address!r} must be 'auto', 'ray://host:port' or 'host:port' "
            "(e.g. '10.0.0.5:6379' or 'ray://10.0.0.5:10001')"
        )
    return host.strip("[]"), int(port)


def check_answers(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Open (and close) a TCP connection to the cluster's port, or raise a one-line error."""
    host, port = split_host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise ClusterConnectionError(
            f"no Ray cluster answers at {address} ({reason} after trying for at most "
            f"{timeout:g} s): start one with `ray start --head`, or check the address"
        ) from None
