"""The composition root: turns a ``BacktestConfig`` into a wired run.

This is the one place that names concrete implementations (the simulated clock, the bar venue and its
order-manager client, the no-op journal, the pass-through risk hook). Live and paper nodes get their own
builders that swap the clock, venue client and journal and reuse everything else.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from bot4.data.bars import BarSeries
from bot4.data.gaps import find_gaps
from bot4.data.loaders import bundled_path, load_ohlcv
from bot4.engine.backtest import BacktestRunner, Feed, ProgressFn
from bot4.engine.clock import SimClock
from bot4.engine.config import BacktestConfig, ConfigError, DataFeedConfig, RiskConfig, describe_validation_error
from bot4.engine.engine import TradingEngine
from bot4.engine.portfolio import Portfolio
from bot4.engine.risk_hook import PassThroughRisk, RiskHook
from bot4.execution.bar_client import BarClient
from bot4.execution.memory_journal import NullJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.model.errors import DomainError
from bot4.model.instrument import Instrument
from bot4.research.results import BacktestResult, RunEvent
from bot4.strategies.base import Strategy
from bot4.strategies.registry import strategy_class
from bot4.venues.sim.bar_venue import BarVenue

DEFAULT_BUNDLED = "BINANCE-USDM_BTC_USDT_5m.csv"


def load_feed(cfg: DataFeedConfig, fee_rate: Decimal) -> Feed:
    """Load one feed's bars and build its instrument, naming the field when something is wrong."""
    if cfg.path and cfg.bundled:
        raise ConfigError("data: give either path or bundled, not both")
    path = cfg.path or str(bundled_path(cfg.bundled or DEFAULT_BUNDLED))
    bars: BarSeries = load_ohlcv(path, symbol=cfg.symbol, timeframe=cfg.timeframe)
    try:
        inst = Instrument.spot(
            cfg.venue,
            bars.symbol,
            tick_size=cfg.tick_size,
            step_size=cfg.step_size,
            min_quantity=cfg.min_quantity,
            min_notional=cfg.min_notional,
            maker_fee=fee_rate if cfg.maker_fee is None else cfg.maker_fee,
            taker_fee=fee_rate if cfg.taker_fee is None else cfg.taker_fee,
        )
    except DomainError as exc:
        raise ConfigError(f"data {path}: {exc}") from None
    return Feed(inst, bars)


def build_backtest(
    config: BacktestConfig,
    *,
    feeds: list[Feed] | None = None,
    risk: RiskHook | None = None,
    progress: ProgressFn | None = None,
    strategy_classes: dict[str, type[Strategy]] | None = None,
) -> BacktestRunner:
    """Wire clock, venue(s), portfolio, risk hook, engine and strategies for one backtest.

    ``strategy_classes`` adds strategies (user code) to the built-ins by name.
    """
    feeds = feeds if feeds is not None else [load_feed(d, config.fee_rate) for d in config.data]
    instruments: dict[str, Instrument] = {}
    for f in feeds:
        if f.instrument.id in instruments:
            raise ConfigError(f"instrument {f.instrument.id} appears in two data feeds")
        instruments[f.instrument.id] = f.instrument
    quote = feeds[0].instrument.quote
    balances = {quote: config.cash}
    clock = SimClock()
    portfolio = Portfolio(instruments, balances)
    if risk is None and config.risk is not None:
        risk = _risk_engine(config.risk, quote)
    engine = TradingEngine(clock, instruments, portfolio, risk or PassThroughRisk())
    for venue_name in sorted({i.venue for i in instruments.values()}):
        venue_instruments = {k: v for k, v in instruments.items() if v.venue == venue_name}
        venue = BarVenue(venue_name, venue_instruments, balances, clock, engine.on_venue_event, config.slippage_bps)
        engine.add_venue(venue_name, venue, free_balance=venue.free_balance, oms=backtest_oms(venue, clock))

    for entry in config.strategies:
        cls = (strategy_classes or {}).get(entry.name) or strategy_class(entry.name)
        try:
            params = cls.parse_config(entry.params)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, f"strategy {entry.name} params")) from None
        iids = _resolve_instruments(entry.instruments, instruments)
        engine.add_strategy(cls, params, entry.id or entry.name, iids)

    gap_events = [
        RunEvent(
            g.after_ts,
            "DATA_GAP",
            f.instrument.id,
            f"{g.missing_bars} missing {f.bars.timeframe} bar(s) between {_iso(g.after_ts)} and {_iso(g.before_ts)}",
        )
        for f in feeds
        for g in find_gaps(f.bars)
    ]
    return BacktestRunner(engine, clock, feeds, _plain(config), gap_events, progress)


def backtest_oms(venue: BarVenue, clock: SimClock) -> OrderManager:
    """An order manager for a simulated run: no journal to recover from, the engine's per-strategy ids.

    Per-strategy ids (``<strategy>-<n>``) keep runs reproducible and readable; they are unique within
    the account because one engine owns it and resumes each sequence from the journal at start.
    """
    client = BarClient(venue.name)
    client.bind(venue)
    return OrderManager(client, NullJournal(), clock, OmsConfig(caller_ids=True))


def run_backtest(config: BacktestConfig, *, progress: ProgressFn | None = None) -> BacktestResult:
    return build_backtest(config, progress=progress).run()


def _risk_engine(cfg: RiskConfig, quote: str) -> RiskHook:
    """The risk engine a config asks for; a backtest without a state dir gets a fresh one of its own."""
    import tempfile
    from pathlib import Path

    from bot4.risk.audit import AuditLog
    from bot4.risk.engine import RiskEngine
    from bot4.risk.limits import RiskLimits

    limits = RiskLimits.parse(cfg.limits, "risk.limits")
    state_dir = Path(cfg.state_dir) if cfg.state_dir else Path(tempfile.mkdtemp(prefix="bot4-risk-"))
    audit = AuditLog(cfg.audit_url, state_dir / "audit-head.json") if cfg.audit_url else None
    return RiskEngine(limits, state_dir=state_dir, audit=audit, equity_currency=quote)


def _resolve_instruments(names: list[str] | None, instruments: dict[str, Instrument]) -> tuple[str, ...]:
    if names is None:
        return tuple(instruments)
    out = []
    for name in names:
        matches = [iid for iid, inst in instruments.items() if name in (iid, inst.symbol)]
        if len(matches) != 1:
            known = ", ".join(instruments)
            raise ConfigError(f"strategy instrument {name!r} matches {len(matches)} feeds (known: {known})")
        out.append(matches[0])
    return tuple(out)


def _plain(config: BacktestConfig) -> dict[str, Any]:
    data: dict[str, Any] = config.model_dump(mode="json")
    return data


def _iso(ts_ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")
