"""Feeds refuse a configuration that could not work before touching the network, naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot4.data.book.scale import Scale
from bot4.engine.clock import LiveClock
from bot4.venues.streams import MarketFeed, UserStream

SCALE = Scale(Decimal("0.01"), Decimal("0.00001"))


def market(**over: Any) -> MarketFeed:
    kw: dict[str, Any] = {
        "ws_base": "ws://127.0.0.1:1", "rest_base": "http://127.0.0.1:1", "symbols": {"A": "AUSDT"},
        "scales": {"A": SCALE}, "clock": LiveClock(),
        "on_trade": print, "on_quote": print, "on_state": print,
    }  # fmt: skip
    kw.update(over)
    return MarketFeed(**kw)


def user(**over: Any) -> UserStream:
    kw: dict[str, Any] = {
        "ws_base": "ws://127.0.0.1:1", "rest_base": "http://127.0.0.1:1", "api_key": "k", "clock": LiveClock(),
        "symbols": {"A": "AUSDT"}, "on_report": print, "on_gap": print, "on_live": print,
    }  # fmt: skip
    kw.update(over)
    return UserStream(**kw)


@pytest.mark.parametrize(
    ("over", "why"),
    [
        ({"symbols": {}}, "symbols: give at least one"),
        ({"scales": {}}, r"scales: no Scale for instrument\(s\) \['A'\]"),
        ({"stale_after_s": 0}, "stale_after_s: must be > 0"),
        ({"ws_base": "http://x"}, "ws_base: expected ws://"),
        ({"rest_base": "ftp://x"}, "rest_base: expected http://"),
        ({"snapshot_limit": 6000}, "snapshot_limit: Binance serves 1..5000"),
    ],
)
def test_market_feed_when_config_bad_then_refused_naming_the_field(over: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        market(**over)


def test_market_feed_when_new_then_unhealthy_with_no_book_and_unknown_instrument_refused() -> None:
    feed = market()
    assert not feed.healthy("A") and feed.book("A") is None
    assert feed.stream_url == "ws://127.0.0.1:1/stream?streams=ausdt@depth@100ms/ausdt@trade"
    with pytest.raises(KeyError, match="'B' is not fed here"):
        feed.healthy("B")


@pytest.mark.parametrize(
    ("over", "why"),
    [
        ({"api_key": ""}, "api_key: must not be empty"),
        ({"mode": "ws_api"}, "api_secret: the WebSocket API subscription is signed"),
        ({"mode": "fix"}, "mode: 'listen_key' or 'ws_api'"),
        ({"silence_s": -1}, "silence_s: must be > 0"),
        ({"symbols": {}}, "symbols: give at least one"),
        ({"ws_base": "127.0.0.1"}, "ws_base: expected ws://"),
    ],
)
def test_user_stream_when_config_bad_then_refused_naming_the_field(over: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        user(**over)


def test_user_stream_when_new_then_not_healthy_until_live() -> None:
    assert user().healthy is False
