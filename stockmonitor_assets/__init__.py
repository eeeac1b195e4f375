"""stockmonitor: a daily, trustworthy picture of the Chinese A-share market, built on Dagster."""

import os
import warnings

# Single-run backfill policies are "beta" in Dagster 1.13; the warning would greet every load.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.* is currently in beta")

# A run over a range plans its work with one event per asset instead of one per partition
# (a year of 9 assets: 9 events instead of 2,178, ~15 s of event-log writes at run start).
# Dagster's trade-off: partitions of a range that fails show as missing, not failed, and a
# range in flight is not shown as in progress per partition. Read where runs are created:
# the `dagster` CLI process (which imports this package) and, via the Makefile, `dagster dev`.
# Set it to "false" to keep per-partition planning.
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")

# Partitioned materializations of one step reach the event log as one batch (one insert
# per database instead of one per partition; see `instance.py` for the embedded SQLite
# instance, dagster-postgres does it natively). Read by the process executing the run.
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
