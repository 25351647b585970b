"""The HTML report: self-contained, complete, escaped and byte-for-byte reproducible."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import numpy as np

from bot4.research import report
from bot4.research.metrics import compute_metrics
from bot4.research.report import TABLE_EDGE_ROWS, render_report, write_report
from bot4.research.results import RunEvent
from tests.unit.research._factory import DAY, T0, bars, fill, make_result, rich_result, trade

REMOTE_LOAD = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def _write(tmp_path: Path, name: str = "report.html") -> str:
    result = rich_result()
    path = write_report(result, compute_metrics(result), tmp_path / name)
    return path.read_text(encoding="utf-8")


def test_write_report_when_called_then_file_is_one_html_page_with_inline_charts(tmp_path: Path) -> None:
    text = _write(tmp_path)
    assert text.startswith("<!DOCTYPE html>")
    assert text.rstrip().endswith("</html>")
    assert text.count("<svg") == 3  # equity, drawdown, one price chart


def test_write_report_when_called_then_loads_nothing_remote(tmp_path: Path) -> None:
    text = _write(tmp_path)
    assert not REMOTE_LOAD.search(text)
    assert "http://" not in text
    assert "https://" not in text
    assert "<script" not in text
    assert "<link" not in text


def test_write_report_when_called_then_shows_metrics(tmp_path: Path) -> None:
    text = _write(tmp_path)
    for label in ("Total return", "CAGR", "Sharpe", "Sortino", "Max drawdown", "Calmar", "Win rate",
                  "Profit factor", "Exposure", "Fees paid", "Turnover"):  # fmt: skip
        assert f"<td>{label}" in text, label
    assert '<td class="n">18.80%</td>' in text  # total return 118.8 / 100 - 1
    assert '<td class="n">10.00%</td>' in text  # max drawdown 110 -> 99
    assert "2d 00:00:00" in text  # longest drawdown


def test_write_report_when_called_then_lists_trades_fills_and_events(tmp_path: Path) -> None:
    text = _write(tmp_path)
    assert '<td class="n pos">18.681050</td>' in text  # trade pnl, exact Decimal text
    assert "2024-01-02 00:00:00" in text  # trade entry / first fill
    assert "O-1" in text and "O-3" in text  # client order ids of both fills
    assert "0.068950" in text  # exact fee
    assert "ORDER_DENIED" in text and "max position exceeded" in text


def test_write_report_when_config_given_then_header_summarises_it(tmp_path: Path) -> None:
    text = _write(tmp_path)
    assert "<h1>bot4 backtest — ema_cross</h1>" in text
    assert "<td>fast</td><td>10</td>" in text
    assert "BINANCE:BTC/USDT" in text


def test_write_report_when_rendered_twice_then_byte_identical(tmp_path: Path) -> None:
    first = write_report(rich_result(), compute_metrics(rich_result()), tmp_path / "a.html").read_bytes()
    second = write_report(rich_result(), compute_metrics(rich_result()), tmp_path / "b.html").read_bytes()
    assert first == second


def test_render_report_when_strings_hostile_then_escaped_everywhere() -> None:
    evil = "<script>alert('x')</script>"
    result = make_result(
        [100.0, 101.0, 102.0],
        config={"strategy": evil, evil: "$x$ & <b>"},
        fills=[fill(0, "BUY", "1", "100", "0", instrument=evil)],
        events=[RunEvent(T0, "STRATEGY_ERROR", evil, evil)],
        bar_series={evil: bars(3)},
    )
    text = render_report(result, compute_metrics(result))
    assert "<script" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "$x$ &amp; &lt;b&gt;" in text


def test_render_report_when_many_fills_then_table_capped_with_note() -> None:
    n = 2 * TABLE_EDGE_ROWS + 7
    fills = [fill(i, "BUY", "1", "100", "0", ts=T0 + i) for i in range(n)]
    result = make_result([100.0, 101.0], fills=fills)
    text = render_report(result, compute_metrics(result))
    assert "… 7 rows omitted …" in text
    assert f">O-{TABLE_EDGE_ROWS - 1}<" in text
    assert f">O-{TABLE_EDGE_ROWS}<" not in text
    assert f">O-{n - 1}<" in text
    assert f"first and last {TABLE_EDGE_ROWS} of {n} rows" in text


def test_render_report_when_no_trades_no_bars_single_point_then_notes_instead_of_charts() -> None:
    result = make_result([100.0], final_equity="100")
    text = render_report(result, compute_metrics(result))
    assert "<svg" not in text
    assert "No trades." in text
    assert "No fills." in text
    assert "No bars in this result." in text


def test_render_report_when_fills_for_instrument_without_bars_then_says_so() -> None:
    result = make_result([100.0, 101.0], fills=[fill(0, "BUY", "1", "100", "0", instrument="KRAKEN:ETH/EUR")])
    text = render_report(result, compute_metrics(result))
    assert "No bars for KRAKEN:ETH/EUR" in text


def test_render_report_when_open_positions_then_listed_in_summary() -> None:
    result = make_result([100.0, 101.0], open_positions={"BINANCE:BTC/USDT": Decimal("-0.25")})
    text = render_report(result, compute_metrics(result))
    assert "BINANCE:BTC/USDT: -0.25" in text


def test_write_report_when_parent_missing_then_created(tmp_path: Path) -> None:
    result = rich_result()
    path = write_report(result, compute_metrics(result), tmp_path / "deep" / "er" / "r.html")
    assert path.is_file()


def test_reduce_when_series_long_then_keeps_spike_and_ends() -> None:
    n = 100_000
    x = np.arange(n, dtype=np.float64)
    y = np.zeros(n)
    y[54_321] = 9.0
    y[77_777] = -5.0
    rx, ry = report._reduce(x, y)
    assert len(rx) <= report.MAX_LINE_POINTS + 2
    assert ry.max() == 9.0 and ry.min() == -5.0
    assert rx[0] == 0 and rx[-1] == n - 1
    assert np.all(np.diff(rx) > 0)


def test_render_report_when_long_daily_curve_then_charts_stay_small() -> None:
    n = 20_000
    equity = list(100.0 + np.cumsum(np.sin(np.arange(n) / 50.0)))
    result = make_result(equity, ts=[T0 + i * DAY for i in range(n)], bar_series={"X:A/B": bars(n)})
    text = render_report(result, compute_metrics(result))
    assert len(text) < 2_000_000


def test_render_report_when_config_lists_strategies_then_title_and_indexed_keys() -> None:
    config = {"strategies": [{"name": "ema_cross", "params": {"fast": 5}}, {"name": "rsi"}], "cash": "10"}
    result = make_result([100.0, 101.0], config=config)
    text = render_report(result, compute_metrics(result))
    assert "<h1>bot4 backtest — ema_cross, rsi</h1>" in text
    assert "<td>strategies[0].params.fast</td><td>5</td>" in text
    assert "<td>strategies[1].name</td><td>rsi</td>" in text


def test_render_report_when_amounts_have_long_tails_then_metrics_table_shows_readable_exact_amounts() -> None:
    result = make_result(
        [100.0, 101.0],
        final_equity="7382.2112351406810000000",
        fills=[fill(0, "BUY", "1", "100", "0.000000000000000123")],
        trades=[trade("2"), trade("0"), trade("-1")],  # average 1/3
    )
    text = render_report(result, compute_metrics(result))
    assert "<td>Final equity</td><td>7382.2112351407</td>" in text  # 10 decimals, no zero tail
    assert '<td class="n">0.3333333333</td>' in text
    assert '<td class="n">0.000000000000000123</td>' in text  # tiny fees are not rounded away
