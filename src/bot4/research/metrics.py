"""Performance metrics of one finished backtest, with every convention written down.

Backtest numbers are only comparable when everybody computes them the same way, so each definition
lives here once and the report, storage and ``--json`` all read the same ``Metrics``.

Conventions (all deliberate, all tested against hand-computed numbers):

* Money that is exact in the result (cash, final equity, fills, trade PnL, fees) stays ``Decimal``;
  anything derived from the float equity curve is ``float``.
* A year is 365 days (crypto trades every day). The *period* is the median step between equity
  timestamps; ``periods_per_year = 365 days / period``.
* Returns are simple per-period returns of the equity curve, ``e[i] / e[i-1] - 1``; a step whose
  previous equity is not positive has no defined return and is skipped.
* ``total_return`` is exact-money based: ``final_equity / starting_cash - 1``. ``cagr`` compounds it over
  the equity curve's time span (first to last timestamp).
* ``volatility`` is the sample standard deviation (ddof=1) of returns times ``sqrt(periods_per_year)``.
  ``sharpe`` = mean return / that sample standard deviation * ``sqrt(periods_per_year)``, risk-free rate 0.
* ``sortino`` uses the *target downside deviation* of Sortino & Price (1994) with target 0:
  ``sqrt(mean(min(r, 0)**2))`` over **all** periods (not only the losing ones), annualized the same way.
* ``max_drawdown`` is the largest ``1 - equity / running_peak`` (a fraction, 0.25 = 25 %).
  ``max_drawdown_duration_ns`` is the longest time from a peak to the first point back at or above it
  (or to the last point if it never got back); ``max_drawdown_recovered`` tells which (True when there
  was no drawdown at all).
* ``calmar`` = ``cagr / max_drawdown``.
* A trade wins when its net PnL is > 0 and loses when < 0; ``win_rate`` = wins / all trades (break-even
  trades count in the denominator). ``profit_factor`` = gross profit / gross loss.
* ``exposure`` is time-weighted: equity point ``i`` holds until point ``i+1``; the fraction of the span
  with a non-zero ``gross_exposure``. With a single point it is 1 or 0.
* ``fees_paid`` is the exact sum of fees paid in the account's quote currency; fees charged in other
  currencies (e.g. base-currency fees on spot buys) are listed in ``fees_by_currency`` and not converted.
* ``turnover`` = traded notional (sum of ``quantity * price`` over fills, assumed priced in the quote
  currency) / the mean of the equity curve. 2.0 means the account traded twice its average size.

Undefined values are ``None`` (never NaN or infinity), so ``json.dumps(m.as_dict(), allow_nan=False)``
always works: a ratio whose denominator is zero (no volatility, no losing trade, no drawdown, no
downside), anything needing two returns when there are fewer, CAGR over a zero time span or one too
large for a float, and per-trade statistics without trades.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt

from bot4.research.results import BacktestResult

NS_PER_DAY = 86_400 * 1_000_000_000
NS_PER_YEAR = 365 * NS_PER_DAY

#: Fixed Decimal arithmetic for divisions, so metrics never depend on the caller's decimal context.
_DECIMAL_CONTEXT = Context(prec=28)
#: Enough digits that sums of fees and products ``quantity * price`` are never rounded.
_EXACT_CONTEXT = Context(prec=200)

#: A standard deviation this small relative to the mean return is rounding noise, not risk.
_ZERO_STD_RELATIVE = 1e-12

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Metrics:
    """The numbers a backtest is judged by; see the module docstring for each definition."""

    start_ts: int | None
    end_ts: int | None
    n_points: int
    periods_per_year: float | None
    starting_cash: Decimal
    final_equity: Decimal
    total_return: float
    cagr: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_duration_ns: int
    max_drawdown_recovered: bool
    calmar: float | None
    n_trades: int
    n_wins: int
    n_losses: int
    win_rate: float | None
    gross_profit: Decimal
    gross_loss: Decimal  # a positive magnitude
    profit_factor: float | None
    avg_trade_pnl: Decimal | None
    avg_trade_return_pct: float | None
    best_trade_pnl: Decimal | None
    worst_trade_pnl: Decimal | None
    exposure: float
    n_fills: int
    fees_paid: Decimal
    fees_by_currency: tuple[tuple[str, Decimal], ...]  # sorted by currency
    traded_notional: Decimal
    turnover: float | None

    @property
    def max_drawdown_duration_days(self) -> float:
        return self.max_drawdown_duration_ns / NS_PER_DAY

    def as_dict(self) -> dict[str, Any]:
        """JSON-able values: Decimals as strings (exact), floats as finite floats, undefined as None.

        Strings rather than floats because a float cannot hold ``0.1`` exactly and money must
        round-trip; ``fees_by_currency`` becomes an object ``{currency: amount}``.
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "fees_by_currency":
                out[f.name] = {currency: str(amount) for currency, amount in value}
            elif isinstance(value, Decimal):
                out[f.name] = str(value)
            elif isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"metric {f.name} is {value}; metrics must be finite or None")
            else:
                out[f.name] = value
        return out

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys), identical for identical metrics."""
        return json.dumps(self.as_dict(), sort_keys=True, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metrics:
        """Inverse of ``as_dict``, for metrics read back from storage."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"metrics dict is missing field(s) {', '.join(missing)}")
        values: dict[str, Any] = {}
        for name in names:
            raw = data[name]
            if name == "fees_by_currency":
                values[name] = tuple((str(c), _to_decimal(a, name)) for c, a in sorted(raw.items()))
            elif name in _DECIMAL_FIELDS:
                values[name] = None if raw is None else _to_decimal(raw, name)
            elif name in _FLOAT_FIELDS:
                values[name] = None if raw is None else float(raw)
            else:
                values[name] = raw
        return cls(**values)


_DECIMAL_FIELDS = frozenset(
    {
        "starting_cash",
        "final_equity",
        "gross_profit",
        "gross_loss",
        "avg_trade_pnl",
        "best_trade_pnl",
        "worst_trade_pnl",
        "fees_paid",
        "traded_notional",
    }
)
_FLOAT_FIELDS = frozenset(
    {
        "periods_per_year",
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "win_rate",
        "profit_factor",
        "avg_trade_return_pct",
        "exposure",
        "turnover",
    }
)


def _to_decimal(raw: Any, name: str) -> Decimal:
    try:
        return Decimal(str(raw))
    except ArithmeticError as exc:
        raise ValueError(f"metrics field {name}: {raw!r} is not a decimal number") from exc


def compute_metrics(result: BacktestResult) -> Metrics:
    """Every metric of ``result``; raises ``ValueError`` naming the field if the result is malformed."""
    ts, equity, gross = _validated_curve(result)
    if result.starting_cash <= 0:
        raise ValueError(f"result.starting_cash must be positive, got {result.starting_cash}")

    with localcontext(_DECIMAL_CONTEXT):
        growth = result.final_equity / result.starting_cash
    total_return = float(growth) - 1.0
    if not math.isfinite(total_return):
        raise ValueError(f"final_equity / starting_cash = {growth} does not fit a float")
    span_ns = int(ts[-1] - ts[0]) if len(ts) else 0
    cagr = _cagr(float(growth), span_ns)

    periods_per_year = _periods_per_year(ts)
    returns = _returns(equity)
    volatility, sharpe, sortino = _risk_ratios(returns, periods_per_year)

    max_dd, dd_duration, dd_recovered = _drawdown(ts, equity)
    calmar = _finite(cagr / max_dd) if cagr is not None and max_dd > 0 else None

    trade_stats = _trade_stats(result)
    fees_paid, fees_by_currency, notional = _fill_stats(result)
    with np.errstate(over="ignore"):
        mean_equity = float(np.mean(equity)) if len(equity) else 0.0
    turnover = _finite(float(notional) / mean_equity) if mean_equity > 0 else None

    return Metrics(
        start_ts=int(ts[0]) if len(ts) else None,
        end_ts=int(ts[-1]) if len(ts) else None,
        n_points=len(ts),
        periods_per_year=periods_per_year,
        starting_cash=result.starting_cash,
        final_equity=result.final_equity,
        total_return=total_return,
        cagr=cagr,
        volatility=volatility,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=max_dd,
        max_drawdown_duration_ns=dd_duration,
        max_drawdown_recovered=dd_recovered,
        calmar=calmar,
        exposure=_exposure(ts, gross),
        n_fills=len(result.fills),
        fees_paid=fees_paid,
        fees_by_currency=fees_by_currency,
        traded_notional=notional,
        turnover=turnover,
        **trade_stats,
    )


def _validated_curve(result: BacktestResult) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
    ts = np.asarray(result.equity_ts, dtype=np.int64)
    equity = np.asarray(result.equity, dtype=np.float64)
    gross = np.asarray(result.gross_exposure, dtype=np.float64)
    if not (len(ts) == len(equity) == len(gross)):
        raise ValueError(
            f"result equity arrays differ in length: equity_ts={len(ts)}, equity={len(equity)}, "
            f"gross_exposure={len(gross)}"
        )
    for name, arr in (("equity", equity), ("gross_exposure", gross)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if len(bad):
            raise ValueError(f"result.{name}[{bad[0]}] is {arr[bad[0]]}; every point must be finite")
    steps = np.diff(ts)
    bad_steps = np.flatnonzero(steps <= 0)
    if len(bad_steps):
        i = int(bad_steps[0]) + 1
        raise ValueError(f"result.equity_ts must strictly increase: ts[{i}]={ts[i]} follows ts[{i - 1}]={ts[i - 1]}")
    return ts, equity, gross


def _cagr(growth: float, span_ns: int) -> float | None:
    if span_ns <= 0:
        return None
    if growth <= 0:
        return -1.0  # everything lost: the only honest annual rate
    exponent = math.log(growth) * NS_PER_YEAR / span_ns
    if exponent > 700:  # exp() would overflow a float
        return None
    return math.expm1(exponent)


def _periods_per_year(ts: npt.NDArray[np.int64]) -> float | None:
    if len(ts) < 2:
        return None
    step = float(np.median(np.diff(ts)))
    return NS_PER_YEAR / step


def _returns(equity: FloatArray) -> FloatArray:
    if len(equity) < 2:
        return np.empty(0, dtype=np.float64)
    prev, cur = equity[:-1], equity[1:]
    ok = prev > 0
    with np.errstate(over="ignore"):  # an absurd jump overflows to inf; the ratios then become None
        return np.asarray(cur[ok] / prev[ok] - 1.0, dtype=np.float64)


def _risk_ratios(
    returns: FloatArray, periods_per_year: float | None
) -> tuple[float | None, float | None, float | None]:
    if len(returns) < 2 or periods_per_year is None:
        return None, None, None
    scale = math.sqrt(periods_per_year)
    with np.errstate(over="ignore", invalid="ignore"):  # absurd curves overflow; caught just below
        mean = float(np.mean(returns))
        std = float(np.std(returns, ddof=1))
        downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    if not (math.isfinite(mean) and math.isfinite(std) and math.isfinite(downside)):
        return None, None, None
    if std <= _ZERO_STD_RELATIVE * abs(mean):
        std = 0.0
    volatility = std * scale
    sharpe = _finite(mean / std * scale) if std > 0 else None
    sortino = _finite(mean / downside * scale) if downside > 0 else None
    return _finite(volatility), sharpe, sortino


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _drawdown(ts: npt.NDArray[np.int64], equity: FloatArray) -> tuple[float, int, bool]:
    """Deepest drawdown, and the longest peak-to-recovery span with whether it recovered."""
    if len(equity) == 0:
        return 0.0, 0, True
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(peak > 0, 1.0 - equity / peak, 0.0)
    max_dd = float(np.max(depth))
    under = (equity < peak).astype(np.int8)
    edges = np.diff(np.concatenate(([0], under, [0])))
    starts = np.flatnonzero(edges == 1)  # first underwater index of each episode (always >= 1)
    ends = np.flatnonzero(edges == -1)  # first index back at or above the peak (may be len)
    best_duration, best_recovered = 0, True
    for s, e in zip(starts, ends, strict=True):
        recovered = bool(e < len(equity))
        end_ts = ts[e] if recovered else ts[-1]
        duration = int(end_ts - ts[s - 1])
        if duration > best_duration:
            best_duration, best_recovered = duration, recovered
    return max(max_dd, 0.0), best_duration, best_recovered


def _exposure(ts: npt.NDArray[np.int64], gross: FloatArray) -> float:
    if len(ts) == 0:
        return 0.0
    held = gross != 0
    if len(ts) == 1:
        return 1.0 if held[0] else 0.0
    dt = np.diff(ts).astype(np.float64)
    return float(np.sum(dt[held[:-1]]) / np.sum(dt))


def _trade_stats(result: BacktestResult) -> dict[str, Any]:
    for i, t in enumerate(result.trades):
        if not math.isfinite(t.return_pct):
            raise ValueError(f"result.trades[{i}].return_pct is {t.return_pct}; it must be finite")
    pnls = [t.pnl for t in result.trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    n = len(pnls)
    with localcontext(_EXACT_CONTEXT):
        gross_profit = sum(wins, Decimal(0))
        gross_loss = -sum(losses, Decimal(0))
        net = sum(pnls, Decimal(0))
    with localcontext(_DECIMAL_CONTEXT):
        profit_factor = _finite(float(gross_profit / gross_loss)) if gross_loss > 0 else None
        avg_pnl = net / n if n else None
    return {
        "n_trades": n,
        "n_wins": len(wins),
        "n_losses": len(losses),
        "win_rate": len(wins) / n if n else None,
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "profit_factor": profit_factor,
        "avg_trade_pnl": avg_pnl,
        "avg_trade_return_pct": _finite(math.fsum(t.return_pct for t in result.trades) / n) if n else None,
        "best_trade_pnl": max(pnls) if n else None,
        "worst_trade_pnl": min(pnls) if n else None,
    }


def _fill_stats(result: BacktestResult) -> tuple[Decimal, tuple[tuple[str, Decimal], ...], Decimal]:
    by_currency: dict[str, Decimal] = {}
    notional = Decimal(0)
    with localcontext(_EXACT_CONTEXT):
        for fill in result.fills:
            by_currency[fill.fee_currency] = by_currency.get(fill.fee_currency, Decimal(0)) + fill.fee
            notional += fill.quantity * fill.price
    fees_paid = by_currency.get(result.quote_currency, Decimal(0))
    return fees_paid, tuple(sorted(by_currency.items())), notional
