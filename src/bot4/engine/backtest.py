"""The backtest driver: replays bars in time order through the engine on a simulated clock.

This is the only loop that differs from live trading: it advances the ``SimClock`` to each bar's close
and hands the bar to the engine. Everything the strategies, venue and portfolio do is the same code the
live node runs. Bars of several instruments are merged by close time; equal times keep feed order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from bot4.data.bars import BarSeries
from bot4.engine.clock import SimClock
from bot4.engine.engine import TradingEngine
from bot4.model.events import Bar
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO, to_decimal
from bot4.research.results import BacktestResult, RunEvent

ProgressFn = Callable[[int, int], None]
_CHUNK = 50_000


@dataclass(frozen=True)
class Feed:
    instrument: Instrument
    bars: BarSeries


class BacktestRunner:
    """Runs one configured engine over its feeds and collects the result."""

    def __init__(
        self,
        engine: TradingEngine,
        clock: SimClock,
        feeds: list[Feed],
        config: dict[str, Any],
        extra_events: list[RunEvent] | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        if not feeds:
            raise ValueError("a backtest needs at least one data feed")
        quotes = {f.instrument.quote for f in feeds}
        if len(quotes) != 1:
            raise ValueError(
                f"all instruments in one backtest must share a quote currency (equity is reported in it); "
                f"got {sorted(quotes)}"
            )
        self.engine = engine
        self.clock = clock
        self.feeds = feeds
        self.config = config
        self.extra_events = list(extra_events or [])
        self.progress = progress
        self.total_bars = sum(len(f.bars) for f in feeds)

    def run(self) -> BacktestResult:
        first = min(int(f.bars.ts_open[0]) for f in self.feeds if len(f.bars))
        self.clock.advance_to(first)
        self.engine.start()
        if len(self.feeds) == 1:
            self._run_single(self.feeds[0])
        else:
            self._run_merged()
        self.engine.stop()
        return self._result()

    # -- loops ---------------------------------------------------------------------------------------

    def _run_single(self, feed: Feed) -> None:
        # The hot loop: plain Python floats in locals, one Bar tuple and one engine call per bar.
        # Columns are converted chunk by chunk so a million bars never exist as Python objects at once.
        b = feed.bars
        iid = feed.instrument.id
        n = len(b)
        on_bar = self.engine.on_bar
        clock = self.clock
        timers = clock._timers  # same package: the driver owns the clock's time
        new_bar = tuple.__new__
        bar_cls = Bar
        tf = b.timeframe_ns
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            cols = zip(
                b.ts_open[start:stop].tolist(),
                b.open[start:stop].tolist(),
                b.high[start:stop].tolist(),
                b.low[start:stop].tolist(),
                b.close[start:stop].tolist(),
                b.volume[start:stop].tolist(),
                strict=True,
            )
            for t_open, o, h, lo, c, v in cols:
                t = t_open + tf
                if timers:
                    clock.advance_to(t)
                else:
                    clock._now = t
                on_bar(new_bar(bar_cls, (iid, t_open, t, o, h, lo, c, v)))
            if self.progress is not None:
                self.progress(stop, n)

    def _run_merged(self) -> None:
        ts = np.concatenate([f.bars.ts_close for f in self.feeds])
        which = np.concatenate([np.full(len(f.bars), k, dtype=np.int64) for k, f in enumerate(self.feeds)])
        pos = np.concatenate([np.arange(len(f.bars), dtype=np.int64) for f in self.feeds])
        order = np.lexsort((which, ts))  # by close time, then feed order
        cols = [
            (
                f.instrument.id,
                f.bars.ts_open.tolist(),
                f.bars.ts_close.tolist(),
                f.bars.open.tolist(),
                f.bars.high.tolist(),
                f.bars.low.tolist(),
                f.bars.close.tolist(),
                f.bars.volume.tolist(),
            )
            for f in self.feeds
        ]
        on_bar = self.engine.on_bar
        advance = self.clock.advance_to
        n = len(order)
        which_l = which[order].tolist()
        pos_l = pos[order].tolist()
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            for j in range(start, stop):
                iid, to, tc, op, hi, lo, cl, vo = cols[which_l[j]]
                i = pos_l[j]
                advance(tc[i])
                on_bar(Bar(iid, to[i], tc[i], op[i], hi[i], lo[i], cl[i], vo[i]))
            if self.progress is not None:
                self.progress(stop, n)

    # -- results -------------------------------------------------------------------------------------

    def _result(self) -> BacktestResult:
        pf = self.engine.portfolio
        quote = self.feeds[0].instrument.quote
        if len(self.feeds) == 1:
            timeline = self.feeds[0].bars.ts_close
        else:
            timeline = np.unique(np.concatenate([f.bars.ts_close for f in self.feeds]))
        changes = pf.changes
        cash0 = float(pf.starting_balances.get(quote, ZERO))
        equity = _step_series(timeline, [c[0] for c in changes], [c[3] for c in changes], cash0)
        gross = np.zeros(len(timeline))
        final = pf.cash.get(quote, ZERO)
        for f in self.feeds:
            iid = f.instrument.id
            mine = [c for c in changes if c[1] == iid]
            if not mine:
                continue  # never held: contributes nothing to equity or exposure
            qty = _step_series(timeline, [c[0] for c in mine], [c[2] for c in mine], 0.0)
            if len(self.feeds) == 1:
                close = f.bars.close
            else:
                idx = np.searchsorted(f.bars.ts_close, timeline, side="right") - 1
                close = np.where(idx >= 0, f.bars.close[np.maximum(idx, 0)], 0.0)
            value = qty * close
            equity += value
            gross += np.abs(value)
            del qty, value
            net = pf.net[iid]
            if net:
                final += net * to_decimal(float(f.bars.close[-1]), "close")
        with np.errstate(divide="ignore", invalid="ignore"):
            exposure = np.where(equity > 0, gross / equity, 0.0)
        events = sorted(self.extra_events + self.engine.events, key=lambda e: e.ts)
        return BacktestResult(
            config=self.config,
            quote_currency=quote,
            starting_cash=pf.starting_balances.get(quote, ZERO),
            final_equity=final,
            equity_ts=timeline.astype(np.int64),
            equity=equity,
            gross_exposure=exposure,
            fills=tuple(pf.fills),
            trades=tuple(pf.trades()),
            bars={f.instrument.id: f.bars for f in self.feeds},
            events=tuple(events),
            open_positions={k: Decimal(v) for k, v in pf.open_positions().items()},
        )


def _step_series(
    timeline: npt.NDArray[np.int64], ts: list[int], values: list[float], initial: float
) -> npt.NDArray[np.float64]:
    """Value of a step function (changing at ``ts``, last change wins) at each timeline point."""
    if not ts:
        return np.full(len(timeline), initial, dtype=np.float64)
    t = np.asarray(ts, dtype=np.int64)
    v = np.concatenate([[initial], np.asarray(values, dtype=np.float64)])
    idx = np.searchsorted(t, timeline, side="right")
    return v[idx]
