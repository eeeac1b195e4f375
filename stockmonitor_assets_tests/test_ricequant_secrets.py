"""No RQDatac secret in any exception chain: what Dagster stores in the event log and shows.

Dagster serializes an error with its `__cause__` and `__context__`; the SDK's own messages
may quote the password or license key. Every error the adapter raises is checked whole:
its message, repr, and the formatted chain (`traceback.format_exception`).
"""

import datetime as dt
import traceback

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
