"""Retry with exponential backoff and jitter, for transient source errors only.

Jitter spreads the retries of parallel runs so they do not hit a rate-limited server
in lockstep; errors outside `retry_on` (authentication, quota) propagate at once,
because waiting cannot fix them.
"""

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import polars as pl

from stockmonitor_assets.sources.base import MarketDataSource, TransientSourceError

T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait.

    Attempt n (1-based) that fails waits `min(max_delay, base_delay * 2**(n-1))`, shortened
    by up to `jitter` (a fraction in [0, 1]) at random, before attempt n+1.
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `failed_attempt`-th failure (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (failed_attempt - 1))
        return ceiling * (1 - self.jitter * (rng or random).random())


def retry(
    call: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    retry_on: tuple[type[BaseException], ...] = (TransientSourceError,),
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    what: str = "call",
) -> T:
    """`call()`, retried on `retry_on` errors; the last error is raised when attempts run out.

    Args:
        call: the operation, without arguments (bind them with a lambda or partial).
        policy: attempts and delays.
        retry_on: exception types worth retrying; anything else propagates immediately.
        sleep: injectable for tests.
        rng: source of jitter; injectable for reproducible delays.
        what: names the operation in log messages (must not contain secrets).
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except retry_on as exc:
            if attempt == policy.attempts:
                raise
            wait = policy.delay(attempt, rng)
            logger.warning(
                "%s failed (attempt %d/%d: %s); retrying in %.1f s",
                what,
                attempt,
                policy.attempts,
                exc,
                wait,
            )
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


# Local providers (demo, files) fail transiently only on I/O hiccups: retry fast.
LOCAL_RETRY = RetryPolicy(attempts=4, base_delay=0.2, max_delay=2.0, jitter=0.5)


class RetryingSource:
    """A provider whose every call is retried on `TransientSourceError`.

    For providers that do not retry themselves (demo, files; RQDatac retries each SDK call
    with its own policy). Retrying the one failed call, not the whole asset step, keeps a
    range run from re-fetching every partition, and leaves authentication, quota and
    bad-data errors failing at once.
    """

    def __init__(
        self,
        source: MarketDataSource,
        policy: RetryPolicy = LOCAL_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.source, self.policy, self._sleep = source, policy, sleep
        self.name = source.name

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        return self._call("trading_days", start, end)

    def instruments(self, day: dt.date) -> pl.DataFrame:
        return self._call("instruments", day)

    def daily_bars(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        return self._call("daily_bars", ids, start, end)

    def ex_factors(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        return self._call("ex_factors", ids, start, end)

    def fundamentals_pit(self, ids: Sequence[str], day: dt.date) -> pl.DataFrame:
        return self._call("fundamentals_pit", ids, day)

    def latest_published_day(self) -> dt.date | None:
        return self._call("latest_published_day")

    def _call(self, method: str, *args):
        function = getattr(self.source, method)
        return retry(
            lambda: function(*args), self.policy, sleep=self._sleep, what=f"{self.name}.{method}"
        )
