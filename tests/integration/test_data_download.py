"""``bot4 data download`` against the local exchange on 127.0.0.1, through the real (sync) ccxt client.

The server serves the bundled real Binance BTC/USDT 5m candles on ``GET /api/v3/klines``; faults come
from its fault plan (E1 429/Retry-After, E4-style drops and 5xx, canned bodies with rows missing or a
bad candle). The download runs in the test thread, the server on its own event loop in a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot4.cli.data_commands import make_exchange
from bot4.cli.main import main
from bot4.data.bars import NS_PER_MS, BarSeries
from bot4.data.download import DownloadError, MissingRange, RetryPolicy, UnknownChoice, download_candles
from bot4.data.loaders import bundled_path, load_ohlcv
from bot4.data.store import CandleStore
from bot4.engine.clock import LiveClock
from bot4.venues.sim.server import Account, ExchangeServer, FaultPlan, ServerConfig, WeightLimiter

SYMBOL, TF = "BTC/USDT", "5m"
KLINES = "GET /api/v3/klines"
FAST = RetryPolicy(max_attempts=4, backoff_s=0.01, max_backoff_s=0.05, max_retry_after_s=10)
SOURCE = load_ohlcv(bundled_path("BINANCE-USDM_BTC_USDT_5m"))
TS = SOURCE.ts_open // NS_PER_MS  # 10 999 candles, no gaps
UNTIL = int(TS[-1]) + 300_000


@contextlib.contextmanager
def serving(candles: list[Path] | None = None, **kw: Any) -> Iterator[ExchangeServer]:
    """The exchange on its own loop thread, so the synchronous ccxt client can block in this one."""
    config = ServerConfig(
        accounts=[Account("alice", "alice-key", "alice-secret", {"USDT": Decimal(1)})],
        candles=candles or [bundled_path("BINANCE-USDM_BTC_USDT_5m")],
        **kw,
    )
    server = ExchangeServer(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def run(server: ExchangeServer, store: CandleStore, **kw: Any) -> Any:
    kw.setdefault("retry", FAST)
    since = kw.pop("since", int(TS[0]))
    return download_candles(make_exchange("binance", server.url), SYMBOL, TF, since, UNTIL, store, LiveClock(), **kw)


def stored(store: CandleStore) -> BarSeries:
    return load_ohlcv(store.path("binance", SYMBOL, TF))


def assert_equals_source(series: BarSeries) -> None:
    np.testing.assert_array_equal(series.ts_open, SOURCE.ts_open)
    for col in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(series, col), getattr(SOURCE, col), err_msg=col)


def start_times(server: ExchangeServer) -> list[int | None]:
    return [start for _sym, _iv, start, _end, _lim in server.api.klines.served]


def test_download_when_fresh_then_store_holds_exactly_the_source_candles(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    with serving() as srv:
        report = run(srv, store)
        starts = start_times(srv)
    assert_equals_source(stored(store))
    assert (report.rows_written, report.rows_total, report.gaps_found, report.gaps_remaining) == (10999, 10999, 0, [])
    # 11 pages of 1000 (the last one short) reach ``until``: no request past it
    assert report.pages == 11 and starts == [int(TS[i]) for i in range(0, 11000, 1000)]
    assert (report.first_candle_ms, report.last_candle_ms) == (int(TS[0]), int(TS[-1]))
    assert store.path("binance", SYMBOL, TF) == tmp_path / "binance" / "BTC_USDT-5m.parquet"


class _Stop(Exception):
    """Stands in for Ctrl-C / a crash between pages."""


@pytest.mark.parametrize("how", ["fault", "exception"])
def test_download_when_interrupted_after_4_pages_then_rerun_resumes_without_refetch_or_duplicates(
    tmp_path: Path, how: str
) -> None:
    """B-class: an interrupted run keeps its pages; the rerun asks only for what is missing."""
    store = CandleStore(tmp_path)
    plan = FaultPlan()
    with serving(faults=plan) as srv:
        if how == "fault":  # a definite refusal (not retryable) on the 5th page
            plan.add(KLINES, "status", code=400, body={"code": -1100, "msg": "Illegal characters."}, skip=4, count=1)
            with pytest.raises(DownloadError, match="BadRequest"):
                run(srv, store)
        else:
            calls: list[int] = []

            def progress(done: int, total: int) -> None:
                calls.append(done)
                if len(calls) == 4:
                    raise _Stop

            with pytest.raises(_Stop):
                run(srv, store, progress=progress)
        np.testing.assert_array_equal(stored(store).ts_open, SOURCE.ts_open[:4000])
        first_run = len(srv.api.klines.served)
        report = run(srv, store)
        second = start_times(srv)[first_run:]
    assert_equals_source(stored(store))
    assert report.resumed_from_ms == int(TS[4000]) and report.rows_written == 6999
    # no stored page is asked for again: 7 pages from candle 4000 on, up to ``until``
    assert second == [int(TS[i]) for i in range(4000, 11000, 1000)]


def test_download_when_fault_plan_drops_rows_from_a_page_then_gap_is_found_and_refetched_exactly(
    tmp_path: Path,
) -> None:
    """A venue that skips rows under load: the hole is detected after paging and filled on a second ask."""
    store = CandleStore(tmp_path)
    plan = FaultPlan()
    with serving(faults=plan) as srv:
        page2 = srv.api.klines.query("BTCUSDT", TF, int(TS[1000]), UNTIL - 1, 1000)
        holed = page2[:100] + page2[150:]
        plan.add(KLINES, "status", code=200, body=holed, when={"startTime": str(TS[1000])}, count=1)
        report = run(srv, store)
        served = list(srv.api.klines.served)
    assert (report.gaps_found, report.gaps_repaired, report.gaps_remaining) == (1, 1, [])
    assert_equals_source(stored(store))
    repairs = [(start, end) for _s, _i, start, end, _l in served if end is not None and end < UNTIL - 1]
    assert repairs[0] == (int(TS[1100]), int(TS[1149]))


def test_download_when_source_really_lacks_candles_then_gap_is_reported_never_filled(tmp_path: Path) -> None:
    """Never invent candles: a hole the venue has stays a hole, and is named in the report."""
    frame = pd.read_csv(bundled_path("BINANCE-USDM_BTC_USDT_5m"))
    holed_file = tmp_path / "BINANCE_BTC_USDT_5m.csv"
    frame.drop(index=range(5000, 5020)).to_csv(holed_file, index=False)
    store = CandleStore(tmp_path / "store")
    with serving([holed_file]) as srv:
        report = run(srv, store)
        again = run(srv, store)
    assert report.gaps_found == 1 and report.gaps_repaired == 0
    assert report.gaps_remaining == [MissingRange(int(TS[5000]), int(TS[5019]), 20)]
    assert again.gaps_remaining == report.gaps_remaining and again.rows_written == 0
    got = stored(store)
    np.testing.assert_array_equal(got.ts_open, np.delete(SOURCE.ts_open, range(5000, 5020)))
    assert "2023-01-20" in report.gaps_remaining[0].describe()


def test_download_when_rate_limited_then_retry_after_is_waited_out_and_the_ip_is_never_banned(
    tmp_path: Path,
) -> None:
    """E1: 429 from the venue's real weight limiter; any early retry would be a strike and, here, a 418 ban."""
    store = CandleStore(tmp_path)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        threading.Event().wait(seconds)

    limiter = WeightLimiter(capacity=24, window_s=2.0, ban_after=0, ban_s=120)
    with serving(limiter=limiter) as srv:
        report = run(srv, store, sleep=sleep)
        assert limiter.banned_until_ns("127.0.0.1") == 0
    assert_equals_source(stored(store))
    assert report.retries >= 1 and waits and all(w >= 1.0 for w in waits)


def test_download_when_429_says_retry_after_2_then_it_waits_exactly_2_seconds(tmp_path: Path) -> None:
    plan = FaultPlan()
    plan.add(KLINES, "status", code=429, headers={"Retry-After": "2"}, skip=2, count=1)
    waits: list[float] = []
    with serving(faults=plan) as srv:
        report = run(srv, CandleStore(tmp_path), sleep=waits.append)
    assert waits == [2.0] and report.retries == 1 and report.rows_total == 10999


def test_download_when_5xx_drops_and_malformed_bodies_then_reads_are_retried_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    plan = FaultPlan()
    plan.add(KLINES, "status", code=503, skip=1, count=2)
    plan.add(KLINES, "drop_before_book", skip=5, count=1)
    plan.add(KLINES, "malformed_body", skip=8, count=1)
    waits: list[float] = []
    store = CandleStore(tmp_path)
    with serving(faults=plan) as srv:
        report = run(srv, store, sleep=waits.append)
    assert report.retries == 4 and waits == [0.01, 0.02, 0.01, 0.01]
    assert_equals_source(stored(store))


def test_download_when_venue_keeps_failing_then_bounded_attempts_and_a_clear_error(tmp_path: Path) -> None:
    plan = FaultPlan()
    plan.add(KLINES, "status", code=503, skip=3)
    store = CandleStore(tmp_path)
    with serving(faults=plan) as srv:
        with pytest.raises(DownloadError, match=r"since 2023-01-13 .*gave up after 4 attempts.*ExchangeNotAvailable"):
            run(srv, store, sleep=lambda _s: None)
        assert len(srv.api.klines.served) == 3  # refused requests never reach the handler
    np.testing.assert_array_equal(stored(store).ts_open, SOURCE.ts_open[:3000])


def test_download_when_ban_is_longer_than_policy_then_stops_with_rerun_advice(tmp_path: Path) -> None:
    plan = FaultPlan()
    plan.add(KLINES, "status", code=418, headers={"Retry-After": "120"}, count=1)
    with serving(faults=plan) as srv, pytest.raises(DownloadError, match=r"wait 120 s .*run again later"):
        run(srv, CandleStore(tmp_path), sleep=lambda _s: None)


@pytest.mark.parametrize(
    ("row", "value", "needle"),
    [
        (2, "nan", "high is nan"),
        (3, "-5", "high must be positive, got -5.0"),
        (2, "1", "high < low"),
    ],
)
def test_download_when_venue_sends_bad_candle_then_error_names_its_time_and_page_is_not_stored(
    tmp_path: Path, row: int, value: str, needle: str
) -> None:
    """G2 at the data edge: NaN, negative, high < low are refused with the candle's time."""
    plan = FaultPlan()
    store = CandleStore(tmp_path)
    with serving(faults=plan) as srv:
        page = srv.api.klines.query("BTCUSDT", TF, int(TS[1000]), UNTIL - 1, 1000)
        page[row][2] = value
        plan.add(KLINES, "status", code=200, body=page, when={"startTime": str(TS[1000])}, count=1)
        when = pd.Timestamp(int(TS[1000 + row]), unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
        with pytest.raises(DownloadError, match=f"bad candle at {when}: {needle}"):
            run(srv, store)
    np.testing.assert_array_equal(stored(store).ts_open, SOURCE.ts_open[:1000])


def test_download_when_symbol_unknown_then_error_lists_close_matches(tmp_path: Path) -> None:
    with serving() as srv, pytest.raises(UnknownChoice, match=r"unknown symbol on binance 'BTC/USDX'; did you mean"):
        download_candles(
            make_exchange("binance", srv.url), "BTC/USDX", TF, int(TS[0]), UNTIL, CandleStore(tmp_path), LiveClock()
        )


def test_downloaded_parquet_when_backtested_then_same_result_as_the_source_csv(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    with serving() as srv:
        run(srv, store)
    path = store.path("binance", SYMBOL, TF)
    results = []
    for extra in (["--data", str(path)], []):  # [] = the bundled CSV the server served
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["backtest", "--no-store", "--json", *extra]) == 0
        results.append(json.loads(out.getvalue()))
    downloaded, source = results
    assert downloaded["summary"]["bars"] == 10999
    assert downloaded["trades"] == source["trades"] and downloaded["metrics"] == source["metrics"]


def test_cli_download_when_run_twice_then_json_report_and_second_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "download", "--exchange", "binance", "--symbol", SYMBOL, "--timeframe", TF]
    args += ["--since", "2023-01-02T16:45", "--until", "2023-02-09T21:25", "--store", str(tmp_path), "--json"]
    with serving() as srv:
        assert main([*args, "--url", srv.url]) == 0
        first = json.loads(capsys.readouterr().out)
        assert main([*args[:-1], "--url", srv.url.replace("127.0.0.1", "localhost")]) == 0
        text = capsys.readouterr().out
    assert first["rows_written"] == 10999 and first["gaps_remaining"] == [] and first["resumed_from"] is None
    assert "0 candles written (10999 stored)" in text and "gaps: 0 found" in text
    assert_equals_source(load_ohlcv(tmp_path / "binance" / "BTC_USDT-5m.parquet"))


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--symbol", "BTC/USDX"], "unknown symbol on binance 'BTC/USDX'; did you mean 'BTC/USDT'?"),
        (["--timeframe", "7m"], "unknown timeframe for binance '7m'; did you mean"),
        (["--since", "yesterday-ish"], "--since 'yesterday-ish': expected a date"),
        (["--since", "2030-01-01"], "is not before until"),
    ],
)
def test_cli_download_when_input_is_bad_then_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    base = {"--exchange": "binance", "--symbol": SYMBOL, "--timeframe": TF, "--since": "2023-01-02"}
    base.update(dict(zip(extra[::2], extra[1::2], strict=True)))
    argv = ["data", "download", *[x for kv in base.items() for x in kv], "--store", str(tmp_path)]
    with serving() as srv:
        code = main([*argv, "--url", srv.url])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert needle in err


def get_klines(server: ExchangeServer, query: str) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{server.url}/api/v3/klines?{query}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_klines_endpoint_when_queried_then_binance_paging_semantics_and_errors() -> None:
    with serving() as srv:
        q = "symbol=BTCUSDT&interval=5m"
        status, rows = get_klines(srv, f"{q}&startTime={TS[10]}&limit=3")
        assert status == 200 and [r[0] for r in rows] == [int(t) for t in TS[10:13]]
        assert rows[0][1:6] == [f"{getattr(SOURCE, c)[10]:.8f}" for c in ("open", "high", "low", "close", "volume")]
        assert rows[0][6] == int(TS[10]) + 299_999 and len(rows[0]) == 12
        assert [r[0] for r in get_klines(srv, f"{q}&endTime={TS[10]}&limit=2")[1]] == [int(TS[9]), int(TS[10])]
        assert [r[0] for r in get_klines(srv, f"{q}&limit=2")[1]] == [int(TS[-2]), int(TS[-1])]
        assert len(get_klines(srv, q)[1]) == 500  # default limit
        between = get_klines(srv, f"{q}&startTime={TS[5]}&endTime={TS[7]}")[1]
        assert [r[0] for r in between] == [int(t) for t in TS[5:8]]
        hour0 = int(TS[0]) // 3_600_000 * 3_600_000  # 16:00; the data starts at 16:45
        hourly = get_klines(srv, f"symbol=BTCUSDT&interval=1h&startTime={hour0}&limit=2")[1]
        first_hour = SOURCE.to_frame().resample("1h").agg({"open": "first", "high": "max", "volume": "sum"}).iloc[0]
        assert [r[0] for r in hourly] == [hour0, hour0 + 3_600_000]
        assert float(hourly[0][1]) == first_hour["open"] and float(hourly[0][2]) == first_hour["high"]
        assert float(hourly[0][5]) == pytest.approx(first_hour["volume"])
        assert get_klines(srv, "symbol=ETHUSDT&interval=5m") == (400, {"code": -1121, "msg": "Invalid symbol."})
        assert get_klines(srv, "symbol=BTCUSDT&interval=7m")[1]["code"] == -1120
        assert "at 5m and multiples only" in get_klines(srv, "symbol=BTCUSDT&interval=1m")[1]["msg"]
        assert get_klines(srv, f"{q}&limit=1001")[1]["code"] == -1100
        assert get_klines(srv, f"{q}&startTime=5&endTime=4")[1]["code"] == -1023
        assert get_klines(srv, "interval=5m")[1]["code"] == -1102


def test_download_when_since_moves_earlier_then_only_the_new_head_is_fetched(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    with serving() as srv:
        run(srv, store, since=int(TS[5000]))
        first_run = len(srv.api.klines.served)
        report = run(srv, store)
        second = srv.api.klines.served[first_run:]
    assert_equals_source(stored(store))
    assert report.rows_written == 5000 and report.resumed_from_ms is None
    assert [(start, end) for _s, _i, start, end, _l in second] == [
        (int(TS[i]), int(TS[5000]) - 1) for i in range(0, 5000, 1000)
    ]
