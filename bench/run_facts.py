"""What the latest run of an instance recorded: events by type, run and step durations.

Usage: python bench/run_facts.py  (in the run's working directory: the instance is
$DAGSTER_HOME's when set, else the `dagster.yaml` of the current directory, as the CLI
chose it). Prints one JSON line. Dagster's public instance API only.
"""

import collections
import json
import os

import dagster as dg


def main() -> None:
    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    else:
        instance = dg.DagsterInstance.from_config(os.getcwd())
    run = instance.get_runs(limit=1)[0]
    records = instance.all_logs(run.run_id)
    by_type = collections.Counter(
        r.dagster_event.event_type_value if r.dagster_event else "LOG_MESSAGE" for r in records
    )
    stats = instance.get_run_stats(run.run_id)
    steps = {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(run.run_id)}
    # Run creation (planned events) happens before PIPELINE_START: the first record's time.
    first = min(r.timestamp for r in records)
    facts = {
        "run_id": run.run_id,
        "status": run.status.value,
        "events": len(records),
        "by_type": dict(by_type.most_common()),
        "first_event_to_start": stats.start_time - first,
        "start_to_end": stats.end_time - stats.start_time,
        "steps": steps,
    }
    instance.dispose()
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
