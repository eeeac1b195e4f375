"""The partitioned Parquet IO manager: one file per partition, conformed to its table's
contract (once, by the store's write) and written atomically; outputs are a `DayStream`,
dicts (or one frame), inputs a mapping of stored partitions read when looked up."""

import datetime as dt
import os

import dagster as dg
import polars as pl
import pytest

from stockmonitor_assets import storage
from stockmonitor_assets.assets.partitions import DayStream, by_day, partition_days
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.schemas import FOLDERS, TABLES, Column, SchemaViolation, TableSchema
from stockmonitor_assets.storage import MissingPartitionError, PartitionStore, StoredPartitions
from stockmonitor_assets_tests.conftest import failure_message

DAYS = dg.StaticPartitionsDefinition(["2024-01-02", "2024-01-03", "2024-01-04"])
SINGLE_RUN = dg.BackfillPolicy.single_run()


@dg.asset(partitions_def=DAYS, backfill_policy=SINGLE_RUN)
def numbers(context: dg.AssetExecutionContext) -> dict[str, pl.DataFrame]:
    return {k: pl.DataFrame({"key": [k], "x": [i]}) for i, k in enumerate(context.partition_keys)}


@dg.asset(partitions_def=DAYS, backfill_policy=SINGLE_RUN)
def doubled(numbers: StoredPartitions) -> dict[str, pl.DataFrame]:
    return {k: f.with_columns(pl.col("x") * 2) for k, f in numbers.items()}


def _contract(name: str, *columns: Column) -> TableSchema:
    return TableSchema(name, columns, key=("key",))


KEY = Column("key", pl.String(), "partition key", nullable=False)
X = Column("x", pl.Int64(), "a number")
DATE = Column("date", pl.Date(), "day", nullable=False)
STREAMED = TableSchema("streamed", (DATE, X), key=("date", "x"))


@pytest.fixture(autouse=True)
def contracts(monkeypatch):
    """The store writes only tables with a contract: give the test assets theirs."""
    tables = {name: _contract(name, KEY, X) for name in ("numbers", "doubled", "rogue")}
    tables |= {"daily": _contract("daily", KEY), "streamed": STREAMED}
    for name, table in tables.items():
        monkeypatch.setitem(TABLES, name, table)
        monkeypatch.setitem(FOLDERS, name, table)


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


def test_single_partition_input_arrives_as_a_mapping_of_stored_partitions(tmp_path, instance):
    received = []

    @dg.asset(partitions_def=DAYS, name="doubled", backfill_policy=SINGLE_RUN)
    def spy(numbers: StoredPartitions) -> dict[str, pl.DataFrame]:
        received.append((type(numbers), list(numbers)))
        return {k: f.with_columns(pl.col("x") * 2) for k, f in numbers.items()}

    assert _materialize(tmp_path, ["2024-01-03"], instance, (numbers, spy)).success
    assert received == [(StoredPartitions, ["2024-01-03"])]
    out = pl.read_parquet(tmp_path / "doubled" / "2024-01-03.parquet")
    assert out.to_dicts() == [{"key": "2024-01-03", "x": 0}]


def test_a_stored_partition_is_read_only_when_looked_up(tmp_path, instance):
    assert _materialize(tmp_path, ["2024-01-02"], instance, (numbers,)).success
    io = PartitionedParquetIOManager(base_dir=str(tmp_path))
    stored = StoredPartitions(io.store, "numbers", ["2024-01-02", "2024-01-03"])
    assert list(stored) == ["2024-01-02", "2024-01-03"]  # listing reads nothing
    assert stored["2024-01-02"].to_dicts() == [{"key": "2024-01-02", "x": 0}]
    with pytest.raises(FileNotFoundError, match=r"numbers\[2024-01-03\] was never written"):
        stored["2024-01-03"]
    with pytest.raises(KeyError):
        stored["2024-01-04"]  # not an input partition of the step


def test_a_frame_is_written_in_its_contract_column_order_dtypes_and_key_order(tmp_path, instance):
    @dg.asset(partitions_def=DAYS, name="numbers", backfill_policy=SINGLE_RUN)
    def shuffled(context: dg.AssetExecutionContext) -> pl.DataFrame:
        key = context.partition_key
        return pl.DataFrame({"x": [2, 1], "extra": ["a", "b"], "key": [key + "b", key + "a"]})

    assert _materialize(tmp_path, ["2024-01-02"], instance, (shuffled,)).success
    out = pl.read_parquet(tmp_path / "numbers" / "2024-01-02.parquet")
    assert out.schema == pl.Schema({"key": pl.String, "x": pl.Int64})
    assert out["key"].to_list() == ["2024-01-02a", "2024-01-02b"]


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
        return {"2024-01-04": pl.DataFrame({"key": ["2024-01-04"], "x": [1]})}

    result = dg.materialize(
        [rogue],
        partition_key="2024-01-02",
        instance=instance,
        resources={"io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path))},
        raise_on_error=False,
    )
    assert not result.success
    assert "rogue returned partition 2024-01-04 that this run does not materialize" in (
        failure_message(result)
    )
    assert not (tmp_path / "rogue").exists() or not any((tmp_path / "rogue").iterdir())


RANGE = {
    "dagster/asset_partition_range_start": "2024-01-01",
    "dagster/asset_partition_range_end": "2024-01-05",
}


def _stream_asset(rows: pl.DataFrame, seen: dict, judge=None):
    """An asset streaming `rows` (every day of the chunk at once); records what it saw."""

    @dg.asset(
        name="streamed",
        partitions_def=dg.DailyPartitionsDefinition("2024-01-01"),
        backfill_policy=SINGLE_RUN,
    )
    def streamed(context: dg.AssetExecutionContext):
        def compute(chunk: list[dt.date]) -> pl.DataFrame:
            seen.setdefault("chunks", []).append(chunk)
            return rows.filter(pl.col("date").is_in(chunk))

        judges = {"rows": judge or (lambda key, frame: seen.setdefault(key, frame))}
        stream = DayStream(context, partition_days(context), compute, judges=judges)
        yield dg.Output(stream)

    return streamed


def _stream(tmp_path, instance, asset, chunk_days: int):
    io = PartitionedParquetIOManager(base_dir=str(tmp_path), chunk_days=chunk_days)
    return dg.materialize(
        [asset], resources={"io_manager": io}, tags=RANGE, instance=instance, raise_on_error=False
    )


def test_a_stream_computes_one_frame_per_chunk_of_the_io_managers_size(tmp_path, instance):
    days = [dt.date(2024, 1, d) for d in (1, 2, 3, 5)]  # 2024-01-04 has no row
    rows = pl.DataFrame({"x": [4, 3, 2, 1, 0], "date": [*days, days[0]], "extra": list("abcde")})
    seen: dict = {}
    result = _stream(tmp_path, instance, _stream_asset(rows, seen), chunk_days=2)
    assert result.success
    assert [len(c) for c in seen["chunks"]] == [2, 2, 1]
    files = sorted(p.name for p in (tmp_path / "streamed").iterdir())
    assert files == [f"2024-01-0{i}.parquet" for i in range(1, 6)]
    first = pl.read_parquet(tmp_path / "streamed" / "2024-01-01.parquet")
    assert first.schema == STREAMED.polars_schema and first["x"].to_list() == [0, 4]
    empty = pl.read_parquet(tmp_path / "streamed" / "2024-01-04.parquet")
    assert empty.schema == STREAMED.polars_schema and empty.is_empty()
    # The judges (and the metadata) see the frame written, not the one computed.
    assert seen["2024-01-01"].equals(first) and seen["2024-01-04"].equals(empty)
    counts = {
        e.partition: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
    }
    assert counts == {"2024-01-01": 2, "2024-01-02": 1, "2024-01-03": 1, "2024-01-04": 0} | {
        "2024-01-05": 1
    }


def test_a_missing_column_a_judge_reads_is_reported_by_the_contract_of_the_write(
    tmp_path, instance
):
    rows = pl.DataFrame({"date": [dt.date(2024, 1, 1)]})  # no column x
    judged = []
    asset = _stream_asset(rows, {}, judge=lambda key, frame: judged.append(frame["x"]))
    result = _stream(tmp_path, instance, asset, chunk_days=5)
    assert not result.success
    assert "streamed: missing column(s) ['x']" in failure_message(result)
    assert judged == [] and not (tmp_path / "streamed").exists()


def test_rows_of_a_day_outside_the_chunk_are_refused_before_any_write():
    rows = pl.DataFrame({"date": [dt.date(2024, 1, 1), dt.date(2024, 1, 9)], "x": [1, 2]})
    with pytest.raises(ValueError, match=r"streamed: computed rows of days outside the chunk"):
        list(by_day("streamed", rows, [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]))


def test_the_store_conforms_what_it_writes_and_refuses_a_folder_without_contract(tmp_path):
    store = PartitionStore(str(tmp_path))
    written = store.write("numbers", "k", pl.DataFrame({"x": [2, 1], "key": ["b", "a"]}))
    assert written.equals(store.read("numbers", "k"))
    assert written.columns == ["key", "x"] and written["key"].to_list() == ["a", "b"]
    with pytest.raises(SchemaViolation, match=r"numbers: missing column\(s\) \['key'\]"):
        store.write("numbers", "bad", pl.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="no table contract for store folder 'loose'"):
        store.write("loose", "k", pl.DataFrame({"x": [1]}))
    assert not store.exists("numbers", "bad") and not (tmp_path / "loose").exists()


def test_stack_gives_one_typed_frame_of_the_asked_days_and_columns(tmp_path):
    store = PartitionStore(str(tmp_path))
    for day in ("2024-01-01", "2024-01-02"):
        store.write("streamed", day, pl.DataFrame({"date": [dt.date.fromisoformat(day)], "x": [1]}))
    read = []
    stored = StoredPartitions(store, "streamed", ["2024-01-01", "2024-01-02"], read.append)
    both = stored.stack([dt.date(2024, 1, 1), "2024-01-02"])
    assert both.schema == STREAMED.polars_schema and len(both) == 2
    assert sum(map(len, read)) == 2  # run health counts every row read
    assert stored.stack([]).schema == STREAMED.polars_schema
    assert stored.stack(["2024-01-02"], columns=["x"]).columns == ["x"]
    with pytest.raises(KeyError):
        stored.stack(["2024-01-03"])  # not an input partition of the step


def test_read_many_is_the_reads_of_its_keys_in_their_order_and_names_a_missing_one(
    tmp_path, monkeypatch
):
    store = PartitionStore(str(tmp_path))
    days = [dt.date(2024, 1, d) for d in range(1, 8)]
    for i, day in enumerate(days):
        rows = pl.DataFrame({"date": [day] * (i + 1), "x": list(range(i + 1))})
        store.write("streamed", day.isoformat(), rows)
    keys = [d.isoformat() for d in reversed(days)]
    monkeypatch.setattr(storage, "OPEN_AT_ONCE", 3)  # 7 files: three batches
    expected = pl.concat([store.read("streamed", key, ["x", "date"]) for key in keys])
    assert store.read_many("streamed", keys, ["x", "date"]).equals(expected)
    with pytest.raises(MissingPartitionError, match=r"streamed\[2024-01-09\] was never written"):
        store.read_many("streamed", [*keys, "2024-01-09"])
