"""How long metrics, the HTML report and storage take for a realistic result; prints JSON.

The result is built from real recorded bars (Bittrex ETH/BTC 5m, ~5,760 bars; LTC/BTC 5m as a second
instrument) with a simple always-in-and-out trade pattern, so the price charts, tables and store see
realistic sizes without needing the engine.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from bot4.data.bars import NS_PER_MINUTE, NS_PER_MS, BarSeries
from bot4.persistence import ResultsStore
from bot4.research.metrics import compute_metrics
from bot4.research.report import write_report
from bot4.research.results import BacktestResult, FillRecord, TradeRecord

DATA = Path(os.environ.get("BOT4_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _bars(name: str, symbol: str) -> BarSeries:
    df = pd.read_csv(DATA / "ohlcv" / name)
    col = {c: df[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")}
    ts = df["timestamp_ms"].to_numpy(np.int64) * NS_PER_MS
    return BarSeries(symbol, 5 * NS_PER_MINUTE, ts, **col, source=name)


def build_result() -> BacktestResult:
    bars = {
        "BITTREX:ETH/BTC": _bars("BITTREX_ETH_BTC_5m.csv", "ETH/BTC"),
        "BITTREX:LTC/BTC": _bars("BITTREX_LTC_BTC_5m.csv", "LTC/BTC"),
    }
    main = bars["BITTREX:ETH/BTC"]
    fills: list[FillRecord] = []
    trades: list[TradeRecord] = []
    qty = Decimal("1")
    for k, i in enumerate(range(10, len(main) - 40, 40)):
        entry = Decimal(str(main.close[i]))
        exit_ = Decimal(str(main.close[i + 20]))
        fee_in, fee_out = entry * qty * Decimal("0.0025"), exit_ * qty * Decimal("0.0025")
        ts_in, ts_out = int(main.ts_close[i]), int(main.ts_close[i + 20])
        buy = FillRecord(ts_in, "sma", "BITTREX:ETH/BTC", f"o{2 * k}", "BUY", qty, entry, fee_in, "BTC", "TAKER")
        sell = FillRecord(
            ts_out, "sma", "BITTREX:ETH/BTC", f"o{2 * k + 1}", "SELL", qty, exit_, fee_out, "BTC", "TAKER"
        )
        fills += (buy, sell)
        pnl = (exit_ - entry) * qty - fee_in - fee_out
        trades.append(TradeRecord("sma", "BITTREX:ETH/BTC", "LONG", qty, ts_in, entry, ts_out, exit_, pnl,
                                  fee_in + fee_out, float(pnl / (entry * qty) * 100)))  # fmt: skip
    cash = Decimal("10")
    equity = 10.0 + (main.close - main.close[0])
    gross = np.where((np.arange(len(main)) % 40) < 20, main.close / equity, 0.0)
    return BacktestResult(
        config={"strategy": {"name": "sma", "fast": 10, "slow": 30}, "timeframe": "5m"},
        quote_currency="BTC",
        starting_cash=cash,
        final_equity=Decimal(str(equity[-1])),
        equity_ts=main.ts_close.copy(),
        equity=np.asarray(equity, dtype=np.float64),
        gross_exposure=np.asarray(gross, dtype=np.float64),
        fills=tuple(fills),
        trades=tuple(trades),
        bars=bars,
    )


def main() -> None:
    result = build_result()
    out: dict[str, object] = {"bars": {k: len(v) for k, v in result.bars.items()}, "fills": len(result.fills)}
    t0 = time.perf_counter()
    metrics = compute_metrics(result)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_report(result, metrics, Path(tmp) / "report.html")
        t2 = time.perf_counter()
        out["report_bytes"] = path.stat().st_size
        store = ResultsStore(f"sqlite:///{tmp}/bench.sqlite")
        t3 = time.perf_counter()
        run_id = store.save(result, metrics, run_ts_ns=1)
        t4 = time.perf_counter()
        store.load_run(run_id)
        t5 = time.perf_counter()
        store.close()
    out.update(
        metrics_s=round(t1 - t0, 4),
        report_s=round(t2 - t1, 4),
        store_save_s=round(t4 - t3, 4),
        store_load_s=round(t5 - t4, 4),
    )
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
