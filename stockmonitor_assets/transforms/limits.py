"""Daily price limits (涨跌停价) derived from `prev_close` by the exchange rules in force.

For vendors that deliver no `limit_up`/`limit_down`. The band depends on the board, the
day, ST status and how many sessions the stock has traded since listing:

- Main board (SSE/SZSE): ±10 %; ST/*ST ±5 % (SSE/SZSE trading rules since 1996-12-16).
- ChiNext (创业板): ±10 % (ST ±5 %) until 2020-08-21; ±20 % for every ChiNext stock from
  2020-08-24, when the registration-system reform took effect (SZSE 创业板交易特别规定,
  2020-06-12, effective 2020-08-24).
- STAR (科创板): ±20 % from its opening on 2019-07-22 (SSE 科创板股票交易特别规定, 2019-03-01).
- BSE (北交所): ±30 % from its opening on 2021-11-15 (北京证券交易所交易规则(试行)); no limit on
  the first day.
- Registration-system listings have no limit on their first 5 sessions: STAR listings since
  2019-07-22, ChiNext listings since 2020-08-24, main-board listings since 2023-04-10 (the
  first main-board registration listings, under the SSE/SZSE trading rules of 2023-02-17).
- Older listings (main board before 2023-04-10, ChiNext before 2020-08-24) had a first-day
  band of +44 % / −36 % of the issue price (SSE/SZSE notices of 2013-12-13 on new shares'
  first trading day, applied from 2014-01-01); the vendor's `prev_close` on the listing day
  is the issue price. First days before 2014 are left unlimited (not modelled).

The price is rounded to the 0.01 tick half up, as the exchanges do; computed in integers
(prices in units of 0.0001) so that 10.05 × 1.1 = 11.055 rounds to 11.06, which a float
product (11.054999…) would not.
"""

import datetime as dt

import polars as pl

STAR_OPENING = dt.date(2019, 7, 22)
CHINEXT_REFORM = dt.date(2020, 8, 24)
MAIN_BOARD_REGISTRATION = dt.date(2023, 4, 10)
FIRST_DAY_BAND_SINCE = dt.date(2014, 1, 1)
UNLIMITED_SESSIONS = 5
FIRST_DAY_UP, FIRST_DAY_DOWN = 44, 36

REQUIRED = ("date", "board", "is_st", "listed_date", "listing_session", "prev_close")


def derive_price_limits(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with `limit_up`/`limit_down` set from the rules above; null when unlimited.

    Args:
        frame: one row per stock-day with `date`, `board` (main/chinext/star/bse), `is_st`,
            `listed_date`, `listing_session` (1 on the listing day, counting sessions) and
            `prev_close` (the exchange reference price; the issue price on the listing day).
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"derive_price_limits needs column(s) {missing}")
    up, down = _band_percent()
    return frame.with_columns(
        limit_up=_rounded(pl.col("prev_close"), 100 + up),
        limit_down=_rounded(pl.col("prev_close"), 100 - down),
    )


def _band_percent() -> tuple[pl.Expr, pl.Expr]:
    """(up %, down %) per row; null where the day has no limit."""
    board, day, listed = pl.col("board"), pl.col("date"), pl.col("listed_date")
    session, st = pl.col("listing_session"), pl.col("is_st").fill_null(False)
    registration = (
        ((board == "star") & (listed >= STAR_OPENING))
        | ((board == "chinext") & (listed >= CHINEXT_REFORM))
        | ((board == "main") & (listed >= MAIN_BOARD_REGISTRATION))
    )
    old_first_day = (
        (board.is_in(["main", "chinext"]))
        & ~registration
        & (session == 1)
        & (listed >= FIRST_DAY_BAND_SINCE)
    )
    unlimited = (
        (registration & (session <= UNLIMITED_SESSIONS))
        | ((board == "bse") & (session == 1))
        | (board.is_in(["main", "chinext"]) & (session == 1) & (listed < FIRST_DAY_BAND_SINCE))
    )
    regular = (
        pl.when(board == "bse")
        .then(30)
        .when((board == "star") | ((board == "chinext") & (day >= CHINEXT_REFORM)))
        .then(20)
        .when(st)
        .then(5)
        .otherwise(10)
    )

    def band(first_day: int) -> pl.Expr:
        return (
            pl.when(unlimited)
            .then(None)
            .when(old_first_day)
            .then(first_day)
            .otherwise(regular)
            .cast(pl.Int64)
        )

    return band(FIRST_DAY_UP), band(FIRST_DAY_DOWN)


def _rounded(prev_close: pl.Expr, percent: pl.Expr) -> pl.Expr:
    """round(prev_close × percent / 100, 2) half up, exactly: prev_close in 0.0001 units."""
    units = (prev_close * 10_000).round(0).cast(pl.Int64)
    cents = (units * percent + 5_000) // 10_000
    return (cents / 100).cast(pl.Float64)
