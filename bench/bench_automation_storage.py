"""What the automation sensor stores in the instance per trading day (its evaluation records).

Usage: python bench/bench_automation_storage.py [--days 3] [--first 2024-06-11]

The daemon stores an asset's evaluation (its whole condition tree with every node's
partition subsets) at each tick where its result changed or requested something
(`AutomationTickEvaluationContext._get_updated_evaluations` in dagster 1.13), and purges
them after 30 days. Each serialized subset carries the partitions definition, with its
weekday holidays since 2005. This replays trading days on the code location's own graph
(`stockmonitor_assets.definitions.defs`, default sync cron) with Dagster's public
`evaluate_automation_conditions`, a temporary instance and the cursor carried from tick
to tick as the daemon does: a midnight tick, the 09:00 cron tick, then a tick every 5
minutes in which every requested partition is reported materialized (as its run would),
until two ticks in a row request nothing, and an afternoon tick. Reported per day: the
ticks, the evaluations the daemon would store and their serialized size (the JSON it writes).
"""

import argparse
import datetime as dt
import time

import dagster as dg
from benchlib import median, print_machine

from stockmonitor_assets.definitions import defs
from stockmonitor_assets.trading_calendar import SHANGHAI, partition_key, sessions, sessions_through

TTL_DAYS = 30  # Dagster's EVALUATIONS_TTL_DAYS


class Replay:
    """Ticks the sensor's conditions and counts what the daemon would store."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance, self.cursor, self.hashes = instance, None, {}

    def tick(self, when: dt.datetime) -> tuple[dict, int, int]:
        """(requested partitions by asset key, evaluations stored, their bytes)."""
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=self.instance, evaluation_time=when, cursor=self.cursor
        )
        self.cursor = result.cursor
        stored = [
            r
            for r in result.results
            if self.hashes.get(r.key) != r.value_hash or not r.true_subset.is_empty
        ]
        self.hashes |= {r.key: r.value_hash for r in result.results}
        size = sum(len(dg.serialize_value(r.serializable_evaluation)) for r in stored)
        requested = {
            r.key: result.get_requested_partitions(r.key)
            for r in result.results
            if not r.true_subset.is_empty
        }
        return requested, len(stored), size

    def materialize(self, requested: dict) -> None:
        for key, partitions in requested.items():
            for partition in partitions:
                event = dg.AssetMaterialization(key, partition=partition)
                self.instance.report_runless_asset_event(event)


def replay_day(replay: Replay, day: dt.date) -> dict:
    """Midnight, the 09:00 cron tick, every 5 min while runs follow, 15:00."""
    totals = {"ticks": 0, "partitions requested": 0, "stored": 0, "mb": 0.0}

    def tick(when: dt.datetime) -> bool:
        requested, stored, size = replay.tick(when)
        replay.materialize(requested)
        totals["ticks"] += 1
        totals["partitions requested"] += sum(len(p) for p in requested.values())
        totals["stored"] += stored
        totals["mb"] += size / 1e6
        return bool(requested)

    nine = dt.datetime.combine(day, dt.time(9, 0, 30), SHANGHAI)
    tick(nine.replace(hour=0))
    tick(nine)
    quiet, later = 0, nine
    while quiet < 2:
        later += dt.timedelta(minutes=5)
        quiet = 0 if tick(later) else quiet + 1
    tick(nine.replace(hour=15))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--first", default="2024-06-11", help="first trading day replayed")
    args = parser.parse_args()
    print_machine()
    first = dt.date.fromisoformat(args.first)
    days = sessions(first, first + dt.timedelta(days=3 * args.days + 10))[: args.days]
    with dg.instance_for_test() as instance:
        replay = Replay(instance)
        # The session before the first day is stored, as after a history load, and the
        # cursor is that session's afternoon tick: the first day replays like the others.
        previous = sessions_through(days[0])[-2]
        for key in defs.resolve_asset_graph().materializable_asset_keys:
            partitioned = defs.get_assets_def(key).partitions_def is not None
            replay.materialize({key: {partition_key(previous) if partitioned else None}})
        replay.tick(dt.datetime.combine(previous, dt.time(15, 0, 30), SHANGHAI))
        print("| day | ticks | partitions requested | evaluations stored | MB stored | s |")
        print("|---|---|---|---|---|---|")
        sizes = []
        for day in days:
            started = time.perf_counter()
            figures = replay_day(replay, day)
            sizes.append(figures["mb"])
            print(
                f"| {day} | {figures['ticks']} | {figures['partitions requested']} | "
                f"{figures['stored']} | **{figures['mb']:.1f}** | "
                f"{time.perf_counter() - started:.0f} |",
                flush=True,
            )
    per_day = median(sizes)
    print(
        f"\nmedian {per_day:.1f} MB a trading day; kept {TTL_DAYS} days (~{TTL_DAYS * 5 / 7:.0f} "
        f"trading days): ~{per_day * TTL_DAYS * 5 / 7 / 1000:.1f} GB in the instance's storage"
    )


if __name__ == "__main__":
    main()
