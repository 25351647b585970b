"""Throughput of the full event-driven backtest: ema_cross on N synthetic 1-minute bars.

Every bar goes through the SimClock, the engine, the strategy's indicators and callbacks, the bar venue
and the portfolio (orders, fees, equity). Prints one JSON object.

    python benchmarks/backtest_throughput.py --bars 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from decimal import Decimal

from bot4.data.bars import NS_PER_MINUTE, BarSeries
from bot4.engine.backtest import Feed
from bot4.engine.config import BacktestConfig, DataFeedConfig, StrategyEntry
from bot4.engine.kernel import build_backtest
from bot4.model.instrument import Instrument
from synthetic_ohlcv import random_walk_ohlcv


def synthetic_bars(n: int, seed: int = 7) -> BarSeries:
    """A seeded geometric random walk around 30,000 with plausible highs and lows."""
    c = random_walk_ohlcv(n, seed)
    return BarSeries(
        "BTC/USDT", NS_PER_MINUTE, c["ts"], c["open"], c["high"], c["low"], c["close"], c["volume"], "synthetic"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    args = parser.parse_args(argv)

    bars = synthetic_bars(args.bars)
    inst = Instrument.spot("SIM", "BTC/USDT", tick_size="0.01", step_size="0.00001")
    config = BacktestConfig(
        data=[DataFeedConfig(symbol="BTC/USDT")],
        strategies=[StrategyEntry(name="ema_cross", params={"fast": args.fast, "slow": args.slow})],
        cash=Decimal(100_000),
    )
    runner = build_backtest(config, feeds=[Feed(inst, bars)])
    t0 = time.perf_counter()
    result = runner.run()
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "benchmark": "backtest_throughput",
        "strategy": f"ema_cross(fast={args.fast}, slow={args.slow})",
        "bars": args.bars,
        "seconds": round(seconds, 3),
        "bars_per_second": round(args.bars / seconds),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "trades": len(result.trades),
        "fills": len(result.fills),
        "final_equity": str(result.final_equity),
        "python": sys.version.split()[0],
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
