"""The production source: RiceQuant's RQDatac SDK, batched, retried and cached.

Named `ricequant.py`, not `rqdatac.py`, which would shadow the SDK. `SDK_CALLS` is the one
list of SDK functions and keyword arguments this adapter uses; a contract test checks it
against the installed package, so an SDK upgrade that breaks the adapter fails the suite.

Behaviour:
- `rqdatac.init` runs lazily, once per process (the SDK is thread safe, not fork safe),
  with a license key (`init("license", key)`) or a username/password, at `base_url`.
- Requests are split into batches of `batch_stocks` ids and `batch_days` calendar days.
- Transient errors (connection, timeout, server-internal) are retried with exponential
  backoff and jitter; authentication, permission and quota errors fail at once with a
  message saying what to set or when the quota resets. No secret reaches a message.
- With `cache_dir`, every SDK response about fully published days (as-of day < today,
  Asia/Shanghai) is stored as Parquet, keyed by function and normalized arguments, so
  re-running a partition makes no network call (`ricequant_cache`: private folders, and
  an unreadable file is fetched again).
- Suspended days come back from `get_price(skip_suspended=False)` with volume 0: they
  are dropped here; the completion step marks them `suspended`.
- Fundamentals are point in time: `get_pit_financials_ex(..., date=D)` returns only
  records with info_date <= D (restatements included only from their own info_date);
  per stock the latest report period is used. Net profit and revenue TTM are the SDK's
  own TTM fields (`np_parent_company_ownersTTM`, `operating_revenueTTM`: the sum of the
  last four single quarters as known on D); equity is `equity_parent_company`.
"""

import datetime as dt
import functools
import json
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from rqdatac.share import errors as rq_errors

from stockmonitor_assets import settings
from stockmonitor_assets.schemas import BOARDS, EX_FACTORS, FUNDAMENTALS, INSTRUMENTS, SOURCE_BARS
from stockmonitor_assets.sources import ricequant_cache as cache
from stockmonitor_assets.sources import ricequant_frames as frames
from stockmonitor_assets.sources.base import (
    AuthenticationError,
    DataNotAvailableError,
    QuotaExceededError,
    SourceError,
    TransientSourceError,
)
from stockmonitor_assets.sources.retry import RetryPolicy, retry

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_RETRY = RetryPolicy(attempts=5, base_delay=1.0, max_delay=30.0, jitter=0.5)
logger = logging.getLogger(__name__)

PRICE_FIELDS = frames.PRICE_FIELDS
# SDK field -> FUNDAMENTALS column.
PIT_FIELDS = {
    "np_parent_company_ownersTTM": "net_profit_ttm",
    "operating_revenueTTM": "revenue_ttm",
    "equity_parent_company": "total_equity",
}
# get_factor factor -> FUNDAMENTALS column (server-side names: not checkable offline).
FACTORS = {
    "market_cap_3": "total_market_cap",
    "a_share_market_val_in_circulation": "float_market_cap",
    "pe_ratio_ttm": "source_pe_ttm",
    "pb_ratio_lf": "source_pb",
}
BOARD_TYPES = {"MainBoard": "main", "GEM": "chinext", "KSH": "star", "BJS": "bse"}
assert set(BOARD_TYPES.values()) == set(BOARDS)


@dataclass(frozen=True)
class SdkCall:
    """One SDK function as this adapter calls it."""

    function: str
    varying: tuple[str, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    # Accepted only through **kwargs; the contract test finds them in the docstring.
    documented_kwargs: tuple[str, ...] = ()

    def kwargs(self, **varying: Any) -> dict[str, Any]:
        assert set(varying) == set(self.varying), (self.function, sorted(varying))
        fixed = {k: list(v) if isinstance(v, tuple) else v for k, v in self.fixed.items()}
        return {**varying, **fixed}


_CN = {"market": "cn"}
SDK_CALLS: dict[str, SdkCall] = {
    "init": SdkCall(
        "init", ("username", "password", "addr"), {"enable_bjse": True}, ("enable_bjse",)
    ),
    "trading_dates": SdkCall("get_trading_dates", ("start_date", "end_date"), _CN),
    "instruments": SdkCall("all_instruments", ("date",), {"type": "CS", **_CN}),
    "st": SdkCall("is_st_stock", ("order_book_ids", "start_date", "end_date"), _CN),
    "suspended": SdkCall("is_suspended", ("order_book_ids", "start_date", "end_date"), _CN),
    "bars": SdkCall(
        "get_price",
        ("order_book_ids", "start_date", "end_date"),
        {
            "frequency": "1d",
            "fields": PRICE_FIELDS,
            "adjust_type": "none",
            "skip_suspended": False,
            "expect_df": True,
            **_CN,
        },
    ),
    "ex_factors": SdkCall("get_ex_factor", ("order_book_ids", "start_date", "end_date"), _CN),
    "reports": SdkCall(
        "get_pit_financials_ex",
        ("order_book_ids", "start_quarter", "end_quarter", "date"),
        {"fields": tuple(PIT_FIELDS), "statements": "latest", **_CN},
    ),
    "factors": SdkCall(
        "get_factor",
        ("order_book_ids", "start_date", "end_date"),
        {"factor": tuple(FACTORS), "expect_df": True, **_CN},
    ),
}

_REPORTS = frames.reports(PIT_FIELDS)
_FACTORS = frames.factors(FACTORS)

# SDK exception types -> what the pipeline does about them.
_TRANSIENT = (rq_errors.InternalError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class Credentials:
    """What `rqdatac.init` needs; the secret never appears in repr."""

    username: str
    password: str = field(repr=False)
    address: str | None = None

    @classmethod
    def from_settings(
        cls,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        base_url: str | None = None,
    ) -> "Credentials":
        """A license key wins over username/password; nothing usable raises before any call."""
        address = _parse_address(base_url) if base_url else None
        if api_key:
            return cls("license", api_key, address)
        if username and password:
            return cls(username, password, address)
        key, user, pwd = settings.RQDATAC_SECRETS
        raise AuthenticationError(
            f"RQDatac credentials are missing: set {key} (license key), or both {user} and "
            f"{pwd}" + (f" ({pwd} is empty)" if username else "")
        )


class RiceQuantSource:
    """`MarketDataSource` over the RQDatac SDK.

    Args:
        credentials: login; see `Credentials.from_settings`.
        cache_dir: where published responses are kept (None: no cache).
        sdk: the `rqdatac` module, or a fake with the same functions (tests).
        batch_stocks: ids per request.
        batch_days: calendar days per price request.
        retry_policy: attempts and backoff for transient errors.
        sleep: injectable wait between retries.
        clock: "now" (naive = Asia/Shanghai); decides what is published and cacheable.
        published_at: time of day after which a day's data is complete at the vendor.
    """

    name = "rqdatac"

    def __init__(
        self,
        credentials: Credentials,
        cache_dir: Path | None = None,
        sdk: Any = None,
        batch_stocks: int = 500,
        batch_days: int = 92,
        retry_policy: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        published_at: dt.time = dt.time(17, 0),
    ):
        if batch_stocks < 1 or batch_days < 1:
            raise ValueError("batch_stocks and batch_days must be >= 1")
        self._credentials = credentials
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._sdk = sdk
        self.batch_stocks, self.batch_days = batch_stocks, batch_days
        self._retry_policy = retry_policy
        self._sleep = sleep
        self._clock = clock or (lambda: dt.datetime.now(SHANGHAI))
        self._published_at = published_at
        self._init_pid: int | None = None
        self._init_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RiceQuantSource(username={self._credentials.username!r}, cache={self._cache_dir})"

    # --- the MarketDataSource interface -------------------------------------------------

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        frame = self._request("trading_dates", end, frames.dates, start_date=start, end_date=end)
        return frame["date"].sort().to_list()

    def latest_published_day(self) -> dt.date | None:
        """The latest `get_trading_dates` day up to today whose data is complete (published_at)."""
        today = self._today()
        days = [
            d
            for d in self.trading_days(today - dt.timedelta(days=40), today)
            if dt.datetime.combine(d, self._published_at, SHANGHAI) <= self._now()
        ]
        return days[-1] if days else None

    def instruments(self, day: dt.date) -> pl.DataFrame:
        self._require_trading_day(day)
        listed = self._request("instruments", day, frames.instruments, date=day)
        listed = listed.filter(
            pl.col("listed_date").is_not_null()
            & (pl.col("listed_date") <= day)
            & (pl.col("de_listed_date").is_null() | (pl.col("de_listed_date") > day))
        )
        ids = listed["order_book_id"].unique().sort().to_list()
        flags = self._day_flags(ids, day)
        out = (
            listed.with_columns(board=_board(listed["board_type"]))
            .join(flags, on="order_book_id", how="left")
            .with_columns(pl.col("is_st").fill_null(False))
        )
        return INSTRUMENTS.conform(out.with_columns(date=pl.lit(day))).drop("date")

    def daily_bars(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        self._require_published(end)
        parts = [
            self._request(
                "bars", span_end, frames.bars, order_book_ids=batch, start_date=s, end_date=span_end
            )
            for batch in self._batches(ids)
            for s, span_end in _date_spans(start, end, self.batch_days)
        ]
        traded = pl.concat([SOURCE_BARS.empty(), *parts], how="vertical_relaxed")
        # Suspended days: RQDatac fills them with volume 0; the pipeline marks them itself.
        return SOURCE_BARS.conform(
            traded.filter(pl.col("volume").is_null() | (pl.col("volume") > 0))
        )

    def ex_factors(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        parts = [
            self._request(
                "ex_factors",
                end,
                frames.ex_factors,
                order_book_ids=b,
                start_date=None,
                end_date=end,
            )
            for b in self._batches(ids)
        ]
        found = pl.concat([EX_FACTORS.empty(), *parts], how="vertical_relaxed")
        return EX_FACTORS.conform(found.filter(pl.col("ex_date") <= end).unique())

    def fundamentals_pit(self, ids: Sequence[str], day: dt.date) -> pl.DataFrame:
        self._require_published(day)
        reports, caps = [], []
        quarters = {"start_quarter": f"{day.year - 2}q1", "end_quarter": _quarter(day)}
        for batch in self._batches(ids):
            reports.append(
                self._request("reports", day, _REPORTS, order_book_ids=batch, date=day, **quarters)
            )
            caps.append(
                self._request(
                    "factors", day, _FACTORS, order_book_ids=batch, start_date=day, end_date=day
                )
            )
        latest = frames.latest_reports(pl.concat(reports, how="vertical_relaxed"), day)
        return _fundamentals(latest, pl.concat(caps, how="vertical_relaxed"), day)

    # --- plumbing -----------------------------------------------------------------------

    def _request(
        self, name: str, as_of: dt.date, convert: Callable[[Any], pl.DataFrame], **args: Any
    ) -> pl.DataFrame:
        """One SDK call as a polars frame, from the cache when the days are published."""
        call = SDK_CALLS[name]
        kwargs = call.kwargs(**args)
        path = self._cache_path(call.function, kwargs) if as_of < self._today() else None
        cached = cache.read_cached(path) if path is not None else None
        if cached is not None:
            return cached
        self._ensure_init()
        frame = convert(self._with_retry(call.function, kwargs))
        if path is not None:
            cache.write_cached(frame, path, self._cache_dir)
        return frame

    def _with_retry(self, function: str, kwargs: dict[str, Any]) -> Any:
        extra = {"sleep": self._sleep} if self._sleep else {}
        return retry(
            lambda: self._invoke(function, kwargs),
            self._retry_policy,
            what=f"rqdatac.{function}",
            **extra,
        )

    def _invoke(self, function: str, kwargs: dict[str, Any]) -> Any:
        """One SDK call; its errors become `SourceError`s that carry no SDK exception.

        The SDK's message may quote the password or license key, and Dagster stores the
        whole chain (`__cause__` and `__context__`) in the event log, shown in the UI: the
        translated error is raised outside the `except` block, with a redacted message only.
        """
        try:
            return getattr(self._sdk_module(), function)(**kwargs)
        except Exception as exc:
            translated = self._translate(exc, function)
            if translated is None and isinstance(exc, TypeError) and not self._reveals_secret(exc):
                raise  # our call no longer fits the SDK's signature: keep its traceback
            translated = translated or SourceError(
                f"RQDatac {function} failed: {self._redact(f'{type(exc).__name__}: {exc}')}"
            )
        raise translated from None

    def _translate(self, exc: Exception, function: str) -> SourceError | None:
        detail = self._redact(f"{type(exc).__name__}: {exc}")
        key, user, pwd = settings.RQDATAC_SECRETS
        if isinstance(exc, rq_errors.AuthenticationFailed):
            return AuthenticationError(
                f"RQDatac rejected the credentials ({detail}): set {key} to a valid license key, "
                f"or {user} and {pwd}; {settings.RQDATAC_BASE_URL} selects the server (host:port)"
            )
        if isinstance(exc, rq_errors.PermissionDenied):
            return AuthenticationError(
                f"the RQDatac account may not call {function} ({detail}): ask RiceQuant to enable "
                f"this data set, or use another account ({key} or {user}/{pwd})"
            )
        if isinstance(exc, rq_errors.QuotaExceeded):
            return QuotaExceededError(f"RQDatac {function}: {detail}. {self._quota_reset()}")
        if isinstance(exc, _TRANSIENT):
            return TransientSourceError(f"RQDatac {function}: {detail}")
        if isinstance(exc, rq_errors.RQDataError):
            return SourceError(f"RQDatac {function} failed: {detail}")
        return None

    def _quota_reset(self) -> str:
        now = self._now()
        reset = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
        hours, rest = divmod(int((reset - now).total_seconds()), 3600)
        return (
            f"The account's daily traffic quota is used up; it resets at {reset:%Y-%m-%d %H:%M} "
            f"Asia/Shanghai (in {hours} h {rest // 60} min). Cached days still run offline."
        )

    def _redact(self, text: str) -> str:
        for spelling in secret_spellings(self._credentials.password):
            text = text.replace(spelling, "***")
        return text

    def _reveals_secret(self, exc: BaseException) -> bool:
        """Whether the secret, in any spelling, appears in `exc`'s chain (messages, reprs)."""
        spellings, visited = secret_spellings(self._credentials.password), set()
        while exc is not None and id(exc) not in visited:
            if any(s in str(exc) or s in repr(exc) for s in spellings):
                return True
            visited.add(id(exc))
            exc = exc.__cause__ or exc.__context__
        return False

    def _ensure_init(self) -> None:
        """`rqdatac.init` once in this process; a forked child initializes again."""
        if self._init_pid == os.getpid():
            return
        with self._init_lock:
            if self._init_pid == os.getpid():
                return
            creds = self._credentials
            kwargs = SDK_CALLS["init"].kwargs(
                username=creds.username, password=creds.password, addr=creds.address
            )
            if creds.address is None:
                del kwargs["addr"]  # the SDK's default server
            self._with_retry("init", kwargs)
            self._init_pid = os.getpid()
            logger.info("rqdatac initialized as %s", creds.username)

    def _sdk_module(self) -> Any:
        if self._sdk is None:
            import rqdatac

            self._sdk = rqdatac
        return self._sdk

    def _day_flags(self, ids: list[str], day: dt.date) -> pl.DataFrame:
        st, suspended = [frames.flags_frame("is_st")], [frames.flags_frame("is_suspended")]
        for batch in self._batches(ids):
            args = {"order_book_ids": batch, "start_date": day, "end_date": day}
            st.append(self._request("st", day, frames.flags("is_st"), **args))
            suspended.append(self._request("suspended", day, frames.flags("is_suspended"), **args))
        st_day = pl.concat(st).filter(pl.col("date") == day).drop("date")
        suspended_day = pl.concat(suspended).filter(pl.col("date") == day).drop("date")
        return st_day.join(suspended_day, on="order_book_id", how="full", coalesce=True)

    def _batches(self, ids: Sequence[str]) -> Iterator[list[str]]:
        unique = sorted(set(ids))
        for i in range(0, len(unique), self.batch_stocks):
            yield unique[i : i + self.batch_stocks]

    def _require_trading_day(self, day: dt.date) -> None:
        self._require_published(day)
        if day not in self.trading_days(day, day):
            raise DataNotAvailableError(f"{day} was not a trading day for RQDatac")

    def _require_published(self, day: dt.date) -> None:
        if dt.datetime.combine(day, self._published_at, SHANGHAI) > self._now():
            raise DataNotAvailableError(
                f"RQDatac data for {day} is not complete before {self._published_at:%H:%M} "
                "Asia/Shanghai that day; try again later"
            )

    def _now(self) -> dt.datetime:
        now = self._clock()
        return now.replace(tzinfo=SHANGHAI) if now.tzinfo is None else now.astimezone(SHANGHAI)

    def _today(self) -> dt.date:
        return self._now().date()

    def _cache_path(self, function: str, kwargs: dict[str, Any]) -> Path | None:
        return cache.cache_path(self._cache_dir, function, kwargs) if self._cache_dir else None


@functools.cache
def secret_spellings(secret: str) -> tuple[str, ...]:
    """`secret` as an SDK message may quote it, longest first: as is, escaped by `repr`,
    JSON or `unicode_escape` (once, or twice as in the repr of an exception quoting a repr),
    URL-quoted. A password `s3cr\\et` appears as `s3cr\\\\et` in `repr`: no exact match."""
    if not secret:
        return ()
    escapes = (
        lambda s: repr(s)[1:-1],
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        lambda s: s.encode("unicode_escape").decode("ascii"),
        lambda s: urllib.parse.quote(s, safe=""),
        urllib.parse.quote,
        urllib.parse.quote_plus,
    )
    spellings = {secret}
    for _ in range(2):
        spellings |= {escape(s) for s in spellings for escape in escapes}
    return tuple(sorted(spellings, key=len, reverse=True))


def _fundamentals(latest: pl.DataFrame, caps: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    on_day = caps.filter(pl.col("date") == day).drop("date")
    merged = latest.join(on_day, on="order_book_id", how="full", coalesce=True)
    return FUNDAMENTALS.conform(merged.with_columns(date=pl.lit(day))).drop("date")


def _board(board_type: pl.Series) -> pl.Series:
    unknown = sorted(set(board_type.drop_nulls().to_list()) - set(BOARD_TYPES))
    if unknown or board_type.null_count():
        raise SourceError(
            f"RQDatac returned board_type(s) {unknown or [None]} this adapter does not know; "
            f"known: {sorted(BOARD_TYPES)} (update BOARD_TYPES in ricequant.py)"
        )
    return board_type.replace_strict(BOARD_TYPES, return_dtype=pl.Enum(BOARDS))


def _quarter(day: dt.date) -> str:
    return f"{day.year}q{(day.month - 1) // 3 + 1}"


def _date_spans(start: dt.date, end: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    while start <= end:
        span_end = min(end, start + dt.timedelta(days=days - 1))
        yield start, span_end
        start = span_end + dt.timedelta(days=1)


def _parse_address(base_url: str) -> str:
    """`host:port` (a scheme such as tcp:// is tolerated), validated before any call."""
    address = base_url.split("://", 1)[-1].rstrip("/")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{settings.RQDATAC_BASE_URL}={base_url!r} is not host:port")
    return f"{host}:{port}"
