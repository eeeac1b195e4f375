"""The retry helper: exponential backoff with jitter, transient errors only, bounded attempts."""

import random

import pytest

from stockmonitor_assets.sources.base import AuthenticationError, TransientSourceError
from stockmonitor_assets.sources.retry import RetryPolicy, retry


def flaky(failures: list[BaseException], result="ok"):
    calls = []

    def call():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return call, calls


def test_transient_errors_are_retried_until_success():
    call, calls = flaky([TransientSourceError("a"), TransientSourceError("b")])
    sleeps = []
    assert retry(call, RetryPolicy(attempts=3, jitter=0), sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and sleeps == [1.0, 2.0]


def test_delays_grow_exponentially_up_to_the_maximum():
    policy = RetryPolicy(attempts=8, base_delay=0.5, max_delay=3.0, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_only_shortens_delays_within_its_fraction():
    policy = RetryPolicy(base_delay=2.0, jitter=0.25)
    delays = [policy.delay(1, random.Random(seed)) for seed in range(200)]
    assert all(1.5 <= d <= 2.0 for d in delays) and len(set(delays)) > 100


def test_the_last_error_is_raised_when_attempts_run_out():
    call, calls = flaky([TransientSourceError(str(i)) for i in range(5)])
    with pytest.raises(TransientSourceError, match="2"):
        retry(call, RetryPolicy(attempts=3), sleep=lambda s: None)
    assert len(calls) == 3


def test_errors_that_waiting_cannot_fix_propagate_at_once():
    call, calls = flaky([AuthenticationError("no"), TransientSourceError("x")])
    sleeps = []
    with pytest.raises(AuthenticationError):
        retry(call, sleep=sleeps.append)
    assert len(calls) == 1 and sleeps == []


@pytest.mark.parametrize(
    "kwargs", [{"attempts": 0}, {"jitter": 1.5}, {"base_delay": -1}, {"max_delay": -1}]
)
def test_nonsense_policies_are_rejected(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
