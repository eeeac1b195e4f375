"""An offline stand-in for the `rqdatac` module: documented shapes, recorded calls, faults.

It answers like the SDK does (pandas frames with the SDK's indexes, `None` for nothing,
suspended days as volume-0 rows, `all_instruments(date=D)` filtered like the SDK) for a
six-stock market in January 2024, where 2024-01-10 is a holiday only the source knows.
Faults are queued per function: each call pops and raises the next one, if any.
"""

import datetime as dt
from collections import defaultdict

import pandas as pd

D = dt.date
HOLIDAY = D(2024, 1, 10)
TRADING_DAYS = [
    D(2024, 1, 1) + dt.timedelta(days=i)
    for i in range(1, 31)
    if (D(2024, 1, 1) + dt.timedelta(days=i)).weekday() < 5
    and D(2024, 1, 1) + dt.timedelta(days=i) != HOLIDAY
]
INSTRUMENTS = [
    # order_book_id, symbol, board_type, listed_date, de_listed_date
    ("600000.XSHG", "浦发银行", "MainBoard", "1999-11-10", "0000-00-00"),
    ("300750.XSHE", "宁德时代", "GEM", "2018-06-11", "0000-00-00"),
    ("688981.XSHG", "中芯国际", "KSH", "2020-07-16", "0000-00-00"),
    ("430047.BJSE", "诺思兰德", "BJS", "2014-01-24", "0000-00-00"),
    ("000005.XSHE", "ST星源", "MainBoard", "1990-12-10", "2024-01-15"),
    ("301999.XSHE", "待上市", "GEM", "0000-00-00", "0000-00-00"),
]
ST = {("000005.XSHE", d) for d in TRADING_DAYS}
SUSPENDED = {("600000.XSHG", D(2024, 1, 5)), ("688981.XSHG", D(2024, 1, 16))}
EX_FACTORS = [
    # order_book_id, ex_date, ex_factor, ex_cum_factor
    ("600000.XSHG", D(2020, 6, 1), 1.05, 1.05),
    ("600000.XSHG", D(2024, 1, 8), 1.1, 1.155),
    ("300750.XSHE", D(2024, 1, 29), 1.02, 1.02),
]
REPORTS = [
    # order_book_id, quarter, info_date, net profit TTM, revenue TTM, equity
    ("600000.XSHG", "2023q2", D(2023, 8, 20), 40e9, 180e9, 500e9),
    ("600000.XSHG", "2023q3", D(2023, 10, 28), 38e9, 175e9, 510e9),
    ("600000.XSHG", "2023q3", D(2024, 1, 20), 36e9, 175e9, 505e9),  # restated
    ("600000.XSHG", "2023q4", D(2024, 1, 25), 35e9, 170e9, 515e9),
    ("300750.XSHE", "2023q3", D(2023, 10, 19), 44e9, 400e9, 200e9),
]


class FakeRQDatac:
    """Records every call as (function, kwargs); `faults[function]` are raised first."""

    def __init__(self, faults: dict[str, list[BaseException]] | None = None, missing=()):
        self.calls: list[tuple[str, dict]] = []
        self.faults = defaultdict(list, {k: list(v) for k, v in (faults or {}).items()})
        self.missing = set(missing)  # stocks the server "forgets" (partial responses)

    def calls_to(self, function: str) -> list[dict]:
        return [kwargs for name, kwargs in self.calls if name == function]

    def _called(self, function: str, **kwargs) -> None:
        self.calls.append((function, kwargs))
        if self.faults[function]:
            raise self.faults[function].pop(0)

    def init(self, username=None, password=None, addr=("rqdatad-pro.ricequant.com", 16011), **kw):
        self._called("init", username=username, password=password, addr=addr, **kw)

    def get_trading_dates(self, start_date, end_date, market="cn"):
        self._called("get_trading_dates", start_date=start_date, end_date=end_date, market=market)
        return [d for d in TRADING_DAYS if start_date <= d <= end_date]

    def all_instruments(self, type=None, date=None, market="cn"):
        self._called("all_instruments", type=type, date=date, market=market)
        day = date.isoformat()
        rows = [
            {"order_book_id": i, "symbol": s, "board_type": b, "listed_date": lst,
             "de_listed_date": de, "type": "CS", "special_type": "Normal", "exchange": i[-4:]}
            for i, s, b, lst, de in INSTRUMENTS
            if (lst <= day or lst == "0000-00-00") and (de == "0000-00-00" or de > day)
        ]  # fmt: skip
        return pd.DataFrame(rows)

    def is_st_stock(self, order_book_ids, start_date=None, end_date=None, market="cn"):
        self._called("is_st_stock", order_book_ids=order_book_ids, start_date=start_date,
                     end_date=end_date, market=market)  # fmt: skip
        return self._flags(ST, order_book_ids, start_date, end_date)

    def is_suspended(self, order_book_ids, start_date=None, end_date=None, market="cn"):
        self._called("is_suspended", order_book_ids=order_book_ids, start_date=start_date,
                     end_date=end_date, market=market)  # fmt: skip
        return self._flags(SUSPENDED, order_book_ids, start_date, end_date)

    def get_price(self, order_book_ids, start_date=None, end_date=None, frequency="1d",
                  fields=None, adjust_type="pre", skip_suspended=False, expect_df=True,
                  market="cn"):  # fmt: skip
        self._called("get_price", order_book_ids=order_book_ids, start_date=start_date,
                     end_date=end_date, frequency=frequency, fields=fields,
                     adjust_type=adjust_type, skip_suspended=skip_suspended,
                     expect_df=expect_df, market=market)  # fmt: skip
        assert adjust_type == "none" and not skip_suspended and expect_df
        rows = [
            {"order_book_id": i, "date": pd.Timestamp(d), **bar(i, d)}
            for i in order_book_ids
            if i not in self.missing
            for d in TRADING_DAYS
            if start_date <= d <= end_date and listed(i, d)
        ]
        if not rows:
            return None
        frame = pd.DataFrame(rows).set_index(["order_book_id", "date"])
        return frame[list(fields)]

    def get_ex_factor(self, order_book_ids, start_date=None, end_date=None, market="cn"):
        self._called("get_ex_factor", order_book_ids=order_book_ids, start_date=start_date,
                     end_date=end_date, market=market)  # fmt: skip
        rows = [
            {"ex_date": pd.Timestamp(d), "order_book_id": i, "ex_factor": f, "ex_cum_factor": c,
             "announcement_date": pd.Timestamp(d - dt.timedelta(days=1)), "ex_end_date": pd.NaT}
            for i, d, f, c in EX_FACTORS
            if i in order_book_ids and i not in self.missing
            and (start_date is None or d >= start_date) and (end_date is None or d <= end_date)
        ]  # fmt: skip
        return pd.DataFrame(rows).set_index("ex_date") if rows else None

    def get_pit_financials_ex(self, order_book_ids, fields, start_quarter, end_quarter,
                              date=None, statements="latest", market="cn"):  # fmt: skip
        self._called("get_pit_financials_ex", order_book_ids=order_book_ids, fields=fields,
                     start_quarter=start_quarter, end_quarter=end_quarter, date=date,
                     statements=statements, market=market)  # fmt: skip
        known: dict[tuple[str, str], dict] = {}
        for i, q, info, profit, revenue, equity in sorted(REPORTS, key=lambda r: r[2]):
            if (
                i in order_book_ids
                and i not in self.missing
                and start_quarter <= q <= end_quarter
                and info <= date
            ):
                known[(i, q)] = {
                    "order_book_id": i, "quarter": q, "info_date": pd.Timestamp(info),
                    "np_parent_company_ownersTTM": profit, "operating_revenueTTM": revenue,
                    "equity_parent_company": equity, "if_adjusted": 0,
                }  # fmt: skip
        if not known:
            return None
        frame = pd.DataFrame(list(known.values())).set_index(["order_book_id", "quarter"])
        return frame[["info_date", *fields, "if_adjusted"]]

    def get_factor(self, order_book_ids, factor, start_date=None, end_date=None, universe=None,
                   expect_df=True, market="cn"):  # fmt: skip
        self._called("get_factor", order_book_ids=order_book_ids, factor=factor,
                     start_date=start_date, end_date=end_date, expect_df=expect_df,
                     market=market)  # fmt: skip
        days = [d for d in TRADING_DAYS if start_date <= d <= end_date]
        ids = [i for i in order_book_ids if i not in self.missing]
        index = pd.MultiIndex.from_product(
            [ids, pd.to_datetime(days)], names=["order_book_id", "date"]
        )
        values = {f: [1e9 * (n + 1) + i for i in range(len(index))] for n, f in enumerate(factor)}
        return pd.DataFrame(values, index=index) if len(index) else None

    @staticmethod
    def _flags(marked, ids, start, end):
        days = [d for d in TRADING_DAYS if start <= d <= end]
        data = {i: [(i, d) in marked for d in days] for i in ids}
        return pd.DataFrame(data, index=pd.to_datetime(days))


def listed(order_book_id: str, day: dt.date) -> bool:
    _, _, _, lst, de = next(r for r in INSTRUMENTS if r[0] == order_book_id)
    iso = day.isoformat()
    return lst != "0000-00-00" and lst <= iso and (de == "0000-00-00" or iso < de)


def bar(order_book_id: str, day: dt.date) -> dict:
    """Deterministic unadjusted prices; a suspended day is the SDK's volume-0 filler row."""
    base = 10.0 + sum(map(ord, order_book_id)) % 50 + day.day * 0.1
    if (order_book_id, day) in SUSPENDED:
        return {"open": base, "high": base, "low": base, "close": base, "prev_close": base,
                "volume": 0.0, "total_turnover": 0.0, "limit_up": base * 1.1,
                "limit_down": base * 0.9}  # fmt: skip
    return {"open": base, "high": base + 0.5, "low": base - 0.5, "close": base + 0.2,
            "prev_close": base - 0.1, "volume": 1e6 + day.day, "total_turnover": 1e7 * base,
            "limit_up": round(base * 1.1, 2), "limit_down": round(base * 0.9, 2)}  # fmt: skip
