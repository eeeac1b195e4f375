"""`dagster dev` started as a user starts it, for what drives the UI's GraphQL API (the UI tests,
bench/bench_ui_history.py).

The server runs in a fresh working directory holding a copy of the repo root's dagster.yaml
(so its embedded storage is the test's own), with the demo market and a temp DATA_DIR. It is
stopped by process group, always.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
# The mutation the UI's "Materialize" dialog sends for a backfill, and the backfill's state.
LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { results { runId status } }
  }
}"""
BACKFILL_DONE = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DagsterDev:
    def __init__(self, workdir: Path, port: int):
        self.workdir, self.port = workdir, port
        self.url = f"http://127.0.0.1:{port}"

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise AssertionError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def wait_until_up(self, process: subprocess.Popen, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"dagster dev exited with {process.returncode}")
            with contextlib.suppress(OSError, AssertionError):
                data = self.graphql("{ version }")
                if data.get("version"):
                    return
            time.sleep(1)
        raise AssertionError(f"dagster dev did not answer on {self.url} in {timeout} s")


def launch_ui_backfill(server: DagsterDev, assets: list[str], days: list[str]) -> str:
    """A backfill of `assets` over `days`, launched as the UI launches it; its id."""
    params = {
        "assetSelection": [{"path": [a]} for a in assets],
        "partitionNames": days,
        "fromFailure": False,
        "tags": [],
    }
    answer = server.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    return answer["backfillId"]


def backfill_status(server: DagsterDev, backfill_id: str) -> tuple[str, list[dict]]:
    """The backfill's status and its runs (`runId`, `status`)."""
    data = server.graphql(STATUS, {"id": backfill_id})
    return data["partitionBackfillOrError"]["status"], data["runsOrError"]["results"]


@contextlib.contextmanager
def dagster_dev(workdir: Path, env: dict[str, str]) -> Iterator[DagsterDev]:
    """`dagster dev -m stockmonitor_assets.definitions` in `workdir`, as `make ui` runs it."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", workdir / "dagster.yaml")
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | env
    log = open(workdir / "dagster_dev.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [str(DAGSTER), "dev", "-m", "stockmonitor_assets.definitions"]
        + ["-h", "127.0.0.1", "-p", str(port)],
        cwd=workdir,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = DagsterDev(workdir, port)
    try:
        server.wait_until_up(process)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
