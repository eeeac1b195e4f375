"""End-to-end: one day, one year (single run vs one run per partition), and scale.

Usage: python bench/bench_pipeline.py [--quick] [--only oneday year scale] [--stocks N]
                                      [--reps R] [--sample K] [--keep]

Everything runs on the demo market (STOCKMONITOR_SOURCE=demo) in a fresh temporary
directory (DATA_DIR, CACHE_DIR and DAGSTER_HOME inside it), on one of three instances:
`--storage sqlite` (default): the project's embedded instance, as `make` and the
`stockmonitor` CLI set it up (Dagster's SQLite storage with batched event writes,
`stockmonitor_assets/embedded_instance.yaml`); `--storage dagster-default`: an empty
DAGSTER_HOME and Dagster's own defaults (no batching, one planned event per partition:
what the project's settings replace); `--storage postgres`: dagster-postgres in a
throwaway database on 127.0.0.1, created here and dropped at the end (the production
`dagster.yaml` shape). Runs go through the command users run:
`dagster asset materialize -m stockmonitor_assets.definitions --select '*' ...`.
Wall time is measured around the child process, peak RSS from its rusage (the largest
single process).

- year: a pre-history run (the 27 sessions before 2024, so that with 2024 the day after
  has 269 stored days before it = its full indicator window), then the 2024 range (242
  partitions) as single runs, interleaved with a sample of K consecutive one-partition
  runs (late-2024 days, each with a full window of stored history), extrapolated to 242.
  Read volume: one more run of each kind under `strace -f -e trace=openat` counts the
  completed_ohlcv Parquet files opened for reading (timed separately, not in the medians).
- oneday: 2025-01-02 (269 stored days before it) through `dagster asset materialize`,
  interleaved with `bench/direct_day.py` (same source calls and transforms, no Dagster)
  and with a bare `import stockmonitor_assets.definitions`.
- scale: the 2024 range from an empty DATA_DIR at several universe sizes, and 1/2/5 years
  at one size (single runs, one repetition each).
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchlib import interleaved, machine, median, print_machine, run_child, table

from stockmonitor_assets.instance import prepare_home
from stockmonitor_assets.trading_calendar import partition_key, sessions, sessions_through

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
NEXT_DAY = "2025-01-02"
# The code location; another module (same asset names) can be benchmarked the same way.
MODULE = os.environ.get("BENCH_MODULE", "stockmonitor_assets.definitions")
WINDOW_DAYS = 269  # technical.window_partitions_needed(250, 20)
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
POSTGRES_YAML = """\
storage:
  postgres:
    postgres_db:
      hostname: {host}
      port: {port}
      username: {user}
      password: ""
      db_name: {db}
      scheme: postgresql+psycopg2
telemetry:
  enabled: false
"""
STORAGE: dict[str, str | None] = {"kind": "sqlite", "db": None}  # db: when postgres
# Dagster's own behaviour, which the project's package defaults replace.
DAGSTER_DEFAULTS = {
    "DAGSTER_EVENT_BATCH_SIZE": "0",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "false",
}


class Workspace:
    """A fresh DATA_DIR + DAGSTER_HOME and the environment of the children."""

    def __init__(self, root: Path, name: str, stocks: int):
        self.dir = root / name
        self.data = self.dir / "data"
        self.home = self.dir / "dagster_home"
        self.data.mkdir(parents=True)
        self.home.mkdir()
        if STORAGE["kind"] == "postgres":
            (self.home / "dagster.yaml").write_text(POSTGRES_YAML.format(**PG, db=STORAGE["db"]))
        elif STORAGE["kind"] == "sqlite":
            prepare_home(self.home)
        self.env = {
            **os.environ,
            "STOCKMONITOR_SOURCE": "demo",
            "STOCKMONITOR_UNIVERSE_SIZE": str(stocks),
            "DATA_DIR": str(self.data),
            "CACHE_DIR": str(root / "cache"),  # demo years: simulated by the first run only
            "DAGSTER_HOME": str(self.home),
            "LOG_DIR": str(self.dir / "logs"),
            **(DAGSTER_DEFAULTS if STORAGE["kind"] == "dagster-default" else {}),
        }
        self.runs = 0

    def materialize(self, partitions: str, prefix: tuple[str, ...] = ()) -> dict:
        """One `dagster asset materialize` of every asset: wall s, peak RSS MiB."""
        flag = "--partition-range" if "..." in partitions else "--partition"
        dagster = [str(BIN / "dagster"), "asset", "materialize"]
        argv = [*prefix, *dagster, "-m", MODULE, "--select", "*"]
        self.runs += 1
        wall, rss = run_child([*argv, flag, partitions], self.env, str(self.log(self.runs)))
        return {"wall": wall, "rss_mib": rss}

    def log(self, run: int) -> Path:
        return self.dir / f"run{run}.log"

    def direct_day(self, day: str) -> dict:
        out = tempfile.mkdtemp(dir=self.dir)
        log = self.dir / "direct.log"
        argv = [sys.executable, str(HERE / "direct_day.py"), day, str(self.data), out]
        wall, rss = run_child(argv, self.env, str(log))
        shutil.rmtree(out)
        stages = json.loads(log.read_text().strip().splitlines()[-1])
        return {"wall": wall, "rss_mib": rss, **stages}

    def bare_chain(self, partition: str) -> dict:
        """`bench/bare_chain.py` (7 empty assets) on this workspace's kind of instance."""
        home = self.dir / "bare_chain_home"
        home.mkdir(exist_ok=True)
        if STORAGE["kind"] == "sqlite":
            prepare_home(home)
        dagster = [str(BIN / "dagster"), "asset", "materialize", "-f", str(HERE / "bare_chain.py")]
        argv = [*dagster, "--select", "*", "--partition", partition]
        env = {**self.env, "DAGSTER_HOME": str(home)}
        wall, rss = run_child(argv, env, str(self.dir / "bare_chain.log"))
        return {"wall": wall, "rss_mib": rss}

    def import_only(self) -> dict:
        code = "import stockmonitor_assets.definitions"
        wall, rss = run_child([sys.executable, "-c", code], self.env)
        return {"wall": wall, "rss_mib": rss}

    def last_run_steps(self) -> dict[str, float]:
        """Step durations of the latest run, from this instance's Dagster event log."""
        code = (
            "import json, dagster as dg\n"
            "i = dg.DagsterInstance.get()\n"
            "r = i.get_runs(limit=1)[0]\n"
            "s = {x.step_key: x.end_time - x.start_time for x in i.get_run_step_stats(r.run_id)}\n"
            "t = i.get_run_stats(r.run_id)\n"
            "s['run_start_to_end'] = t.end_time - t.start_time\n"
            "print(json.dumps(s))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=self.env, capture_output=True, text=True, check=True
        )
        return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """A fresh database for Dagster's storage, dropped afterwards (and on failure)."""
    psql = ["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-q", "-c"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run([*psql, f"CREATE DATABASE {name}"], check=True)
    try:
        yield name
    finally:
        subprocess.run([*psql, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


def keys(start: str, end: str) -> list[str]:
    days = sessions(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    return [partition_key(d) for d in days]


def sessions_before(day: str, count: int) -> list[str]:
    before = sessions_through(dt.date.fromisoformat(day) - dt.timedelta(days=1))
    return [partition_key(d) for d in before[-count:]]


def span(partitions: list[str]) -> str:
    return f"{partitions[0]}...{partitions[-1]}"


def parquet_reads(trace: Path, asset: str) -> dict:
    """Successful read-only opens of `<asset>/*.parquet` in an strace log."""
    pattern = re.compile(rf'openat\(.*"([^"]*/{asset}/[^"/]*\.parquet)", O_RDONLY.*= \d+$')
    opened = [m.group(1) for line in trace.read_text().splitlines() if (m := pattern.search(line))]
    distinct = set(opened)
    size = sum(os.path.getsize(p) for p in distinct if os.path.exists(p))
    return {"opens": len(opened), "files": len(distinct), "mib": size / 2**20}


def traced(ws: Workspace, partitions: str) -> dict:
    trace = ws.dir / "strace.log"
    prefix = ("strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o", str(trace))
    result = ws.materialize(partitions, prefix)
    return {**result, **parquet_reads(trace, "completed_ohlcv")}


def bench_year(
    root: Path, stocks: int, year: list[str], reps: int, sample: int, history: bool = True
) -> tuple:
    """Single-run range vs per-partition runs on one workspace; returns (results, ws)."""
    ws = Workspace(root, "year", stocks)
    missing = WINDOW_DAYS - len(year)
    pre = sessions_before(year[0], missing) if history and missing > 0 else []
    setup = ws.materialize(span(pre)) if pre else None
    sample_keys = year[-sample:]
    chunks = [sample_keys[i::reps] for i in range(reps)]
    single, per_partition, steps = [], [], []
    for rep in range(reps):
        single.append(ws.materialize(span(year)))
        steps.append(ws.last_run_steps())
        per_partition += [{"key": k, **ws.materialize(k)} for k in chunks[rep]]
        print(f"  year rep {rep + 1}/{reps}: single {single[-1]['wall']:.1f} s", flush=True)
    trace_single = traced(ws, span(year))
    trace_one = traced(ws, year[-1])
    return {
        "stocks": stocks,
        "partitions": len(year),
        "range": span(year),
        "pre_history": span(pre) if pre else None,
        "setup": setup,
        "single": single,
        "single_steps": steps,
        "per_partition": per_partition,
        "trace_single": trace_single,
        "trace_one_partition": trace_one,
    }, ws


def bench_oneday(ws: Workspace, day: str, reps: int) -> dict:
    cli, direct, imports, steps, bare = [], [], [], [], []

    def run_cli() -> None:
        cli.append(ws.materialize(day))
        steps.append(ws.last_run_steps())

    interleaved(
        {
            "dagster": run_cli,
            "direct": lambda: direct.append(ws.direct_day(day)),
            "import": lambda: imports.append(ws.import_only()),
            "bare chain": lambda: bare.append(ws.bare_chain(day)),
        },
        reps,
    )
    stored = len(list((ws.data / "completed_ohlcv").glob("*.parquet")))
    return {"day": day, "cli": cli, "steps": steps, "direct": direct, "import": imports,
            "bare_chain": bare, "stored_completed_partitions": stored}  # fmt: skip


def bench_scale(root: Path, sizes: list[int], size_years: int, years: list[int]) -> list[dict]:
    configs = [(n, 1) for n in sizes] + [(size_years, y) for y in years if y != 1]
    if size_years not in sizes and 1 in years:
        configs.append((size_years, 1))
    rows = []
    for stocks, n_years in configs:
        ws = Workspace(root, f"scale_{stocks}_{n_years}y", stocks)
        partitions = keys(f"{2025 - n_years}-01-01", "2024-12-31")
        result = ws.materialize(span(partitions))
        rows.append({"stocks": stocks, "years": n_years, "partitions": len(partitions), **result})
        print(f"  scale {stocks} stocks x {n_years} y: {result['wall']:.1f} s", flush=True)
        shutil.rmtree(ws.dir)
    return rows


def report(results: dict) -> None:
    year, oneday, scale = results.get("year"), results.get("oneday"), results.get("scale")
    if year:
        report_year(year)
    if oneday:
        report_oneday(oneday)
    if scale:
        print("\n## Scale (single run, empty DATA_DIR, one repetition each)\n")
        rows = [
            (
                f"{r['stocks']:,}",
                r["years"],
                r["partitions"],
                f"{r['wall']:.1f}",
                f"{r['wall'] / r['partitions'] * 1000:.0f}",
                f"{r['rss_mib']:.0f}",
            )
            for r in scale
        ]
        header = ("stocks", "years", "partitions", "wall s", "ms / partition", "peak RSS MiB")
        print(table(header, rows))


def report_year(y: dict) -> None:
    single = median([r["wall"] for r in y["single"]])
    per_run = median([r["wall"] for r in y["per_partition"]])
    projected = per_run * y["partitions"]
    print(f"\n## Range {y['range']} ({y['partitions']} partitions, {y['stocks']:,} stocks)\n")
    if y["setup"]:
        print(
            f"pre-history run {y['pre_history']}: {y['setup']['wall']:.1f} s, "
            f"{y['setup']['rss_mib']:.0f} MiB"
        )
    rows = [
        (
            "single run (range)",
            len(y["single"]),
            f"{single:.1f}",
            f"{max(r['rss_mib'] for r in y['single']):.0f}",
        ),
        (
            f"one run per partition (sample of {len(y['per_partition'])}, median per run)",
            len(y["per_partition"]),
            f"{per_run:.2f}",
            f"{max(r['rss_mib'] for r in y['per_partition']):.0f}",
        ),
        (f"one run per partition, x{y['partitions']} (extrapolated)", "-", f"{projected:.0f}", ""),
    ]
    print(table(("variant", "runs", "wall s (median)", "peak RSS MiB (max)"), rows))
    print(f"\nper-partition / single run: {projected / single:.1f}x")
    step_rows = []
    for step in y["single_steps"][0]:
        step_rows.append((step, f"{median([s[step] for s in y['single_steps']]):.1f}"))
    print("\nsteps of the single run (median, s, from the event log):\n")
    print(table(("step", "s"), step_rows))
    ts, t1 = y["trace_single"], y["trace_one_partition"]
    print("\ncompleted_ohlcv Parquet reads (strace openat, O_RDONLY; every step of the run):\n")
    print(
        table(
            ("run", "opens", "distinct files", "MiB (distinct)", "wall s under strace"),
            [
                ("single run, whole range", ts["opens"], ts["files"], f"{ts['mib']:.0f}",
                 f"{ts['wall']:.1f}"),
                ("one partition", t1["opens"], t1["files"], f"{t1['mib']:.0f}",
                 f"{t1['wall']:.1f}"),
                (f"one run per partition, x{y['partitions']} (extrapolated)",
                 t1["opens"] * y["partitions"], "-", f"{t1['mib'] * y['partitions']:.0f}", "-"),
            ],
        )
    )  # fmt: skip


def report_oneday(o: dict) -> None:
    cli = median([r["wall"] for r in o["cli"]])
    direct = median([r["wall"] for r in o["direct"]])
    imp = median([r["wall"] for r in o["import"]])
    bare = median([r["wall"] for r in o["bare_chain"]])
    stage_names = list(o["direct"][0]["stages"])
    print(f"\n## One day {o['day']} ({o['stored_completed_partitions']} stored days)\n")
    rows = [
        ("dagster asset materialize", f"{cli:.2f}", f"{max(r['rss_mib'] for r in o['cli']):.0f}"),
        ("direct_day.py (no Dagster)", f"{direct:.2f}",
         f"{max(r['rss_mib'] for r in o['direct']):.0f}"),
        ("import stockmonitor_assets.definitions", f"{imp:.2f}",
         f"{max(r['rss_mib'] for r in o['import']):.0f}"),
        ("bench/bare_chain.py: 7 empty assets, same command", f"{bare:.2f}",
         f"{max(r['rss_mib'] for r in o['bare_chain']):.0f}"),
    ]  # fmt: skip
    print(table(("variant", "wall s (median)", "peak RSS MiB"), rows))
    print(f"\ndagster / direct: {cli / direct:.2f}x; difference {cli - direct:.2f} s")
    print(f"dagster / bare chain: {cli / bare:.2f}x; difference {cli - bare:.2f} s")
    print("\ndirect stages (median s):\n")
    srows = [(k, f"{median([r['stages'][k] for r in o['direct']]):.3f}") for k in stage_names]
    print(table(("stage", "s"), srows))
    print("\ndagster steps (median s, event log):\n")
    step_rows = [(k, f"{median([s[k] for s in o['steps']]):.2f}") for k in o["steps"][0]]
    print(table(("step", "s"), step_rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 stocks, 8 days: a smoke check")
    parser.add_argument("--only", nargs="+", choices=("year", "oneday", "scale"))
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=3, help="repetitions of timed variants")
    parser.add_argument("--sample", type=int, default=15, help="per-partition runs sampled")
    parser.add_argument("--scale-sizes", type=int, nargs="+", default=[500, 1000, 5000])
    parser.add_argument("--scale-years", type=int, nargs="+", default=[1, 2, 5])
    parser.add_argument("--scale-years-stocks", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument(
        "--storage", choices=("sqlite", "dagster-default", "postgres"), default="sqlite"
    )
    args = parser.parse_args()
    STORAGE["kind"] = args.storage
    if args.storage == "postgres":
        with postgres_database(f"stockmonitor_bench_{os.getpid()}") as db:
            STORAGE["db"] = db
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    parts = set(args.only or ("year", "oneday", "scale"))
    year = keys("2024-01-01", "2024-12-31")
    if args.quick:
        args.stocks, args.reps, args.sample = 200, 1, 2
        parts, year = set(args.only or ("year", "oneday")), year[-8:]
    if "oneday" in parts:
        parts.add("year")  # the day needs the year's stored history
    print_machine()
    print(f"instance storage: {args.storage}")
    root = Path(tempfile.mkdtemp(prefix="stockmonitor-bench-"))
    results: dict = {"machine": machine(), "args": vars(args) | {"json": str(args.json)}}
    try:
        if "year" in parts:
            results["year"], ws = bench_year(
                root, args.stocks, year, args.reps, args.sample, history=not args.quick
            )
        if "oneday" in parts:
            results["oneday"] = bench_oneday(ws, NEXT_DAY, args.reps)
        if "scale" in parts and not args.quick:
            results["scale"] = bench_scale(
                root, args.scale_sizes, args.scale_years_stocks, args.scale_years
            )
        elif "scale" in parts:
            results["scale"] = bench_scale(root, [100], 100, [1])
    finally:
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str))
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    report(results)


if __name__ == "__main__":
    main()
