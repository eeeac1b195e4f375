"""Freshness is judged against the source's latest published day, not the wall clock:
each source says which day it has published, and `scores_on_time` expects no later day."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from stockmonitor_assets.assets import freshness
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets.sources.files import FilesSource, export_to_files
from stockmonitor_assets_tests.conftest import DEMO_CACHE, inject
from stockmonitor_assets_tests.test_ricequant_source import make_source

D = dt.date
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_demo_publishes_a_session_at_its_close_15_00_shanghai():
    def latest(*now: int) -> dt.date:
        demo = DemoMarket(
            cache_dir=DEMO_CACHE, seed=1, universe_size=20, clock=lambda: dt.datetime(*now)
        )
        return demo.latest_published_day()

    assert latest(2024, 6, 7, 14, 59) == D(2024, 6, 6)
    assert latest(2024, 6, 7, 15, 0) == D(2024, 6, 7)
    assert latest(2024, 6, 10, 18, 0) == D(2024, 6, 7)  # Dragon Boat holiday


def test_rqdatac_latest_day_is_its_last_trading_date_complete_by_now():
    # The fake SDK's calendar skips 2024-01-10; data of a day is complete at 17:00.
    assert make_source(clock=dt.datetime(2024, 1, 11, 16, 0)).latest_published_day() == D(
        2024, 1, 9
    )
    assert make_source(clock=dt.datetime(2024, 1, 11, 17, 0)).latest_published_day() == D(
        2024, 1, 11
    )


def historical_files(tmp_path):
    demo = DemoMarket(
        cache_dir=DEMO_CACHE, seed=5, universe_size=20, clock=lambda: dt.datetime(2024, 7, 1)
    )
    export_to_files(demo, None, D(2024, 6, 3), D(2024, 6, 7), tmp_path)
    return FilesSource(tmp_path)


def test_files_latest_day_is_the_last_day_in_the_files(tmp_path):
    assert historical_files(tmp_path).latest_published_day() == D(2024, 6, 7)


def run_check(instance, source):
    context = dg.build_asset_check_context(instance=instance)
    return freshness.scores_on_time(context, inject(source), Settings.from_env())


def test_historical_dataset_is_on_time_once_its_last_day_is_scored(tmp_path, monkeypatch):
    source, now = historical_files(tmp_path), dt.datetime(2026, 11, 30, 11, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr(freshness, "shanghai_now", lambda: now)
    with dg.DagsterInstance.ephemeral() as instance:
        missing = run_check(instance, source)
        assert not missing.passed
        assert missing.metadata["expected_partition"].value == "2024-06-07"
        assert missing.metadata["deadline"].value == "2024-06-11T10:30:00+08:00"
        instance.report_runless_asset_event(
            dg.AssetMaterialization("scores", partition="2024-06-07")
        )
        present = run_check(instance, source)
    assert present.passed and present.metadata["source_latest_day"].value == "2024-06-07"


def test_live_source_is_still_judged_by_the_due_time():
    now = dt.datetime(2024, 6, 11, 10, 29, tzinfo=SHANGHAI)
    # The source published Friday 2024-06-07, but before 10:30 on Tuesday only Thursday is due.
    assert freshness.expected_scores(now, dt.time(10, 30), D(2024, 6, 7))[1] == D(2024, 6, 6)
