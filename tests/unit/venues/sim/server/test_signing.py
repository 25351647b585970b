"""Binance request authentication: API key, HMAC-SHA256 over query+body, the timestamp/recvWindow rule."""

from __future__ import annotations

import pytest

from bot4.venues.sim.server.accounts import Account
from bot4.venues.sim.server.signing import ApiError, find_account, sign, verify, verify_ws

ACCT = Account("a", "key", "secret")
NOW = 1_700_000_000_000


def signed(query: str) -> str:
    return f"{query}&signature={sign('secret', query)}"


def params(query: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in query.split("&"))


def code_of(query: str, body: str = "", now: int = NOW) -> int:
    merged = params((query + "&" + body).strip("&"))
    try:
        verify(ACCT, query, body, merged, now)
    except ApiError as exc:
        return exc.code
    return 0


def test_verify_when_signed_query_inside_window_then_accepted() -> None:
    assert code_of(signed(f"symbol=BTCUSDT&timestamp={NOW - 100}")) == 0


def test_verify_when_signature_in_body_then_query_and_body_are_signed_together() -> None:
    query, body = "symbol=BTCUSDT", f"side=BUY&timestamp={NOW}"
    assert code_of(query, f"{body}&signature={sign('secret', query + body)}") == 0


def test_verify_when_signature_wrong_then_1022() -> None:
    assert code_of(f"timestamp={NOW}&signature=00ff") == -1022


def test_verify_when_timestamp_one_second_ahead_then_1021() -> None:
    assert code_of(signed(f"timestamp={NOW + 1000}")) == -1021
    assert code_of(signed(f"timestamp={NOW + 999}")) == 0


def test_verify_when_older_than_recv_window_then_1021() -> None:
    assert code_of(signed(f"timestamp={NOW - 5001}")) == -1021
    assert code_of(signed(f"timestamp={NOW - 5001}&recvWindow=6000")) == 0


def test_verify_when_recv_window_above_60000_then_1131() -> None:
    assert code_of(signed(f"timestamp={NOW}&recvWindow=60001")) == -1131


def test_verify_when_signature_or_timestamp_missing_then_1102() -> None:
    assert code_of(f"timestamp={NOW}") == -1102
    assert code_of(signed("symbol=X")) == -1102


def test_find_account_when_key_missing_or_unknown_then_2014_and_2015() -> None:
    with pytest.raises(ApiError) as missing:
        find_account({"key": ACCT}, None)
    with pytest.raises(ApiError) as unknown:
        find_account({"key": ACCT}, "other")
    assert (missing.value.code, unknown.value.code) == (-2014, -2015)
    assert find_account({"key": ACCT}, "key") is ACCT


def test_verify_ws_when_params_signed_in_sorted_order_then_accepted_else_1022() -> None:
    p = {"timestamp": str(NOW), "apiKey": "key"}
    p["signature"] = sign("secret", f"apiKey=key&timestamp={NOW}")
    verify_ws(ACCT, p, NOW)
    p["signature"] = sign("secret", f"timestamp={NOW}&apiKey=key")
    with pytest.raises(ApiError, match="Signature"):
        verify_ws(ACCT, p, NOW)
