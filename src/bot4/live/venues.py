"""The one place the node names concrete venue adapters: the ccxt REST client and the stream clients.

Kept apart from ``node.py`` so the node's logic reads against small callables, and a new exchange
means a change here, not in the node. Binance gets our own depth sync and user stream; any other
ccxt exchange gets the generic ccxt.pro market feed (``CcxtMarketFeed``), so paper mode works there.
Live mode also needs a user-data stream (our fills and order updates), which exists for Binance only:
other exchanges are refused for live with an error naming what is missing (``check_live_support``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from bot4.data.book.scale import Scale
from bot4.execution.records import ExecReport
from bot4.live.paper import NodeClock
from bot4.model.errors import ConfigError
from bot4.model.events import QuoteTick, TradeTick
from bot4.model.instrument import Instrument
from bot4.venues.ccxt.settings import VenueSettings
from bot4.venues.streams.ccxt_market import CcxtMarketFeed

# public endpoints per ccxt exchange id when no local URL is configured (REST base, WebSocket base)
PUBLIC_ENDPOINTS = {"binance": ("https://api.binance.com", "wss://stream.binance.com:9443")}
USER_STREAM_EXCHANGES = frozenset({"binance"})  # exchanges with a user-data stream client in bot4
_LOT = Decimal("0.00000001")  # book sizes are checked against the finest lot Binance uses, not the order step


def endpoints(settings: VenueSettings) -> tuple[str, str]:
    """(REST base, WebSocket base) of the venue: the local server's, or the exchange's public ones."""
    if settings.url is not None:
        parts = urlsplit(settings.url)
        ws = "wss" if parts.scheme == "https" else "ws"
        return settings.url, f"{ws}://{parts.netloc}"
    known = PUBLIC_ENDPOINTS.get(settings.exchange)
    if known is None:
        raise ValueError(f"venue.exchange: no stream endpoints known for {settings.exchange!r} (binance only so far)")
    return known


def check_live_support(settings: VenueSettings) -> None:
    """Refuse live mode where bot4 has no user-data stream: fills would only be seen by polling."""
    if settings.exchange not in USER_STREAM_EXCHANGES:
        raise ConfigError(
            f"venue.exchange: live trading on {settings.exchange!r} needs a user-data stream (order updates and "
            f"fills, like bot4.venues.streams.user.UserStream for binance); none exists for it yet. "
            f"Paper mode works there (generic ccxt.pro market data)."
        )


def venue_symbol(inst: Instrument) -> str:
    """Binance's symbol for a unified one: ``BTC/USDT`` -> ``BTCUSDT``."""
    return inst.base + inst.quote


def rest_client(settings: VenueSettings, clock: NodeClock, api_key: str = "", secret: str = "") -> Any:
    """A ``CcxtVenueClient`` (its own request gate and time sync); keys empty for public use (paper)."""
    from bot4.venues.ccxt import CcxtVenueClient, build_exchange

    exchange = build_exchange(settings, api_key, secret)
    return CcxtVenueClient(exchange, clock, settings, secrets=tuple(s for s in (api_key, secret) if s))


def market_feed(
    settings: VenueSettings,
    instruments: dict[str, Instrument],
    clock: NodeClock,
    *,
    on_trade: Callable[[TradeTick], None],
    on_quote: Callable[[QuoteTick], None],
    on_state: Callable[[str, bool, str], None],
    stale_after_s: float,
    may_request: Callable[[], float] | None = None,
) -> Any:
    from bot4.venues.streams.market import MarketFeed

    scales = {iid: Scale(inst.tick_size, min(inst.step_size, _LOT)) for iid, inst in instruments.items()}
    if settings.exchange != "binance":
        return _ClosingCcxtFeed(
            _pro_exchange(settings),
            {iid: inst.symbol for iid, inst in instruments.items()},
            scales,
            clock,
            on_trade=on_trade,
            on_quote=on_quote,
            on_state=on_state,
            stale_after_s=stale_after_s,
        )
    rest, ws = endpoints(settings)
    return MarketFeed(
        ws,
        rest,
        {iid: venue_symbol(inst) for iid, inst in instruments.items()},
        scales,
        clock,
        on_trade=on_trade,
        on_quote=on_quote,
        on_state=on_state,
        stale_after_s=stale_after_s,
        may_request=may_request,
    )


def user_stream(
    settings: VenueSettings,
    api_key: str,
    instruments: dict[str, Instrument],
    clock: NodeClock,
    *,
    on_report: Callable[[ExecReport], None],
    on_gap: Callable[[str], None],
    on_live: Callable[[], None],
    silence_s: float,
    may_request: Callable[[], float] | None = None,
) -> Any:
    from bot4.venues.streams.user import UserStream

    check_live_support(settings)

    rest, ws = endpoints(settings)
    return UserStream(
        ws,
        rest,
        api_key,
        clock,
        {iid: venue_symbol(inst) for iid, inst in instruments.items()},
        on_report=on_report,
        on_gap=on_gap,
        on_live=on_live,
        silence_s=silence_s,
        may_request=may_request,
    )


def _pro_exchange(settings: VenueSettings) -> Any:
    """A public (keyless) ccxt.pro exchange for market data; REST and WebSocket URLs local if ``url`` is set."""
    import ccxt.pro as ccxtpro  # type: ignore[import-untyped]

    from bot4.venues.ccxt.client import _point_at

    ex = getattr(ccxtpro, settings.exchange)({"enableRateLimit": True, "timeout": settings.timeout_ms})
    if settings.url is not None:
        _point_at(ex.urls["api"], settings.url)
    return ex


class _ClosingCcxtFeed(CcxtMarketFeed):
    """The generic feed owning its ccxt.pro exchange: closed (sockets, sessions) when the feed stops."""

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self.exchange.close()
