"""How a finished backtest is shown: a rich summary table, or JSON for machines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from bot4.research.metrics import Metrics
from bot4.research.results import BacktestResult


def _iso(ts_ns: int | None) -> str | None:
    if ts_ns is None:
        return None
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:,.2f} %"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.3f}"


def result_json(result: BacktestResult, metrics: Metrics, run_id: object = None) -> dict[str, Any]:
    """Summary, metrics and the full trade list; Decimals as exact strings, times as ISO-8601 UTC."""
    strategies = [s.get("id") or s["name"] for s in result.config.get("strategies", [])]
    return {
        "summary": {
            "strategies": strategies,
            "instruments": sorted(result.bars),
            "bars": int(sum(len(b) for b in result.bars.values())),
            "start": _iso(int(result.equity_ts[0])) if len(result.equity_ts) else None,
            "end": _iso(int(result.equity_ts[-1])) if len(result.equity_ts) else None,
            "quote_currency": result.quote_currency,
            "starting_cash": str(result.starting_cash),
            "final_equity": str(result.final_equity),
            "open_positions": {k: str(v) for k, v in result.open_positions.items()},
            "run_id": run_id,
        },
        "metrics": metrics.as_dict(),
        "trades": [
            {
                "strategy": t.strategy_id,
                "instrument": t.instrument_id,
                "direction": t.direction,
                "quantity": str(t.quantity),
                "entry_time": _iso(t.entry_ts),
                "entry_price": str(t.entry_price),
                "exit_time": _iso(t.exit_ts),
                "exit_price": str(t.exit_price),
                "pnl": str(t.pnl),
                "fees": str(t.fees),
                "return_pct": t.return_pct,
            }
            for t in result.trades
        ],
        "events": [
            {"time": _iso(e.ts), "kind": e.kind, "source": e.source, "message": e.message} for e in result.events
        ],
    }


def print_summary(result: BacktestResult, metrics: Metrics, report: Path | None, run_id: object) -> None:
    """A table of the headline numbers; refused orders and strategy errors listed under it."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    q = result.quote_currency
    strategies = ", ".join(s.get("id") or s["name"] for s in result.config.get("strategies", []))
    title = f"bot4 backtest — {strategies} on {', '.join(sorted(result.bars))}"
    table = Table(title=title, show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("period", f"{_iso(metrics.start_ts)} → {_iso(metrics.end_ts)}"),
        ("bars", f"{sum(len(b) for b in result.bars.values()):,}"),
        ("starting cash", f"{result.starting_cash} {q}"),
        ("final equity", f"{result.final_equity:.8f} {q}"),
        ("total return", _pct(metrics.total_return)),
        ("CAGR", _pct(metrics.cagr)),
        ("volatility (ann.)", _pct(metrics.volatility)),
        ("Sharpe", _num(metrics.sharpe)),
        ("Sortino", _num(metrics.sortino)),
        ("max drawdown", _pct(metrics.max_drawdown)),
        (
            "max drawdown duration",
            f"{metrics.max_drawdown_duration_days:,.2f} days"
            + ("" if metrics.max_drawdown_recovered else " (not recovered)"),
        ),
        ("Calmar", _num(metrics.calmar)),
        ("trades", f"{metrics.n_trades}"),
        ("win rate", _pct(metrics.win_rate)),
        ("profit factor", _num(metrics.profit_factor)),
        ("exposure", _pct(metrics.exposure)),
        ("fees paid", ", ".join(f"{amt:.8f} {ccy}" for ccy, amt in metrics.fees_by_currency) or "0"),
        ("turnover", _num(metrics.turnover)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    notable = [e for e in result.events if e.kind != "DATA_GAP"]
    gaps = len(result.events) - len(notable)
    if gaps:
        console.print(f"[yellow]data gaps:[/yellow] {gaps} (listed in the report and --json; never filled)")
    for e in notable[:20]:
        console.print(f"[red]{e.kind}[/red] {_iso(e.ts)} {e.source}: {e.message}", highlight=False)
    if len(notable) > 20:
        console.print(f"... and {len(notable) - 20} more events (see --json or the report)")
    if report is not None:
        console.print(f"report: {report.resolve()}")
    if run_id is not None:
        console.print(f"stored as run {run_id}")
