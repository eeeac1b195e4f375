"""The demo source: a deterministic synthetic A-share market realistic enough to exercise
every rule of the pipeline.

Covers: reproducibility from (seed, universe_size, date) alone; RQDatac codes per board;
limit bands (by board, ST, ChiNext reform, none after listing) and limit hits; OHLC order;
lost rows and NaN/null fields at realistic rates; long suspensions; ex-dividend continuity
of back-adjusted prices; listings and delistings; point-in-time fundamentals; refusal of
closed and unpublished days; output dtypes per `schemas.py`.
"""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from stockmonitor_assets import trading_calendar as tc
from stockmonitor_assets.schemas import EX_FACTORS, FUNDAMENTALS, INSTRUMENTS, SOURCE_BARS
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.sources.base import DataNotAvailableError, MarketDataSource
from stockmonitor_assets.sources.demo import DEMO_EPOCH, DemoMarket, clear_caches
from stockmonitor_assets_tests.conftest import DEMO_CACHE

SHANGHAI = ZoneInfo("Asia/Shanghai")
LATE = dt.datetime(2030, 1, 2, 16, 0, tzinfo=SHANGHAI)  # everything up to 2029 is published
PRICES = ("open", "high", "low", "close")


def market(
    size: int = 300, seed: int = 7, now: dt.datetime = LATE, cache_dir: Path = DEMO_CACHE
) -> DemoMarket:
    return DemoMarket(seed=seed, universe_size=size, clock=lambda: now, cache_dir=cache_dir)


def all_ids(source: DemoMarket, day: dt.date) -> list[str]:
    return source.instruments(day)["order_book_id"].to_list()


def undamaged(bars: pl.DataFrame) -> pl.DataFrame:
    return bars.filter(
        pl.all_horizontal(pl.col(c).is_not_null() & ~pl.col(c).is_nan() for c in PRICES)
    )


def round_half_up(value: float) -> float:
    return int(value * 100 + 0.5 + 1e-9) / 100


@pytest.fixture(scope="module")
def demo() -> DemoMarket:
    return market()


@pytest.fixture(scope="module")
def bars_2021(demo) -> pl.DataFrame:
    """A year of bars of every stock listed at some point of 2021."""
    ids = set(all_ids(demo, dt.date(2021, 1, 4))) | set(all_ids(demo, dt.date(2021, 12, 31)))
    return demo.daily_bars(sorted(ids), dt.date(2021, 1, 1), dt.date(2021, 12, 31))


def test_demo_market_implements_the_source_interface(demo):
    assert isinstance(demo, MarketDataSource)
    assert demo.name == "demo"


def test_same_seed_and_size_give_identical_frames_whatever_was_asked_before():
    day, ids = dt.date(2021, 3, 5), ["600000.XSHG"]
    clear_caches()
    first = market()
    first.daily_bars(all_ids(first, dt.date(2023, 5, 5)), dt.date(2023, 5, 1), dt.date(2023, 5, 5))
    ids = all_ids(first, day)
    before = (
        first.instruments(day),
        first.daily_bars(ids, dt.date(2021, 3, 1), day),
        first.ex_factors(ids, day, day),
        first.fundamentals_pit(ids, day),
    )
    clear_caches()
    fresh = market()
    after = (
        fresh.instruments(day),
        fresh.daily_bars(ids, dt.date(2021, 3, 1), day),
        fresh.ex_factors(ids, day, day),
        fresh.fundamentals_pit(ids, day),
    )
    for a, b in zip(before, after, strict=True):
        assert a.equals(b)
    other_seed = market(seed=8).daily_bars(ids, day, day)
    assert not other_seed.equals(after[1].filter(pl.col("date") == day))


def test_disk_cache_of_simulated_years_changes_no_number(tmp_path):
    """A new process reads simulated years from CACHE_DIR; fresh, cached and corrupt-cache
    runs give the same frames."""
    cache_dir = Settings.from_env({"CACHE_DIR": str(tmp_path)}).demo_cache_dir
    day = dt.date(2007, 6, 29)

    def frames():
        clear_caches()  # as a new process
        source = market(size=120, cache_dir=cache_dir)
        ids = all_ids(source, day)
        return source.daily_bars(ids, dt.date(2007, 1, 1), day), source.ex_factors(ids, day, day)

    fresh = frames()
    stored = sorted((tmp_path / "demo").glob("*.npz"))
    assert [p.name.split("-")[3] for p in stored] == ["2005", "2006", "2007"]
    cached = frames()
    stored[-2].write_bytes(b"not a zip")  # a damaged file is ignored and rewritten
    stored[-1].unlink()
    repaired = frames()
    for a, b, c in zip(fresh, cached, repaired, strict=True):
        assert a.equals(b) and a.equals(c)
    assert stored[-1].exists() and stored[-2].stat().st_size > 100


def test_smaller_universe_is_a_prefix_of_a_larger_one():
    small, large = market(size=100), market(size=300)
    day = dt.date(2016, 6, 1)
    ids = all_ids(small, day)
    assert set(ids) <= set(all_ids(large, day))
    bars = (dt.date(2016, 1, 4), day)
    assert small.daily_bars(ids, *bars).equals(large.daily_bars(ids, *bars))


@pytest.mark.parametrize(
    ("prefixes", "exchange", "board"),
    [
        (("600", "601", "603", "605"), "XSHG", "main"),
        (("000", "001", "002", "003"), "XSHE", "main"),
        (("300", "301"), "XSHE", "chinext"),
        (("688",), "XSHG", "star"),
        (("43", "83", "87"), "BJSE", "bse"),
    ],
)
def test_codes_follow_rqdatac_form_and_board(demo, prefixes, exchange, board):
    listed = demo.instruments(dt.date(2026, 6, 1))
    matching = listed.filter(pl.col("order_book_id").str.starts_with(prefixes[0]))
    for prefix in prefixes[1:]:
        matching = pl.concat(
            [matching, listed.filter(pl.col("order_book_id").str.starts_with(prefix))]
        )
    assert len(matching) > 0
    assert (matching["board"] == board).all()
    assert matching["order_book_id"].str.ends_with(f".{exchange}").all()


def test_board_mix_is_roughly_the_real_markets(demo):
    shares = demo.instruments(dt.date(2026, 6, 1))["board"].value_counts(normalize=True)
    share = dict(zip(shares["board"], shares["proportion"], strict=True))
    assert 0.45 < share["main"] < 0.75 and 0.15 < share["chinext"] < 0.35
    assert 0.05 < share["star"] < 0.2 and 0 < share["bse"] < 0.1


def test_closes_stay_within_limits_and_some_close_exactly_at_them(bars_2021):
    limited = undamaged(bars_2021).filter(pl.col("limit_up").is_not_null())
    assert (limited["close"] <= limited["limit_up"]).all()
    assert (limited["close"] >= limited["limit_down"]).all()
    assert (limited["high"] <= limited["limit_up"]).all() and (
        limited["low"] >= limited["limit_down"]
    ).all()
    assert (limited["close"] == limited["limit_up"]).sum() > 20
    assert (limited["close"] == limited["limit_down"]).sum() > 20


def test_limits_are_rounded_bands_on_prev_close_by_board_and_st(demo):
    day = dt.date(2021, 9, 15)
    listed = demo.instruments(day)
    bars = demo.daily_bars(listed["order_book_id"], day, day).join(listed, on="order_book_id")
    bars = bars.filter(pl.col("limit_up").is_not_null())
    expected_band = {"main": 0.10, "chinext": 0.20, "star": 0.20, "bse": 0.30}
    for row in bars.iter_rows(named=True):
        band = 0.05 if row["is_st"] and row["board"] == "main" else expected_band[row["board"]]
        assert row["limit_up"] == round_half_up(row["prev_close"] * (1 + band)), row
        assert row["limit_down"] == round_half_up(row["prev_close"] * (1 - band)), row
    assert bars["is_st"].any()


def test_chinext_band_widened_from_10_to_20_percent_on_2020_08_24(demo):
    chinext = demo.instruments(dt.date(2020, 8, 21)).filter(
        (pl.col("board") == "chinext") & ~pl.col("is_st")
    )
    bars = demo.daily_bars(chinext["order_book_id"], dt.date(2020, 8, 21), dt.date(2020, 8, 24))
    bars = bars.filter(pl.col("limit_up").is_not_null()).with_columns(
        band=(pl.col("limit_up") / pl.col("prev_close") - 1).round(1)
    )
    assert set(bars.filter(pl.col("date") == dt.date(2020, 8, 21))["band"]) == {0.1}
    assert set(bars.filter(pl.col("date") == dt.date(2020, 8, 24))["band"]) == {0.2}


def test_new_listings_trade_without_limits_for_their_first_five_days(demo):
    listed = demo.instruments(dt.date(2023, 12, 29)).filter(pl.col("listed_date").dt.year() == 2023)
    assert len(listed) >= 3
    bars = demo.daily_bars(listed["order_book_id"], dt.date(2023, 1, 1), dt.date(2023, 12, 29))
    for stock, first in listed.select("order_book_id", "listed_date").iter_rows():
        days = tc.sessions(first, first + dt.timedelta(days=30))
        own = bars.filter(pl.col("order_book_id") == stock)
        assert own["date"].min() >= first
        unlimited = own.filter(pl.col("date").is_in(days[:5]))
        assert unlimited["limit_up"].is_null().all() and unlimited["limit_down"].is_null().all()
        assert own.filter(pl.col("date").is_in(days[5:15]))["limit_up"].is_not_null().all()


def test_ohlc_is_ordered_in_cents_with_plausible_volume_and_turnover(bars_2021):
    clean = undamaged(bars_2021)
    ordered = (pl.col("low") <= pl.min_horizontal("open", "close")) & (
        pl.max_horizontal("open", "close") <= pl.col("high")
    )
    assert clean.select(ordered.all()).item()
    assert (clean["low"] > 0).all()
    for c in (*PRICES, "prev_close"):
        assert ((clean[c] * 100).round(6) == (clean[c] * 100).round(0)).all(), c
    assert (clean["volume"] > 0).all()
    assert (clean["total_turnover"] >= clean["volume"] * clean["low"] * 0.999).all()
    assert (clean["total_turnover"] <= clean["volume"] * clean["high"] * 1.001).all()


def test_suspended_days_have_no_row_and_other_rows_go_missing_or_damaged_rarely(demo):
    days = tc.sessions(dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    universe = pl.concat(demo.instruments(d).with_columns(date=pl.lit(d)) for d in days)
    bars = demo.daily_bars(universe["order_book_id"].unique(), days[0], days[-1])
    joined = universe.join(bars, on=["order_book_id", "date"], how="left")
    suspended, trading = joined.filter("is_suspended"), joined.filter(~pl.col("is_suspended"))
    assert len(suspended) > 100 and suspended["close"].is_null().all()
    missing = trading["volume"].is_null().mean()
    assert 0.001 <= missing <= 0.003
    damaged = len(bars) - len(undamaged(bars))
    assert 0.001 <= damaged / len(bars) <= 0.003
    assert bars["close"].is_null().sum() > 0 and bars["close"].is_nan().sum() > 0


@pytest.mark.parametrize("year", [2016, 2020, 2025])
def test_some_stock_is_suspended_for_more_than_300_trading_days(year):
    source = market(size=100)
    days = tc.sessions(dt.date(year, 1, 1), dt.date(year + 2, 12, 31))
    position = {d: i for i, d in enumerate(days)}
    ids = all_ids(source, days[0])
    bars = source.daily_bars(ids, days[0], days[-1]).with_columns(
        n=pl.col("date").replace_strict(position, return_dtype=pl.Int64)
    )
    gaps = bars.sort("date").with_columns(gap=pl.col("n").diff().over("order_book_id"))
    long = gaps.filter((pl.col("gap") > 300) & (pl.col("date").dt.year() <= year + 1))
    assert len(long) >= 1


def test_ex_dividend_day_keeps_back_adjusted_close_continuous(demo):
    """prev_close = last close - dividend, and prev_close x adj = last close x its adj."""
    day = dt.date(2022, 12, 30)
    ids = all_ids(demo, day)
    factors = demo.ex_factors(ids, day, day)
    events = factors.filter(pl.col("ex_date").dt.year() == 2022)
    assert len(events) > 100
    assert set(events["ex_date"].dt.month()) <= {6, 7}
    assert events.group_by("order_book_id").len()["len"].max() == 1
    bars = undamaged(demo.daily_bars(ids, dt.date(2022, 5, 1), dt.date(2022, 8, 31)))
    previous = pl.col("date").shift().over("order_book_id")
    adjusted = (
        bars.sort("date")
        .join_asof(
            factors.sort("ex_date"),
            left_on="date",
            right_on="ex_date",
            by="order_book_id",
            check_sortedness=False,
        )
        .with_columns(adj=pl.col("ex_cum_factor").fill_null(1.0))
        .sort("order_book_id", "date")
        .with_columns(
            previous_close=pl.col("close").shift().over("order_book_id"),
            previous_adj=pl.col("adj").shift().over("order_book_id"),
            previous_date=previous,
        )
    )
    on_ex = adjusted.filter(pl.col("date") == pl.col("ex_date"))
    checked = 0
    for row in on_ex.iter_rows(named=True):
        if row["previous_date"] != tc.nearest_trading_days(row["date"])[0]:
            continue  # no bar the day before: nothing to compare
        checked += 1
        assert row["prev_close"] < row["previous_close"]
        assert row["adj"] == pytest.approx(
            row["previous_adj"] * row["previous_close"] / row["prev_close"], rel=1e-12
        )
        assert row["prev_close"] * row["adj"] == pytest.approx(
            row["previous_close"] * row["previous_adj"], rel=1e-12
        )
    assert checked > 50


def test_delisted_stocks_appear_until_their_delisting_day_then_vanish(demo):
    before = set(all_ids(demo, dt.date(2017, 1, 3)))
    gone = sorted(before - set(all_ids(demo, dt.date(2025, 12, 31))))
    assert gone, "a few % of stocks delist"
    bars = demo.daily_bars(gone, dt.date(2017, 1, 1), dt.date(2025, 12, 31))
    checked = 0
    for stock in gone:
        last_bar = bars.filter(pl.col("order_book_id") == stock)["date"].max()
        listed = demo.instruments(last_bar).filter(pl.col("order_book_id") == stock)
        delisted = listed["de_listed_date"][0]
        if delisted is None:
            continue  # suspended until delisting: announcement not visible on the last bar
        checked += 1
        assert stock not in all_ids(demo, delisted)
        assert stock in all_ids(demo, tc.nearest_trading_days(delisted)[0])
        earlier = tc.sessions(delisted - dt.timedelta(days=60), delisted)[-20]
        assert (
            demo.instruments(earlier).filter(pl.col("order_book_id") == stock)["de_listed_date"][0]
            is None
        )
        assert demo.daily_bars([stock], delisted, delisted + dt.timedelta(days=60)).is_empty()
    assert checked >= 1


def test_new_listings_appear_from_their_listing_day_with_the_ipo_price_as_reference(demo):
    listed = demo.instruments(dt.date(2024, 12, 31)).filter(pl.col("listed_date").dt.year() == 2024)
    assert len(listed) >= 3
    for stock, first in listed.select("order_book_id", "listed_date").iter_rows():
        assert stock not in all_ids(demo, tc.nearest_trading_days(first)[0])
        assert stock in all_ids(demo, first)
    bars = demo.daily_bars(listed["order_book_id"], dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    firsts = (
        bars.group_by("order_book_id").agg(pl.col("date").min()).join(listed, on="order_book_id")
    )
    assert (firsts["date"] >= firsts["listed_date"]).all()


def test_st_names_carry_the_st_prefix(demo):
    listed = demo.instruments(dt.date(2022, 6, 1))
    st = listed.filter("is_st")
    assert len(st) > 0
    assert st["symbol"].str.contains(r"^\*?ST").all()
    assert not listed.filter(~pl.col("is_st"))["symbol"].str.contains("ST").any()


@pytest.mark.parametrize("day", [dt.date(2016, 3, 1), dt.date(2019, 4, 29), dt.date(2024, 8, 30)])
def test_fundamentals_are_point_in_time(demo, day):
    ids = all_ids(demo, day)
    today = demo.fundamentals_pit(ids, day)
    assert len(today) == len(ids)
    assert (today["announce_date"] <= day).all()
    assert (today["report_period"] < today["announce_date"]).all()
    later = demo.fundamentals_pit(
        ids, tc.sessions(day + dt.timedelta(days=90), day + dt.timedelta(days=99))[0]
    )
    progress = today.join(later, on="order_book_id", suffix="_later")
    assert (progress["report_period_later"] >= progress["report_period"]).all()
    assert (progress["report_period_later"] > progress["report_period"]).any()


def test_reports_are_announced_by_the_legal_deadlines(demo):
    seen = pl.concat(
        demo.fundamentals_pit(all_ids(demo, d), d)
        for d in tc.sessions(dt.date(2023, 1, 1), dt.date(2023, 12, 31))[::5]
    ).unique(["order_book_id", "report_period"])
    deadline = {3: (4, 30), 6: (8, 31), 9: (10, 31), 12: (4, 30)}
    for period, announced in seen.select("report_period", "announce_date").iter_rows():
        year = period.year + (period.month == 12)
        assert announced <= dt.date(year, *deadline[period.month])


def test_fundamentals_use_the_days_close_and_the_markets_own_ratios(demo):
    day = dt.date(2024, 5, 6)
    ids = all_ids(demo, day)
    funds = demo.fundamentals_pit(ids, day)
    assert (funds["net_profit_ttm"] < 0).any(), "some loss makers"
    profitable = funds.filter(pl.col("net_profit_ttm") > 0)
    assert (
        profitable["source_pe_ttm"] - profitable["total_market_cap"] / profitable["net_profit_ttm"]
    ).abs().max() < 1e-6
    assert funds.filter(pl.col("net_profit_ttm") <= 0)["source_pe_ttm"].is_null().all()
    assert (funds["float_market_cap"] <= funds["total_market_cap"]).all()
    next_day = tc.nearest_trading_days(day)[1]
    shares = [
        demo.fundamentals_pit(ids, d)
        .join(demo.daily_bars(ids, d, d), on="order_book_id")
        .select("order_book_id", shares=pl.col("total_market_cap") / pl.col("close"))
        for d in (day, next_day)
    ]
    both = shares[0].join(shares[1], on="order_book_id").drop_nans()
    assert ((both["shares"] / both["shares_right"] - 1).abs() < 1e-9).all()


def test_suspended_stock_keeps_its_last_market_cap(demo):
    day = dt.date(2024, 5, 6)
    previous = tc.nearest_trading_days(day)[0]
    suspended = demo.instruments(day).filter("is_suspended")
    suspended_before = demo.instruments(previous).filter("is_suspended")
    ids = sorted(set(suspended["order_book_id"]) & set(suspended_before["order_book_id"]))
    assert ids
    assert demo.fundamentals_pit(ids, day)["total_market_cap"].equals(
        demo.fundamentals_pit(ids, previous)["total_market_cap"]
    )


@pytest.mark.parametrize(
    ("day", "neighbours"),
    [
        (dt.date(2024, 10, 1), ("2024-09-30", "2024-10-08")),
        (dt.date(2024, 6, 15), ("2024-06-14", "2024-06-17")),
    ],
)
def test_non_trading_day_is_refused_naming_it_and_the_nearest_trading_days(demo, day, neighbours):
    for ask in (demo.instruments, lambda d: demo.fundamentals_pit(["600000.XSHG"], d)):
        with pytest.raises(DataNotAvailableError, match=str(day)) as error:
            ask(day)
        assert all(n in str(error.value) for n in neighbours)


def test_days_before_the_epoch_are_refused(demo):
    with pytest.raises(DataNotAvailableError, match="2004-12-31"):
        demo.instruments(dt.date(2004, 12, 31))
    assert demo.trading_days(dt.date(2004, 12, 1), DEMO_EPOCH) == [DEMO_EPOCH]


def test_a_day_is_published_when_its_session_closes_at_1500_shanghai_time():
    day = dt.date(2024, 6, 14)
    before = market(now=dt.datetime(2024, 6, 14, 14, 59, tzinfo=SHANGHAI))
    with pytest.raises(DataNotAvailableError, match="2024-06-14"):
        before.instruments(day)
    with pytest.raises(DataNotAvailableError, match="2024-06-14"):
        before.daily_bars(["600000.XSHG"], dt.date(2024, 6, 10), day)
    assert before.instruments(dt.date(2024, 6, 13)).height > 0
    after_utc = market(now=dt.datetime(2024, 6, 14, 7, 0, tzinfo=dt.UTC))  # 15:00 Shanghai
    ids = all_ids(after_utc, day)
    assert after_utc.daily_bars(ids, dt.date(2024, 6, 10), day)["date"].max() == day
    with pytest.raises(DataNotAvailableError, match="2024-06-17"):
        after_utc.instruments(dt.date(2024, 6, 17))


def test_outputs_conform_to_the_schemas(demo):
    day = dt.date(2023, 7, 14)
    listed = demo.instruments(day)
    ids = listed["order_book_id"].to_list()
    with_day = pl.lit(day).alias("date")
    assert INSTRUMENTS.conform(listed.with_columns(with_day)).drop("date").equals(listed)
    bars = demo.daily_bars(ids, dt.date(2023, 7, 1), day)
    assert bars.schema == SOURCE_BARS.polars_schema and SOURCE_BARS.conform(bars).equals(bars)
    factors = demo.ex_factors(ids, day, day)
    assert factors.schema == EX_FACTORS.polars_schema
    funds = demo.fundamentals_pit(ids, day)
    assert FUNDAMENTALS.conform(funds.with_columns(with_day)).drop("date").equals(funds)
    assert demo.daily_bars(["999999.XSHG"], day, day).schema == SOURCE_BARS.polars_schema


@pytest.mark.parametrize("size", [50, 300, 5000])
def test_well_known_real_codes_are_listed_with_their_real_names(size):
    source = market(size=size)
    listed = source.instruments(dt.date(2024, 10, 8))
    for code, name, listed_on in (
        ("600000.XSHG", "浦发银行", dt.date(1999, 11, 10)),
        ("000001.XSHE", "平安银行", dt.date(1991, 4, 3)),
    ):
        row = listed.filter(pl.col("order_book_id") == code).row(0, named=True)
        assert row["symbol"].removeprefix("*ST").removeprefix("ST") == name
        assert row["listed_date"] == listed_on and row["board"] == "main"
        assert row["de_listed_date"] is None


def test_the_demo_market_starts_on_the_default_history_start():
    assert DEMO_EPOCH == dt.date(2005, 1, 4)
    first = market().instruments(DEMO_EPOCH)
    assert first.height > 100  # about half the stocks were listed before 2005


def test_a_cold_day_in_2026_walks_the_years_holding_few_of_them(tmp_path):
    clear_caches()
    source = market(size=40, cache_dir=tmp_path / "demo")
    source.daily_bars(
        all_ids(source, dt.date(2026, 3, 2)), dt.date(2026, 3, 2), dt.date(2026, 3, 2)
    )
    from stockmonitor_assets.sources.demo_simulation import simulate_year

    assert simulate_year.cache_info().currsize <= 3
    years = sorted(p.name.split("-")[3] for p in (tmp_path / "demo").glob("*.npz"))
    assert years == [str(y) for y in range(2005, 2027)]
