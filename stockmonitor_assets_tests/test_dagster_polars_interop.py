"""dagster-polars reads our files as they are: a separate Dagster project, whose only IO
manager is dagster-polars' `PolarsParquetIOManager` on our DATA_DIR as `base_dir`, loads
the clean run's partitions of every stored asset (one key as a frame, several keys as a
dict, or a dict of LazyFrames) equal to what our own storage reads.

The project shares nothing with ours but the directory: its assets are declared here by
key, on partitions of the stored days' keys."""

import dagster as dg
import polars as pl
import pytest
from dagster_polars import PolarsParquetIOManager
from polars.testing import assert_frame_equal

from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets_tests.clean_run import ASSETS, FIRST, LAST, clean_run

STORED = [a.key.to_user_string() for a in ASSETS]


@pytest.fixture(scope="module")
def clean():
    pipeline, results = clean_run()
    assert all(r.success for r in results)
    return pipeline.data_dir, run_keys(results[-1])


def run_keys(result) -> list[str]:
    """The days the clean run's last run materialized (FIRST..LAST), from its events."""
    keys = sorted({m.partition for m in result.asset_materializations_for_node("scores")})
    assert keys[0] == FIRST and keys[-1] == LAST and len(keys) == 3, keys
    return keys


def load_with_dagster_polars(data_dir, asset: str, keys: list[str]) -> dict[str, object]:
    """What a foreign project's assets receive: one day, and every day eagerly and lazily."""
    days = dg.StaticPartitionsDefinition(keys)
    stored = dg.AssetSpec(asset, partitions_def=days).with_io_manager_key("polars")
    seen: dict[str, object] = {}

    @dg.asset(partitions_def=days, ins={"day": dg.AssetIn(asset)})
    def one_day(context: dg.AssetExecutionContext, day: pl.DataFrame) -> dg.MaterializeResult:
        seen[context.partition_key] = day
        return dg.MaterializeResult()

    @dg.asset(ins={"days": dg.AssetIn(asset)})
    def every_day(days: dict[str, pl.DataFrame]) -> dg.MaterializeResult:
        seen["dict"] = days
        return dg.MaterializeResult()

    @dg.asset(ins={"days": dg.AssetIn(asset)})
    def every_day_lazily(days: dict[str, pl.LazyFrame]) -> dg.MaterializeResult:
        seen["lazy"] = {key: frame.collect() for key, frame in days.items()}
        return dg.MaterializeResult()

    resources = {"polars": PolarsParquetIOManager(base_dir=str(data_dir))}
    with dg.DagsterInstance.ephemeral() as instance:
        single = dg.materialize(
            [stored, one_day], partition_key=keys[1], resources=resources, instance=instance
        )
        several = dg.materialize([stored, every_day, every_day_lazily], resources=resources)
    assert single.success and several.success
    return seen


@pytest.mark.parametrize("asset", STORED)
def test_dagster_polars_loads_our_partitions_as_our_storage_reads_them(clean, asset):
    data_dir, keys = clean
    ours = PartitionStore(str(data_dir))
    seen = load_with_dagster_polars(data_dir, asset, keys)

    assert_frame_equal(seen[keys[1]], ours.read(asset, keys[1]))
    for loaded in (seen["dict"], seen["lazy"]):
        assert sorted(loaded) == keys
        for key in keys:
            assert_frame_equal(loaded[key], ours.read(asset, key))
