"""Weakened checks leave a trace: run config may loosen the `quality` thresholds for one run
(measured: `min_bar_coverage 0, max_filled_share 1, max_gap_days 1e9, ratio_tolerance 1`
ran green with nothing but the run config to show it). Every run records the thresholds it
used in its materializations and in each check; one with a weaker-than-default threshold is
tagged `stockmonitor/weakened_checks` naming the checks, and each affected check's
description opens with the departure. Real `dg.materialize` runs on the demo market.
"""

import dagster as dg
import pytest

from stockmonitor_assets.assets.rules import WEAKENED_TAG
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets.thresholds import QualityThresholds
from stockmonitor_assets_tests.clean_run import ASSETS
from stockmonitor_assets_tests.conftest import DEMO_CACHE, Pipeline

DAY = "2024-06-07"
DEFAULTS = QualityThresholds().values()
WEAKENED = {
    "min_bar_coverage": 0.0,
    "max_filled_share": 1.0,
    "max_gap_days": 10**9,
    "ratio_tolerance": 1.0,
}
CHECKS = {"completion": "completed_ohlcv", "source_ratios": "fundamental_indicators"}
CHECKS |= {"withheld_stock_days": "merged"}


def _run(tmp_path, instance, quality_config: dict | None = None):
    pipeline = Pipeline(
        tmp_path, DemoMarket(cache_dir=DEMO_CACHE, seed=7, universe_size=40), instance
    )
    run_config = {"resources": {"quality": {"config": quality_config}}} if quality_config else {}
    result = pipeline.materialize(ASSETS, DAY, run_config=run_config)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert sorted(checks) == sorted(CHECKS)
    return result, checks, instance.get_run_by_id(result.run_id).tags


def _materialized_thresholds(result, asset: str) -> dict:
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key.path == [asset]]
    return event.materialization.metadata["quality_thresholds"].value


@pytest.fixture(scope="module")
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_a_run_with_weakened_thresholds_is_tagged_and_every_check_says_so(tmp_path, instance):
    result, checks, tags = _run(tmp_path, instance, WEAKENED)
    used = DEFAULTS | WEAKENED
    tag = tags[WEAKENED_TAG]
    assert "completion: max_filled_share=1 (default 0.2, weaker)" in tag
    assert "max_gap_days=1e+09 (default 500, weaker)" in tag
    assert "source_ratios: ratio_tolerance=1 (default 0.01, weaker)" in tag
    assert "withheld_stock_days: min_bar_coverage=0 (default 0.9, weaker)" in tag
    for name, asset in CHECKS.items():
        check = checks[name]
        assert check.description.startswith("judged under non-default thresholds ["), name
        assert "weaker" in check.description
        thresholds = check.metadata["thresholds"].value
        assert thresholds == {k: used[k] for k in thresholds} and thresholds, name
        assert _materialized_thresholds(result, asset) == used


def test_a_run_with_default_thresholds_records_them_and_carries_no_tag(tmp_path, instance):
    result, checks, tags = _run(tmp_path, instance)
    assert WEAKENED_TAG not in tags
    for name, asset in CHECKS.items():
        assert "non-default" not in checks[name].description
        assert set(checks[name].metadata["thresholds"].value.items()) <= set(DEFAULTS.items())
        assert _materialized_thresholds(result, asset) == DEFAULTS


def test_the_tag_names_weaker_thresholds_and_a_check_names_stricter_ones_too(tmp_path, instance):
    _, checks, tags = _run(tmp_path, instance, {"max_filled_share": 0.5, "max_gap_days": 100})
    assert "completion: max_filled_share=0.5 (default 0.2, weaker)" in tags[WEAKENED_TAG]
    assert "max_gap_days" not in tags[WEAKENED_TAG]  # 100 < 500 is stricter
    assert "max_gap_days=100 (default 500, stricter)" in checks["completion"].description
    assert "non-default" not in checks["source_ratios"].description


def test_departures_know_which_way_each_threshold_loosens():
    stricter = QualityThresholds(min_bar_coverage=0.95, ratio_tolerance=0.001, max_gap_days=20)
    assert [d.is_weaker for d in stricter.departures()] == [False, False, False]
    looser = QualityThresholds(min_bar_coverage=0.5, float_tolerance=1e-6, max_filled_share=0.3)
    assert [d.is_weaker for d in looser.departures()] == [True, True, True]
    assert QualityThresholds().departures() == []
