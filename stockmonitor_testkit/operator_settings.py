"""Dagster's own settings an operator exports for a one-off history load with the daemon
stopped (README, "For a backfill of years"); the package never sets them."""

HISTORY_LOAD = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}
# Postgres instance only: the SQLite storage has no batched write.
HISTORY_LOAD_POSTGRES = {**HISTORY_LOAD, "DAGSTER_EVENT_BATCH_SIZE": "1000"}
