"""Shared helpers of the benchmarks: machine facts, instances, whole-process runs, tables.

The benchmark machine is shared and noisy, so variants are always timed side by side in
one script run: every repetition runs each variant once, in a rotating order, and the
report quotes medians and ratios of medians, with the load average at each run.

Runs go through the command users run, `dagster asset materialize -m
stockmonitor_assets.definitions --select '*' ...`, as a child process timed from outside
(wall clock around it; peak RSS = the largest single process, from `wait4`'s rusage), on
one of the project's two instances:
- `sqlite`: the repo-root `dagster.yaml` (Dagster's embedded SQLite storage under
  `./.dagster_home`), copied into the run's working directory, DAGSTER_HOME unset: what a
  fresh clone runs;
- `postgres`: `deploy/dagster.yaml` in a directory named by DAGSTER_HOME, DB_HOST/DB_PORT/
  DB_NAME/DB_USER/DB_PASSWORD pointing at a throwaway database on 127.0.0.1 (created here,
  dropped afterwards). DB_HOST also enables `scores_table` (stock_scores in that database),
  as in production.
`operator=True` adds the settings an operator may export (never set by the package):
DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true (for a one-off history load with no
daemon running: README, "For a backfill of years"), and for Postgres
DAGSTER_EVENT_BATCH_SIZE=1000.
"""

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
MODULE = "stockmonitor_assets.definitions"
PG = {"DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_USER": "postgres", "DB_PASSWORD": ""}
sys.path.append(str(REPO))  # the helpers shared with the tests (stockmonitor_testkit)
from stockmonitor_testkit.operator_settings import HISTORY_LOAD, HISTORY_LOAD_POSTGRES  # noqa: E402


def machine() -> dict[str, str]:
    """nproc, memory and CPU model of this machine, and the versions that matter."""
    model = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        kib = int(info.readline().split()[1])
    facts = {
        "nproc": str(os.cpu_count()),
        "memory": f"{kib / 2**20:.1f} GiB",
        "cpu": model,
        "python": platform.python_version(),
    }
    for package in ("dagster", "dagster-postgres", "polars", "numpy", "numba"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


def print_machine() -> None:
    print(" | ".join(f"{k}: {v}" for k, v in machine().items()), flush=True)


def load() -> str:
    """The 1/5/15-minute load averages (2 cores: above 2 means others compete)."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def rotations(names: Sequence[str], repetitions: int) -> Iterator[tuple[int, str]]:
    """(repetition, variant) in a rotating order, so no variant always runs first."""
    for rep in range(repetitions):
        shift = rep % len(names)
        for name in [*names[shift:], *names[:shift]]:
            yield rep, name


def run_child(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
) -> tuple[float, float]:
    """Run a command; return (wall s, peak RSS MiB of its largest process, CPU s).

    CPU = user + system seconds of the command and its waited-for descendants: on a
    machine shared with others it moves far less than the wall time does.

    Raises if the command fails, showing the tail of its output.
    """
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if log:
        out.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text()[-3000:] if log else ""
        raise RuntimeError(f"{' '.join(argv)} exited {code}\n{tail}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def psql(sql: str, check: bool = True) -> None:
    argv = ["psql", "-h", PG["DB_HOST"], "-p", PG["DB_PORT"], "-U", PG["DB_USER"], "-q", "-c"]
    subprocess.run([*argv, sql], check=check, capture_output=True)


class Workspace:
    """One fresh DATA_DIR and Dagster instance (a fresh clone's, or a throwaway Postgres DB).

    `root/cache` (the demo market's simulated years) is shared by every workspace of a
    script run, as a user's cache would be after the first run.
    """

    def __init__(
        self,
        root: Path,
        name: str,
        stocks: int,
        kind: str,
        operator: bool,
        checkout: Path | None = None,
    ):
        """`checkout`: another copy of the repo whose package (on PYTHONPATH) and dagster.yaml
        this workspace runs, e.g. main beside a branch, with this venv's Dagster."""
        self.dir = root / name
        self.data = self.dir / "data"
        self.data.mkdir(parents=True)
        self.kind, self.operator = kind, operator
        self.database = None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DB_"))}
        env |= {
            "STOCKMONITOR_SOURCE": "demo",
            "STOCKMONITOR_UNIVERSE_SIZE": str(stocks),
            "DATA_DIR": str(self.data),
            "CACHE_DIR": str(root / "cache"),
            "LOG_DIR": str(self.dir / "logs"),
        }
        if checkout is not None:
            env["PYTHONPATH"] = str(checkout)
        if kind == "sqlite":
            shutil.copy((checkout or REPO) / "dagster.yaml", self.dir / "dagster.yaml")
            env |= HISTORY_LOAD if operator else {}
        elif kind == "postgres":
            home = self.dir / "dagster_home"
            home.mkdir()
            shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
            self.database = re.sub(r"\W", "_", f"smbench_{os.getpid()}_{name}".lower())
            psql(f"DROP DATABASE IF EXISTS {self.database}")
            psql(f"CREATE DATABASE {self.database}")
            env |= {**PG, "DB_NAME": self.database, "DAGSTER_HOME": str(home)}
            env |= HISTORY_LOAD_POSTGRES if operator else {}
        else:
            raise ValueError(f"unknown instance kind {kind!r}")
        self.env = env
        self.runs = 0

    def materialize(
        self,
        partitions: str,
        target: Sequence[str] = ("-m", MODULE),
        prefix: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> dict:
        """One `dagster asset materialize --select '*'`: wall s, peak RSS MiB, CPU s, load."""
        flag = "--partition-range" if "..." in partitions else "--partition"
        argv = [*prefix, str(BIN / "dagster"), "asset", "materialize", *target, "--select", "*"]
        self.runs += 1
        before = load()
        wall, rss, cpu = run_child(
            [*argv, flag, partitions], {**self.env, **(env or {})}, self.log(), self.dir
        )
        return {"wall": wall, "rss_mib": rss, "cpu": cpu, "load": before}

    def log(self, run: int | None = None) -> Path:
        return self.dir / f"run{run or self.runs}.log"

    def last_run(self) -> dict:
        """Events by type, run start -> end and step durations of the latest run."""
        done = subprocess.run(
            [sys.executable, str(HERE / "run_facts.py")],
            env=self.env,
            cwd=self.dir,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    def close(self, keep: bool = False) -> None:
        if self.database:
            psql(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)", check=False)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def dagster_dev(ws: Workspace, port: int) -> Iterator[subprocess.Popen]:
    """`dagster dev` on the workspace's instance and data, stopped with its process group."""
    argv = [str(BIN / "dagster"), "dev", "-m", MODULE, "-h", "127.0.0.1", "-p", str(port)]
    with open(ws.dir / "dev.log", "w") as log:
        proc = subprocess.Popen(
            argv, env=ws.env, cwd=ws.dir, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextlib.contextmanager
def scratch(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temporary directory for a script run (removed unless `keep`)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
