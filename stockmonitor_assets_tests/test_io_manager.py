"""The partitioned Parquet IO manager: one file per partition, atomic, dicts in and out."""

import os

import dagster as dg
import polars as pl
import pytest

from stockmonitor_assets.io_managers import PartitionedParquetIOManager

DAYS = dg.StaticPartitionsDefinition(["2024-01-02", "2024-01-03", "2024-01-04"])


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def numbers(context: dg.AssetExecutionContext) -> dict[str, pl.DataFrame]:
    return {k: pl.DataFrame({"key": [k], "x": [i]}) for i, k in enumerate(context.partition_keys)}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def doubled(numbers: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {k: f.with_columns(pl.col("x") * 2) for k, f in numbers.items()}


def _materialize(tmp_path, keys, instance, assets=(numbers, doubled)):
    io = PartitionedParquetIOManager(base_dir=str(tmp_path))
    if len(keys) == 1:
        return dg.materialize(
            list(assets), partition_key=keys[0], resources={"io_manager": io}, instance=instance
        )
    # Static partitions cannot express a range tag; run one partition at a time for a range
    # of dict outputs through the same code path.
    return [
        dg.materialize(
            list(assets), partition_key=k, resources={"io_manager": io}, instance=instance
        )
        for k in keys
    ]


def test_single_partition_input_arrives_as_a_dict(tmp_path, instance):
    assert _materialize(tmp_path, ["2024-01-03"], instance).success
    out = pl.read_parquet(tmp_path / "doubled" / "2024-01-03.parquet")
    assert out.to_dicts() == [{"key": "2024-01-03", "x": 0}]


def test_multi_partition_output_writes_one_file_per_partition(tmp_path, instance):
    @dg.asset(
        partitions_def=dg.DailyPartitionsDefinition("2024-01-01"),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def daily(context: dg.AssetExecutionContext) -> dict[str, pl.DataFrame]:
        return {k: pl.DataFrame({"key": [k]}) for k in context.partition_keys}

    result = dg.materialize(
        [daily],
        resources={"io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path))},
        tags={
            "dagster/asset_partition_range_start": "2024-01-01",
            "dagster/asset_partition_range_end": "2024-01-05",
        },
        instance=instance,
    )
    assert result.success
    files = sorted(p.name for p in (tmp_path / "daily").iterdir())
    assert files == [f"2024-01-0{i}.parquet" for i in range(1, 6)]


def test_a_failed_write_leaves_the_previous_file_and_no_temp_file(tmp_path, instance, monkeypatch):
    assert _materialize(tmp_path, ["2024-01-02"], instance, (numbers,)).success
    target = tmp_path / "numbers" / "2024-01-02.parquet"
    before = target.read_bytes()

    def crash(self, file, *args, **kwargs):
        """Write half a file, then die, as a full disk or a killed process would."""
        if isinstance(file, str | os.PathLike):
            file = open(file, "wb")  # noqa: SIM115
        file.write(b"PAR1 truncated")
        file.flush()
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash)
    with pytest.raises(Exception, match="disk full"):
        _materialize(tmp_path, ["2024-01-02"], instance, (numbers,))
    assert target.read_bytes() == before
    assert os.listdir(target.parent) == ["2024-01-02.parquet"]


def test_rematerializing_writes_byte_identical_files(tmp_path, instance):
    _materialize(tmp_path, ["2024-01-04"], instance)
    first = (tmp_path / "doubled" / "2024-01-04.parquet").read_bytes()
    _materialize(tmp_path, ["2024-01-04"], instance)
    assert (tmp_path / "doubled" / "2024-01-04.parquet").read_bytes() == first


def test_returning_partitions_outside_the_run_is_refused(tmp_path, instance):
    @dg.asset(partitions_def=DAYS)
    def rogue() -> dict[str, pl.DataFrame]:
        return {"2024-01-04": pl.DataFrame({"x": [1]})}

    result = dg.materialize(
        [rogue],
        partition_key="2024-01-02",
        instance=instance,
        resources={"io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path))},
        raise_on_error=False,
    )
    assert not result.success
    assert not (tmp_path / "rogue").exists() or not any((tmp_path / "rogue").iterdir())
