"""The qlib provider directory, read back with the real qlib client (pyqlib).

A crafted market (a listing, a delisting, a 15-session suspension, an ex-dividend day)
runs through the whole graph: a range run, then three single days appended. qlib's
`D.calendar`, `D.list_instruments` and `D.features` must return what our Parquet holds,
in qlib's CN convention (adjusted prices, `$factor`, NaN while suspended), and a qlib
expression over it must equal our own SMA. Then the incremental layout: a new day never
rewrites history, a past day is rewritten in place, a killed writer leaves the old view.
"""

import datetime as dt
import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import polars as pl
import pytest

from stockmonitor_assets import trading_calendar as tc
from stockmonitor_assets.qlib_store import QlibProvider, QlibProviderError, check_location
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.transforms.qlib_fields import SCORE_FIELDS
from stockmonitor_assets_tests import qlib_market as qm

qlib = pytest.importorskip("qlib")
from qlib.data import D  # noqa: E402

pytestmark = pytest.mark.slow


def open_qlib(path) -> None:
    qlib.init(provider_uri=str(path), region="cn", clear_mem_cache=True, kernels=1)


@pytest.fixture(scope="module")
def run():
    pipeline, path = qm.qlib_run()
    open_qlib(path)
    merged, scores = qm.stored(pipeline, "merged"), qm.stored(pipeline, "scores")
    return pipeline, path, merged.join(scores, on=["order_book_id", "date"], how="left")


def code(order_book_id: str) -> str:
    number, exchange = order_book_id.split(".")
    return {"XSHG": "SH", "XSHE": "SZ", "BJSE": "BJ"}[exchange] + number


def features(codes, fields, start=qm.FIRST, end=qm.LAST) -> pd.DataFrame:
    return D.features(codes, fields, start_time=str(start), end_time=str(end), freq="day")


def test_calendar_is_every_session_of_the_range(run):
    got = [d.date() for d in D.calendar(start_time=str(qm.FIRST), end_time=str(qm.LAST))]
    assert got == qm.RANGE


def test_instruments_span_each_stock_from_its_first_to_its_last_day_in_the_universe(run):
    _, _, frame = run
    spans = D.list_instruments(D.instruments("all"), as_list=False)
    expected = frame.group_by("order_book_id").agg(a=pl.col("date").min(), b=pl.col("date").max())
    want = {code(s): [(a, b)] for s, a, b in expected.iter_rows()}
    got = {c: [(a.date(), b.date()) for a, b in v] for c, v in spans.items()}
    assert got == want
    assert got[code(qm.LISTED)] == [(qm.LISTING_DAY, qm.LAST)]
    assert got[code(qm.DELISTED)][0][1] == qm.RANGE[qm.RANGE.index(qm.DELISTING_DAY) - 1]


def expected_fields(frame: pl.DataFrame) -> pl.DataFrame:
    """qlib's CN convention written out from the stored columns (docs/qlib.md)."""
    traded = ~pl.col("is_filled")
    adj = pl.col("adj_factor")
    bars = {
        "$open": pl.col("open") * adj,
        "$close": pl.col("close") * adj,
        "$high": pl.col("high") * adj,
        "$low": pl.col("low") * adj,
        "$volume": pl.col("volume") / adj,
        "$factor": adj,
        "$change": pl.col("close") / pl.col("prev_close") - 1,
        "$vwap": pl.col("total_turnover") / pl.col("volume") * adj,
        "$amount": pl.col("total_turnover"),
    }
    passed = ["sma_20", "rsi_14", "pe_ttm", "total_market_cap", "is_st", *SCORE_FIELDS]
    return frame.select(
        "order_book_id",
        "date",
        *(pl.when(traded).then(e).alias(n) for n, e in bars.items()),
        *(pl.col(n).cast(pl.Float64).alias(f"${n}") for n in passed),
    )


def test_features_are_what_our_parquet_holds_in_qlibs_cn_convention(run):
    _, _, frame = run
    want = expected_fields(frame)
    fields = [c for c in want.columns if c.startswith("$")]
    stocks = sorted(frame["order_book_id"].unique())
    got = features([code(s) for s in stocks], fields).reset_index()
    got["order_book_id"] = got["instrument"].map({code(s): s for s in stocks})
    got["date"] = got["datetime"].dt.date
    got = pl.from_pandas(got[["order_book_id", "date", *fields]])
    joined = want.join(got, on=["order_book_id", "date"], how="full", suffix="_qlib")
    assert len(joined) == len(want) == len(got)  # same stock-days, none extra, none lost
    for field in fields:
        ours = joined[field].cast(pl.Float64).to_numpy()
        theirs = joined[f"{field}_qlib"].cast(pl.Float64).to_numpy()
        np.testing.assert_allclose(theirs, ours, rtol=2e-7, equal_nan=True, err_msg=field)


def test_suspended_days_are_nan_in_bars_and_still_carry_the_days_flags(run):
    got = features([code(qm.SUSPENDED)], ["$close", "$volume", "$factor", "$is_eligible"])
    during = got.loc[(code(qm.SUSPENDED), pd.Timestamp(qm.SUSPENSION[3]))]
    assert math.isnan(during["$close"]) and math.isnan(during["$volume"])
    assert math.isnan(during["$factor"]) and during["$is_eligible"] == 0
    resumed = qm.RANGE[qm.RANGE.index(qm.SUSPENSION[-1]) + 1]
    after = got.loc[(code(qm.SUSPENDED), pd.Timestamp(resumed))]
    assert not math.isnan(after["$close"])


def test_listed_stock_starts_on_its_listing_day_and_delisted_one_stops(run):
    listed = features([code(qm.LISTED)], ["$close"]).reset_index()
    assert listed["datetime"].min().date() == qm.LISTING_DAY
    gone = features([code(qm.DELISTED)], ["$close"]).reset_index()
    assert gone["datetime"].max().date() == qm.RANGE[qm.RANGE.index(qm.DELISTING_DAY) - 1]


def test_close_over_factor_is_the_raw_close_across_the_ex_dividend_day(run):
    _, _, frame = run
    got = features([code(qm.DIVIDEND)], ["$close / $factor", "$factor"]).droplevel(0)
    raw = frame.filter(pl.col("order_book_id") == qm.DIVIDEND).sort("date")
    np.testing.assert_allclose(got["$close / $factor"].to_numpy(), raw["close"].to_numpy(), 1e-6)
    assert got.loc[pd.Timestamp(qm.EX_DAY), "$factor"] == pytest.approx(1.25)


def test_qlib_mean_of_adjusted_close_is_our_sma_where_twenty_sessions_traded(run):
    """Our sma_20 is on prices forward-adjusted to the day; qlib's $close is back-adjusted,
    so Mean($close, 20) / $factor equals it once 20 traded sessions are in the provider."""
    _, _, frame = run
    stocks = [code(s) for s in (qm.DIVIDEND, qm.SUSPENDED, *qm.NORMAL[1:3])]
    got = features(
        stocks, ["Mean($close, 20) / $factor", "$sma_20", "Count($close, 20)", "Ref($close, 1)"]
    )
    comparable = got[got["Count($close, 20)"] == 20]
    assert len(comparable) > 60  # the ex-dividend stock's day included
    assert (comparable.index.get_level_values(0) == code(qm.DIVIDEND)).sum() > 10
    np.testing.assert_allclose(
        comparable["Mean($close, 20) / $factor"], comparable["$sma_20"], rtol=1e-5
    )
    close = features([code(qm.NORMAL[1])], ["$close"]).droplevel(0)["$close"]
    ref = got.loc[code(qm.NORMAL[1]), "Ref($close, 1)"]
    np.testing.assert_allclose(ref.iloc[1:], close.iloc[:-1], rtol=1e-7)


def test_appended_days_grew_each_file_by_one_value_per_day(run):
    _, path, frame = run
    n = frame.filter(pl.col("order_book_id") == qm.NORMAL[0]).height
    folder = path / "features" / code(qm.NORMAL[0]).lower()
    sizes = {p.name: p.stat().st_size for p in folder.glob("*.day.bin")}
    assert set(sizes.values()) == {4 * (1 + n)}
    assert {"close.day.bin", "score.day.bin", "rank.day.bin", "pe_ttm.day.bin"} <= set(sizes)


# --- the incremental layout, on the store alone -------------------------------------------

DAYS = tc.sessions(dt.date(2024, 6, 3), dt.date(2024, 6, 28))


def day_frame(days, value=lambda i, d: float(i * 100 + d.day), codes=("SH600000", "SZ000001")):
    rows = [
        {"code": c, "date": d, "close": value(i, d), "score": value(i, d) / 2}
        for i, c in enumerate(codes)
        for d in days
    ]
    return pl.DataFrame(rows).with_columns(pl.col("close", "score").cast(pl.Float32))


def read_bin(path) -> tuple[int, np.ndarray]:
    raw = np.fromfile(path, dtype="<f4")
    return int(raw[0]), raw[1:]


def test_next_day_writes_only_its_own_values_and_never_reads_history(tmp_path):
    provider = QlibProvider(tmp_path)
    provider.write_chunk(day_frame(DAYS[:10]), DAYS[:10], DAYS)
    path = tmp_path / "features" / "sh600000" / "close.day.bin"
    history = bytearray(path.read_bytes())
    history[4:8] = np.float32(-1).tobytes()  # a marker in day 0: a rewrite would erase it
    path.write_bytes(bytes(history))
    provider.write_chunk(day_frame(DAYS[10:11]), DAYS[10:11], DAYS)
    start, values = read_bin(path)
    assert start == 0 and len(values) == 11 and values[0] == -1 and values[10] == DAYS[10].day
    assert provider.calendar() == DAYS[:11]


def test_rewriting_a_past_day_changes_exactly_its_values_in_place(tmp_path):
    provider = QlibProvider(tmp_path)
    provider.write_chunk(day_frame(DAYS[:10]), DAYS[:10], DAYS)
    path = tmp_path / "features" / "sz000001" / "score.day.bin"
    before = path.read_bytes()
    inode = path.stat().st_ino
    provider.write_chunk(day_frame(DAYS[4:5], value=lambda i, d: 7.0), DAYS[4:5], DAYS)
    after = path.read_bytes()
    assert path.stat().st_ino == inode and len(after) == len(before)
    changed = [i for i in range(0, len(after), 4) if after[i : i + 4] != before[i : i + 4]]
    assert changed == [4 * (1 + 4)] and read_bin(path)[1][4] == 3.5
    assert provider.calendar() == DAYS[:10]


def test_a_stock_absent_some_days_gets_nan_there_not_zeros(tmp_path):
    provider = QlibProvider(tmp_path)
    provider.write_chunk(day_frame(DAYS[:3]), DAYS[:3], DAYS)
    only_one = day_frame(DAYS[3:6], codes=("SH600000",))
    provider.write_chunk(only_one, DAYS[3:6], DAYS)
    provider.write_chunk(day_frame(DAYS[6:7]), DAYS[6:7], DAYS)
    _, values = read_bin(tmp_path / "features" / "sz000001" / "close.day.bin")
    assert np.isnan(values[3:6]).all() and values[6] == 100 + DAYS[6].day


def test_values_a_killed_run_left_past_the_last_stored_day_never_resurface(tmp_path):
    """A killed run wrote some files' values beyond the calendar; the rerun covers other
    days. The day a stock then has no row reads NaN, not the killed run's value: the end of
    a file is taken from instruments/all.txt (what was published), never from its size."""
    provider = QlibProvider(tmp_path)
    provider.write_chunk(day_frame(DAYS[:3]), DAYS[:3], DAYS)
    path = tmp_path / "features" / "sz000001" / "close.day.bin"
    with open(path, "ab") as killed_run:  # values for DAYS[3:6], never published
        killed_run.write(np.full(3, -1.0, dtype="<f4").tobytes())
    provider.write_chunk(day_frame(DAYS[3:4], codes=("SH600000",)), DAYS[3:4], DAYS)
    provider.write_chunk(day_frame(DAYS[4:5]), DAYS[4:5], DAYS)
    _, values = read_bin(path)
    assert np.isnan(values[3]) and values[4] == 100 + DAYS[4].day


def test_a_deleted_feature_file_is_recreated_with_nan_history(tmp_path):
    provider = QlibProvider(tmp_path)
    provider.write_chunk(day_frame(DAYS[:3]), DAYS[:3], DAYS)
    path = tmp_path / "features" / "sz000001" / "close.day.bin"
    path.unlink()
    provider.write_chunk(day_frame(DAYS[3:4]), DAYS[3:4], DAYS)
    start, values = read_bin(path)
    assert start == 0 and np.isnan(values[:3]).all() and values[3] == 100 + DAYS[3].day


def test_a_file_starting_later_than_its_stock_keeps_its_own_offsets(tmp_path):
    """A field's file begun after its stock's first day (a factor added under an earlier
    writer, or by qlib's own tools) is written where its own header says, not instruments."""
    provider = QlibProvider(tmp_path)
    provider.write_chunk(day_frame(DAYS[:3]), DAYS[:3], DAYS)
    path = tmp_path / "features" / "sh600000" / "extra.day.bin"
    path.write_bytes(np.array([2, 7.0], dtype="<f4").tobytes())  # starts on DAYS[2]
    chunk = day_frame(DAYS[3:5]).with_columns(extra=pl.col("close"))
    provider.write_chunk(chunk, DAYS[3:5], DAYS)
    start, values = read_bin(path)
    assert start == 2 and values.tolist() == [7.0, DAYS[3].day, DAYS[4].day]


def test_a_gap_or_an_earlier_start_is_refused_before_anything_is_written(tmp_path):
    provider = QlibProvider(tmp_path)
    provider.write_chunk(day_frame(DAYS[5:8]), DAYS[5:8], DAYS)
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(QlibProviderError, match=rf"session\(s\) {DAYS[8]} without data"):
        provider.write_chunk(day_frame(DAYS[9:10]), DAYS[9:10], DAYS)
    with pytest.raises(QlibProviderError, match=f"starts on {DAYS[5]}"):
        provider.write_chunk(day_frame(DAYS[4:5]), DAYS[4:5], DAYS)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot


def test_an_object_store_location_is_refused_with_the_setting_to_change():
    with pytest.raises(QlibProviderError, match="STOCKMONITOR_QLIB_DIR to a local path"):
        check_location("s3://bucket/qlib")


KILLER = """
import datetime as dt, os, signal, sys
import polars as pl
from stockmonitor_assets import qlib_store
from stockmonitor_assets_tests.test_qlib_provider import DAYS, day_frame

calls = 0
real = qlib_store.write_values
def dying(*args):
    global calls
    calls += 1
    if calls > int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    real(*args)
qlib_store.write_values = dying
days = DAYS[int(sys.argv[3]):int(sys.argv[4])]
qlib_store.QlibProvider(sys.argv[1]).write_chunk(day_frame(days, lambda i, d: -1.0), days, DAYS)
"""


@pytest.mark.parametrize("files_before_kill", [1, 3])
def test_a_writer_killed_mid_update_leaves_what_qlib_read_before(tmp_path, files_before_kill):
    """Killed after some feature files of two new days: qlib still reads the old provider
    (same calendar, same values); the rerun then completes it."""
    provider = QlibProvider(tmp_path)
    provider.write_chunk(day_frame(DAYS[:10]), DAYS[:10], DAYS)
    codes, fields = ["SH600000", "SZ000001"], ["$close", "$score"]
    open_qlib(tmp_path)
    before = D.features(codes, fields, start_time=str(DAYS[0]), end_time=str(DAYS[-1]))
    script = [sys.executable, "-c", textwrap.dedent(KILLER), str(tmp_path)]
    died = subprocess.run([*script, str(files_before_kill), "10", "12"], cwd=os.getcwd())
    assert died.returncode == -signal.SIGKILL
    open_qlib(tmp_path)
    after_kill = D.features(codes, fields, start_time=str(DAYS[0]), end_time=str(DAYS[-1]))
    pd.testing.assert_frame_equal(after_kill, before)
    assert [d.date() for d in D.calendar()] == DAYS[:10]
    provider.write_chunk(day_frame(DAYS[10:12]), DAYS[10:12], DAYS)  # the rerun
    open_qlib(tmp_path)
    rerun = D.features(codes, fields, start_time=str(DAYS[0]), end_time=str(DAYS[-1]))
    assert len(rerun) == len(before) + 4
    assert rerun.loc[("SZ000001", pd.Timestamp(DAYS[11])), "$close"] == 100 + DAYS[11].day


def test_the_asset_refuses_a_gap_naming_it_and_writes_nothing(run):
    pipeline, path, _ = run
    later = tc.sessions(qm.LAST, qm.LAST + dt.timedelta(days=10))[2]
    before = {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}
    with pipeline.settings_set(STOCKMONITOR_QLIB_DIR=str(path)):
        result = pipeline.materialize(
            qm.ASSETS, tc.partition_key(later), selection=["qlib_provider"], raise_on_error=False
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert f"qlib provider ends on {qm.LAST}" in message and "without data" in message
    assert {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()} == before


def test_the_asset_is_skipped_visibly_when_no_local_directory_is_kept(run):
    pipeline, path, _ = run
    before = {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}
    with pipeline.settings_set(STOCKMONITOR_QLIB_DIR="off"):
        key = tc.partition_key(qm.LAST)
        result = pipeline.materialize(qm.ASSETS, key, selection=["qlib_provider"])
    assert result.success and not result.get_asset_materialization_events()
    logs = [r.user_message for r in pipeline.instance.all_logs(result.run_id)]
    assert any("qlib_provider skipped" in m and "STOCKMONITOR_QLIB_DIR=off" in m for m in logs)
    assert {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()} == before
    assert Settings.from_env({"DATA_DIR": "s3://bucket/data"}).qlib_dir is None
    assert Settings.from_env({"DATA_DIR": "/srv/data"}).qlib_dir == "/srv/data/qlib"


@pytest.mark.parametrize("environ", [{"STOCKMONITOR_QLIB_DIR": "off"}, {"DATA_DIR": "s3://b/d"}])
def test_the_code_location_shows_an_unkept_directory_as_never_run(environ):
    """Where no local directory is kept the asset stays in the graph but cannot run, so
    "Materialize all", UI backfills and the scoring job leave it out (a run that wrote
    nothing for it would end a backfill "completed with failures")."""
    import dagster as dg

    from stockmonitor_assets.definitions import build_defs

    def scoring_job_and_node(variables):
        defs = build_defs(Settings.from_env({**os.environ, **variables}))
        job = defs.resolve_job_def("scoring_and_save_job")
        node = defs.resolve_asset_graph().get(dg.AssetKey("qlib_provider"))
        return {k.to_user_string() for k in job.asset_layer.selected_asset_keys}, node

    selected, node = scoring_job_and_node(environ)
    assert not node.is_executable and "Not kept" in node.description
    assert "qlib_provider" not in selected and {"merged", "scores"} <= selected
    selected, node = scoring_job_and_node({"STOCKMONITOR_QLIB_DIR": "/srv/qlib"})
    assert node.is_executable and "qlib_provider" in selected
