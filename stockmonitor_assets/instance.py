"""The project's Dagster event logs (embedded SQLite, production Postgres) and the embedded
instance's config.

A single-run range records one materialization per partition and asset (a year of the
graph: 2,178 events). Dagster's SQLite storage writes each on its own (a new engine,
two connections, two fsynced commits: ~7-10 ms apiece, a third of a year run), and does
not implement `store_event_batch`. dagster-postgres does; this class does the same for
SQLite, so the batches Dagster forms when `DAGSTER_EVENT_BATCH_SIZE` is set (see
`stockmonitor_assets/__init__.py`) cost one transaction per database.

Both also write a partitioned check's planned rows with the event serialized once: Dagster
serializes it again for each partition's row (22 KB with the calendar's holidays; a year
of 25 checks: 6,050 times, ~8 s before the run starts). The rows are the same.

The Postgres class lives in `postgres_instance.py`, so that the embedded instance does not
import dagster-postgres (~0.24 s per process). Private methods of dagster 1.13.27 (pinned)
are overridden; `test_instance.py` compares
what this class stores with what Dagster's own class stores.
"""

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData, serialize_value

BATCHED = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION}
EMBEDDED_CONFIG = Path(__file__).with_name("embedded_instance.yaml")


def prepare_home(home: Path) -> Path:
    """`home` as an embedded instance: created, with `embedded_instance.yaml` as its
    dagster.yaml unless it has one (a user's own configuration is left alone)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(EMBEDDED_CONFIG, config)
    return home


def default_base_dir() -> str:
    """Where Dagster's default instance keeps its event log: $DAGSTER_HOME/history/runs."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError("BatchingSqliteEventLogStorage: set DAGSTER_HOME or its base_dir")
    return os.path.join(home, "history", "runs")


class OnceSerializedCheckPlans:
    """Writes a partitioned check's planned rows with the event serialized once."""

    def _store_asset_check_evaluation_planned(
        self, event: dg.EventLogEntry, event_id: int | None
    ) -> None:
        planned = event.get_dagster_event().event_specific_data
        subset = planned.partitions_subset
        partitions = subset.get_partition_keys() if subset else [None]
        row = dict(
            asset_key=planned.asset_key.to_string(),
            check_name=planned.check_name,
            run_id=event.run_id,
            execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
            evaluation_event=serialize_value(event),
            evaluation_event_timestamp=self._event_insert_timestamp(event),
            evaluation_event_storage_id=event_id,
        )
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert().values(
                    [{**row, "partition": key} for key in partitions]
                )
            )


class BatchingSqliteEventLogStorage(OnceSerializedCheckPlans, SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose materialization batches go in one statement per shard."""

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict
    ) -> "BatchingSqliteEventLogStorage":
        return cls(config_value.get("base_dir") or default_base_dir(), inst_data=inst_data)

    def store_event_batch(self, events: Sequence[dg.EventLogEntry]) -> None:
        """One insert into the run's shard, one transaction on the index shard (rows, tags, and
        the asset's latest event), as `PostgresEventLogStorage.store_event_batch` does."""
        types, runs = {e.dagster_event_type for e in events}, {e.run_id for e in events}
        if len(types) != 1 or not types <= BATCHED or len(runs) != 1:
            return super().store_event_batch(events)
        (run_id,) = runs
        statement = self.prepare_insert_event_batch(events)
        with self.run_connection(run_id) as conn:
            conn.execute(statement)
        with self.index_transaction() as conn:
            rows = conn.execute(statement.returning(SqlEventLogStorageTable.c.id)).fetchall()
            event_ids = sorted(row[0] for row in rows)  # ascending ids follow insertion order
            self._store_asset_event_tags(conn, events, event_ids)
            self._store_asset_event(conn, events[-1], event_ids[-1])
