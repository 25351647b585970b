"""ema_cross through the full event-driven engine equals an independent vectorized computation.

The reference below uses only pandas, numpy, TA-Lib and Decimal: EMA crosses evaluated on bar closes,
fills at the next bar's open, fee = rate x notional, all-cash sizing rounded down to the step.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from bot4.engine.config import BacktestConfig, DataFeedConfig, StrategyEntry
from bot4.engine.kernel import run_backtest

STEP = Decimal("0.00000001")


def reference_trades(
    path: Path, fast: int, slow: int, cash: Decimal, fee: Decimal, size: Decimal | None
) -> tuple[list[tuple[int, Decimal, int, Decimal]], Decimal]:
    df = pd.read_csv(path)
    close = df["close"].to_numpy(dtype=float)
    f = talib.EMA(close, timeperiod=fast)
    s = talib.EMA(close, timeperiod=slow)
    prev_f, prev_s = np.roll(f, 1), np.roll(s, 1)
    prev_f[0] = prev_s[0] = np.nan
    up = np.flatnonzero((f > s) & (prev_f <= prev_s))
    down = np.flatnonzero((f < s) & (prev_f >= prev_s))
    signals = sorted([(i, "up") for i in up] + [(i, "down") for i in down])

    ts_ns = df["timestamp_ms"].to_numpy(dtype=np.int64) * 1_000_000
    opens = [Decimal(repr(x)) for x in df["open"].astype(float).tolist()]
    qty = Decimal(0)
    entry: tuple[int, Decimal] | None = None
    trades = []
    n = len(df)
    for i, kind in signals:
        if i + 1 >= n:
            break  # the fill would need a bar that does not exist
        price = opens[i + 1]
        if kind == "up" and qty == 0:
            q = size if size is not None else (cash / (price * (1 + fee)) / STEP).to_integral_value(ROUND_DOWN) * STEP
            cash -= q * price + q * price * fee
            qty = q
            entry = (int(ts_ns[i + 1]), price)
        elif kind == "down" and qty > 0:
            cash += qty * price - qty * price * fee
            assert entry is not None
            trades.append((entry[0], entry[1], int(ts_ns[i + 1]), price))
            qty = Decimal(0)
            entry = None
    final = cash + qty * Decimal(repr(float(close[-1])))
    return trades, final


@pytest.mark.parametrize(
    ("file", "fast", "slow", "size"),
    [
        ("BITTREX_ETH_BTC_5m.csv", 10, 30, None),
        ("BITTREX_ADA_BTC_5m.csv", 12, 26, None),  # has a 170-minute hole
        ("BITTREX_DASH_BTC_1m.csv", 5, 20, None),  # sparse: ~1.5k gaps
        ("BINANCE-USDM_XRP_USDT_5m.csv", 8, 21, Decimal("100")),
        ("BITTREX_LTC_BTC_1m.csv", 10, 30, Decimal("3")),
    ],
)
def test_run_when_ema_cross_on_real_candles_then_trades_and_equity_equal_vectorized_reference(
    shared_data: Path, file: str, fast: int, slow: int, size: Decimal | None
) -> None:
    path = shared_data / "ohlcv" / file
    cash = Decimal(1) if "BTC_" in file and "USDT" not in file else Decimal(10_000)
    fee = Decimal("0.001")
    params: dict[str, object] = {"fast": fast, "slow": slow}
    if size is not None:
        params["size"] = str(size)
    config = BacktestConfig(
        data=[DataFeedConfig(path=str(path))],
        strategies=[StrategyEntry(name="ema_cross", params=params)],
        cash=cash,
        fee_rate=fee,
    )

    result = run_backtest(config)
    expected_trades, expected_final = reference_trades(path, fast, slow, cash, fee, size)

    got = [(t.entry_ts, t.entry_price, t.exit_ts, t.exit_price) for t in result.trades]
    assert len(expected_trades) > 10
    assert got == expected_trades
    assert result.final_equity == expected_final
