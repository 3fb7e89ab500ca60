"""Detection of this machine's resources: CPUs, GPUs and memory.

Used by ``caliper.init()`` for every amount the user does not give. Each function takes its
sources injected (a file reader, an environment mapping, a command runner) with defaults that
read the real machine, so tests can describe any machine without having it.

Nothing here raises on a strange machine: a missing, unreadable or garbled source is skipped and
the next one is used.

Sources, in order of preference:

* CPUs: the affinity mask of this process (else ``os.cpu_count()``), capped by a cgroup CPU
  quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``); never below 1.
* GPUs: ``CUDA_VISIBLE_DEVICES`` when set, else the indices listed by ``nvidia-smi``.
* Memory: ``MemAvailable`` in ``/proc/meminfo`` (else total physical memory from ``sysconf``),
  capped by the cgroup memory limit (v2 ``memory.max`` minus ``memory.current``, v1
  ``memory.limit_in_bytes``).

Only the cgroup files at the root of ``/sys/fs/cgroup`` are read, which is where a container
sees its own limits.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

CGROUP_V2_CPU_MAX = "/sys/fs/cgroup/cpu.max"
CGROUP_V1_CPU_QUOTA = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"
CGROUP_V1_CPU_PERIOD = "/sys/fs/cgroup/cpu/cpu.cfs_period_us"
CGROUP_V2_MEMORY_MAX = "/sys/fs/cgroup/memory.max"
CGROUP_V2_MEMORY_CURRENT = "/sys/fs/cgroup/memory.current"
CGROUP_V1_MEMORY_LIMIT = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
PROC_MEMINFO = "/proc/meminfo"

NVIDIA_SMI_COMMAND = ("nvidia-smi", "--query-gpu=index", "--format=csv,noheader")
COMMAND_TIMEOUT_S = 5.0

_ABSURD_BYTES = 2**60
"""Memory limits at or above this mean "no limit" (cgroup v1 reports ~2**63 when unset)."""

_NO_GPU_ENTRIES = frozenset({"-1", "NoDevFiles"})

_SCHED_GETAFFINITY: Callable[[int], Iterable[int]] | None = getattr(os, "sched_getaffinity", None)

ReadText = Callable[[str], str | None]
Run = Callable[[Sequence[str]], str | None]


@dataclass(frozen=True)
class MachineInfo:
    """Resources of this machine as seen by this process.

    Attributes:
        num_cpus: Logical CPUs usable by this process (at least 1; fractional under a cgroup
            quota such as 1.5).
        gpu_ids: Physical device ids as ``CUDA_VISIBLE_DEVICES`` names them (``"0"``, ``"1"``
            or UUIDs such as ``"GPU-5f1c..."``), in order.
        memory_bytes: Memory available to this process, in bytes (0 if nothing could be read).
    """

    num_cpus: float
    gpu_ids: tuple[str, ...]
    memory_bytes: int


def read_file_text(path: str) -> str | None:
    """Return the text of the file at ``path``, or ``None`` if it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except (OSError, ValueError):
        return None


def run_command(
    args: Sequence[str],
    *,
    timeout: float = COMMAND_TIMEOUT_S,
    which: Callable[[str], str | None] = shutil.which,
    runner: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> str | None:
    """Run a command and return its standard output, or ``None`` on any failure.

    Failure covers: the program is not on ``PATH``, it cannot be started, it exits non-zero, or
    it runs longer than ``timeout`` seconds (it is then killed).

    Args:
        args: Program and arguments, e.g. ``("nvidia-smi", "-L")``.
        timeout: Seconds to wait for the command.
        which: Looks the program up on ``PATH`` (injected for tests).
        runner: Runs the command like :func:`subprocess.run` (injected for tests).
    """
    if not args or which(args[0]) is None:
        return None
    try:
        completed = runner(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout


def _parse_int(text: str | None) -> int | None:
    """Parse a whole file or token holding one integer; ``None`` if it is anything else."""
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _cgroup_v2_cpu_quota(text: str | None) -> float | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` ("quota period"); ``None`` if unlimited/garbled."""
    if text is None:
        return None
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    quota, period = _parse_int(fields[0]), _parse_int(fields[1])
    if quota is None or period is None or quota <= 0 or period <= 0:
        return None
    return quota / period


def _cgroup_v1_cpu_quota(quota_text: str | None, period_text: str | None) -> float | None:
    """CPUs allowed by cgroup v1 CFS quota and period; ``None`` if unlimited (-1) or garbled."""
    quota, period = _parse_int(quota_text), _parse_int(period_text)
    if quota is None or period is None or quota <= 0 or period <= 0:
        return None
    return quota / period


def _count_cpus(
    affinity: Callable[[int], Iterable[int]] | None, cpu_count: Callable[[], int | None]
) -> int | None:
    """CPUs in this process's affinity mask, else the machine's CPU count; ``None`` if unknown."""
    if affinity is not None:
        try:
            count = len(set(affinity(0)))
        except (OSError, ValueError):
            count = 0
        if count > 0:
            return count
    count = cpu_count()
    return count if isinstance(count, int) and count > 0 else None


def detect_cpus(
    *,
    affinity: Callable[[int], Iterable[int]] | None = _SCHED_GETAFFINITY,
    cpu_count: Callable[[], int | None] = os.cpu_count,
    read_text: ReadText = read_file_text,
) -> float:
    """Return the number of logical CPUs this process may use.

    The smallest of: the CPUs in the affinity mask (or ``cpu_count()`` when there is no
    affinity call or it fails) and any cgroup v2 or v1 CPU quota. Never below 1.

    Args:
        affinity: Like :func:`os.sched_getaffinity`; ``None`` where the platform has none.
        cpu_count: Like :func:`os.cpu_count`.
        read_text: Returns a file's text, or ``None`` if it cannot be read.

    Returns:
        A whole number (as a float) unless a cgroup quota is fractional, e.g. ``1.5``.
    """
    limits: list[float] = []
    count = _count_cpus(affinity, cpu_count)
    if count is not None:
        limits.append(float(count))
    for quota in (
        _cgroup_v2_cpu_quota(read_text(CGROUP_V2_CPU_MAX)),
        _cgroup_v1_cpu_quota(read_text(CGROUP_V1_CPU_QUOTA), read_text(CGROUP_V1_CPU_PERIOD)),
    ):
        if quota is not None:
            limits.append(quota)
    return max(1.0, min(limits, default=1.0))


def parse_cuda_visible_devices(value: str) -> tuple[str, ...]:
    """Split a ``CUDA_VISIBLE_DEVICES`` value into device ids.

    Entries are stripped and empty ones dropped. ``""``, ``"-1"`` and ``"NoDevFiles"`` mean no
    GPUs; as in CUDA, such an entry also hides every entry after it (``"0,-1,2"`` is ``("0",)``).
    A repeated id is kept once.

    Args:
        value: The variable's value, e.g. ``" 1, 3 "`` or ``"GPU-8a3c...,GPU-77b0..."``.
    """
    ids: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        if entry in _NO_GPU_ENTRIES:
            break
        if entry and entry not in ids:
            ids.append(entry)
    return tuple(ids)


def parse_nvidia_smi_indices(output: str) -> tuple[str, ...]:
    """Parse ``nvidia-smi --query-gpu=index --format=csv,noheader`` output into device ids.

    Only lines holding a non-negative integer count; messages such as "No devices were found"
    are ignored.
    """
    ids: list[str] = []
    for line in output.splitlines():
        entry = line.strip()
        if entry.isdecimal() and entry not in ids:
            ids.append(entry)
    return tuple(ids)


def detect_gpus(
    *,
    environ: Mapping[str, str] = os.environ,
    run: Run = run_command,
) -> tuple[str, ...]:
    """Return the ids of the GPUs this process may use, in order.

    ``CUDA_VISIBLE_DEVICES``, when set (even to ``""``), decides alone; see
    :func:`parse_cuda_visible_devices`. Otherwise the indices ``nvidia-smi`` lists, or ``()``
    when it is missing, fails or times out.

    Args:
        environ: The process environment.
        run: Runs a command and returns its standard output, or ``None`` on any failure.
    """
    value = environ.get("CUDA_VISIBLE_DEVICES")
    if value is not None:
        return parse_cuda_visible_devices(value)
    output = run(NVIDIA_SMI_COMMAND)
    return parse_nvidia_smi_indices(output) if isinstance(output, str) else ()


def _meminfo_available(text: str | None) -> int | None:
    """Bytes of ``MemAvailable`` in ``/proc/meminfo`` text; ``None`` if absent or garbled."""
    if text is None:
        return None
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.strip() != "MemAvailable":
            continue
        fields = rest.split()
        value = _parse_int(fields[0]) if fields else None
        if value is None or value < 0:
            return None
        unit = fields[1].lower() if len(fields) > 1 else "b"
        if unit == "kb":
            return value * 1024
        return value if unit == "b" else None
    return None


def _physical_memory(sysconf: Callable[[str], int]) -> int | None:
    """Total physical memory from ``sysconf``; ``None`` if the platform cannot say."""
    try:
        pages, page_size = sysconf("SC_PHYS_PAGES"), sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None
    if not isinstance(pages, int) or not isinstance(page_size, int):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return pages * page_size


def _memory_limit(text: str | None) -> int | None:
    """A cgroup memory limit in bytes; ``None`` for "max", absurdly large or garbled values."""
    limit = _parse_int(text)
    if limit is None or limit < 0 or limit >= _ABSURD_BYTES:
        return None
    return limit


def _cgroup_memory_caps(read_text: ReadText) -> list[int]:
    """Bytes the cgroup still allows this process (v2 limit minus usage, v1 limit)."""
    caps: list[int] = []
    v2_limit = _memory_limit(read_text(CGROUP_V2_MEMORY_MAX))
    if v2_limit is not None:
        current = _parse_int(read_text(CGROUP_V2_MEMORY_CURRENT))
        used = current if current is not None and current >= 0 else 0
        caps.append(max(0, v2_limit - used))
    v1_limit = _memory_limit(read_text(CGROUP_V1_MEMORY_LIMIT))
    if v1_limit is not None:
        caps.append(v1_limit)
    return caps


def detect_memory(
    *,
    read_text: ReadText = read_file_text,
    sysconf: Callable[[str], int] = os.sysconf,
) -> int:
    """Return the bytes of memory available to this process.

    ``MemAvailable`` from ``/proc/meminfo`` (else total physical memory from ``sysconf``),
    capped by the cgroup v2 limit minus current usage and by the cgroup v1 limit. Limits of
    ``max`` or at least ``2**60`` bytes mean no limit.

    Args:
        read_text: Returns a file's text, or ``None`` if it cannot be read.
        sysconf: Like :func:`os.sysconf`.

    Returns:
        Bytes, or 0 if no source could be read.
    """
    base = _meminfo_available(read_text(PROC_MEMINFO))
    if base is None:
        base = _physical_memory(sysconf)
    candidates = _cgroup_memory_caps(read_text)
    if base is not None:
        candidates.append(base)
    return min(candidates, default=0)


def detect_machine(
    *,
    affinity: Callable[[int], Iterable[int]] | None = _SCHED_GETAFFINITY,
    cpu_count: Callable[[], int | None] = os.cpu_count,
    read_text: ReadText = read_file_text,
    environ: Mapping[str, str] = os.environ,
    run: Run = run_command,
    sysconf: Callable[[str], int] = os.sysconf,
) -> MachineInfo:
    """Detect CPUs, GPUs and memory; every keyword is passed to the function that uses it.

    Args:
        affinity: See :func:`detect_cpus`.
        cpu_count: See :func:`detect_cpus`.
        read_text: See :func:`detect_cpus` and :func:`detect_memory`.
        environ: See :func:`detect_gpus`.
        run: See :func:`detect_gpus`.
        sysconf: See :func:`detect_memory`.
    """
    return MachineInfo(
        num_cpus=detect_cpus(affinity=affinity, cpu_count=cpu_count, read_text=read_text),
        gpu_ids=detect_gpus(environ=environ, run=run),
        memory_bytes=detect_memory(read_text=read_text, sysconf=sysconf),
    )


@functools.cache
def hostname() -> str:
    """This machine's host name (asked once per process: it names trials' machines in results,
    TensorBoard files and where a trial's directory is new)."""
    return socket.gethostname()
