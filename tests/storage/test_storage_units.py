"""The storage's pure parts: URIs, which files go up, the upload thread's rounds, and a trial
on another machine than the driver (its own uploads), on pyarrow's local filesystem."""

from __future__ import annotations

import threading
import time

import pytest

from caliper.tune import remote_files as rf
from caliper.tune.syncer import Syncer
from caliper.tune.trial_storage import TrialStorage, TrialUploads, changed, scan_files

pytestmark = pytest.mark.timeout(30)


def test_uri_parts_keep_the_query_at_the_end():
    uri = "s3://bkt/runs?endpoint_override=host:9000&scheme=http"
    assert rf.uri_join(uri, "exp", "t1") == (
        "s3://bkt/runs/exp/t1?endpoint_override=host:9000&scheme=http"
    )
    assert rf.uri_split(rf.uri_join(uri, "exp")) == (uri, "exp")
    assert rf.uri_split("gs://bkt/exp/") == ("gs://bkt", "exp")
    for bad in ("s3://", "s3://bkt", "s3://bkt/"):
        with pytest.raises(ValueError, match="names no experiment directory"):
            rf.uri_split(bad)


def test_credentials_in_a_uri_are_hidden_in_messages():
    shown = rf.redact("s3://b/p?access_key=AKIA&secret_key=s3cr3t&region=eu")
    assert "s3cr3t" not in shown and "AKIA" not in shown and "region=eu" in shown
    shown = rf.redact("s3://AKIA:s3cr3t@bucket/p/exp?region=eu")
    assert shown == "s3://***@bucket/p/exp?region=eu"
    assert rf.redact("gs://bucket/a@b") == "gs://bucket/a@b"


def test_checkpoint_markers_and_folders():
    files = ["t/checkpoint_000001/a", "t/checkpoint_000001/.checkpoint_complete",
             "t/checkpoint_000002/a", "t/result.json"]  # fmt: skip
    assert rf.complete_checkpoints(files) == {"t/checkpoint_000001"}
    assert rf.in_checkpoint("t/checkpoint_000002/a")
    assert rf.in_checkpoint("t/checkpoint_000002.partial/a")
    assert rf.in_checkpoint("t/.exploit_checkpoint/a")
    assert not rf.in_checkpoint("t/result.json")


def test_scan_leaves_out_checkpoints_and_temporary_files(tmp_path):
    for name in ("result.json", "sub/user.txt", "checkpoint_000000/x", "a.partial/y",
                 ".tmp-123", "data.tmp", "params.json"):  # fmt: skip
        path = tmp_path / "t" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    found = scan_files(str(tmp_path), lambda rel: rel.endswith("params.json"))
    assert sorted(found) == ["t/result.json", "t/sub/user.txt"]
    assert changed(found, {"t/result.json": found["t/result.json"]}) == ["t/sub/user.txt"]


def test_syncer_runs_the_newest_request_and_keeps_rounds_apart():
    rounds, lock = [], threading.Lock()

    def round_fn(job):
        with lock:
            rounds.append((job, time.monotonic()))

    syncer = Syncer(round_fn, "test", min_period=1.0)
    syncer.run_now("first")
    for job in ("a", "b", "c"):  # within the second after "first": only the newest runs
        syncer.request(job)
    time.sleep(1.6)
    syncer.request("d")
    left = syncer.close()  # "d" waits for its second: handed back, for a last round
    if left is not None:
        syncer.run_now(left)
    assert [job for job, _ in rounds] == ["first", "c", "d"]
    assert rounds[1][1] - rounds[0][1] >= 0.99


def test_syncer_says_a_failed_background_round_once(capsys):
    def fail(job):
        raise OSError("AWS Error NETWORK_CONNECTION")

    syncer = Syncer(fail, "s3://b/exp", min_period=0.0)
    syncer.request(1)
    time.sleep(0.2)
    syncer.request(2)
    time.sleep(0.2)
    syncer.close()
    err = capsys.readouterr().err
    assert err.count("uploading to s3://b/exp failed") == 1
    assert isinstance(syncer.error, OSError)
    with pytest.raises(OSError):
        syncer.run_now(3)


def test_a_trial_on_another_machine_uploads_its_own_files(tmp_path):
    pafs = pytest.importorskip("pyarrow.fs")
    fs = pafs.LocalFileSystem()
    remote = tmp_path / "bucket" / "exp"
    (remote / "t1").mkdir(parents=True)
    (remote / "t1" / "result.json").write_text('{"training_iteration": 1}\n')
    staging = tmp_path / "node" / "exp"  # the driver's path, on a machine without its marker
    storage = TrialStorage(fs, str(remote), str(staging), token="driver-token")
    assert not storage.shares_staging()
    uploads = TrialUploads(storage, str(staging / "t1"))
    local = staging / "t1" / "result.json"
    assert local.read_text() == '{"training_iteration": 1}\n'  # to append to
    with open(local, "a") as f:
        f.write('{"training_iteration": 2}\n')
    (staging / "t1" / "notes.txt").write_text("mine")
    (staging / "t1" / "params.json").write_text("{}")  # the driver's file
    uploads.upload()
    assert (remote / "t1" / "result.json").read_text().count("training_iteration") == 2
    assert (remote / "t1" / "notes.txt").read_text() == "mine"
    assert not (remote / "t1" / "params.json").exists()
    assert storage.remote(str(staging / "t1" / "checkpoint_000001")) == (
        f"{remote}/t1/checkpoint_000001"
    )
    (staging / ".caliper_driver").write_text("driver-token")  # the driver's own machine
    assert TrialUploads(storage, str(staging / "t1")).shared
