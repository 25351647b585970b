"""VenueSettings: strict, local-only URL override (S14), recvWindow bounds."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from bot4.venues.ccxt.settings import VenueSettings


def make(**kw: object) -> VenueSettings:
    base: dict[str, object] = {"exchange": "binance", "name": "BINANCE", "symbols": ["BTC/USDT"]}
    return VenueSettings(**{**base, **kw})  # type: ignore[arg-type]


def test_settings_when_defaults_then_spot_binance_with_5s_window_and_no_override() -> None:
    s = make()
    assert (s.url, s.recv_window_ms, s.timeout_ms, s.rate_limit_weight_1m) == (None, 5000, 10_000, 6000)
    assert not s.is_local


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1/api", "https://127.0.0.1:9"])
def test_settings_when_url_is_loopback_then_accepted_as_base(url: str) -> None:
    assert make(url=url).url == url.rsplit("/api", 1)[0]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("https://api.evil.example", "refusing host 'api.evil.example'"),
        ("http://10.0.0.1:80", "refusing host '10.0.0.1'"),
        ("http://user:pw@127.0.0.1:1", "credentials"),
        ("ftp://127.0.0.1", "expected http"),
    ],
)
def test_settings_when_url_is_not_the_local_server_then_refused_naming_why(url: str, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        make(url=url)


def test_settings_when_bad_fields_then_each_refused_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValidationError, match="not a ccxt exchange id"):
        make(exchange="binanse")
    with pytest.raises(ValidationError, match="recv_window_ms: at most 60000"):
        make(recv_window_ms=60_001)
    with pytest.raises(ValidationError, match="BTCUSDT"):
        make(symbols=["BTCUSDT"])
    with pytest.raises(ValidationError, match="extra"):
        make(verify=False)
    with pytest.raises(ValidationError):
        make(timeout_ms="10")  # strict: no coercion
    with caplog.at_level(logging.WARNING):
        make(recv_window_ms=10_000)
    assert "above the advised 5000" in caplog.text
