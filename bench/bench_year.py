"""Year 2024 in one run, embedded vs Postgres instance, as a fresh clone and as operators set it.

Usage: python bench/bench_year.py [--stocks 5000] [--reps 3] [--event-cost-reps 1]
                                  [--variants sqlite postgres sqlite+op postgres+op]
                                  [--keep-data DIR] [--json FILE]

Each repetition runs every variant once, in a rotating order, each in a fresh workspace
(empty DATA_DIR, fresh instance: a copy of the repo-root dagster.yaml in the working
directory, or deploy/dagster.yaml on a throwaway Postgres database; see benchlib):
`dagster asset materialize -m stockmonitor_assets.definitions --select '*'
--partition-range 2024-01-02...2024-12-31` (242 sessions). `+op` = the operator settings
DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true (+ DAGSTER_EVENT_BATCH_SIZE=1000 on
Postgres). Reported per variant: median wall, peak RSS, load average, the run's events by
type (from its event log), and the time before the run starts (planned events) and from
start to end.

What the events cost: the same command on `bench/event_graph.py` (the project's graph with
empty bodies: the same events), for the year and for one day, on the same kind of
instance: per-event cost = (wall year - wall day) / (events year - events day), and the
project's events x that cost, against its wall. `--reps 0 --variants sqlite+op` measures
that cost alone (e.g. beside `bench_history.py`, whose run has the same kind of instance).
"""

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path

from benchlib import (
    HERE,
    Workspace,
    load,
    machine,
    median,
    print_machine,
    rotations,
    scratch,
    table,
)

from stockmonitor_assets.trading_calendar import partition_key, sessions

VARIANTS = {
    "sqlite": ("sqlite", False),
    "sqlite+op": ("sqlite", True),
    "postgres": ("postgres", False),
    "postgres+op": ("postgres", True),
}
LABEL = {
    "sqlite": "embedded SQLite, fresh clone (no DAGSTER_*)",
    "sqlite+op": "embedded SQLite, operator: EMIT_PARTITION_SUBSET=true",
    "postgres": "Postgres, fresh (no DAGSTER_*)",
    "postgres+op": "Postgres, operator: EMIT_PARTITION_SUBSET=true + EVENT_BATCH_SIZE=1000",
}
EVENT_GRAPH = ("-f", str(HERE / "event_graph.py"))


def year_keys(year: int) -> list[str]:
    days = sessions(dt.date(year, 1, 1), dt.date(year, 12, 31))
    return [partition_key(d) for d in days]


def one_run(root: Path, name: str, variant: str, stocks: int, span: str, target=None) -> dict:
    kind, operator = VARIANTS[variant]
    ws = Workspace(root, name, stocks, kind, operator)
    try:
        result = ws.materialize(span, target) if target else ws.materialize(span)
        return {**result, **ws.last_run()}
    finally:
        ws.close()


def schedule(variants: list[str], reps: int, event_cost_reps: int) -> list[tuple[str, int, str]]:
    """(task, repetition, variant), most informative first: one year run of every variant,
    then the event graph, then the other repetitions (results are saved after each task,
    so a script stopped early still reports what it measured)."""
    order = [("year", rep, v) for rep, v in rotations(variants, reps)]
    cost = [("event_cost", rep, v) for rep, v in rotations(variants, event_cost_reps)]
    first = len(variants)
    return order[:first] + cost + order[first:]


def bench(args: argparse.Namespace, root: Path) -> dict:
    keys = year_keys(args.year)[-args.days :] if args.days else year_keys(args.year)
    span = f"{keys[0]}...{keys[-1]}"
    results: dict = {
        "span": span,
        "partitions": len(keys),
        "stocks": args.stocks,
        "machine": machine(),
        "runs": {v: [] for v in args.variants},
        "event_cost": {v: [] for v in args.variants},
    }
    for task, rep, variant in schedule(args.variants, args.reps, args.event_cost_reps):
        if task == "year":
            run = year_run(args, root, rep, variant, span)
            results["runs"][variant].append(run)
            print(
                f"rep {rep + 1} {variant}: {run['wall']:.1f} s (CPU {run['cpu']:.1f} s), "
                f"{run['rss_mib']:.0f} MiB, {run['events']} events, load before {run['load']}",
                flush=True,
            )
        else:
            name = f"ev_{variant}_{rep}"
            year = one_run(root, f"{name}_y", variant, args.stocks, span, EVENT_GRAPH)
            one = one_run(root, f"{name}_d", variant, args.stocks, keys[-1], EVENT_GRAPH)
            results["event_cost"][variant].append({"year": year, "day": one})
            per = (year["wall"] - one["wall"]) / (year["events"] - one["events"]) * 1000
            print(
                f"event graph {variant}: year {year['wall']:.1f} s / {year['events']} events, "
                f"day {one['wall']:.1f} s / {one['events']} events: {per:.1f} ms per event "
                f"(load {load()})",
                flush=True,
            )
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    return results


def year_run(args: argparse.Namespace, root: Path, rep: int, variant: str, span: str) -> dict:
    kind, operator = VARIANTS[variant]
    ws = Workspace(root, f"{variant.replace('+', '_')}_{rep}", args.stocks, kind, operator)
    try:
        run = {**ws.materialize(span), **ws.last_run()}
        if args.keep_data and variant == "sqlite" and not args.keep_data.exists():
            shutil.copytree(ws.data, args.keep_data)
        return run
    finally:
        ws.close()


def report(results: dict) -> None:
    if not any(results["runs"].values()):  # --reps 0: the event cost alone
        report_event_cost(results, list(results["event_cost"]))
        return
    stocks = results["stocks"]
    print(f"\n## Year {results['span']} ({results['partitions']} sessions, {stocks:,} stocks)\n")
    rows = []
    for variant, runs in results["runs"].items():
        if not runs:
            continue
        walls = [r["wall"] for r in runs]
        first = runs[0]
        kinds = first["by_type"]
        rows.append(
            (
                LABEL[variant],
                " / ".join(f"{w:.1f}" for w in walls),
                f"**{median(walls):.1f}**",
                f"{median([r['cpu'] for r in runs]):.1f}",
                f"{max(r['rss_mib'] for r in runs) / 1024:.2f}",
                first["events"],
                kinds.get("ASSET_MATERIALIZATION_PLANNED", 0),
                kinds.get("ASSET_MATERIALIZATION", 0),
                f"{median([r['first_event_to_start'] for r in runs]):.1f}",
                f"{median([r['start_to_end'] for r in runs]):.1f}",
                ", ".join(r["load"].split("/")[0] for r in runs),
            )
        )
    header = ("instance", "wall s (runs)", "median s", "CPU s (median)", "peak RSS GiB",
              "events", "planned", "materializations", "run creation s", "start->end s",
              "load (1 min)")  # fmt: skip
    print(table(header, rows))
    print("\nsteps (median s, from the event log):\n")
    variants = [v for v, runs in results["runs"].items() if runs]
    steps = list(results["runs"][variants[0]][0]["steps"])
    step_rows = [
        (step, *(f"{median([r['steps'].get(step, 0) for r in results['runs'][v]]):.1f}"
                 for v in variants))
        for step in steps
    ]  # fmt: skip
    print(table(("step", *variants), step_rows))
    report_event_cost(results, variants)


def project_floor(project: list[dict], per: dict) -> tuple[str, str, str]:
    """The project runs' events x the per-event cost, and their own wall / CPU (medians)."""
    if not project:  # --reps 0: the event cost alone
        return ("–", "–", "–")
    events = median([r["events"] for r in project])
    wall, cpu = (median([r[m] for r in project]) for m in ("wall", "cpu"))
    return (
        f"{events:.0f} x {per['wall'] * 1000:.1f} ms = {events * per['wall']:.0f} s",
        f"{events:.0f} x {per['cpu'] * 1000:.1f} ms = {events * per['cpu']:.0f} s",
        f"{wall:.1f} / {cpu:.1f}",
    )


def report_event_cost(results: dict, variants: list[str]) -> None:
    cost = results.get("event_cost") or {}
    if not any(cost.values()):
        return
    print("\n### What the events cost (bench/event_graph.py: same graph, empty bodies)\n")
    rows = []
    for variant in variants:
        pairs = cost.get(variant) or []
        if not pairs:
            continue
        extra = [p["year"]["events"] - p["day"]["events"] for p in pairs]
        per = {
            measure: median(
                [
                    (p["year"][measure] - p["day"][measure]) / n
                    for p, n in zip(pairs, extra, strict=True)
                ]
            )
            for measure in ("wall", "cpu")
        }
        year, day = pairs[0]["year"], pairs[0]["day"]
        rows.append(
            (
                LABEL[variant],
                f"{year['wall']:.1f} / {year['cpu']:.1f} ({year['events']} events)",
                f"{day['wall']:.1f} / {day['cpu']:.1f} ({day['events']} events)",
                f"{per['wall'] * 1000:.1f} / {per['cpu'] * 1000:.1f}",
                *project_floor(results["runs"][variant], per),
            )
        )
    header = ("instance", "event graph, year: wall / CPU s", "event graph, one day: wall / CPU s",
              "per event: wall / CPU ms", "project events x wall per event",
              "project events x CPU per event", "project: wall / CPU s (median)")  # fmt: skip
    print(table(header, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--days", type=int, help="only the year's last N sessions (smoke test)")
    parser.add_argument("--event-cost-reps", type=int, default=1)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--keep-data", type=Path, help="copy the first embedded run's DATA_DIR")
    parser.add_argument("--json", type=Path, help="write the raw figures here (after each run)")
    parser.add_argument("--report", type=Path, help="only print the report of a saved --json")
    args = parser.parse_args()
    if args.report:
        report(json.loads(args.report.read_text()))
        return
    print_machine()
    with scratch("stockmonitor-bench-year-") as root:
        results = bench(args, root)
    report(results)


if __name__ == "__main__":
    main()
