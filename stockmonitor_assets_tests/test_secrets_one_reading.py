"""`stockmonitor validate` reads settings and secrets exactly as runs do (one function).

Runs get secrets through `dagster.EnvVar`, raw; a validation that trimmed them, or built its
own connection without DB_SSLMODE, could pass while every run fails (or the reverse). Both
paths are spied at the boundary: the arguments handed to psycopg2 and to RQDatac's login.
"""

import dagster as dg
import psycopg2
import pytest

from stockmonitor_assets.cli import checkup
from stockmonitor_assets.database import PostgresResource, postgres_from
from stockmonitor_assets.resources import (
    MarketDataResource,
    fixed_by_environment,
    market_data_from,
)
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.sources import ricequant

PADDED_SECRET = " pa55 word\t"


@dg.asset
def opens_the_database(database: PostgresResource) -> None:
    with database.connect():
        pass


@dg.asset
def builds_the_source(market_data: MarketDataResource) -> None:
    market_data.client()


@pytest.fixture
def spied_connect(monkeypatch):
    calls: list[dict] = []

    def connect(**kwargs):
        calls.append(kwargs)
        raise psycopg2.OperationalError("spy: not connecting")

    monkeypatch.setattr(psycopg2, "connect", connect)
    return calls


def test_validate_opens_the_connection_a_run_opens(spied_connect, monkeypatch, tmp_path):
    for name, value in {
        "DB_HOST": "db.internal",
        "DB_PASSWORD": PADDED_SECRET,
        "DB_SSLMODE": "verify-full",
        "DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    resources = fixed_by_environment({"database": postgres_from(Settings.from_env())})
    dg.materialize([opens_the_database], resources=resources, raise_on_error=False)
    problems, _ = checkup.check_setup()
    run_call, validate_call = spied_connect
    assert run_call["password"] == PADDED_SECRET and run_call["sslmode"] == "verify-full"
    assert validate_call == run_call
    assert any("database db.internal:5432" in p and "spy" in p for p in problems)
    assert not any(PADDED_SECRET.strip() in p for p in problems)


def test_validate_checks_the_rqdatac_login_a_run_uses(monkeypatch, tmp_path):
    logins: list[tuple] = []
    original = ricequant.Credentials.from_settings.__func__

    def spy(cls, *args):
        logins.append(args)
        return original(cls, *args)

    monkeypatch.setattr(ricequant.Credentials, "from_settings", classmethod(spy))
    for name, value in {
        "STOCKMONITOR_SOURCE": "rqdatac",
        "RQDATAC_USERNAME": "user@example.com",
        "RQDATAC_PASSWORD": PADDED_SECRET,
        "CACHE_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    resources = fixed_by_environment({"market_data": market_data_from(Settings.from_env())})
    assert dg.materialize([builds_the_source], resources=resources).success
    checkup.check_setup()
    run_login, validate_login = logins
    assert run_login[2] == PADDED_SECRET
    assert validate_login == run_login


def test_validate_refuses_a_non_https_webhook_without_printing_it(monkeypatch):
    monkeypatch.setenv("STOCKMONITOR_ALERT_WEBHOOK", "file:///srv/hooks/T0KEN")
    problems, _ = checkup.check_setup()
    (problem,) = [p for p in problems if p.startswith("alert webhook")]
    assert "must be an https:// URL" in problem and "T0KEN" not in problem
