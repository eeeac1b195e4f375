"""Asset checks wired in Dagster: the clean demo market passes every check, and a defect
injected after the source boundary fails its blocking check and stops `merged`/`scores`."""

import datetime as dt
import functools
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from stockmonitor_assets import alerts
from stockmonitor_assets.assets import checks, indicators, market, scoring
from stockmonitor_assets.schemas import COMPLETED_OHLCV
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets.transforms import completion, technical
from stockmonitor_assets_tests.conftest import Pipeline
from stockmonitor_assets_tests.test_quality import SESSIONS, bars

MARKET = [market.instruments, market.raw_ohlcv, market.completed_ohlcv, market.fundamentals]
DERIVED = [
    indicators.technical_indicators,
    indicators.fundamental_indicators,
    scoring.merged,
    scoring.scores,
]
ASSETS = [*MARKET, *DERIVED, *checks.ASSET_CHECKS]
HISTORY_FROM, FIRST, LAST = "2024-05-20", "2024-06-05", "2024-06-07"
DAY = "2024-06-07"


@functools.cache
def clean_run() -> tuple[Pipeline, list]:
    """The full graph with every check on the demo market: 3 weeks of bars, then 3 days.

    Cached for the session (on an in-memory instance) since the metadata and freshness tests
    read the same run.
    """
    demo = DemoMarket(seed=7, universe_size=120)
    data_dir = Path(tempfile.mkdtemp(prefix="stockmonitor-clean-"))
    pipeline = Pipeline(data_dir, demo, dg.DagsterInstance.ephemeral())
    history = pipeline.materialize(MARKET, HISTORY_FROM, FIRST)
    return pipeline, [history, pipeline.materialize(ASSETS, FIRST, LAST)]


@pytest.fixture
def clean() -> tuple[Pipeline, list]:
    return clean_run()


def test_clean_demo_market_passes_every_check(clean):
    pipeline, results = clean
    evaluations = [e for r in results for e in r.get_asset_check_evaluations()]
    assert all(r.success for r in results)
    assert {e.check_name for e in evaluations} >= {
        "schema",
        "unique_key",
        "universe_coverage",
        "bar_coverage",
        "prices",
        "completion",
        "indicator_ranges",
        "source_ratios",
        "score_ranges",
    }
    assert [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed] == []
    # The indicator check judged real values: SMA10 and RSI exist after 3 weeks of bars.
    values = pipeline.read("technical_indicators", DAY)
    assert values["sma_10"].drop_nulls().len() > 50 and values["rsi_14"].drop_nulls().len() > 50


def _duplicate_a_row(frame: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([frame, frame.head(1)])


def _break_ohlc(frame: pl.DataFrame) -> pl.DataFrame:
    first = pl.int_range(pl.len()) == 0
    return frame.with_columns(high=pl.when(first).then(pl.col("low") - 1.0).otherwise("high"))


def _drop_stocks(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.slice(5)


def _rsi_out_of_range(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(rsi_14=pl.col("rsi_14") + 100.0)


def _volume_as_integers(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("volume").cast(pl.Int64))


def _wrap(transform, defect):
    return lambda *args, **kwargs: defect(transform(*args, **kwargs))


@pytest.mark.parametrize(
    "target, attribute, defect, asset, check",
    [
        (completion, "complete_day", _duplicate_a_row, "completed_ohlcv", "unique_key"),
        (completion, "complete_day", _break_ohlc, "completed_ohlcv", "prices"),
        (completion, "complete_day", _drop_stocks, "completed_ohlcv", "universe_coverage"),
        (
            technical,
            "compute_technical_indicators",
            _rsi_out_of_range,
            "technical_indicators",
            "indicator_ranges",
        ),
        (scoring, "merge_daily", _volume_as_integers, "merged", "schema"),
    ],
)
def test_blocking_check_failure_stops_merged_and_scores(
    clean, tmp_path, monkeypatch, target, attribute, defect, asset, check
):
    pipeline = _copy_upstream_of(asset, clean[0], tmp_path)
    monkeypatch.setattr(target, attribute, _wrap(getattr(target, attribute), defect))
    result = pipeline.materialize(ASSETS, DAY, selection=_rebuilt(asset), raise_on_error=False)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.asset_key.to_user_string(), e.check_name) for e in failed] == [(asset, check)]
    assert failed[0].partition == DAY
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert asset in materialized and not materialized & {"merged", "scores"} - {asset}
    assert not (pipeline.data_dir / "scores" / f"{DAY}.parquet").exists()


def test_range_run_names_the_failing_partition(clean, tmp_path, monkeypatch):
    pipeline = _copy_upstream_of("completed_ohlcv", clean[0], tmp_path)
    complete_day = completion.complete_day

    def broken_on_june_6(day: dt.date, *rest) -> pl.DataFrame:
        frame = complete_day(day, *rest)
        return _break_ohlc(frame) if day == dt.date(2024, 6, 6) else frame

    monkeypatch.setattr(completion, "complete_day", broken_on_june_6)
    selection = _rebuilt("completed_ohlcv")
    result = pipeline.materialize(ASSETS, FIRST, LAST, selection=selection, raise_on_error=False)
    failing = next(e for e in result.get_asset_check_evaluations() if not e.passed)
    assert failing.check_name == "prices" and failing.partition is None
    assert failing.metadata["failing_partitions"].value == ["2024-06-06"]
    assert failing.metadata["partitions_checked"].value == 3
    assert not [p for p in (pipeline.data_dir / "merged").glob("*.parquet") if p.stem >= FIRST]


def test_failed_run_is_appended_to_alerts_log(clean, tmp_path, monkeypatch):
    pipeline = _copy_upstream_of("merged", clean[0], tmp_path)
    monkeypatch.setattr(scoring, "merge_daily", _wrap(scoring.merge_daily, _volume_as_integers))
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("STOCKMONITOR_ALERT_WEBHOOK", raising=False)
    result = pipeline.materialize(ASSETS, DAY, selection=_rebuilt("merged"), raise_on_error=False)
    (failure,) = pipeline.instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=pipeline.instance,
        dagster_run=result.dagster_run,
        dagster_event=failure.dagster_event,
    ).for_run_failure()
    alerts.run_failure_alert(context)
    lines = (tmp_path / "logs" / alerts.ALERTS_FILE).read_text().splitlines()
    assert len(lines) == 1 and '"partition": "2024-06-07"' in lines[0]
    assert result.run_id in lines[0] and "merged: schema" in lines[0]


# Each defect test re-runs the defective asset and what depends on it; the rest is read
# from a copy of the clean run's files.
DOWNSTREAM = {
    "completed_ohlcv": ["completed_ohlcv", "merged", "scores"],
    "technical_indicators": ["technical_indicators", "merged", "scores"],
    "merged": ["merged", "scores"],
}


def _copy_upstream_of(asset: str, clean: Pipeline, tmp_path: Path) -> Pipeline:
    """A data dir with the clean files, minus those the test run must write."""
    data_dir = tmp_path / "data"
    shutil.copytree(clean.data_dir, data_dir)
    for rebuilt in DOWNSTREAM[asset]:
        for path in (data_dir / rebuilt).glob("*.parquet"):
            if path.stem >= FIRST:
                path.unlink()
    return Pipeline(data_dir, clean.resources["market_data"], clean.instance)


def _rebuilt(asset: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*DOWNSTREAM[asset])


def _three_days(defect_on: dt.date | None, defect) -> dict[str, pl.DataFrame]:
    frames = {}
    for day in SESSIONS[:3]:
        frame = bars().with_columns(date=pl.lit(day), last_traded_date=pl.lit(day))
        frames[day.isoformat()] = defect(frame) if day == defect_on else frame
    return frames


ROW_RULES = [
    checks.Rule("schema", "", checks._on(checks._schema(COMPLETED_OHLCV)), row_rule=True),
    checks.Rule("unique_key", "", checks._on(checks._unique(COMPLETED_OHLCV)), row_rule=True),
    checks.Rule("prices", "", checks._prices, row_rule=True),
]


@pytest.mark.parametrize(
    "defect_on, defect",
    [
        (None, None),
        (SESSIONS[1], lambda f: f.with_columns(high=pl.col("low") - 1)),  # stacks, fails
        (SESSIONS[2], lambda f: f.with_columns(pl.col("volume").cast(pl.Int64))),  # won't stack
        (SESSIONS[0], lambda f: pl.concat([f, f])),  # a duplicate key within one day
    ],
)
def test_a_row_rule_judges_a_range_in_one_call_exactly_as_day_by_day(defect_on, defect):
    days = _three_days(defect_on, defect)
    failures = 0
    for rule in ROW_RULES:
        day_by_day = {k: rule.evaluate(k, frame, {}) for k, frame in days.items()}
        assert checks._evaluate(rule, days, {}) == day_by_day, rule.name
        failures += sum(not o.passed for o in day_by_day.values())
    assert failures == (0 if defect_on is None else 1)
