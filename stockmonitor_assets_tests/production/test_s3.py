"""DATA_DIR=s3://bucket/prefix stores every asset through the same IO manager.

Against moto's S3 server, started here on 127.0.0.1 (`pip install 'stockmonitor[s3]'`
plus moto for the tests), with dummy credentials and AWS_ENDPOINT_URL, as an operator
points the project at MinIO or any S3-compatible store. Runs are `dagster asset
materialize` commands (the CLI a backfill uses) on an embedded instance, demo market of 30
stocks. A day's first run finds no previous-day object: polars' object-store reader raises a
plain OSError for that 404, which must count as "missing" for `allow_missing_partitions`.

Objects are whole or not at all: a write that raises mid-file, and a run terminated
(SIGTERM, which Dagster turns into an exception in the step) or killed (SIGKILL) mid-file,
leave the previous whole object readable (`stalled_cli` holds the write after half its bytes).
"""

import io
import logging
import os
import signal

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stockmonitor_assets.database import PostgresResource
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.schemas import HEALTH_FOLDER, RUN_HEALTH
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets.thresholds import QualityThresholds
from stockmonitor_assets_tests.production.conftest import recent_sessions
from stockmonitor_assets_tests.reliability.conftest import (
    ALL_ASSETS,
    MARKET_SELECTION,
    Cli,
    demo_market,
    wait_for_file,
)
from stockmonitor_assets_tests.test_daily_report import without_stamps

pytestmark = pytest.mark.slow

boto3 = pytest.importorskip("boto3", reason="S3 tests need the test extra (moto, boto3)")
moto_server = pytest.importorskip("moto.server", reason="S3 tests need moto[server]")

BUCKET, PREFIX = "stockmonitor-test", "daily"
DATA_DIR = f"s3://{BUCKET}/{PREFIX}"
# Its own bucket: the tests above compare every object of theirs.
ATOMIC_BUCKET = "stockmonitor-atomic"
*RANGE, DAY = recent_sessions(4)
STORED_ASSETS = [a.key.to_user_string() for a in ALL_ASSETS if a.key.path[-1] != "scores_table"]


@pytest.fixture(scope="module")
def s3():
    """A local S3 server and the environment every AWS client (boto3, s3fs, polars) reads."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",  # polars' object store refuses plain http otherwise
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        try:
            yield client, env
        finally:
            server.stop()


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> Cli:
    return Cli(tmp_path_factory.mktemp("s3"))


def objects(client) -> dict[str, bytes]:
    """Every object under the prefix, by key, with its bytes."""
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    return {k: client.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in sorted(keys)}


def materialize(cli: Cli, env: dict[str, str], partition: str) -> None:
    result = cli.run(cli.materialize_args("*", partition), DATA_DIR, **env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def local_reference(tmp_path) -> dict[str, pl.DataFrame]:
    """The same runs in-process into a local directory: the frames S3 must hold.

    Frames, not bytes: objects are written by dagster-polars' writer, local files by the
    atomic one (other Parquet statistics options), so the footers differ."""
    # As a code location with DATA_DIR on S3 has them: no qlib directory kept.
    environ = {**os.environ, "DATA_DIR": str(tmp_path), "STOCKMONITOR_QLIB_DIR": "off"}
    settings = Settings.from_env(environ)
    resources = {
        "io_manager": PartitionedParquetIOManager(
            base_dir=str(tmp_path), run_health=settings.run_health
        ),
        "market_data": demo_market(),
        "database": PostgresResource(),
        "quality": QualityThresholds(),
        "settings": settings,
    }
    tags = {
        "dagster/asset_partition_range_start": RANGE[0],
        "dagster/asset_partition_range_end": RANGE[-1],
    }
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(ALL_ASSETS, tags=tags, resources=resources, instance=instance).success
        assert dg.materialize(
            ALL_ASSETS, partition_key=DAY, resources=resources, instance=instance
        ).success
    return {
        f"{PREFIX}/{p.relative_to(tmp_path)}": pl.read_parquet(p)
        for p in sorted(tmp_path.rglob("*.parquet"))
    }


def test_a_three_day_range_of_every_asset_is_stored_on_s3(s3, cli):
    client, env = s3
    materialize(cli, env, f"{RANGE[0]}...{RANGE[-1]}")
    stored = objects(client)
    expected = {f"{PREFIX}/{asset}/{day}.parquet" for asset in STORED_ASSETS for day in RANGE}
    report = f"{PREFIX}/reports/{RANGE[-1]}.html"  # a range run reports its last day
    assert set(stored) == expected | {report}
    scores = pl.read_parquet(stored[f"{PREFIX}/scores/{RANGE[-1]}.parquet"])
    assert scores.height > 0


def test_a_one_day_run_reads_its_window_back_from_s3_and_matches_a_local_run(s3, cli, tmp_path):
    client, env = s3
    materialize(cli, env, DAY)
    with dg.DagsterInstance.from_config(str(cli.tmp_path / "dagster_home_1")) as instance:
        record = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("technical_indicators"), asset_partitions=[DAY]
            ),
            limit=1,
        ).records[0]
    metadata = record.asset_materialization.metadata
    assert metadata["window_days_from_store"].value == len(RANGE) + 1  # three from S3, and DAY
    stored, reference = objects(client), local_reference(tmp_path)
    assert f"{PREFIX}/reports/{DAY}.html" in stored
    stored = {key: data for key, data in stored.items() if key.endswith(".parquet")}
    assert set(stored) == set(reference)
    for key, frame in reference.items():
        assert_frame_equal(pl.read_parquet(stored[key]), frame)


def test_rematerializing_the_range_rewrites_byte_identical_objects(s3, cli):
    client, env = s3
    before = objects(client)
    materialize(cli, env, f"{RANGE[0]}...{RANGE[-1]}")
    after = objects(client)
    assert after.keys() == before.keys()
    for key, data in after.items():  # a report differs only by when it was generated
        if key.endswith(".html"):
            assert without_stamps(data.decode()) == without_stamps(before[key].decode()), key
        else:
            assert data == before[key], key


def _frame(rows: int) -> pl.DataFrame:
    """Run-health rows (a table with few required columns): the store writes only frames
    meeting their folder's contract."""
    steps = pl.DataFrame({"run_id": "run", "step_key": [f"step_{i:06d}" for i in range(rows)]})
    return pl.concat([RUN_HEALTH.empty(), steps], how="diagonal_relaxed").with_columns(
        run_outcome=pl.lit("success", RUN_HEALTH.polars_schema["run_outcome"])
    )


def test_a_write_that_raises_mid_object_leaves_the_previous_whole_object(s3, monkeypatch):
    client, _ = s3
    client.create_bucket(Bucket=ATOMIC_BUCKET)
    store = PartitionStore(f"s3://{ATOMIC_BUCKET}/raises")
    previous = store.write(HEALTH_FOLDER, "run", _frame(20_000))
    write_parquet = pl.DataFrame.write_parquet

    def half_then_raise(frame, file, *args, **kwargs):
        buffer = io.BytesIO()
        write_parquet(frame, buffer, *args, **kwargs)
        file.write(buffer.getvalue()[: buffer.tell() // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_then_raise)
    with pytest.raises(OSError, match="No space left"):
        store.write(HEALTH_FOLDER, "run", _frame(30_000))
    monkeypatch.undo()
    assert_frame_equal(store.read(HEALTH_FOLDER, "run"), previous)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["terminated", "killed"])
def test_a_run_stopped_mid_object_leaves_the_previous_whole_object(s3, cli, tmp_path, stop):
    client, env = s3
    client.create_bucket(Bucket=ATOMIC_BUCKET)
    data_dir = f"s3://{ATOMIC_BUCKET}/{stop.name.lower()}"
    first = cli.run(cli.materialize_args(MARKET_SELECTION, DAY), data_dir, **env)
    assert first.returncode == 0, first.stderr[-3000:]
    key = f"{stop.name.lower()}/completed_ohlcv/{DAY}.parquet"
    before = client.get_object(Bucket=ATOMIC_BUCKET, Key=key)["Body"].read()

    signal_file = tmp_path / "stalled"
    process = cli.start(
        cli.materialize_args(MARKET_SELECTION, DAY),
        data_dir,
        stalled=True,
        RELIABILITY_STALL_ASSET="completed_ohlcv",
        RELIABILITY_SIGNAL=str(signal_file),
        STOCKMONITOR_UNIVERSE_SIZE="40",  # a different file: a torn or new object would show
        **env,
    )
    wait_for_file(signal_file, process)
    process.send_signal(stop)
    process.communicate(timeout=120)
    after = client.get_object(Bucket=ATOMIC_BUCKET, Key=key)["Body"].read()
    assert after == before
    assert pl.read_parquet(after).height > 0
