"""How the node assembles its parts: exit codes, retried venue calls, risk, portfolio and strategies.

Split from ``node.py`` so the node reads as a sequence of steps; everything here is the same
composition a backtest does (``bot4.engine.kernel``), with the journal's history replayed first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from bot4.engine.engine import TradingEngine
from bot4.engine.portfolio import Portfolio
from bot4.engine.risk_hook import RiskHook
from bot4.execution.errors import FatalError, VenueError
from bot4.execution.records import JournalSnapshot
from bot4.live.config import NodeConfig
from bot4.model.events import Bar
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO
from bot4.strategies.base import Strategy
from bot4.strategies.registry import strategy_class

log = logging.getLogger("bot4.node")
T = TypeVar("T")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3
EXIT_KEY_PERMISSIONS = 4
EXIT_NOT_RECONCILED = 5


class NodeExit(Exception):
    """The node cannot (or must not) go on; ``code`` is the process exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class NoMatching:
    """The engine's market-data venue slot for a real venue: the exchange matches orders, not bot4."""

    has_working = False

    def on_bar(self, bar: Bar) -> None:
        pass


async def retry_blocking(
    what: str, fn: Callable[[], T], deadline_s: float | None, *, fatal_code: int = EXIT_ERROR
) -> T:
    """Run a blocking venue call in a thread; retry venue failures with backoff until ``deadline_s`` (exit 5).

    A failure is logged and retried, never taken as an answer (B3); ``FatalError`` (a refused key,
    a suspended account) ends the node with ``fatal_code``.
    """
    loop = asyncio.get_running_loop()
    t_end = None if deadline_s is None else loop.time() + deadline_s
    delay = 0.5
    while True:
        try:
            return await asyncio.to_thread(fn)
        except FatalError as exc:
            raise NodeExit(fatal_code, f"{what}: {exc}") from None
        except VenueError as exc:
            log.error("%s failed (%s: %s); retrying in %.1f s", what, type(exc).__name__, exc, delay)
        if t_end is not None and loop.time() + delay > t_end:
            raise NodeExit(EXIT_NOT_RECONCILED, f"{what}: the venue did not answer within {deadline_s} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


def make_risk(cfg: NodeConfig, run_mode: str, quote: str) -> RiskHook:
    """The risk engine with the config's limits; its mode file lives under the mode's state dir."""
    from bot4.risk.audit import AuditLog
    from bot4.risk.engine import RiskEngine
    from bot4.risk.limits import RiskLimits

    rc = cfg.risk
    limits = RiskLimits.parse(rc.limits, "risk.limits")
    state_dir = Path(rc.state_dir).expanduser() if rc.state_dir else cfg.state_path(run_mode) / "risk"
    audit = AuditLog(rc.audit_url, state_dir / "audit-head.json") if rc.audit_url else None
    return RiskEngine(limits, state_dir=state_dir, audit=audit, equity_currency=quote)


def portfolio_from_journal(
    instruments: dict[str, Instrument],
    balances: Mapping[str, Decimal],
    snapshot: JournalSnapshot,
    now_ns: int,
    venue_cash: Mapping[str, Decimal] | None = None,
) -> Portfolio:
    """Book every journaled fill again, so each strategy's position survives a restart.

    Live: the cash is the venue's (``venue_cash``), positions are ours from the journal; paper: the
    starting cash plus the fills gives the simulated cash, as the paper venue computes it.
    """
    portfolio = Portfolio(instruments, dict(balances))
    for row in sorted(snapshot.fills, key=lambda r: (r.fill.ts_event, r.trade_seq)):
        if row.fill.instrument_id in instruments:
            portfolio.apply_fill(row.fill, now_ns)
    if venue_cash is not None:
        for ccy in balances:
            portfolio.cash[ccy] = venue_cash.get(ccy, ZERO)
    return portfolio


def add_strategies(
    engine: TradingEngine,
    cfg: NodeConfig,
    instruments: dict[str, Instrument],
    extra: Mapping[str, type[Strategy]],
) -> None:
    for entry in cfg.strategies:
        cls = extra.get(entry.name) or strategy_class(entry.name)
        iids = resolve_instruments(entry.instruments, instruments)
        engine.add_strategy(cls, cls.parse_config(entry.params), entry.id or entry.name, iids)


def resolve_instruments(names: list[str] | None, instruments: dict[str, Instrument]) -> tuple[str, ...]:
    if names is None:
        return tuple(instruments)
    out = []
    for name in names:
        match = [iid for iid, inst in instruments.items() if name in (iid, inst.symbol)]
        if len(match) != 1:
            raise NodeExit(EXIT_CONFIG, f"strategies.instruments: {name!r} is not one of {sorted(instruments)}")
        out.append(match[0])
    return tuple(out)
