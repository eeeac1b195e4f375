"""The Polars Parquet IO manager: one file per asset and trading day, written atomically.

An output is a `DayStream` (a range computed chunk by chunk, each day conformed as it is
computed), a `{partition_key: frame}` dict or, for a one-day run, a frame (conformed here).
Every partition meets its contract in `schemas.py` and is published whole
(`storage.PartitionStore`). An input is a
`StoredPartitions` mapping that reads each partition when the step looks it up, so a
20-year range costs no memory until a step asks for a chunk of it.

Why not dagster-polars' `PolarsParquetIOManager`: it refuses outputs covering several
partitions, loads every partition of an input at once (memory grows with the range), and
needs a private helper (`is_dict_type`) to tell a dict annotation apart. The layout is the
same, so files written by either read back with either.
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg
import polars as pl

from stockmonitor_assets.health import probe, record
from stockmonitor_assets.schemas import TABLES
from stockmonitor_assets.storage import PartitionStore, StoredPartitions, check_local_data_dir


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores each partition of an asset as its own Parquet file, atomically."""

    base_dir: str = "data"
    storage_options: dict[str, Any] = {}

    @property
    def store(self) -> PartitionStore:
        return PartitionStore(self.base_dir, self.storage_options)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if "://" not in self.base_dir:
            check_local_data_dir(self.base_dir)
        # Every step of the project needs this resource: the run's health is measured here.
        record.run_started(context)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        record.run_finished(context, self.store)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        asset = context.asset_key.to_user_string()
        keys = list(context.asset_partition_keys)
        table, store, written = TABLES[asset], self.store, 0
        conform = (lambda f: f) if getattr(obj, "conformed", False) else table.conform
        rows = 0
        for key, frame in _partition_items(asset, keys, obj):
            frame = conform(_collect(frame))
            store.write(asset, key, frame)
            written, rows = written + 1, rows + len(frame)
        probe.count_written(context.run_id, context.step_key, rows)
        context.add_output_metadata(
            {"path": dg.MetadataValue.path(str(store.root / asset)), "partitions_written": written}
        )

    def load_input(self, context: dg.InputContext) -> StoredPartitions:
        return self.stored(context.asset_key.to_user_string(), context.asset_partition_keys)

    def stored(self, asset: str, keys: Sequence[str]) -> StoredPartitions:
        """`asset`'s partitions `keys`, read on lookup (their rows counted for run health):
        what an input loads, and what a step builds itself for a dep (`upstream`)."""
        return StoredPartitions(self.store, asset, list(keys), lambda f: probe.count_read(len(f)))


def _partition_items(asset: str, keys: list[str], obj: Any):
    """(key, frame) pairs of an output: a stream, a dict of partitions, or one day's frame."""
    if isinstance(obj, pl.DataFrame | pl.LazyFrame):
        if len(keys) != 1:
            raise dg.DagsterInvariantViolationError(
                f"{asset} covers {len(keys)} partitions; return a DayStream or a dict "
                "{partition_key: DataFrame}"
            )
        return [(keys[0], obj)]
    return _only_run_keys(asset, set(keys), obj.items())


def _only_run_keys(asset: str, keys: set[str], items):
    for key, frame in items:
        if key not in keys:
            raise dg.DagsterInvariantViolationError(
                f"{asset} returned partition {key} that this run does not materialize"
            )
        yield key, frame


def _collect(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame
