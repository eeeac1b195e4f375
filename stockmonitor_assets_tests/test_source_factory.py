"""Choosing the provider: valid kinds, and misconfiguration caught before any data call."""

import pytest
import rqdatac

from stockmonitor_assets.sources.base import AuthenticationError
from stockmonitor_assets.sources.factory import build_source
from stockmonitor_assets.sources.files import FilesSource
from stockmonitor_assets.sources.ricequant import RiceQuantSource


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("rqdatac was called")

    for name in ("init", "get_price", "get_trading_dates", "all_instruments"):
        monkeypatch.setattr(rqdatac, name, refuse)


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"'tushare'.*\['demo', 'rqdatac', 'files'\]"):
        build_source("tushare")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "RQDATAC_API_KEY"),
        ({"username": "me"}, "RQDATAC_PASSWORD"),
        ({"password": "pw"}, "RQDATAC_USERNAME"),
    ],
)
def test_rqdatac_without_credentials_fails_before_any_call(no_network, settings, named):
    with pytest.raises(AuthenticationError, match=named):
        build_source("rqdatac", **settings)


def test_rqdatac_with_credentials_builds_without_connecting(no_network, tmp_path):
    source = build_source("rqdatac", api_key="KEY", base_url="host:1", cache_dir=str(tmp_path))
    assert isinstance(source, RiceQuantSource) and source.name == "rqdatac"


def test_rqdatac_base_url_must_be_host_and_port(no_network):
    with pytest.raises(ValueError, match="RQDATAC_BASE_URL"):
        build_source("rqdatac", api_key="KEY", base_url="no-port")


def test_files_needs_an_existing_directory(tmp_path):
    with pytest.raises(ValueError, match="STOCKMONITOR_FILES_DIR"):
        build_source("files")
    assert isinstance(build_source("files", files_dir=str(tmp_path)), FilesSource)


def test_demo_is_built_with_its_seed_and_size():
    source = build_source("demo", demo_seed=7, universe_size=20)
    assert (source.name, source.seed, source.universe_size) == ("demo", 7, 20)
