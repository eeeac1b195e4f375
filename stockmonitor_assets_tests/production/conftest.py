"""A production deployment as an operator starts it, for the tests of this package.

`dagster-daemon run -w workspace.yaml` and `dagster-webserver -w workspace.yaml` run from
the repo root (README, Production), on `$DAGSTER_HOME/dagster.yaml` copied from the repo's
own, against a throwaway Postgres database (created here, dropped afterwards) on the shared
server, or on a cluster of the test's own (`throwaway_cluster.py`) for a test that restarts
it. Processes are started in their own process groups and stopped by group id, always.
"""

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from stockmonitor_assets import settings
from stockmonitor_assets.trading_calendar import latest_published_day, partition_key, sessions
from stockmonitor_testkit.operator_settings import HISTORY_LOAD_POSTGRES

REPO = Path(__file__).resolve().parents[2]
PG = dict(host="127.0.0.1", port=5432, user="postgres")
LOCATION = "stockmonitor"
UNIVERSE_SIZE = 30
# The shortest indicator window (STOCKMONITOR_LOOKBACK_DAYS=60 needs 79 sessions of bars):
# eager automation requests technical_indicators only once its whole window is stored.
LOOKBACK_DAYS = 60
WINDOW_SESSIONS = 79
# Variables of the caller that must not reach the deployment (CACHE_DIR is kept: the demo
# market's year cache the test session already built).
_ISOLATED = ("DAGSTER_HOME", "DATA_DIR", "LOG_DIR", *settings.DB_VARS, *settings.RQDATAC_SECRETS)


def recent_sessions(count: int, last: dt.date | None = None) -> list[str]:
    """The `count` trading days ending at `last` (default: the latest published one)."""
    last = last or latest_published_day()
    return [partition_key(d) for d in sessions(last - dt.timedelta(days=3 * count + 20), last)][
        -count:
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_connection(server: Mapping = PG):
    conn = psycopg2.connect(dbname="postgres", **server)
    conn.autocommit = True
    return conn


class Deployment:
    """Daemon + webserver on a fresh instance home, data dir and database (on `server`)."""

    def __init__(self, root: Path, server: Mapping = PG, **env: str):
        self.root, self.database = root, f"production_{uuid.uuid4().hex[:12]}"
        self.server = dict(server)
        self.home, self.data_dir, self.log_dir = root / "home", root / "data", root / "logs"
        self.home.mkdir(parents=True)
        shutil.copy(REPO / "deploy" / "dagster.yaml", self.home / "dagster.yaml")
        self.port = free_port()
        self.processes: list[subprocess.Popen] = []
        base = {k: v for k, v in os.environ.items() if k not in _ISOLATED}
        base = {k: v for k, v in base.items() if not k.startswith("STOCKMONITOR_")}
        self.env = {
            **base,
            "DAGSTER_HOME": str(self.home),
            "DATA_DIR": str(self.data_dir),
            "LOG_DIR": str(self.log_dir),
            "DB_HOST": self.server["host"],
            "DB_PORT": str(self.server["port"]),
            "DB_USER": self.server["user"],
            "DB_PASSWORD": "unused-with-trust-auth",
            "DB_NAME": self.database,
            "STOCKMONITOR_SOURCE": "demo",
            "STOCKMONITOR_UNIVERSE_SIZE": str(UNIVERSE_SIZE),
            "STOCKMONITOR_LOOKBACK_DAYS": str(LOOKBACK_DAYS),
            **env,
        }

    # --- lifecycle -------------------------------------------------------------------
    def create_database(self) -> None:
        with contextlib.closing(admin_connection(self.server)) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.database}"')

    def drop_database(self) -> None:
        with contextlib.closing(admin_connection(self.server)) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def dagster(self, *args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
        """A `dagster` CLI command from the repo root, on this deployment's instance."""
        return subprocess.run(
            [_bin("dagster"), *args],
            cwd=REPO,
            env=self.env | env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def materialize(self, select: str, first: str, last: str) -> None:
        """A history load as the README's "For a backfill of years" has the operator run it,
        daemon stopped, Dagster's two settings exported in that terminal only (a quarter of
        the plain command's wall for 79 sessions here)."""
        result = self.dagster(
            "asset", "materialize", "-m", "stockmonitor_assets.definitions",
            "--select", select, "--partition-range", f"{first}...{last}",
            **HISTORY_LOAD_POSTGRES,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    def start(self) -> None:
        """The README's two processes, each in its own process group, logging to files."""
        for name, args in (
            ("daemon", [_bin("dagster-daemon"), "run", "-w", "workspace.yaml"]),
            (
                "webserver",
                [_bin("dagster-webserver"), "-w", "workspace.yaml"]
                + ["-h", "127.0.0.1", "-p", str(self.port)],
            ),
        ):
            log = (self.root / f"{name}.log").open("w")
            self.processes.append(
                subprocess.Popen(
                    args,
                    cwd=REPO,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        self.wait_until(self._webserver_answers, 90, "the webserver to answer")

    def stop(self) -> None:
        """SIGTERM each process group, SIGKILL what is left after 20 s."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Run workers are children of the daemon's group; anything still alive is killed.
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    # --- observing ---------------------------------------------------------------------
    @contextlib.contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """The deployment's instance, read in this process (DB_* set only meanwhile)."""
        with pytest.MonkeyPatch.context() as patch:
            for name in (*settings.DB_VARS, "LOG_DIR"):
                patch.setenv(name, self.env[name])
            with dg.DagsterInstance.from_config(str(self.home)) as instance:
                yield instance

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        assert "errors" not in answer, answer
        return answer["data"]

    def launch(self, job: str, partition: str, tags: dict[str, str] | None = None) -> str:
        """Submit a job run through the webserver, as the UI's Launch button does."""
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=self.port)
        return client.submit_job_execution(
            job,
            repository_location_name=LOCATION,
            tags={"dagster/partition": partition, **(tags or {})},
        )

    def scores_rows(self, day: str) -> int:
        with (
            contextlib.closing(psycopg2.connect(dbname=self.database, **self.server)) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT to_regclass('stock_scores') IS NOT NULL")
            if not cur.fetchone()[0]:
                return 0
            cur.execute("SELECT count(*) FROM stock_scores WHERE trade_date = %s", (day,))
            return cur.fetchone()[0]

    def wait_until(self, predicate: Callable[[], object], timeout: float, what: str):
        """Poll `predicate` until truthy; fail with the daemon's log tail on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    pytest.fail(f"{process.args[0]} exited ({process.returncode})\n{self.logs()}")
            value = predicate()
            if value:
                return value
            time.sleep(1)
        pytest.fail(f"timed out after {timeout} s waiting for {what}\n{self.logs()}")

    def logs(self, chars: int = 4000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-chars:]}" for p in sorted(self.root.glob("*.log"))
        )

    def _webserver_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=2):
                return True
        except OSError:
            return False


@contextlib.contextmanager
def deployed(
    root: Path, history: Sequence[tuple[str, str, str]] = (), server: Mapping = PG, **env: str
):
    """A started deployment, always torn down; `history` (selection, first, last) is
    materialized first by the CLI, as an operator backfills before starting the daemon."""
    deployment = Deployment(root, server, **env)
    deployment.create_database()
    try:
        for select, first, last in history:
            deployment.materialize(select, first, last)
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
        deployment.drop_database()


def finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    run = instance.get_run_by_id(run_id)
    return run if run and run.is_finished else None


def _bin(program: str) -> str:
    return str(Path(sys.executable).parent / program)
