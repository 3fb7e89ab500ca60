"""Tests for caliper.core.detect: every machine here is described by injected sources."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

import pytest

from caliper.core import detect
from caliper.core.detect import (
    CGROUP_V1_CPU_PERIOD,
    CGROUP_V1_CPU_QUOTA,
    CGROUP_V1_MEMORY_LIMIT,
    CGROUP_V2_CPU_MAX,
    CGROUP_V2_MEMORY_CURRENT,
    CGROUP_V2_MEMORY_MAX,
    NVIDIA_SMI_COMMAND,
    PROC_MEMINFO,
    MachineInfo,
    detect_cpus,
    detect_gpus,
    detect_machine,
    detect_memory,
    read_file_text,
    run_command,
)

GIB = 2**30


def files(contents: dict[str, str]) -> Callable[[str], str | None]:
    """A read_text that knows only the given files."""
    return contents.get


def no_files(path: str) -> None:
    return None


def fixed_cpus(n: int) -> Callable[[int], set[int]]:
    return lambda pid: set(range(n))


def failing_affinity(pid: int) -> set[int]:
    raise OSError("sched_getaffinity not permitted")


def sysconf_of(pages: int, page_size: int = 4096) -> Callable[[str], int]:
    return {"SC_PHYS_PAGES": pages, "SC_PAGE_SIZE": page_size}.__getitem__


def failing_sysconf(name: str) -> int:
    raise ValueError(f"unrecognized configuration name {name}")


# --- CPUs -----------------------------------------------------------------------------------


def test_cpus_from_affinity_mask_not_cpu_count() -> None:
    assert detect_cpus(affinity=fixed_cpus(3), cpu_count=lambda: 64, read_text=no_files) == 3


@pytest.mark.parametrize("affinity", [None, failing_affinity, lambda pid: set()])
def test_cpus_fall_back_to_cpu_count(affinity) -> None:
    assert detect_cpus(affinity=affinity, cpu_count=lambda: 8, read_text=no_files) == 8


def test_cpus_never_below_one_when_nothing_known() -> None:
    assert detect_cpus(affinity=None, cpu_count=lambda: None, read_text=no_files) == 1


def test_cpus_whole_number_without_quota() -> None:
    cpus = detect_cpus(affinity=fixed_cpus(4), cpu_count=lambda: 4, read_text=no_files)
    assert cpus == 4 and float(cpus).is_integer()


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("150000 100000\n", 1.5),
        ("200000 100000", 2.0),
        ("max 100000\n", 8.0),
        ("1600000 100000", 8.0),  # quota above the mask: the mask wins
        ("10000 100000", 1.0),  # 0.1 CPU: never below 1
    ],
)
def test_cgroup_v2_quota(cpu_max: str, expected: float) -> None:
    read = files({CGROUP_V2_CPU_MAX: cpu_max})
    assert detect_cpus(affinity=fixed_cpus(8), cpu_count=lambda: 8, read_text=read) == expected


@pytest.mark.parametrize(
    ("quota", "period", "expected"),
    [("250000", "100000", 2.5), ("-1", "100000", 8.0), ("50000\n", "100000\n", 1.0)],
)
def test_cgroup_v1_quota(quota: str, period: str, expected: float) -> None:
    read = files({CGROUP_V1_CPU_QUOTA: quota, CGROUP_V1_CPU_PERIOD: period})
    assert detect_cpus(affinity=fixed_cpus(8), cpu_count=lambda: 8, read_text=read) == expected


@pytest.mark.parametrize(
    "contents",
    [
        {CGROUP_V2_CPU_MAX: ""},
        {CGROUP_V2_CPU_MAX: "150000"},
        {CGROUP_V2_CPU_MAX: "abc 100000"},
        {CGROUP_V2_CPU_MAX: "150000 0"},
        {CGROUP_V2_CPU_MAX: "0 100000"},
        {CGROUP_V2_CPU_MAX: "1 2 3"},
        {CGROUP_V2_CPU_MAX: "\x00\xff garbage"},
        {CGROUP_V1_CPU_QUOTA: "lots", CGROUP_V1_CPU_PERIOD: "100000"},
        {CGROUP_V1_CPU_QUOTA: "200000", CGROUP_V1_CPU_PERIOD: "-5"},
        {CGROUP_V1_CPU_QUOTA: "200000"},  # period unreadable
    ],
)
def test_garbled_cpu_cgroup_files_are_ignored(contents: dict[str, str]) -> None:
    read = files(contents)
    assert detect_cpus(affinity=fixed_cpus(6), cpu_count=lambda: 6, read_text=read) == 6


def test_garbled_v2_file_falls_back_to_v1() -> None:
    read = files(
        {
            CGROUP_V2_CPU_MAX: "garbage",
            CGROUP_V1_CPU_QUOTA: "300000",
            CGROUP_V1_CPU_PERIOD: "100000",
        }
    )
    assert detect_cpus(affinity=fixed_cpus(8), cpu_count=lambda: 8, read_text=read) == 3


# --- GPUs -----------------------------------------------------------------------------------


def never_run(args: Sequence[str]) -> str | None:
    raise AssertionError(f"must not run {args!r} when CUDA_VISIBLE_DEVICES is set")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0,2", ("0", "2")),
        ("", ()),
        ("-1", ()),
        ("NoDevFiles", ()),
        (" 1, 3 ", ("1", "3")),
        ("0,,2,", ("0", "2")),
        ("3", ("3",)),
        ("0,-1,2", ("0",)),  # as in CUDA, an invalid entry hides the rest
        ("1,1", ("1",)),
        (
            "GPU-8a3c2e1f-0000-1111-2222-333344445555, GPU-77b0aa00-9999-8888-7777-666655554444",
            (
                "GPU-8a3c2e1f-0000-1111-2222-333344445555",
                "GPU-77b0aa00-9999-8888-7777-666655554444",
            ),
        ),
        ("MIG-GPU-8a3c/1/0", ("MIG-GPU-8a3c/1/0",)),
    ],
)
def test_cuda_visible_devices(value: str, expected: tuple[str, ...]) -> None:
    assert detect_gpus(environ={"CUDA_VISIBLE_DEVICES": value}, run=never_run) == expected


def test_nvidia_smi_used_when_cuda_visible_devices_unset() -> None:
    calls: list[Sequence[str]] = []

    def run(args: Sequence[str]) -> str:
        calls.append(args)
        return "0\n1\n2\n3\n"

    assert detect_gpus(environ={}, run=run) == ("0", "1", "2", "3")
    assert calls == [NVIDIA_SMI_COMMAND]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("0\r\n1\r\n", ("0", "1")),
        (" 0 \n\n 1\n", ("0", "1")),
        ("", ()),
        ("No devices were found\n", ()),
        ("NVIDIA-SMI has failed because it couldn't communicate with the driver.\n", ()),
    ],
)
def test_nvidia_smi_output_parsing(output: str, expected: tuple[str, ...]) -> None:
    assert detect_gpus(environ={}, run=lambda args: output) == expected


def test_nvidia_smi_failure_means_no_gpus() -> None:
    assert detect_gpus(environ={}, run=lambda args: None) == ()


class FakeRunner:
    """Stands in for subprocess.run and records how it was called."""

    def __init__(self, *, returncode: int = 0, stdout: str = "", raises: Exception | None = None):
        self.returncode, self.stdout, self.raises = returncode, stdout, raises
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
        self.calls.append((args, kwargs))
        if self.raises is not None:
            raise self.raises
        return subprocess.CompletedProcess(args, self.returncode, self.stdout, "")


def on_path(name: str) -> str:
    return f"/usr/bin/{name}"


def test_run_command_returns_stdout_with_timeout() -> None:
    runner = FakeRunner(stdout="0\n1\n")
    assert run_command(NVIDIA_SMI_COMMAND, which=on_path, runner=runner) == "0\n1\n"
    [(args, kwargs)] = runner.calls
    assert args == list(NVIDIA_SMI_COMMAND)
    assert kwargs["timeout"] == 5


def test_run_command_missing_program() -> None:
    runner = FakeRunner(stdout="0\n")
    assert run_command(NVIDIA_SMI_COMMAND, which=lambda name: None, runner=runner) is None
    assert runner.calls == []


@pytest.mark.parametrize(
    "runner",
    [
        FakeRunner(returncode=9, stdout="NVIDIA-SMI has failed\n"),
        FakeRunner(raises=subprocess.TimeoutExpired("nvidia-smi", 5)),
        FakeRunner(raises=FileNotFoundError("nvidia-smi")),
        FakeRunner(raises=PermissionError("nvidia-smi")),
    ],
    ids=["non-zero-exit", "timeout", "vanished", "not-executable"],
)
def test_run_command_failures_give_no_gpus(runner: FakeRunner) -> None:
    assert run_command(NVIDIA_SMI_COMMAND, which=on_path, runner=runner) is None

    def run(args: Sequence[str]) -> str | None:
        return run_command(args, which=on_path, runner=runner)

    assert detect_gpus(environ={}, run=run) == ()


# --- memory ---------------------------------------------------------------------------------

MEMINFO = """\
MemTotal:       24684084 kB
MemFree:         1000000 kB
MemAvailable:   20000000 kB
Buffers:          100000 kB
"""


def test_memory_from_meminfo() -> None:
    read = files({PROC_MEMINFO: MEMINFO})
    assert detect_memory(read_text=read, sysconf=failing_sysconf) == 20000000 * 1024


@pytest.mark.parametrize(
    "meminfo",
    [
        None,
        "MemTotal: 100 kB\n",
        "MemAvailable: lots kB\n",
        "MemAvailable:\n",
        "MemAvailable: 5 MB",
    ],
)
def test_memory_falls_back_to_sysconf(meminfo: str | None) -> None:
    read = files({} if meminfo is None else {PROC_MEMINFO: meminfo})
    assert detect_memory(read_text=read, sysconf=sysconf_of(1000, 4096)) == 1000 * 4096


def test_memory_zero_when_nothing_readable() -> None:
    assert detect_memory(read_text=no_files, sysconf=failing_sysconf) == 0


def test_memory_capped_by_cgroup_v2_limit_minus_usage() -> None:
    read = files(
        {
            PROC_MEMINFO: MEMINFO,
            CGROUP_V2_MEMORY_MAX: f"{4 * GIB}\n",
            CGROUP_V2_MEMORY_CURRENT: f"{1 * GIB}\n",
        }
    )
    assert detect_memory(read_text=read, sysconf=failing_sysconf) == 3 * GIB


def test_memory_cgroup_v2_limit_without_usage_file() -> None:
    read = files({PROC_MEMINFO: MEMINFO, CGROUP_V2_MEMORY_MAX: f"{4 * GIB}"})
    assert detect_memory(read_text=read, sysconf=failing_sysconf) == 4 * GIB


def test_memory_cgroup_v2_usage_above_limit_gives_zero() -> None:
    read = files(
        {PROC_MEMINFO: MEMINFO, CGROUP_V2_MEMORY_MAX: "100", CGROUP_V2_MEMORY_CURRENT: "200"}
    )
    assert detect_memory(read_text=read, sysconf=failing_sysconf) == 0


def test_memory_cgroup_v2_max_means_no_limit() -> None:
    read = files(
        {PROC_MEMINFO: MEMINFO, CGROUP_V2_MEMORY_MAX: "max\n", CGROUP_V2_MEMORY_CURRENT: "5"}
    )
    assert detect_memory(read_text=read, sysconf=failing_sysconf) == 20000000 * 1024


def test_memory_capped_by_cgroup_v1_limit() -> None:
    read = files({CGROUP_V1_MEMORY_LIMIT: f"{2 * GIB}\n"})
    assert detect_memory(read_text=read, sysconf=sysconf_of(4 * GIB // 4096)) == 2 * GIB


def test_memory_cgroup_limit_above_physical_is_no_cap() -> None:
    read = files({CGROUP_V1_MEMORY_LIMIT: f"{64 * GIB}"})
    assert detect_memory(read_text=read, sysconf=sysconf_of(4 * GIB // 4096)) == 4 * GIB


@pytest.mark.parametrize(
    "contents",
    [
        {CGROUP_V1_MEMORY_LIMIT: "9223372036854771712"},  # what an unlimited v1 cgroup reports
        {CGROUP_V1_MEMORY_LIMIT: str(2**60)},
        {CGROUP_V1_MEMORY_LIMIT: "garbage"},
        {CGROUP_V1_MEMORY_LIMIT: "-1"},
        {CGROUP_V2_MEMORY_MAX: "4 GiB"},
        {CGROUP_V2_MEMORY_MAX: ""},
    ],
)
def test_memory_absurd_or_garbled_limits_are_ignored(contents: dict[str, str]) -> None:
    read = files({PROC_MEMINFO: MEMINFO, **contents})
    assert detect_memory(read_text=read, sysconf=failing_sysconf) == 20000000 * 1024


def test_memory_garbled_usage_uses_limit_alone() -> None:
    read = files(
        {PROC_MEMINFO: MEMINFO, CGROUP_V2_MEMORY_MAX: f"{GIB}", CGROUP_V2_MEMORY_CURRENT: "?"}
    )
    assert detect_memory(read_text=read, sysconf=failing_sysconf) == GIB


def test_memory_cgroup_limit_used_when_base_unknown() -> None:
    read = files({CGROUP_V1_MEMORY_LIMIT: f"{GIB}"})
    assert detect_memory(read_text=read, sysconf=failing_sysconf) == GIB


# --- readers and the whole machine ----------------------------------------------------------


def test_read_file_text(tmp_path) -> None:
    path = tmp_path / "cpu.max"
    path.write_bytes(b"150000 100000\n")
    assert read_file_text(str(path)) == "150000 100000\n"
    assert read_file_text(str(tmp_path / "missing")) is None
    assert read_file_text(str(tmp_path)) is None  # a directory
    (tmp_path / "bad").write_bytes(b"\xff\xfe 1")
    assert detect._parse_int(read_file_text(str(tmp_path / "bad"))) is None


def test_detect_machine_passes_injected_sources() -> None:
    read = files(
        {
            PROC_MEMINFO: MEMINFO,
            CGROUP_V2_CPU_MAX: "150000 100000",
            CGROUP_V2_MEMORY_MAX: f"{8 * GIB}",
            CGROUP_V2_MEMORY_CURRENT: f"{2 * GIB}",
        }
    )
    info = detect_machine(
        affinity=fixed_cpus(4),
        cpu_count=lambda: 4,
        read_text=read,
        environ={"CUDA_VISIBLE_DEVICES": "1,0"},
        run=never_run,
        sysconf=failing_sysconf,
    )
    assert info == MachineInfo(num_cpus=1.5, gpu_ids=("1", "0"), memory_bytes=6 * GIB)


def test_detect_machine_rejects_unknown_keyword() -> None:
    with pytest.raises(TypeError):
        detect_machine(num_gpus=2)


def test_detect_machine_on_this_machine() -> None:
    info = detect_machine()
    assert info.num_cpus >= 1
    assert info.memory_bytes > 0
    assert isinstance(info.gpu_ids, tuple)
    assert all(isinstance(gpu, str) and gpu for gpu in info.gpu_ids)
