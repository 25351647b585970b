"""How REST answers map to error classes: unknown outcomes are never rejections."""

from __future__ import annotations

import json

import pytest

from bot4.execution.errors import FatalError, RejectedError, RetryableError, UnknownOutcomeError
from bot4.execution.http_client import _decode


def body(code: int, msg: str = "m") -> bytes:
    return json.dumps({"code": code, "msg": msg}).encode()


@pytest.mark.parametrize(
    ("status", "raw", "write", "kind"),
    [
        (503, b"", True, UnknownOutcomeError),
        (503, b"", False, RetryableError),
        (408, body(-1007), True, UnknownOutcomeError),
        (400, body(-1006), True, UnknownOutcomeError),
        (200, b"{bad", True, UnknownOutcomeError),
        (429, body(-1003), True, RetryableError),
        (400, body(-2010, "Duplicate order sent."), True, RejectedError),
        (400, body(-2013, "Order does not exist."), False, RejectedError),
        (401, body(-2015), True, FatalError),
        (400, body(-1022), False, FatalError),
    ],
)
def test_decode_when_answer_given_then_error_class_decides_reaction(
    status: int, raw: bytes, write: bool, kind: type[Exception]
) -> None:
    with pytest.raises(kind):
        _decode("POST" if write else "GET", "/api/v3/order", status, raw, write)


def test_decode_when_ok_then_body_returned() -> None:
    assert _decode("GET", "/x", 200, b'{"a": 1}', False) == {"a": 1}
