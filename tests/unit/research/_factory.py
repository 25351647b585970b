"""Small, exact, hand-made backtest results for the metrics, report and storage tests."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from bot4.data.bars import BarSeries
from bot4.research.results import BacktestResult, FillRecord, RunEvent, TradeRecord

DAY = 86_400 * 1_000_000_000
HOUR = 3_600 * 1_000_000_000
T0 = 1_704_067_200 * 1_000_000_000  # 2024-01-01 00:00:00 UTC


def fill(
    i: int,
    side: str,
    qty: str,
    price: str,
    fee: str,
    fee_ccy: str = "USDT",
    instrument: str = "BINANCE:BTC/USDT",
    ts: int | None = None,
) -> FillRecord:
    return FillRecord(
        ts=T0 + i * DAY if ts is None else ts,
        strategy_id="ema_cross",
        instrument_id=instrument,
        client_order_id=f"O-{i}",
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        fee_currency=fee_ccy,
        liquidity="TAKER",
    )


def trade(pnl: str, return_pct: float = 0.0, i: int = 0) -> TradeRecord:
    return TradeRecord(
        strategy_id="ema_cross",
        instrument_id="BINANCE:BTC/USDT",
        direction="LONG",
        quantity=Decimal("1"),
        entry_ts=T0 + i * DAY,
        entry_price=Decimal("100"),
        exit_ts=T0 + (i + 1) * DAY,
        exit_price=Decimal("100") + Decimal(pnl),
        pnl=Decimal(pnl),
        fees=Decimal("0.1"),
        return_pct=return_pct,
    )


def bars(n: int, instrument: str = "BTC/USDT", step: int = DAY) -> BarSeries:
    close = 100.0 + np.arange(n, dtype=np.float64)
    return BarSeries(
        symbol=instrument,
        timeframe_ns=step,
        ts_open=T0 + np.arange(n, dtype=np.int64) * step,
        open=close - 0.5,
        high=close + 1.0,
        low=close - 1.0,
        close=close,
        volume=np.full(n, 10.0),
    )


def make_result(
    equity: Sequence[float],
    *,
    ts: Sequence[int] | None = None,
    gross: Sequence[float] | None = None,
    starting_cash: str = "100",
    final_equity: str | None = None,
    fills: Sequence[FillRecord] = (),
    trades: Sequence[TradeRecord] = (),
    events: Sequence[RunEvent] = (),
    bar_series: dict[str, BarSeries] | None = None,
    config: dict[str, Any] | None = None,
    open_positions: dict[str, Decimal] | None = None,
) -> BacktestResult:
    n = len(equity)
    return BacktestResult(
        config={"strategy": "ema_cross", "fast": 10, "slow": 30} if config is None else config,
        quote_currency="USDT",
        starting_cash=Decimal(starting_cash),
        final_equity=Decimal(final_equity if final_equity is not None else repr(float(equity[-1]))),
        equity_ts=np.asarray([T0 + i * DAY for i in range(n)] if ts is None else ts, dtype=np.int64),
        equity=np.asarray(equity, dtype=np.float64),
        gross_exposure=np.asarray([0.0] * n if gross is None else gross, dtype=np.float64),
        fills=tuple(fills),
        trades=tuple(trades),
        bars={} if bar_series is None else bar_series,
        events=tuple(events),
        open_positions={} if open_positions is None else open_positions,
    )


def rich_result() -> BacktestResult:
    """Four daily points, two fills, one trade, one event, bars: every report section has content."""
    return make_result(
        [100.0, 110.0, 99.0, 118.8, 118.8],
        gross=[0.0, 0.5, 0.5, 0.0, 0.0],
        final_equity="118.8",
        fills=[fill(1, "BUY", "0.5", "100.25", "0.05"), fill(3, "SELL", "0.5", "137.9", "0.068950")],
        trades=[trade("18.681050", 37.26, i=1)],
        events=[RunEvent(T0 + 2 * DAY, "ORDER_DENIED", "risk", "max position exceeded")],
        bar_series={"BINANCE:BTC/USDT": bars(5)},
    )
