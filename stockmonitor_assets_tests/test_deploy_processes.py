"""The recipe's processes without Docker: the code server started with the Dockerfile's
command, webservers loading it over gRPC through deploy/workspace.yaml (host rewritten to
127.0.0.1), and what a UI user can launch: a run overriding a resource is refused by the
operators' webserver; the viewers' (--read-only) webserver launches nothing at all.
"""

import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from stockmonitor_assets_tests.test_deploy_recipe import CODE_SERVER, DEPLOY

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
STARTUP_S = 90
JOB = "scoring_and_save_job"
ATTACK = {
    "resources": {
        "database": {"config": {"host": "attacker.example", "password": {"env": "DB_PASSWORD"}}}
    }
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args[0]} exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {STARTUP_S} s")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """The code server and both webservers, as the compose file starts them; stopped by PID."""
    home = tmp_path_factory.mktemp("dagster_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(home), "DATA_DIR": str(home / "data"), "LOG_DIR": str(home)}
    env |= {"DB_PASSWORD": "pg-secret", "STOCKMONITOR_UNIVERSE_SIZE": "30"}
    grpc_port, operators, viewers = _free_port(), _free_port(), _free_port()
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    workspace["load_from"][0]["grpc_server"] |= {"host": "127.0.0.1", "port": grpc_port}
    (home / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    code_server = shlex.split(CODE_SERVER.replace("0.0.0.0", "127.0.0.1"))
    code_server[-1] = str(grpc_port)
    webserver = [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-w", "workspace.yaml"]
    commands = [
        [str(BIN / "dagster"), *code_server[1:]],
        [*webserver, "-p", str(operators)],
        [*webserver, "-p", str(viewers), "--read-only"],
    ]
    processes = []
    try:
        processes.append(_start(commands[0], env, home))
        _wait_for_grpc(grpc_port, env, processes[0])
        processes += [_start(command, env, home) for command in commands[1:]]
        for port, process in zip((operators, viewers), processes[1:], strict=True):
            _wait_for(f"http://127.0.0.1:{port}/server_info", process)
        yield {"operators": operators, "viewers": viewers}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _start(command: list[str], env: dict, cwd: Path) -> subprocess.Popen:
    log = open(cwd / f"{Path(command[0]).name}-{len(os.listdir(cwd))}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def _wait_for_grpc(port: int, env: dict, process: subprocess.Popen) -> None:
    check = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)]
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the code server exited with {process.returncode}"
        if subprocess.run(check, env=env, capture_output=True).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(f"the code server did not serve within {STARTUP_S} s")


def _launch(port: int, run_config: dict) -> DagsterGraphQLClientError:
    client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
    with pytest.raises(DagsterGraphQLClientError) as refused:
        client.submit_job_execution(
            JOB,
            repository_location_name="stockmonitor",
            run_config=run_config,
            tags={"dagster/partition": "2024-01-02"},
        )
    return refused.value


def test_the_operators_webserver_refuses_a_run_that_redirects_the_database(deployment):
    refused = _launch(deployment["operators"], ATTACK)
    assert refused.args[0] == "RunConfigValidationInvalid"
    errors = str(refused.args[1])
    assert "host" in errors and "root:resources:database:config" in errors


def test_the_viewers_webserver_launches_nothing(deployment):
    refused = _launch(deployment["viewers"], {})
    assert refused.args[0] == "UnauthorizedError"
