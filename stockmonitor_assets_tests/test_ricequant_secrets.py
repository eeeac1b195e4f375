"""No RQDatac secret in any exception chain: what Dagster stores in the event log and shows.

Dagster serializes an error with its `__cause__` and `__context__`; the SDK's own messages
may quote the password or license key. Every error the adapter raises is checked whole:
its message, repr, and the formatted chain (`traceback.format_exception`), for the secret
as given and as an SDK may spell it (`repr`, JSON, URL quoting). Only an error of our own
call (a TypeError: the SDK's signature changed) keeps its type and traceback.
"""

import datetime as dt
import json
import traceback
import urllib.parse

import pytest
from rqdatac.share import errors as rq_errors

from stockmonitor_assets.sources.base import SourceError
from stockmonitor_assets.sources.retry import RetryPolicy
from stockmonitor_assets.sources.ricequant import Credentials, RiceQuantSource
from stockmonitor_assets_tests.fake_rqdatac import FakeRQDatac

SECRET = "sentinel-Pa55word-in-an-sdk-message"
NOW = dt.datetime(2024, 2, 1, 20, 30)
DAY = dt.date(2024, 1, 5)
FAULTS = [
    rq_errors.AuthenticationFailed(f"user/password {SECRET} rejected"),
    rq_errors.PermissionDenied(f"no permission for login {SECRET}"),
    rq_errors.QuotaExceeded(f"quota used up by {SECRET}"),
    rq_errors.InternalError(f"server error while checking {SECRET}"),
    ConnectionError(f"reset during login {SECRET}"),
    rq_errors.RQDataError(f"unexpected reply to {SECRET}"),
    ValueError(f"bad argument password={SECRET}"),
]


def _source(faults: list[BaseException], credentials: Credentials) -> RiceQuantSource:
    return RiceQuantSource(
        credentials,
        sdk=FakeRQDatac(faults={"init": faults}),
        sleep=lambda _: None,
        clock=lambda: NOW,
        retry_policy=RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0),
    )


def _chain(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None:
        chain.append(nxt)
    return chain


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__)
@pytest.mark.parametrize(
    "credentials",
    [Credentials("user@example.com", SECRET), Credentials.from_settings(api_key=SECRET)],
    ids=["password", "license-key"],
)
def test_an_sdk_error_quoting_the_secret_leaves_no_trace_of_it(fault, credentials):
    with pytest.raises(SourceError) as raised:
        _source([fault, fault], credentials).trading_days(DAY, DAY)
    error = raised.value
    assert _chain(error) == [error], "the SDK exception must not ride along"
    assert SECRET not in "".join(traceback.format_exception(error))
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert type(fault).__name__ in str(error), "the message still says what happened"


def test_a_programming_error_without_secrets_keeps_its_own_type_and_traceback():
    fault = TypeError("get_trading_dates() got an unexpected keyword argument 'market'")
    with pytest.raises(TypeError, match="unexpected keyword"):
        _source([fault], Credentials("user@example.com", SECRET)).trading_days(DAY, DAY)


ESCAPED_SECRET = "s3cr\\et\"'ü\n"  # a backslash, both quotes, non-ASCII, a newline
SPELLINGS = {
    "repr": repr(ESCAPED_SECRET),
    "repr of repr": repr(repr(ESCAPED_SECRET)),
    "json": json.dumps(ESCAPED_SECRET),
    "unicode_escape": ESCAPED_SECRET.encode("unicode_escape").decode(),
    "url": urllib.parse.quote(ESCAPED_SECRET),
    "url form": urllib.parse.urlencode({"password": ESCAPED_SECRET}),
}


def _leaks(error: BaseException) -> list[str]:
    text = "".join(traceback.format_exception(error)) + repr(error)
    forms = [ESCAPED_SECRET, *SPELLINGS.values(), *(s[1:-1] for s in SPELLINGS.values())]
    return [form for form in forms if len(form) > 4 and form in text]


@pytest.mark.parametrize("spelling", SPELLINGS, ids=list(SPELLINGS))
@pytest.mark.parametrize("kind", [ValueError, rq_errors.AuthenticationFailed, ConnectionError])
def test_an_sdk_error_quoting_an_escaped_spelling_of_the_secret_leaves_no_trace(spelling, kind):
    """`'s3cr\\\\et'` is how `repr` quotes the password `s3cr\\et`: no exact substring."""
    fault = kind(f"login failed with password={SPELLINGS[spelling]}")
    credentials = Credentials("user@example.com", ESCAPED_SECRET)
    with pytest.raises(SourceError) as raised:
        _source([fault, fault], credentials).trading_days(DAY, DAY)
    assert _chain(raised.value) == [raised.value]
    assert _leaks(raised.value) == []
    assert "***" in str(raised.value) and kind.__name__ in str(raised.value)


def test_a_plain_value_error_from_the_sdk_is_translated_and_redacted():
    """Not re-raised as is: its arguments may carry the secret in a spelling not foreseen."""
    fault = ValueError("invalid login payload")
    with pytest.raises(SourceError, match="RQDatac init failed: ValueError: invalid login payload"):
        _source([fault], Credentials("user@example.com", SECRET)).trading_days(DAY, DAY)
