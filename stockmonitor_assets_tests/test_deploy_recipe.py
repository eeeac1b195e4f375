"""deploy/: the Docker Compose recipe, checked by structure (Docker cannot run on the test
machine). The rules: the UI is reachable from the network only through the authenticating
proxy; webservers bind to 127.0.0.1; viewers get a --read-only webserver; every setting
and secret comes from the environment (never a literal); every file it references exists;
the code server serves this package's definitions; the data lives on a volume.
"""

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
CODE_SERVER = "dagster code-server start -m stockmonitor_assets.definitions -h 0.0.0.0 -p 4000"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|HASH|WEBHOOK")
REFERENCE = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def _services(compose: dict) -> dict:
    return compose["services"]


def _command(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def _published(service: dict) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_every_process_of_a_dagster_deployment_is_a_service(compose):
    assert set(_services(compose)) == {
        "postgres",
        "code-server",
        "webserver",
        "webserver-readonly",
        "daemon",
        "proxy",
    }


def test_the_code_server_serves_this_packages_definitions_as_the_dockerfile_says(compose):
    assert " ".join(_command(_services(compose)["code-server"])) == CODE_SERVER
    cmd = re.search(r"^CMD (\[.*?\])$", _dockerfile(), re.M | re.S).group(1)
    assert " ".join(yaml.safe_load(cmd.replace("\\\n", ""))) == CODE_SERVER
    assert importlib.util.find_spec("stockmonitor_assets.definitions") is not None


def test_the_webserver_and_daemon_load_the_code_server_over_grpc(compose):
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    grpc = location["grpc_server"]
    assert grpc["host"] in _services(compose) and str(grpc["port"]) == CODE_SERVER.split()[-1]
    for name in ("webserver", "webserver-readonly", "daemon"):
        command = _command(_services(compose)[name])
        assert command[command.index("-w") + 1] == "/opt/dagster/home/workspace.yaml"


def test_only_the_proxy_is_reachable_from_the_network(compose):
    for name, service in _services(compose).items():
        if name == "proxy":
            continue
        for port in _published(service):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    assert _published(_services(compose)["webserver"]) == ["127.0.0.1:3000:3000"]
    assert not _published(_services(compose)["postgres"])
    assert not _published(_services(compose)["code-server"])


def test_viewers_get_a_read_only_webserver_and_operators_the_full_one(compose):
    assert "--read-only" in _command(_services(compose)["webserver-readonly"])
    assert "--read-only" not in _command(_services(compose)["webserver"])
    routes = _caddy_routes()
    assert routes == {"/viewer*": "webserver-readonly:3000", "": "webserver:3000"}
    readonly = _command(_services(compose)["webserver-readonly"])
    assert readonly[readonly.index("--path-prefix") + 1] == "/viewer"


def test_every_route_of_the_proxy_asks_for_a_password():
    blocks = re.findall(r"handle[^{]*\{(.*?)\n\t\}", _caddyfile(), re.S)
    assert len(blocks) == 2
    for block in blocks:
        assert "basic_auth" in block and block.index("basic_auth") < block.index("reverse_proxy")
        assert re.search(r"\{\$[A-Z_]+_PASSWORD_HASH\}", block)


def test_settings_and_secrets_come_from_the_environment_never_literals(compose):
    for name, service in _services(compose).items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert REFERENCE.match(str(value)), f"{name}.{key} is a literal: {value!r}"
            if key.startswith("DB_") and key not in ("DB_HOST", "DB_PORT"):
                assert str(value).startswith(f"${{{key}"), f"{name}.{key} must come from {key}"


def test_the_instance_gets_every_variable_dagster_yaml_reads(compose):
    needed = set(
        re.findall(r"\{\s*env:\s*([A-Z_][A-Z0-9_]*)\s*\}", (REPO / "dagster.yaml").read_text())
    )
    for name in ("code-server", "webserver", "webserver-readonly", "daemon"):
        assert needed <= set(_services(compose)[name]["environment"]), name


def test_tls_mode_reaches_both_stock_scores_and_the_instance(compose):
    env = _services(compose)["daemon"]["environment"]
    assert env["DB_SSLMODE"] == env["PGSSLMODE"] == "${DB_SSLMODE:-disable}"


def test_partitions_live_on_a_volume_of_the_code_server(compose):
    service = _services(compose)["code-server"]
    data_dir = service["environment"]["DATA_DIR"]
    volume, mount = service["volumes"][0].split(":")[:2]
    assert volume in compose["volumes"] and data_dir.startswith(mount + "/")


def test_every_file_the_recipe_references_exists(compose):
    for name, service in _services(compose).items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
            for source in _copied_sources():
                assert (context / source).exists(), f"Dockerfile COPY {source}"
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith((".", "/")):
                assert (DEPLOY / host).exists(), f"{name} mounts missing {host}"


def test_the_env_file_stays_out_of_git_and_its_example_holds_no_secret():
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if SECRET_NAME.search(key):
                assert value in ("", "''"), f"{key} has a value in .env.example"


def _dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def _copied_sources() -> list[str]:
    sources = []
    for line in _dockerfile().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    return sources


def _caddyfile() -> str:
    return (DEPLOY / "Caddyfile").read_text()


def _caddy_routes() -> dict[str, str]:
    routes = re.findall(r"handle ?([^ {]*) \{.*?reverse_proxy (\S+)", _caddyfile(), re.S)
    return dict(routes)
