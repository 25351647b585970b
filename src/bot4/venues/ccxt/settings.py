"""Settings of one ccxt venue, checked before any key is used.

A base-URL override exists only for the local exchange server: signed requests carry the API key
and an HMAC of our parameters, so they must never be pointed at an arbitrary host by a config typo
or an attacker who can edit one file (security checklist S14). TLS verification has no setting.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import ccxt  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
MAX_RECV_WINDOW_MS = 60_000
ADVISED_RECV_WINDOW_MS = 5_000
log = logging.getLogger(__name__)


class VenueSettings(BaseModel):
    """One exchange account's connection settings (the keys come separately, from the secret store)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    exchange: str
    name: str
    symbols: list[str] = Field(min_length=1)
    url: str | None = None
    recv_window_ms: int = Field(default=5000, gt=0)
    timeout_ms: int = Field(default=10_000, gt=0)
    require_ip_restriction: bool = False
    rate_limit_weight_1m: int = Field(default=6000, gt=0)

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        if value not in ccxt.exchanges:
            close = [e for e in ccxt.exchanges if e.startswith(value[:3].lower())][:5]
            hint = f"; close matches: {', '.join(close)}" if close else ""
            raise ValueError(f"exchange: {value!r} is not a ccxt exchange id{hint}")
        return value

    @field_validator("name")
    @classmethod
    def _venue_name(cls, value: str) -> str:
        if not value or not value.replace("_", "").isalnum() or value != value.upper():
            raise ValueError(f"name: bot4 venue names are upper-case letters, digits and _ (got {value!r})")
        return value

    @field_validator("symbols")
    @classmethod
    def _unified_symbols(cls, value: list[str]) -> list[str]:
        for sym in value:
            base, sep, quote = sym.partition("/")
            if not sep or not base or not quote or "/" in quote:
                raise ValueError(f"symbols: {sym!r} is not a ccxt unified spot symbol like 'BTC/USDT'")
        if len(set(value)) != len(value):
            raise ValueError(f"symbols: listed twice: {sorted({s for s in value if value.count(s) > 1})}")
        return value

    @field_validator("url")
    @classmethod
    def _local_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url: expected http(s)://127.0.0.1:<port> (the local exchange server)")
        if parts.username or parts.password:
            raise ValueError("url: must not carry credentials")
        if parts.hostname not in LOCAL_HOSTS:
            raise ValueError(
                f"url: a base-URL override is allowed only for the local exchange server (127.0.0.1/localhost); "
                f"refusing host {parts.hostname!r}: signed requests never go to an arbitrary host"
            )
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("recv_window_ms")
    @classmethod
    def _recv_window(cls, value: int) -> int:
        if value > MAX_RECV_WINDOW_MS:
            raise ValueError(f"recv_window_ms: at most {MAX_RECV_WINDOW_MS} (got {value})")
        if value > ADVISED_RECV_WINDOW_MS:
            log.warning(
                "recv_window_ms=%d is above the advised %d ms: stale signed requests stay valid longer",
                value,
                ADVISED_RECV_WINDOW_MS,
            )
        return value

    @property
    def is_local(self) -> bool:
        """True when pointed at the local exchange server."""
        return self.url is not None
