"""Every declared integration imports, and the code location loads fast enough to feel instant."""

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# distribution name -> module to import (where they differ)
MODULE_OF = {
    "dagster-webserver": "dagster_webserver",
    "dagster-postgres": "dagster_postgres",
    "psycopg2-binary": "psycopg2",
    "exchange-calendars": "exchange_calendars",
    "universal-pathlib": "upath",
    "ta-lib": "talib",
    "mytt": "MyTT",
    "moto[server]": "moto.server",
    "pyqlib": "qlib",
    "pytest-xdist": "xdist",
    "pillow": "PIL",
}


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return [n.split(">")[0].split("=")[0].split("<")[0].strip() for n in names]


@pytest.mark.parametrize("distribution", _declared())
def test_every_declared_dependency_imports(distribution):
    module = MODULE_OF.get(distribution, distribution.replace("-", "_"))
    importlib.import_module(module)


def test_dagster_family_versions_match():
    from importlib.metadata import version

    dagster = version("dagster")
    assert version("dagster-webserver") == dagster and dagster.startswith("1.13.")
    # dagster-postgres 0.29.N goes with dagster 1.13.N
    assert version("dagster-postgres") == "0.29." + dagster.split(".")[2]
    assert version("polars").startswith("1.")


def test_definitions_load_in_a_fresh_interpreter_without_warnings():
    code = (
        "import warnings; warnings.simplefilter('error');"
        "import stockmonitor_assets.definitions as d;"
        "keys = d.defs.resolve_asset_graph().get_all_asset_keys();"
        "print(sorted(k.to_user_string() for k in keys))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "scores" in out.stdout and "raw_ohlcv" in out.stdout


def test_loading_the_definitions_leaves_dagster_notices_on_for_other_code():
    """Our assets' beta notice is silenced where they are defined, not for the process: a
    user's own asset with a `backfill_policy`, defined after loading ours, still warns."""
    code = (
        "import warnings; import dagster as dg; import stockmonitor_assets.definitions;\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    @dg.asset(backfill_policy=dg.BackfillPolicy.single_run())\n"
        "    def users_own(): pass\n"
        "print(sum(issubclass(w.category, dg.BetaWarning) for w in seen))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1"]
