"""Every ccxt exception maps to a bot4 venue error; codes beat classes; messages leak no secret."""

from __future__ import annotations

import ccxt  # type: ignore[import-untyped]
import pytest
from ccxt.base import errors as cx  # type: ignore[import-untyped]

from bot4.execution.errors import FatalError, RejectedError, RetryableError, UnknownOutcomeError
from bot4.venues.ccxt.errors import (
    CLASS_TABLE,
    DuplicateOrderError,
    Outcome,
    RateLimitedError,
    TimeSyncError,
    classify,
    scrub,
)


def all_ccxt_errors() -> list[type[Exception]]:
    out, todo = [], [cx.BaseError]
    while todo:
        klass = todo.pop()
        out.append(klass)
        todo += klass.__subclasses__()
    return [k for k in out if k.__module__.startswith("ccxt")]


def test_table_when_walking_every_ccxt_error_class_then_each_is_listed_explicitly() -> None:
    missing = [k.__name__ for k in all_ccxt_errors() if k not in CLASS_TABLE]
    assert missing == [], f"new ccxt error classes need a documented mapping: {missing}"
    assert len(all_ccxt_errors()) >= 40


@pytest.mark.parametrize("klass", all_ccxt_errors(), ids=lambda k: k.__name__)
def test_classify_when_any_ccxt_error_then_a_bot4_class_matching_the_table(klass: type[Exception]) -> None:
    expected = {
        Outcome.FATAL: (FatalError, FatalError),
        Outcome.REJECTED: (RejectedError, RejectedError),
        Outcome.DUPLICATE: (RejectedError, RejectedError),
        Outcome.RATE_LIMITED: (RateLimitedError, RateLimitedError),
        Outcome.TIME_SYNC: (TimeSyncError, TimeSyncError),
        Outcome.AMBIGUOUS: (UnknownOutcomeError, RetryableError),
        Outcome.RETRYABLE: (RetryableError, RetryableError),
    }[CLASS_TABLE[klass]]
    assert isinstance(classify(klass("binance boom"), write=True), expected[0])
    assert isinstance(classify(klass("binance boom"), write=False), expected[1])
    assert not isinstance(classify(klass("x"), write=False), UnknownOutcomeError)  # reads are never "unknown"


@pytest.mark.parametrize(
    ("exc", "write", "expected", "code"),
    [
        (ccxt.InsufficientFunds('binance {"code":-2010,"msg":"Account has insufficient balance."}'), True,
         RejectedError, -2010),
        (ccxt.BadRequest('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}'), True, RejectedError, -1013),
        (ccxt.OrderNotFound('binance {"code":-2011,"msg":"Unknown order sent."}'), True, RejectedError, -2011),
        (ccxt.OrderNotFound("okx order not found"), False, RejectedError, -2013),
        (ccxt.OperationFailed('binance {"code":-1006,"msg":"Unexpected response"}'), True, UnknownOutcomeError, None),
        (ccxt.RequestTimeout('binance {"code":-1007,"msg":"Timeout waiting"}'), True, UnknownOutcomeError, None),
        (ccxt.RequestTimeout('binance {"code":-1007,"msg":"Timeout waiting"}'), False, RetryableError, None),
        (ccxt.ExchangeNotAvailable("binance POST http://x/api/v3/order 503 Service Unavailable "), True,
         UnknownOutcomeError, None),
        (ccxt.InvalidOrder('binance 500 {"code":-2010,"msg":"whatever"}'), True, UnknownOutcomeError, None),
        (ccxt.ExchangeError('binance {"code":-9999,"msg":"new"}'), True, UnknownOutcomeError, None),
        (ccxt.BadRequest('binance {"code":-1013,"msg":"quantity above 500"}'), True, RejectedError, -1013),
        (ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key"}'), False, FatalError, None),
        (ccxt.PermissionDenied("no"), True, FatalError, None),
        (ccxt.AccountSuspended("no"), True, FatalError, None),
        (ccxt.NotSupported("no"), False, FatalError, None),
        (ccxt.InvalidNonce('binance {"code":-1021,"msg":"Timestamp ahead"}'), True, TimeSyncError, None),
    ],
)  # fmt: skip
def test_classify_when_binance_code_or_class_then_documented_class(
    exc: Exception, write: bool, expected: type[Exception], code: int | None
) -> None:
    err = classify(exc, write=write, operation="submit b4-1 BTC/USDT")
    assert type(err) is expected
    assert "submit b4-1 BTC/USDT" in str(err)
    if code is not None:
        assert isinstance(err, RejectedError) and err.code == code


def test_classify_when_duplicate_order_sent_then_distinct_duplicate_signal_with_code_2010() -> None:
    err = classify(ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'), write=True)
    assert isinstance(err, DuplicateOrderError) and err.code == -2010 and "Duplicate order sent" in err.reason
    assert isinstance(classify(ccxt.DuplicateOrderId("bybit dup"), write=True), DuplicateOrderError)


def test_classify_when_429_or_418_then_rate_limited_with_retry_after_and_ban_flag() -> None:
    e429 = classify(ccxt.DDoSProtection('binance 429 Too Many Requests {"code":-1003}'), write=True, retry_after_s=3)
    assert isinstance(e429, RateLimitedError) and e429.retry_after_s == 3 and not e429.banned
    e418 = classify(ccxt.DDoSProtection("binance 418 I'm a teapot banned until 1"), write=False)
    assert isinstance(e418, RateLimitedError) and e418.banned and e418.retry_after_s is None


def test_classify_when_message_carries_signed_url_and_keys_then_none_of_them_survive() -> None:
    url = "http://127.0.0.1:1/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=deadbeefcafe0123"
    exc = ccxt.RequestTimeout(f"binance GET {url} SENTINEL-SECRET-key SENTINEL-SECRET-sec")
    err = classify(exc, write=False, operation="query", secrets=("SENTINEL-SECRET-key", "SENTINEL-SECRET-sec"))
    text = str(err)
    assert "deadbeefcafe0123" not in text and "SENTINEL-SECRET" not in text
    assert "signature=<redacted>" in text and "/api/v3/order" in text
    assert len(scrub("x" * 1000)) < 400
