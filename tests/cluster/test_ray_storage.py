"""A Tuner on the Ray cluster with its experiment on an S3-compatible store (moto on
127.0.0.1): the trials' files and checkpoints land in the bucket and read back from it. The
nodes were started without any AWS settings: the endpoint and credentials travel in the URI."""

from __future__ import annotations

import sys
import uuid

import cloudpickle
import pytest
from raycluster import free_port

from caliper import tune

pytestmark = pytest.mark.timeout(300)  # the first test also starts the cluster
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture
def bucket_uri():
    pytest.importorskip("pyarrow.fs", reason="needs caliper[storage]")
    pytest.importorskip("moto.server", reason="needs moto[server]")
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    name = f"caliper-{uuid.uuid4().hex[:10]}"
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).create_bucket(Bucket=name)  # fmt: skip
    try:
        yield f"s3://testing:testing@{name}/runs?endpoint_override=127.0.0.1:{port}&scheme=http"
    finally:
        server.stop()


def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        start = checkpoint.to_dict()["step"]
    for step in range(start, 4):
        tune.report(
            {"loss": config["x"] / (step + 1)},
            checkpoint=tune.Checkpoint.from_dict({"step": step + 1}),
        )


def test_tuner_on_the_cluster_stores_in_the_bucket(on_cluster, bucket_uri):
    tuner = tune.Tuner(
        train,
        param_space={"x": tune.grid_search([1, 2, 3, 4])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=bucket_uri, name="exp", verbose=0),
    )
    results = tuner.fit()
    assert results.num_errors == 0
    base, _, query = bucket_uri.partition("?")
    grid = tune.ResultGrid.from_path(f"{base}/exp?{query}")  # read back from the bucket alone
    assert sorted(r.metrics["training_iteration"] for r in grid) == [4, 4, 4, 4]
    best = grid.get_best_result()
    assert best.config["x"] == 1
    assert best.checkpoint.to_dict() == {"step": 4}
