"""A vendor-style export written as the vendor delivers it (baostock-like CSVs), for tests and
bench/bench_vendor_fixture.py.

`write_vendor_export(directory)` writes 53 stocks × 320 XSHG sessions (2019-06-03 on)
with every convention the files source must accept:

- baostock column names and codes (`date,code,...,preclose,volume,amount,adjustflag,turn,
  tradestatus,pctChg,isST`, `sh.600000`), prices written with 2, 3 or 4 decimals;
- no limit columns (derived from `preclose`), no ex-factor table (cash dividends and bonus
  shares visible only as `preclose != previous close`);
- suspended days delivered three ways: OHLC = previous close with volume 0, the same with
  empty volume/amount, or no row at all;
- ST periods (isST=1, ±5 % band), a stock delisted in the range;
- an old-rule main-board listing (first day +44 %) followed by 25 one-price limit-up days,
  a STAR listing on 2019-07-22 and a ChiNext registration listing on 2020-08-24 (5 days
  without limit);
- one stock's bars in a second file with volume in lots (`volume_unit=lots`);
- quarterly reports announced with a lag, and per-day market caps.

`VendorExport.traded_closes(stock)` gives the test's own view of the data: each traded
bar's close and the cumulative factor computed from the CSV values (close[t-1]/preclose[t]).
"""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from stockmonitor_assets import trading_calendar

FIRST_SESSION = dt.date(2019, 6, 3)
SESSIONS = 320
LIMIT_UP_RUN = 25
HEADER = [
    "date", "code", "open", "high", "low", "close", "preclose", "volume", "amount",
    "adjustflag", "turn", "tradestatus", "pctChg", "isST",
]  # fmt: skip


@dataclass
class Stock:
    code: str  # vendor form, e.g. sh.600000
    order_book_id: str
    board: str
    listed: int = -300  # session index of the listing (negative: before the range)
    delisted: int | None = None
    st_from: int | None = None
    suspended: dict[int, str] = field(default_factory=dict)  # session -> zero / empty / absent
    ex_events: dict[int, float] = field(default_factory=dict)  # session -> close/preclose
    limit_up_run: bool = False
    decimals: int = 2
    in_lots: bool = False


@dataclass
class VendorExport:
    directory: Path
    sessions: list[dt.date]
    stocks: list[Stock]
    bars: pl.DataFrame  # every bar as written, typed (close, preclose, tradestatus, ...)

    def traded_closes(self, order_book_id: str) -> tuple[list[dt.date], np.ndarray, np.ndarray]:
        """(dates, closes, cumulative factors) of the stock's traded bars, from the CSVs."""
        rows = self.bars.filter(pl.col("order_book_id") == order_book_id).sort("date")
        rows = rows.filter(pl.col("close").is_not_null())
        previous = rows["close"].shift(1)
        gap = (previous - rows["preclose"]).abs() > 0.005
        ratio = np.where(
            gap.fill_null(False).to_numpy(), (previous / rows["preclose"]).to_numpy(), 1
        )
        factor = np.cumprod(ratio)
        traded = (rows["tradestatus"] == 1).to_numpy()
        return (
            [d for d, t in zip(rows["date"].to_list(), traded, strict=True) if t],
            rows["close"].to_numpy()[traded],
            factor[traded],
        )


def vendor_stocks() -> list[Stock]:
    """55 stocks covering the conventions above (session indices into the 320 sessions)."""
    stocks = []
    for k in range(40):
        exchange, digits = ("sh", 600000 + k * 3) if k % 2 == 0 else ("sz", 1 + k * 2)
        stock = Stock(f"{exchange}.{digits:06d}", _rq(exchange, digits), "main", decimals=2 + k % 3)
        if k % 5 == 0:
            stock.ex_events = {60 + k: 1.03, 200 + k: 1.3 if k % 10 == 0 else 1.015}
        if k % 4 == 1:
            start = 30 + 3 * k
            stock.suspended = {start: "zero", start + 1: "empty", start + 2: "absent"}
        stocks.append(stock)
    stocks[3].suspended = {i: ("empty", "zero", "absent")[i % 3] for i in range(100, 160)}
    stocks[7].delisted = 250
    for k, code in enumerate((600800, 600801, 2, 600803)):
        exchange = "sh" if code >= 600000 else "sz"
        stock = Stock(f"{exchange}.{code:06d}", _rq(exchange, code), "main", st_from=k * 80)
        stocks.append(stock)
    for code in (300001, 300002, 300003):
        stocks.append(Stock(f"sz.{code}", _rq("sz", code), "chinext", decimals=3))
    stocks.append(Stock("sz.300999", _rq("sz", 300999), "chinext", listed=_index(2020, 8, 24)))
    for code in (688001, 688002):
        stocks.append(Stock(f"sh.{code}", _rq("sh", code), "star", listed=_index(2019, 7, 22)))
    stocks.append(Stock("sh.603999", _rq("sh", 603999), "main", listed=5, limit_up_run=True))
    stocks.append(Stock("sz.002999", _rq("sz", 2999), "main", in_lots=True, decimals=4))
    stocks.append(Stock("sh.601999", _rq("sh", 601999), "main", listed=-2))
    return stocks


def write_vendor_export(directory: Path, seed: int = 2020) -> VendorExport:
    """Write the export under `directory` (bars/, instruments, fundamentals, market_caps)."""
    sessions = trading_calendar.sessions(FIRST_SESSION, FIRST_SESSION + dt.timedelta(days=600))
    sessions = sessions[:SESSIONS]
    rng = np.random.default_rng(seed)
    stocks = vendor_stocks()
    rows = [r for s in stocks for r in _bars_of(s, sessions, rng)]
    bars = pl.DataFrame(rows, schema=_BAR_SCHEMA, orient="row")
    (directory / "bars").mkdir(parents=True, exist_ok=True)
    lots = [s.order_book_id for s in stocks if s.in_lots]
    _write_baostock(bars.filter(~pl.col("order_book_id").is_in(lots)), stocks, directory)
    _write_lots(bars.filter(pl.col("order_book_id").is_in(lots)), directory)
    _write_instruments(stocks, sessions, directory)
    _write_fundamentals(bars, stocks, sessions, directory, rng)
    return VendorExport(directory, sessions, stocks, bars)


_BAR_SCHEMA = {
    "order_book_id": pl.String, "date": pl.Date, "open": pl.Float64, "high": pl.Float64,
    "low": pl.Float64, "close": pl.Float64, "preclose": pl.Float64, "volume": pl.Float64,
    "amount": pl.Float64, "tradestatus": pl.Int64, "isST": pl.Int64, "delivery": pl.String,
}  # fmt: skip


def _bars_of(stock: Stock, sessions: list[dt.date], rng: np.random.Generator) -> list[tuple]:
    first = max(stock.listed, 0)
    last = stock.delisted if stock.delisted is not None else len(sessions)
    close = round(float(rng.uniform(4, 60)), 2)
    rows = []
    for t in range(first, last):
        day, session = sessions[t], t - stock.listed + 1
        is_st = stock.st_from is not None and t >= stock.st_from
        preclose = _tick(close / stock.ex_events[t]) if t in stock.ex_events else close
        kind = stock.suspended.get(t)
        if kind == "absent":
            continue
        if kind is not None:
            volume = None if kind == "empty" else 0.0
            rows.append(_row(stock, day, (preclose,) * 4, preclose, volume, volume, 0, is_st, kind))
            close = preclose
            continue
        up, down = _band(stock, day, session, is_st, preclose)
        if stock.limit_up_run and 2 <= session <= 1 + LIMIT_UP_RUN:
            ohlc = (up,) * 4  # one-price limit-up: opens, trades and closes at the limit
        elif stock.limit_up_run and session == 1:
            ohlc = (_tick(preclose * 1.2), up, _tick(preclose * 1.15), up)
        else:
            ohlc = _ohlc(preclose, up, down, rng)
        volume = float(rng.integers(1, 500) * 100) * (0.05 if stock.limit_up_run else 1.0)
        volume = round(volume / 100) * 100 or 100.0
        amount = round(volume * sum(ohlc) / 4, 2)
        rows.append(_row(stock, day, ohlc, preclose, volume, amount, 1, is_st, "traded"))
        close = ohlc[3]
    return rows


def _row(stock, day, ohlc, preclose, volume, amount, status, is_st, delivery) -> tuple:
    return (stock.order_book_id, day, *ohlc, preclose, volume, amount, status, int(is_st), delivery)


def _band(stock: Stock, day: dt.date, session: int, is_st: bool, preclose: float):
    """(limit up, limit down) as this generator understands the rules; the 44 % first day
    and the registration listings' 5 unlimited sessions (None) included."""
    registration = (stock.board == "star") or (
        stock.board == "chinext" and stock.listed >= _index(2020, 8, 24)
    )
    if registration and 1 <= session <= 5:
        return _tick(preclose * 1.6), _tick(preclose * 0.6)  # free, but plausible
    if session == 1 and stock.board == "main" and stock.listed >= 0:
        return _half_up(preclose, 144), _half_up(preclose, 64)
    percent = (
        20
        if stock.board == "star" or (stock.board == "chinext" and day >= dt.date(2020, 8, 24))
        else (5 if is_st else 10)
    )
    return _half_up(preclose, 100 + percent), _half_up(preclose, 100 - percent)


def _ohlc(preclose, up, down, rng) -> tuple[float, float, float, float]:
    def clipped(x: float) -> float:
        return min(max(_tick(x), down), up)

    open_ = clipped(preclose * (1 + rng.normal(0, 0.006)))
    close = clipped(preclose * (1 + rng.normal(0, 0.02)))
    high = clipped(max(open_, close) * (1 + abs(rng.normal(0, 0.006))))
    low = clipped(min(open_, close) * (1 - abs(rng.normal(0, 0.006))))
    return open_, max(high, open_, close), min(low, open_, close), close


def _half_up(price: float, percent: int) -> float:
    return float(np.floor(round(price * 100) * percent / 100 + 0.5)) / 100


def _tick(x: float) -> float:
    return round(max(x, 0.01), 2)


def _write_baostock(bars: pl.DataFrame, stocks: list[Stock], directory: Path) -> None:
    decimals = {s.order_book_id: s.decimals for s in stocks}
    vendor = {s.order_book_id: s.code for s in stocks}
    for (year,), part in bars.group_by(pl.col("date").dt.year()):
        lines = [",".join(HEADER)]
        for r in part.sort("date", "order_book_id").iter_rows(named=True):
            fmt = f"{{:.{decimals[r['order_book_id']]}f}}"
            price = [fmt.format(r[c]) for c in ("open", "high", "low", "close", "preclose")]
            empty = r["delivery"] == "empty"
            volume = "" if empty else f"{r['volume']:.0f}"
            amount = "" if empty else f"{r['amount']:.2f}"
            change = (r["close"] / r["preclose"] - 1) * 100
            lines.append(
                f"{r['date']},{vendor[r['order_book_id']]},{','.join(price[:4])},{price[4]},"
                f"{volume},{amount},3,{0.1 if r['tradestatus'] else ''},{r['tradestatus']},"
                f"{change:.6f},{r['isST']}"
            )
        (directory / "bars" / f"{year}.csv").write_text("\n".join(lines) + "\n")


def _write_lots(bars: pl.DataFrame, directory: Path) -> None:
    """A second delivery: order_book_id form, volume in lots (手) with a volume_unit column."""
    frame = bars.select(
        "order_book_id", "date", "open", "high", "low", "close",
        pl.col("preclose").alias("prev_close"),
        (pl.col("volume") / 100).alias("volume"),
        pl.lit("lots").alias("volume_unit"),
        pl.col("amount").alias("total_turnover"),
        (pl.col("tradestatus") == 0).alias("is_suspended"),
    )  # fmt: skip
    (directory / "bars" / "lots").mkdir(exist_ok=True)
    frame.write_csv(directory / "bars" / "lots" / "board_lots.csv")


def _write_instruments(stocks: list[Stock], sessions: list[dt.date], directory: Path) -> None:
    def listed(s: Stock) -> dt.date:
        if s.listed >= 0:
            return sessions[s.listed]
        return trading_calendar.sessions(sessions[0] - dt.timedelta(days=900), sessions[0])[
            s.listed - 1
        ]

    frame = pl.DataFrame(
        {
            "code": [s.code for s in stocks],
            "code_name": [f"S{i:02d}" for i in range(len(stocks))],
            "ipoDate": [listed(s) for s in stocks],
            "outDate": [sessions[s.delisted] if s.delisted else None for s in stocks],
            "board": [s.board for s in stocks],
        }
    )
    frame.write_csv(directory / "instruments.csv")


def _write_fundamentals(bars, stocks, sessions, directory, rng) -> None:
    quarters = [dt.date(2019, 3, 31), dt.date(2019, 6, 30), dt.date(2019, 9, 30),
                dt.date(2019, 12, 31), dt.date(2020, 3, 31), dt.date(2020, 6, 30)]  # fmt: skip
    reports = [
        {
            "order_book_id": s.order_book_id,
            "report_period": q,
            "announce_date": q + dt.timedelta(days=int(rng.integers(20, 60))),
            "net_profit_ttm": float(rng.normal(5e8, 4e8)),
            "total_equity": float(rng.uniform(2e9, 9e9)),
            "revenue_ttm": float(rng.uniform(1e9, 2e10)),
        }
        for s in stocks
        for q in quarters
    ]
    pl.DataFrame(reports).write_csv(directory / "fundamentals.csv")
    shares = {s.order_book_id: float(rng.uniform(2e8, 2e9)) for s in stocks}
    caps = bars.filter(pl.col("close").is_not_null()).select(
        "order_book_id",
        "date",
        (pl.col("close") * pl.col("order_book_id").replace_strict(shares)).alias(
            "total_market_cap"
        ),
    )
    caps.with_columns(float_market_cap=pl.col("total_market_cap") * 0.6).write_csv(
        directory / "market_caps.csv"
    )


def _rq(exchange: str, digits: int) -> str:
    return f"{digits:06d}.{'XSHG' if exchange == 'sh' else 'XSHE'}"


def _index(year: int, month: int, day: int) -> int:
    """Session index of a day in the export's calendar (computed from the same rule)."""
    days = trading_calendar.sessions(FIRST_SESSION, dt.date(year, month, day))
    return len(days) - 1
