"""What tasks and actors print reaches the driver's sys.stdout/sys.stderr, line by line, with a
``(name pid=N)`` prefix (Ray's ``log_to_driver``), so it shows in notebooks too."""

from __future__ import annotations

import os
import sys
import time

import cloudpickle
import pytest

import caliper

pytestmark = pytest.mark.timeout(30)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def talk(x):
    print(f"python print {x}")
    os.write(1, f"c-level write {x}\n".encode())
    print(f"to stderr {x}", file=sys.stderr)
    return os.getpid()


class Speaker:
    def __init__(self):
        print("constructed")

    def say(self, text):
        print(text)
        return os.getpid()


def wait_for(capsys, *needles: str, timeout: float = 5.0) -> tuple[str, str]:
    """Reads captured output until every needle showed (stdout and stderr pump separately)."""
    out = err = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        captured = capsys.readouterr()
        out, err = out + captured.out, err + captured.err
        if all(needle in out + err for needle in needles):
            break
        time.sleep(0.02)
    return out, err


def test_task_output_is_printed_by_the_driver_with_a_prefix(runtime_factory, capsys):
    runtime_factory(num_cpus=2)
    pid = caliper.get(caliper.remote(talk).remote(7))
    out, err = wait_for(capsys, "to stderr 7", "python print 7", "c-level write 7")
    assert f"(talk pid={pid}) python print 7\n" in out
    assert f"(talk pid={pid}) c-level write 7\n" in out  # fd-level output too
    assert f"(talk pid={pid}) to stderr 7\n" in err


def test_actor_output_names_the_actor_class(runtime_factory, capsys):
    runtime_factory(num_cpus=2)
    speaker = caliper.remote(Speaker).remote()
    pid = caliper.get(speaker.say.remote("hello there"))
    out, _ = wait_for(capsys, "hello there", "constructed")
    assert f"(Speaker pid={pid}) constructed\n" in out
    assert f"(Speaker pid={pid}) hello there\n" in out


def test_output_just_before_shutdown_is_not_lost(runtime_factory, capsys):
    runtime_factory(num_cpus=2)
    speaker = caliper.remote(Speaker).remote()
    caliper.get(speaker.say.remote("last words"))
    caliper.shutdown()
    assert "last words" in capsys.readouterr().out


def test_without_log_to_driver_workers_write_to_the_inherited_fds(runtime_factory, capfd):
    runtime_factory(num_cpus=2, log_to_driver=False)
    caliper.get(caliper.remote(talk).remote(3))
    deadline = time.monotonic() + 5
    out = ""
    while "c-level write 3" not in out and time.monotonic() < deadline:
        out += capfd.readouterr().out
        time.sleep(0.02)
    assert "python print 3\n" in out
    assert "pid=" not in out


def test_log_to_driver_must_be_a_bool(no_runtime):
    with pytest.raises(TypeError, match="log_to_driver"):
        caliper.init(num_cpus=1, log_to_driver="yes")
    assert not caliper.is_initialized()
