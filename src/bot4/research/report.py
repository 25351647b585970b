"""One self-contained HTML file that shows what a backtest did, for people rather than programs.

The file must open anywhere, offline, forever, and be diffable between runs: so no external URL of any
kind (charts are inline SVG drawn by matplotlib's non-interactive renderer, styles are inline), every
string from the run is HTML-escaped, and nothing in it depends on when or where it was rendered (no
generation timestamp, SVG ids salted with fixed strings, fixed metadata). Rendering the same result
twice gives the same bytes.

Long series are reduced before plotting (the minimum and maximum of each of ~1,200 buckets, so spikes
and the deepest drawdown stay visible), which keeps a many-thousand-bar chart fast to draw and small.
Long tables show their first and last rows with a note saying how many were left out.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot4.research.metrics import Metrics
from bot4.research.results import BacktestResult, FillRecord

#: Rows shown at each end of a long table.
TABLE_EDGE_ROWS = 500
#: Points per plotted line after reduction.
MAX_LINE_POINTS = 2400

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SMALL = Decimal("1E-6")
_TEN_DECIMALS = Decimal("1E-10")
_NS_PER_S = 1_000_000_000

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;margin-top:32px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.gap td{background:#fff8e0;font-style:italic;text-align:center}
.note{color:#666;font-size:13px}svg{max-width:100%;height:auto}
.pos{color:#1a7f37}.neg{color:#c62828}
"""


def write_report(result: BacktestResult, metrics: Metrics, path: str | Path) -> Path:
    """Render ``result`` to one HTML file at ``path`` (parents created) and return the path."""
    target = Path(path)
    if target.exists() and target.is_dir():
        raise ValueError(f"report path {target} is a directory; give a file name such as report.html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(render_report(result, metrics).encode("utf-8"))
    return target


def render_report(result: BacktestResult, metrics: Metrics) -> str:
    """The report as one HTML string."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(_title(result))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(_title(result))}</h1>",
        _summary_section(result, metrics),
        "<h2>Metrics</h2>",
        _metrics_table(metrics),
        "<h2>Equity</h2>",
        _equity_charts(result),
        "<h2>Prices, entries and exits</h2>",
        _price_charts(result),
        f"<h2>Trades ({len(result.trades)})</h2>",
        _trades_table(result),
        f"<h2>Fills ({len(result.fills)})</h2>",
        _fills_table(result),
        f"<h2>Run events ({len(result.events)})</h2>",
        _events_section(result),
        "<h2>Configuration</h2>",
        _config_table(result.config),
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------- formatting


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_ts(ns: int | None) -> str:
    if ns is None:
        return "—"
    moment = _EPOCH + timedelta(microseconds=ns // 1000)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    millis = (ns // 1_000_000) % 1000
    return f"{text}.{millis:03d}" if millis else text


def _fmt_duration(ns: int) -> str:
    seconds = ns // _NS_PER_S
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def _fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _fmt_dec(value: Decimal | None) -> str:
    """An amount for reading: no trailing zeros, no exponent, at most 10 decimals unless tiny."""
    if value is None:
        return "—"
    if not value.is_finite():
        return str(value)
    shown = value.normalize()
    if shown.as_tuple().exponent < -10 and abs(shown) >= _SMALL:  # type: ignore[operator]
        shown = shown.quantize(_TEN_DECIMALS).normalize()
    return f"{shown:f}"


def _title(result: BacktestResult) -> str:
    names = [n for n in (_name_of(result.config.get(k)) for k in ("name", "strategy")) if n]
    strategies = result.config.get("strategies")
    if not names and isinstance(strategies, Sequence) and not isinstance(strategies, str):
        names = [n for n in (_name_of(s) for s in strategies) if n]
    return f"bot4 backtest — {', '.join(names)}" if names else "bot4 backtest"


def _name_of(item: Any) -> str:
    if isinstance(item, Mapping):
        item = item.get("name") or item.get("id") or item.get("class")
    return item if isinstance(item, str) else ""


# ---------------------------------------------------------------- tables


def _table(headers: Sequence[str], rows: Sequence[str]) -> str:
    """``rows`` are pre-rendered ``<tr>`` strings."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"


def _td(text: object, css: str = "") -> str:
    return f'<td class="{css}">{_e(text)}</td>' if css else f"<td>{_e(text)}</td>"


def _num(value: object) -> str:
    return _td(value, "n")


def _money(value: Decimal) -> str:
    """A right-aligned amount coloured by its sign."""
    sign = " pos" if value > 0 else " neg" if value < 0 else ""
    return _td(value, "n" + sign)


def _row(cells: Sequence[object], numeric: frozenset[int] = frozenset()) -> str:
    return "<tr>" + "".join(_num(c) if i in numeric else _td(c) for i, c in enumerate(cells)) + "</tr>"


def _capped_indices(n: int) -> tuple[range, range]:
    """Indices to show of an ``n``-row table: all of them, or the first and last ``TABLE_EDGE_ROWS``."""
    if n <= 2 * TABLE_EDGE_ROWS:
        return range(n), range(0)
    return range(TABLE_EDGE_ROWS), range(n - TABLE_EDGE_ROWS, n)


def _capped_rows(n: int, width: int, render: Any) -> tuple[list[str], str]:
    head, tail = _capped_indices(n)
    rows = [render(i) for i in head]
    note = ""
    if len(tail):
        omitted = n - len(head) - len(tail)
        rows.append(f'<tr class="gap"><td colspan="{width}">… {omitted} rows omitted …</td></tr>')
        rows.extend(render(i) for i in tail)
        note = (
            f'<p class="note">Showing the first and last {TABLE_EDGE_ROWS} of {n} rows; '
            "the results store holds all of them.</p>"
        )
    return rows, note


def _summary_section(result: BacktestResult, metrics: Metrics) -> str:
    strategies = sorted({f.strategy_id for f in result.fills} | {t.strategy_id for t in result.trades})
    instruments = sorted(set(result.bars) | {f.instrument_id for f in result.fills})
    timeframes = sorted({s.timeframe for s in result.bars.values()})
    rows = [
        ("Strategies", ", ".join(strategies) or "—"),
        ("Instruments", ", ".join(instruments) or "—"),
        ("Timeframe", ", ".join(timeframes) or "—"),
        ("Period (UTC)", f"{_fmt_ts(metrics.start_ts)} → {_fmt_ts(metrics.end_ts)}"),
        ("Equity points", str(metrics.n_points)),
        ("Quote currency", result.quote_currency),
        ("Starting cash", _fmt_dec(result.starting_cash)),
        ("Final equity", _fmt_dec(result.final_equity)),
    ]
    if result.open_positions:
        held = ", ".join(f"{k}: {v}" for k, v in sorted(result.open_positions.items()))
        rows.append(("Open positions at end", held))
    return _table(["", ""], [_row(r) for r in rows])


def _metrics_table(m: Metrics) -> str:
    rows: list[tuple[str, str]] = [
        ("Total return", _fmt_pct(m.total_return)),
        ("CAGR (365-day year)", _fmt_pct(m.cagr)),
        ("Annualized volatility", _fmt_pct(m.volatility)),
        ("Sharpe (rf = 0)", _fmt_ratio(m.sharpe)),
        ("Sortino (target 0)", _fmt_ratio(m.sortino)),
        ("Max drawdown", _fmt_pct(m.max_drawdown)),
        (
            "Longest drawdown",
            _fmt_duration(m.max_drawdown_duration_ns) + ("" if m.max_drawdown_recovered else " (not recovered)"),
        ),
        ("Calmar", _fmt_ratio(m.calmar)),
        ("Trades", str(m.n_trades)),
        ("Wins / losses", f"{m.n_wins} / {m.n_losses}"),
        ("Win rate", _fmt_pct(m.win_rate)),
        ("Profit factor", _fmt_ratio(m.profit_factor)),
        ("Gross profit", _fmt_dec(m.gross_profit)),
        ("Gross loss", _fmt_dec(m.gross_loss)),
        ("Average trade PnL", _fmt_dec(m.avg_trade_pnl)),
        ("Average trade return", "—" if m.avg_trade_return_pct is None else f"{m.avg_trade_return_pct:.3f}%"),
        ("Best trade PnL", _fmt_dec(m.best_trade_pnl)),
        ("Worst trade PnL", _fmt_dec(m.worst_trade_pnl)),
        ("Exposure (time in market)", _fmt_pct(m.exposure)),
        ("Fills", str(m.n_fills)),
        ("Fees paid (quote currency)", _fmt_dec(m.fees_paid)),
        ("Fees by currency", ", ".join(f"{c}: {a}" for c, a in m.fees_by_currency) or "—"),
        ("Traded notional", _fmt_dec(m.traded_notional)),
        ("Turnover (notional / mean equity)", _fmt_ratio(m.turnover)),
        ("Periods per year", _fmt_ratio(m.periods_per_year)),
    ]
    return _table(["Metric", "Value"], [_row(r, frozenset({1})) for r in rows])


def _trades_table(result: BacktestResult) -> str:
    trades = result.trades
    if not trades:
        return '<p class="note">No trades.</p>'
    headers = [
        "#", "Strategy", "Instrument", "Direction", "Quantity", "Entry (UTC)", "Entry price",
        "Exit (UTC)", "Exit price", "PnL", "Fees", "Return %", "Held",
    ]  # fmt: skip

    def render(i: int) -> str:
        t = trades[i]
        cells = [
            _num(i + 1), _td(t.strategy_id), _td(t.instrument_id), _td(t.direction), _num(t.quantity),
            _td(_fmt_ts(t.entry_ts)), _num(t.entry_price), _td(_fmt_ts(t.exit_ts)), _num(t.exit_price),
            _money(t.pnl), _num(t.fees), _num(f"{t.return_pct:.3f}"),
            _td(_fmt_duration(t.exit_ts - t.entry_ts)),
        ]  # fmt: skip
        return "<tr>" + "".join(cells) + "</tr>"

    rows, note = _capped_rows(len(trades), len(headers), render)
    return _table(headers, rows) + note


def _fills_table(result: BacktestResult) -> str:
    fills = result.fills
    if not fills:
        return '<p class="note">No fills.</p>'
    headers = ["#", "Time (UTC)", "Strategy", "Instrument", "Side", "Quantity", "Price", "Fee", "Fee ccy",
               "Liquidity", "Client order id"]  # fmt: skip

    def render(i: int) -> str:
        f = fills[i]
        return _row(
            [str(i + 1), _fmt_ts(f.ts), f.strategy_id, f.instrument_id, f.side, str(f.quantity), str(f.price),
             str(f.fee), f.fee_currency, f.liquidity, f.client_order_id],
            frozenset({0, 5, 6, 7}),
        )  # fmt: skip

    rows, note = _capped_rows(len(fills), len(headers), render)
    return _table(headers, rows) + note


def _events_section(result: BacktestResult) -> str:
    events = result.events
    if not events:
        return '<p class="note">No denied or rejected orders, strategy errors or data gaps.</p>'
    counts: dict[str, int] = {}
    for ev in events:
        counts[ev.kind] = counts.get(ev.kind, 0) + 1
    summary = ", ".join(f"{_e(k)}: {v}" for k, v in sorted(counts.items()))

    def render(i: int) -> str:
        ev = events[i]
        return _row([_fmt_ts(ev.ts), ev.kind, ev.source, ev.message])

    rows, note = _capped_rows(len(events), 4, render)
    return f'<p class="note">{summary}</p>' + _table(["Time (UTC)", "Kind", "Source", "Message"], rows) + note


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    """Nested config as ``a.b[0].c`` keys, so every setting gets its own readable row."""
    if isinstance(value, Mapping) and value:
        for key in sorted(value, key=str):
            _flatten(f"{prefix}.{key}" if prefix else str(key), value[key], out)
    elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        for i, item in enumerate(value):
            _flatten(f"{prefix}[{i}]", item, out)
    else:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        out.append((prefix, text))


def _config_table(config: Mapping[str, Any]) -> str:
    items: list[tuple[str, str]] = []
    _flatten("", dict(config), items)
    if not items or items == [("", "{}")]:
        return '<p class="note">No configuration recorded.</p>'
    return _table(["Key", "Value"], [_row(r) for r in items])


# ---------------------------------------------------------------- charts


@contextmanager
def _chart_style(salt: str) -> Iterator[None]:
    """Settings that make SVG output reproducible and self-contained, scoped to one chart."""
    with mpl.rc_context(
        {
            "svg.hashsalt": f"bot4-{salt}",  # unique, fixed ids per chart: no clashes, no randomness
            "svg.fonttype": "none",  # text as text: small and searchable
            "text.parse_math": False,  # a "$" in a name is a dollar sign, not TeX
            "timezone": "UTC",
            "font.size": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    ):
        yield


def _figure(height: float) -> Figure:
    """A wide figure with fixed margins: an automatic layout pass would double the drawing time."""
    fig = Figure(figsize=(11, height))
    fig.subplots_adjust(left=0.075, right=0.99, top=1 - 0.3 / height, bottom=0.5 / height)
    return fig


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    svg = text[text.index("<svg") :]
    # Inline SVG in HTML needs no namespace declarations; dropping them leaves no URL in the file.
    for ns in (' xmlns:xlink="http://www.w3.org/1999/xlink"', ' xmlns="http://www.w3.org/2000/svg"'):
        svg = svg.replace(ns, "", 1)
    return f'<div class="chart">{svg}</div>'


def _dates(ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Matplotlib date numbers (days since the 1970 epoch) from UTC nanoseconds."""
    return np.asarray(ts_ns, dtype=np.float64) / (86_400 * _NS_PER_S)


def _reduce(x: npt.NDArray[Any], y: npt.NDArray[np.float64]) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    """Keep the first, last, min and max point of each bucket: the shape survives, the size does not."""
    n = len(y)
    if n <= MAX_LINE_POINTS:
        return x, y
    buckets = MAX_LINE_POINTS // 2
    bucket = (np.arange(n, dtype=np.int64) * buckets) // n
    order = np.lexsort((y, bucket))  # by bucket, then value: each bucket's min first, max last
    starts = np.searchsorted(bucket[order], np.arange(buckets), side="left")
    ends = np.append(starts[1:], n) - 1
    keep = np.unique(np.concatenate((order[starts], order[ends], [0, n - 1])))
    return x[keep], y[keep]


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)


def _equity_charts(result: BacktestResult) -> str:
    ts = np.asarray(result.equity_ts, dtype=np.int64)
    equity = np.asarray(result.equity, dtype=np.float64)
    if len(ts) < 2:
        return '<p class="note">Fewer than two equity points: nothing to chart.</p>'
    x = _dates(ts)
    parts = []
    with _chart_style("equity"):
        fig = _figure(3.2)
        ax = fig.add_subplot()
        ex, ey = _reduce(x, equity)
        ax.plot(ex, ey, color="#1f5fa8", linewidth=1.0, label="equity")
        ax.axhline(float(result.starting_cash), color="#888", linewidth=0.8, linestyle="--", label="starting cash")
        ax.set_title(f"Equity ({result.quote_currency})")
        ax.legend(loc="upper left")
        ax.set_xlim(x[0], x[-1])
        _date_axis(ax)
        parts.append(_svg(fig))
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(peak > 0, equity / peak - 1.0, 0.0) * 100.0
    with _chart_style("drawdown"):
        fig = _figure(2.4)
        ax = fig.add_subplot()
        dx, dy = _reduce(x, depth)
        ax.fill_between(dx, dy, 0.0, color="#c62828", alpha=0.35, linewidth=0)
        ax.plot(dx, dy, color="#c62828", linewidth=0.8)
        ax.set_title("Drawdown (%)")
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(top=0.0)
        _date_axis(ax)
        parts.append(_svg(fig))
    return "\n".join(parts)


def _price_charts(result: BacktestResult) -> str:
    by_instrument: dict[str, list[FillRecord]] = {}
    for fill in result.fills:
        by_instrument.setdefault(fill.instrument_id, []).append(fill)
    parts = []
    for index, instrument in enumerate(sorted(result.bars)):
        parts.append(_price_chart(result, instrument, by_instrument.get(instrument, []), index))
    missing = sorted(set(by_instrument) - set(result.bars))
    if missing:
        parts.append(f'<p class="note">No bars for {_e(", ".join(missing))}: fills listed below only.</p>')
    return "\n".join(parts) or '<p class="note">No bars in this result.</p>'


def _price_chart(result: BacktestResult, instrument: str, fills: list[FillRecord], index: int) -> str:
    bars = result.bars[instrument]
    if len(bars) == 0:
        return f'<p class="note">{_e(instrument)}: no bars.</p>'
    x = _dates(bars.ts_close)
    with _chart_style(f"price-{index}"):
        fig = _figure(3.6)
        ax = fig.add_subplot()
        px, py = _reduce(x, np.asarray(bars.close, dtype=np.float64))
        ax.plot(px, py, color="#444", linewidth=0.8, label="close")
        for side, marker, color in (("BUY", "^", "#1a7f37"), ("SELL", "v", "#c62828")):
            chosen = [f for f in fills if f.side == side]
            if chosen:
                fx = _dates(np.array([f.ts for f in chosen], dtype=np.int64))
                fy = np.array([float(f.price) for f in chosen], dtype=np.float64)
                ax.scatter(fx, fy, marker=marker, color=color, s=28, zorder=3, label=f"{side.lower()} fills")
        ax.set_title(f"{instrument} {bars.timeframe} close")
        ax.legend(loc="upper left")
        if len(x) > 1:
            ax.set_xlim(x[0], x[-1])
        _date_axis(ax)
        return _svg(fig)
