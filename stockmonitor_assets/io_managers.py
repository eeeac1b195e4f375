"""The Polars Parquet IO manager: one file per asset and trading day, written atomically.

An output is a `PartitionStream` (a `DayStream`: a range computed `chunk_days` days at a
time), a `{partition_key: frame}` dict or, for a one-day run, a frame. Each partition is
conformed to its contract in `schemas.py` once, by the write itself, and published whole
(`storage.PartitionStore.write`); a stream gets every frame written back, for its metadata
and checks. An input is a `StoredPartitions` mapping that reads each partition when the step
looks it up (or `stack`s a chunk of them), so a 20-year range costs no memory until a step
asks for a chunk of it.

Why not dagster-polars' `PolarsParquetIOManager`: it refuses outputs covering several
partitions, loads every partition of an input at once (memory grows with the range), and
needs a private helper (`is_dict_type`) to tell a dict annotation apart. The layout is the
same, so files written by either read back with either.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
import polars as pl

from stockmonitor_assets import settings
from stockmonitor_assets.health import probe, record
from stockmonitor_assets.storage import PartitionStore, StoredPartitions, check_local_data_dir

# Writes one day's frame to the store; returns the frame written (conformed).
WriteDay = Callable[[str, pl.DataFrame], pl.DataFrame]


class PartitionStream(ABC):
    """An output computed while it is written (assets/partitions.py `DayStream`)."""

    @abstractmethod
    def write(self, write_day: WriteDay, chunk_days: int) -> None:
        """Compute `chunk_days` days at a time and hand each day's frame to `write_day`."""


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores each partition of an asset as its own Parquet file, atomically."""

    base_dir: str = "data"
    storage_options: dict[str, Any] = {}
    # Days a stream computes and writes at once in a range run (memory follows it).
    chunk_days: int = settings.DEFAULT_CHUNK_DAYS
    run_health: bool = True  # measure each run's health (Settings.run_health)

    @property
    def store(self) -> PartitionStore:
        return PartitionStore(self.base_dir, self.storage_options)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if "://" not in self.base_dir:
            check_local_data_dir(self.base_dir)
        # Every step of the project needs this resource: the run's health is measured here.
        record.run_started(context, self.run_health)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        record.run_finished(context, self.store)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        asset = context.asset_key.to_user_string()
        keys = list(context.asset_partition_keys)
        store, run_keys, written = self.store, set(keys), []

        def write_day(key: str, frame: pl.DataFrame) -> pl.DataFrame:
            if key not in run_keys:
                raise dg.DagsterInvariantViolationError(
                    f"{asset} returned partition {key} that this run does not materialize"
                )
            written.append(len(frame := store.write(asset, key, _collect(frame))))
            return frame

        if isinstance(obj, PartitionStream):
            obj.write(write_day, self.chunk_days)
        else:
            for key, frame in _partition_items(asset, keys, obj):
                write_day(key, frame)
        probe.count_written(context.run_id, context.step_key, sum(written))
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(str(store.root / asset)),
                "partitions_written": len(written),
            }
        )

    def load_input(self, context: dg.InputContext) -> StoredPartitions:
        return self.stored(context.asset_key.to_user_string(), context.asset_partition_keys)

    def stored(self, asset: str, keys: Sequence[str]) -> StoredPartitions:
        """`asset`'s partitions `keys`, read on lookup (their rows counted for run health):
        what an input loads, and what a step builds itself for a dep (`upstream`)."""
        return StoredPartitions(self.store, asset, list(keys), lambda f: probe.count_read(len(f)))


def _partition_items(asset: str, keys: list[str], obj: Any):
    """(key, frame) pairs of a dict of partitions or of one day's frame."""
    if isinstance(obj, pl.DataFrame | pl.LazyFrame):
        if len(keys) != 1:
            raise dg.DagsterInvariantViolationError(
                f"{asset} covers {len(keys)} partitions; return a DayStream or a dict "
                "{partition_key: DataFrame}"
            )
        return [(keys[0], obj)]
    return obj.items()


def _collect(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame
