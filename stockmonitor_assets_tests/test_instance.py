"""The embedded instance's event log stores what Dagster's own SQLite event log stores.

A single-run range of a partitioned asset with a partitioned check runs once on each
storage; materializations, data versions, the asset record and the check's planned and
evaluated rows must be the same, and the batched path must really have been taken.
"""

import warnings

import dagster as dg
import pytest

from stockmonitor_assets.instance import (
    EMBEDDED_CONFIG,
    BatchingSqliteEventLogStorage,
    prepare_home,
)

DAYS = dg.DailyPartitionsDefinition(start_date="2024-06-03", end_date="2024-06-08")
KEYS = DAYS.get_partition_keys()


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def prices(context: dg.AssetExecutionContext) -> None:
    for key in context.partition_keys:
        context.add_asset_metadata({"rows": len(key)}, partition_key=key)


with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)

    @dg.asset_check(asset=prices, partitions_def=DAYS, blocking=True)
    def prices_ok(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True, metadata={"days": len(context.partition_keys)})


def run_range(instance: dg.DagsterInstance) -> dg.DagsterInstance:
    defs = dg.Definitions(assets=[prices], asset_checks=[prices_ok])
    job = defs.resolve_implicit_global_asset_job_def()
    tags = {
        "dagster/asset_partition_range_start": KEYS[0],
        "dagster/asset_partition_range_end": KEYS[-1],
    }
    assert job.execute_in_process(instance=instance, tags=tags).success
    return instance


# Planned per partition; a range's one evaluation is its own row (Dagster 1.13).
EXPECTED = {
    "materialized": [(k, len(k)) for k in KEYS],
    "data_versions": len(KEYS),
    "partitions": KEYS,
    "latest_partition": KEYS[-1],
    "checks": [(None, "SUCCEEDED"), *((k, "PLANNED") for k in KEYS)],
}


def stored(instance: dg.DagsterInstance) -> dict:
    key = dg.AssetKey("prices")
    records = instance.fetch_materializations(key, limit=100, ascending=True).records
    storage = instance.event_log_storage
    with storage.index_connection() as conn:
        checks = conn.exec_driver_sql(
            "SELECT partition, execution_status FROM asset_check_executions"
            " ORDER BY partition NULLS FIRST"
        ).fetchall()
        tags = conn.exec_driver_sql("SELECT key FROM asset_event_tags").fetchall()
    (record,) = instance.get_asset_records([key])
    latest = record.asset_entry.last_materialization
    return {
        "materialized": [
            (r.partition_key, dict(r.asset_materialization.metadata)["rows"].value) for r in records
        ],
        "data_versions": len([t for (t,) in tags if t == "dagster/data_version"]),
        "partitions": sorted(instance.get_materialized_partitions(key)),
        "latest_partition": latest.dagster_event.partition if latest else None,
        "checks": [tuple(row) for row in checks],
    }


def test_batched_storage_stores_what_dagsters_stores(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    batches = []
    store_batch = BatchingSqliteEventLogStorage.store_event_batch

    def counting(self, events):
        batches.append([e.dagster_event_type.value for e in events])
        return store_batch(self, events)

    monkeypatch.setattr(BatchingSqliteEventLogStorage, "store_event_batch", counting)
    default_home, embedded_home = tmp_path / "default", tmp_path / "embedded"
    default_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_home(embedded_home)))

    embedded = run_range(dg.DagsterInstance.from_config(str(embedded_home)))
    assert isinstance(embedded.event_log_storage, BatchingSqliteEventLogStorage)
    expected = stored(run_range(dg.DagsterInstance.from_config(str(default_home))))
    assert stored(embedded) == expected == EXPECTED
    assert ["ASSET_MATERIALIZATION"] * len(KEYS) in batches  # one batch, not five events


def test_prepare_home_keeps_an_existing_config(tmp_path):
    fresh = prepare_home(tmp_path / "fresh")
    assert (fresh / "dagster.yaml").read_text() == EMBEDDED_CONFIG.read_text()
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    prepare_home(own)
    assert (own / "dagster.yaml").read_text() == "telemetry: {enabled: false}\n"


def test_without_dagster_home_the_storage_says_what_it_needs(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(ValueError, match="DAGSTER_HOME"):
        BatchingSqliteEventLogStorage.from_config_value(None, {})
