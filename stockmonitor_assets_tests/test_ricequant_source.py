"""The RQDatac adapter: SDK contract, mapping to schemas, batching, retries, errors, cache.

Everything runs against `fake_rqdatac.FakeRQDatac` (never the network), except the
contract test, which inspects the installed `rqdatac` package offline.
"""

import datetime as dt
import inspect
import logging
import time

import polars as pl
import pytest
import rqdatac
from rqdatac.services.detail.get_price_df import DAYBAR_FIELDS
from rqdatac.services.financial import FIELDS_LIST_EX
from rqdatac.share import errors as rq_errors

from stockmonitor_assets.schemas import EX_FACTORS, FUNDAMENTALS, INSTRUMENTS, SOURCE_BARS
from stockmonitor_assets.sources.base import (
    AuthenticationError,
    DataNotAvailableError,
    MarketDataSource,
    QuotaExceededError,
    SourceError,
)
from stockmonitor_assets.sources.retry import RetryPolicy
from stockmonitor_assets.sources.ricequant import (
    PIT_FIELDS,
    PRICE_FIELDS,
    SDK_CALLS,
    Credentials,
    RiceQuantSource,
)
from stockmonitor_assets_tests.fake_rqdatac import HOLIDAY, FakeRQDatac

D = dt.date
NOW = dt.datetime(2024, 2, 1, 20, 30)  # Asia/Shanghai: all of January is published
IDS = ["600000.XSHG", "300750.XSHE", "688981.XSHG", "430047.BJSE", "000005.XSHE"]
SECRET = "sentinel-Pa55word-do-not-log"


def make_source(sdk=None, clock=NOW, sleeps=None, **kwargs) -> RiceQuantSource:
    return RiceQuantSource(
        Credentials("user@example.com", SECRET, "rq.example.com:16011"),
        sdk=sdk if sdk is not None else FakeRQDatac(),
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        clock=lambda: clock,
        retry_policy=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05),
        **kwargs,
    )


def without(schema, column):
    return [n for n in schema.names if n != column]


@pytest.mark.parametrize("call", SDK_CALLS.values(), ids=lambda c: c.function)
def test_every_sdk_call_matches_the_installed_rqdatac_signature(call):
    function = getattr(rqdatac, call.function)
    parameters = inspect.signature(function).parameters
    for name in (*call.varying, *call.fixed):
        if name in call.documented_kwargs:
            assert any(p.kind is p.VAR_KEYWORD for p in parameters.values())
            assert name in (function.__doc__ or ""), f"{call.function}({name}=) undocumented"
        else:
            assert name in parameters, f"rqdatac.{call.function} has no parameter {name!r}"
            assert parameters[name].kind not in (inspect.Parameter.VAR_KEYWORD,)


def test_requested_fields_and_mapped_errors_exist_in_the_installed_sdk():
    assert set(PRICE_FIELDS) <= set(DAYBAR_FIELDS["common"] + DAYBAR_FIELDS["stock"])
    assert set(PIT_FIELDS) <= set(FIELDS_LIST_EX)
    for name in ("AuthenticationFailed", "PermissionDenied", "QuotaExceeded", "InternalError"):
        assert issubclass(getattr(rq_errors, name), rq_errors.RQDataError)


def test_adapter_implements_the_source_interface():
    assert isinstance(make_source(), MarketDataSource)


def test_instruments_map_boards_st_and_listing_status():
    sdk = FakeRQDatac()
    out = make_source(sdk).instruments(D(2024, 1, 12))
    assert out.columns == without(INSTRUMENTS, "date")
    rows = {r["order_book_id"]: r for r in out.iter_rows(named=True)}
    assert "301999.XSHE" not in rows  # listed_date 0000-00-00: not yet listed
    assert {i: r["board"] for i, r in rows.items()} == {
        "000005.XSHE": "main",
        "300750.XSHE": "chinext",
        "430047.BJSE": "bse",
        "600000.XSHG": "main",
        "688981.XSHG": "star",
    }
    assert rows["000005.XSHE"]["is_st"] and rows["000005.XSHE"]["de_listed_date"] == D(2024, 1, 15)
    assert rows["600000.XSHG"]["de_listed_date"] is None and not rows["600000.XSHG"]["is_st"]
    assert sdk.calls_to("all_instruments") == [
        {"type": "CS", "date": D(2024, 1, 12), "market": "cn"}
    ]


def test_instruments_of_a_delisted_stock_stop_at_its_delisting_day():
    out = make_source().instruments(D(2024, 1, 15))
    assert "000005.XSHE" not in out["order_book_id"].to_list()


def test_holiday_known_only_to_the_source_is_not_a_trading_day():
    source = make_source()
    assert HOLIDAY not in source.trading_days(D(2024, 1, 8), D(2024, 1, 12))
    with pytest.raises(DataNotAvailableError, match="not a trading day"):
        source.instruments(HOLIDAY)


def test_unpublished_day_is_refused_before_any_call():
    sdk = FakeRQDatac()
    source = make_source(sdk, clock=dt.datetime(2024, 1, 12, 15, 0))
    with pytest.raises(DataNotAvailableError, match="not complete"):
        source.daily_bars(IDS, D(2024, 1, 8), D(2024, 1, 12))
    assert sdk.calls == []


def test_daily_bars_are_unadjusted_and_suspended_filler_rows_are_dropped():
    sdk = FakeRQDatac()
    bars = make_source(sdk).daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 19))
    assert bars.columns == SOURCE_BARS.names
    assert SOURCE_BARS.conform(bars).equals(bars)
    days = set(bars.select("order_book_id", "date").iter_rows())
    assert ("600000.XSHG", D(2024, 1, 5)) not in days  # volume 0: suspended
    assert ("688981.XSHG", D(2024, 1, 16)) not in days
    assert ("600000.XSHG", D(2024, 1, 4)) in days
    assert ("000005.XSHE", D(2024, 1, 15)) not in days  # delisted
    (call,) = sdk.calls_to("get_price")
    assert call["adjust_type"] == "none" and call["skip_suspended"] is False
    assert call["fields"] == list(PRICE_FIELDS)


def test_requests_are_batched_by_stock_count_and_date_span():
    sdk = FakeRQDatac()
    source = make_source(sdk, batch_stocks=2, batch_days=7)
    batched = source.daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 19))
    calls = sdk.calls_to("get_price")
    assert len(calls) == 3 * 3  # 5 stocks in 3 batches x 18 days in 3 spans
    assert max(len(c["order_book_ids"]) for c in calls) == 2
    assert all((c["end_date"] - c["start_date"]).days < 7 for c in calls)
    assert batched.equals(make_source().daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 19)))


def test_transient_errors_are_retried_with_backoff_and_give_the_fault_free_result():
    faults = [ConnectionError("reset"), rq_errors.GatewayError(), rq_errors.InternalError()]
    sdk, sleeps = FakeRQDatac(faults={"get_price": faults}), []
    out = make_source(sdk, sleeps=sleeps).daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 19))
    assert out.equals(make_source().daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 19)))
    assert len(sdk.calls_to("get_price")) == 4
    assert len(sleeps) == 3 and sleeps[0] <= 0.01 and sleeps[2] <= 0.04


@pytest.mark.parametrize(
    "fault", [rq_errors.AuthenticationFailed("bad licence"), rq_errors.PermissionDenied()]
)
def test_rejected_credentials_fail_fast_without_a_retry_loop(fault):
    sdk, sleeps = FakeRQDatac(faults={"init": [fault]}), []
    started = time.monotonic()
    with pytest.raises(AuthenticationError, match="RQDATAC_API_KEY") as raised:
        make_source(sdk, sleeps=sleeps).trading_days(D(2024, 1, 2), D(2024, 1, 5))
    assert time.monotonic() - started < 5
    assert sleeps == [] and len(sdk.calls_to("init")) == 1
    assert "RQDATAC_USERNAME" in str(raised.value) and "RQDATAC_PASSWORD" in str(raised.value)


def test_quota_exhausted_fails_at_once_saying_when_it_resets():
    sdk, sleeps = FakeRQDatac(faults={"get_price": [rq_errors.QuotaExceeded()]}), []
    with pytest.raises(QuotaExceededError) as raised:
        make_source(sdk, sleeps=sleeps).daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 5))
    assert "resets at 2024-02-02 00:00 Asia/Shanghai (in 3 h 30 min)" in str(raised.value)
    assert sleeps == []


def test_other_sdk_errors_are_not_retried():
    sdk = FakeRQDatac(faults={"get_price": [rq_errors.BadRequest("bad field")]})
    with pytest.raises(SourceError, match="BadRequest: bad field"):
        make_source(sdk).daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 5))
    assert len(sdk.calls_to("get_price")) == 1


def test_partial_responses_leave_missing_stocks_absent():
    source = make_source(FakeRQDatac(missing={"300750.XSHE", "600000.XSHG"}))
    bars = source.daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 5))
    assert set(bars["order_book_id"]) == {"688981.XSHG", "430047.BJSE", "000005.XSHE"}
    assert source.ex_factors(IDS, D(2024, 1, 2), D(2024, 1, 31)).is_empty()
    funds = source.fundamentals_pit(IDS, D(2024, 1, 12))
    assert "300750.XSHE" not in funds["order_book_id"].to_list()


def test_nothing_found_gives_empty_frames_in_contract():
    source = make_source()
    assert source.daily_bars(["301999.XSHE"], D(2024, 1, 2), D(2024, 1, 5)).is_empty()
    factors = source.ex_factors(["688981.XSHG"], D(2024, 1, 2), D(2024, 1, 5))
    assert factors.is_empty() and factors.columns == EX_FACTORS.names


def test_ex_factors_cover_all_history_up_to_end():
    sdk = FakeRQDatac()
    out = make_source(sdk).ex_factors(IDS, D(2024, 1, 10), D(2024, 1, 19))
    assert out.rows() == [
        ("600000.XSHG", D(2020, 6, 1), 1.05),
        ("600000.XSHG", D(2024, 1, 8), 1.155),
    ]
    assert sdk.calls_to("get_ex_factor")[0]["start_date"] is None


def test_fundamentals_are_point_in_time_and_restatements_do_not_leak():
    source = make_source()
    before = source.fundamentals_pit(IDS, D(2024, 1, 19)).row(
        by_predicate=pl.col("order_book_id") == "600000.XSHG", named=True
    )
    assert (before["report_period"], before["announce_date"]) == (D(2023, 9, 30), D(2023, 10, 28))
    assert before["net_profit_ttm"] == 38e9  # the restatement of 2024-01-20 is not known yet
    after = source.fundamentals_pit(IDS, D(2024, 1, 22)).row(
        by_predicate=pl.col("order_book_id") == "600000.XSHG", named=True
    )
    assert (after["net_profit_ttm"], after["announce_date"]) == (36e9, D(2024, 1, 20))


def test_fundamentals_carry_market_caps_for_every_stock_and_conform():
    out = make_source().fundamentals_pit(IDS, D(2024, 1, 12))
    assert out.columns == without(FUNDAMENTALS, "date")
    assert out["total_market_cap"].null_count() == 0
    assert out.filter(pl.col("order_book_id") == "430047.BJSE")["report_period"][0] is None


def test_second_request_for_published_days_makes_no_sdk_call(tmp_path):
    first = FakeRQDatac()
    for source in (make_source(first, cache_dir=tmp_path), make_source(cache_dir=tmp_path)):
        results = _one_partition(source)
    second = source._sdk
    assert first.calls and second.calls == []  # not even init
    assert all(a.equals(b) for a, b in zip(results, _one_partition(make_source()), strict=True))


def test_requests_reaching_today_are_not_cached(tmp_path):
    today = dt.datetime(2024, 1, 12, 18, 0)
    make_source(clock=today, cache_dir=tmp_path).daily_bars(IDS, D(2024, 1, 8), D(2024, 1, 12))
    sdk = FakeRQDatac()
    make_source(sdk, clock=today, cache_dir=tmp_path).daily_bars(IDS, D(2024, 1, 8), D(2024, 1, 12))
    assert len(sdk.calls_to("get_price")) == 1


def test_sdk_is_initialized_once_per_process_with_the_given_login(monkeypatch):
    sdk = FakeRQDatac()
    source = make_source(sdk)
    source.trading_days(D(2024, 1, 2), D(2024, 1, 5))
    source.daily_bars(IDS, D(2024, 1, 2), D(2024, 1, 5))
    assert sdk.calls_to("init") == [
        {
            "username": "user@example.com",
            "password": SECRET,
            "addr": "rq.example.com:16011",
            "enable_bjse": True,
        }
    ]
    monkeypatch.setattr("os.getpid", lambda: -42)  # as in a forked child
    source.trading_days(D(2024, 1, 2), D(2024, 1, 5))
    assert len(sdk.calls_to("init")) == 2


def test_license_key_logs_in_as_license_on_the_default_server():
    sdk = FakeRQDatac()
    source = RiceQuantSource(Credentials.from_settings(api_key="LICENSE-KEY"), sdk=sdk)
    source.trading_days(D(2024, 1, 2), D(2024, 1, 5))
    (init,) = sdk.calls_to("init")
    assert (init["username"], init["password"]) == ("license", "LICENSE-KEY")
    assert init["addr"] == ("rqdatad-pro.ricequant.com", 16011)  # SDK default kept


def test_no_secret_value_appears_in_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)
    transient = [ConnectionError(f"lost {SECRET}")]
    rejected = [rq_errors.AuthenticationFailed(f"user/password {SECRET} rejected")]
    source = make_source(FakeRQDatac(faults={"init": transient + rejected}))
    with pytest.raises(AuthenticationError) as raised:
        source.trading_days(D(2024, 1, 2), D(2024, 1, 5))
    assert caplog.records, "the retry should have been logged"
    assert SECRET not in caplog.text
    assert SECRET not in str(raised.value) and SECRET not in repr(source)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def _one_partition(source: RiceQuantSource) -> list[pl.DataFrame]:
    day = D(2024, 1, 12)
    return [
        source.instruments(day),
        source.daily_bars(IDS, day, day),
        source.ex_factors(IDS, day, day),
        source.fundamentals_pit(IDS, day),
        pl.DataFrame({"d": source.trading_days(day, day)}),
    ]
