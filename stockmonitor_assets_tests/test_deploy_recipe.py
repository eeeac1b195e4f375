"""deploy/: the Docker Compose recipe, checked by structure (Docker cannot run on the test
machine). The rules: only the authenticating proxy publishes a port (no webserver is
reachable around it, not even from the Docker host); viewers get a --read-only webserver;
each service logs in to Postgres as its own least-privilege role, none as the superuser
(what each role may do: test_deploy_roles.py); every setting and secret comes from the
environment (never a literal); every file it references exists; the code server serves
this package's definitions; the data lives on a volume; the image is pinned (base image by
exact release, every package by version and hash from a lock that matches pyproject.toml
and the versions tested here; the test tools pinned beside it in the dev lock).
"""

import importlib.metadata
import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
DEV_LOCK = DEPLOY / "requirements-dev.lock"
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


def test_only_the_proxy_publishes_a_port_not_even_a_webserver_on_localhost(compose):
    for name, service in _services(compose).items():
        if name != "proxy":
            assert not _published(service), f"{name} publishes {_published(service)}"
            assert "network_mode" not in service, f"{name} shares the host's network"
    assert _published(_services(compose)["proxy"]) == ["80:80", "443:443"]


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
            if key.startswith("DB_") and key != "DB_PORT":
                assert REFERENCE.match(str(value)), f"{name}.{key} is a literal: {value!r}"


def test_the_instance_gets_every_variable_dagster_yaml_reads(compose):
    needed = set(
        re.findall(r"\{\s*env:\s*([A-Z_][A-Z0-9_]*)\s*\}", (DEPLOY / "dagster.yaml").read_text())
    )
    assert needed >= {"DB_USER", "DB_PASSWORD"}
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


# Each service's Postgres login: (DB_USER, DB_SCORES_USER) as .env variables name them.
ROLES = {
    "code-server": ("DAGSTER_DB_USER", "SCORES_DB_USER"),
    "webserver": ("DAGSTER_DB_USER", None),
    "daemon": ("DAGSTER_DB_USER", None),
    "webserver-readonly": ("VIEWER_DB_USER", None),
}


def _from(value: str) -> str:
    """The variable a `${NAME...}` reference reads."""
    return re.match(r"^\$\{([A-Z_][A-Z0-9_]*)", str(value)).group(1)


def test_each_service_logs_in_as_its_own_role_and_none_as_the_superuser(compose):
    for name, (instance, scores) in ROLES.items():
        env = _services(compose)[name]["environment"]
        assert _from(env["DB_USER"]) == instance, name
        assert _from(env["DB_PASSWORD"]) == instance.replace("_USER", "_PASSWORD"), name
        if scores:
            assert _from(env["DB_SCORES_USER"]) == scores
            assert _from(env["DB_SCORES_PASSWORD"]) == scores.replace("_USER", "_PASSWORD")
        else:
            assert "DB_SCORES_USER" not in env, name
    for name, service in _services(compose).items():
        if name != "postgres":
            text = yaml.safe_dump(service.get("environment") or {})
            assert "POSTGRES_" not in text, f"{name} holds the superuser's login"


def test_postgres_creates_the_roles_on_first_start_from_roles_sql(compose):
    postgres = _services(compose)["postgres"]
    mounts = dict(v.split(":")[:2] for v in postgres["volumes"] if v.startswith("."))
    script = mounts["./postgres/init-roles.sh"]
    assert script.startswith("/docker-entrypoint-initdb.d/") and script.endswith(".sh")
    sql_at = mounts["./postgres/roles.sql"]
    assert not sql_at.startswith("/docker-entrypoint-initdb.d/")  # psql variables needed
    init = (DEPLOY / "postgres" / "init-roles.sh").read_text()
    assert f"--file {sql_at}" in init
    variables = set(
        re.findall(r":['\"]?([a-z_]+)['\"]?", (DEPLOY / "postgres/roles.sql").read_text())
    )
    for variable in variables - {"DBNAME"}:  # psql sets DBNAME itself
        assert f"--set {variable}=" in init, variable
    for role in ("DAGSTER", "SCORES", "VIEWER"):
        assert f'"${role}_DB_USER"' in init and f"{role}_DB_USER" in postgres["environment"]


def test_the_production_docs_name_each_services_role(compose):
    docs = (REPO / "docs" / "production.md").read_text()
    table = docs[docs.index("## Database roles") :]
    for name, roles in ROLES.items():
        row = next(line for line in table.splitlines() if f"`{name}`" in line)
        assert any(role in row for role in roles if role), name


def test_the_base_image_is_an_exact_python_release():
    (base,) = re.findall(r"^FROM (\S+)", _dockerfile(), re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base


def test_the_image_installs_every_package_from_the_hashed_lock():
    install = re.search(r"^RUN pip install (.*requirements\.lock)$", _dockerfile(), re.M)
    assert install and "--require-hashes" in install.group(1)
    assert "deploy/requirements.lock" in _copied_sources()
    # The package itself: no dependency resolved outside the lock.
    assert re.search(r"^RUN pip install --no-deps --no-build-isolation \.", _dockerfile(), re.M)
    pins = _lock()
    assert pins and all(hashes for _, hashes in pins.values())


def test_the_lock_covers_pyproject_and_pins_the_versions_tested_here():
    pins = _lock()
    project = importlib.metadata.metadata("stockmonitor")
    runtime = [Requirement(r) for r in project.get_all("Requires-Dist")]
    needed = [r for r in runtime if not r.marker or r.marker.evaluate({"extra": "s3"})]
    for requirement in needed:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is missing from deploy/requirements.lock (make lock)"
        assert requirement.specifier.contains(pins[name][0]), f"{name}=={pins[name][0]}"
    build_only = {
        canonicalize_name(Requirement(line).name)
        for line in (DEPLOY / "requirements-build.in").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for name, (version, _) in pins.items():
        if name in build_only:
            continue  # builds the package in the image; the venv's own is not what runs
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a dependency of another platform
        assert installed == version, f"{name}: lock {version}, tested {installed} (make lock)"


def test_the_dev_lock_pins_every_other_package_at_the_version_tested_here():
    """What the dev venv installs beside the image's lock (tests, linters) is pinned too, so
    a new release of a test tool cannot change what a fresh clone's `make test` runs."""
    image, dev = _lock(), _lock(DEV_LOCK)
    assert dev and not image.keys() & dev.keys(), "a package pinned in both locks"
    project = importlib.metadata.metadata("stockmonitor")
    for requirement in map(Requirement, project.get_all("Requires-Dist")):
        name = canonicalize_name(requirement.name)
        if name == "stockmonitor":
            continue  # the dev extra names the test extra
        version, _ = image.get(name) or dev.get(name) or (None, None)
        assert version, f"{name} is in neither lock (make lock)"
        assert requirement.specifier.contains(version), f"{name}=={version}"
    for name, (version, _) in dev.items():
        installed = importlib.metadata.version(name)
        assert installed == version, f"{name}: dev lock {version}, tested {installed} (make lock)"


def test_every_pin_installs_on_the_oldest_python_the_project_supports():
    """`make` builds the venv on whatever Python 3.11+ the user has (Debian's is 3.11.2): a
    pin whose Requires-Python starts later (soupsieve 4.1.4: >=3.11.5) makes pip's
    resolution impossible there, though a newer 3.11 passes."""
    supported = SpecifierSet(importlib.metadata.metadata("stockmonitor")["Requires-Python"])
    oldest = min(Version(s.version) for s in supported if s.operator == ">=")
    for name, (version, _) in {**_lock(), **_lock(DEV_LOCK)}.items():
        try:
            needs = importlib.metadata.metadata(name).get("Requires-Python")
        except importlib.metadata.PackageNotFoundError:
            continue  # a dependency of another platform
        assert not needs or SpecifierSet(needs).contains(oldest), f"{name}=={version}: {needs}"


def test_no_file_of_the_recipe_names_a_module_the_package_does_not_have():
    texts = [_dockerfile(), (REPO / "docs" / "production.md").read_text()]
    texts += [p.read_text() for p in DEPLOY.glob("*.y*ml")]
    for module in set(re.findall(r"stockmonitor_assets(?:\.[a-z_]+)+", "\n".join(texts))):
        assert importlib.util.find_spec(module) is not None, module


def _lock(path: Path = DEPLOY / "requirements.lock") -> dict[str, tuple[str, list[str]]]:
    """A lock (default: the image's) as {name: (version, hashes)}."""
    text = path.read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)(.*)$", line)
        if match:
            name, version, rest = match.groups()
            pins[canonicalize_name(name)] = (
                version,
                re.findall(r"--hash=sha256:([0-9a-f]{64})", rest),
            )
    return pins
