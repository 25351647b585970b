"""Download historical candles through ccxt into the local store: resumable, checked, gaps repaired.

Why each rule is here:

- Pages are written to the store as they arrive (atomic replace, see ``store``), so a run that dies
  loses at most the unwritten tail and the next run starts after the last stored candle instead of
  from ``since``.
- Every row is checked before it is kept (NaN, non-positive prices, negative volume, high < low,
  open/close outside the range, misaligned times): a bad candle stops the run with its timestamp,
  because a silently stored bad bar poisons every later backtest.
- Only closed candles are stored: the bar still forming at ``clock.now_ns()`` would be stored with
  a partial volume and never corrected, as a resumed run starts after it.
- After paging, holes in the requested window (``gaps.find_gaps``) are fetched again, range by range.
  A venue that skips rows under load fills them on the second ask; a hole the venue really has comes
  back empty and is *reported*, never filled with invented candles.
- Reads are retried, bounded: 429/418 wait exactly ``Retry-After`` (calling early gets the IP banned),
  network errors and 5xx back off exponentially. Anything else is a clear error.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import ccxt  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import pandas as pd

from bot4.data.bars import NS_PER_MS, BarSeries
from bot4.data.gaps import find_gaps
from bot4.data.store import COLUMNS, CandleStore, empty_frame
from bot4.execution.errors import RetryableError
from bot4.model.ports import Clock

ProgressFn = Callable[[int, int], None]
SleepFn = Callable[[float], None]
T = TypeVar("T")

_DAY_MS = 86_400_000


class DownloadError(RuntimeError):
    """The download stopped: retries exhausted, the venue refused, or it sent a bad candle."""


class UnknownChoice(ValueError):
    """An exchange, symbol or timeframe the venue does not offer; the message lists close matches."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long a read may keep failing before the download gives up."""

    max_attempts: int = 6
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 300.0  # a longer Retry-After (a ban) ends the run: rerun later, it resumes

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class MissingRange:
    """Candles absent from the venue: open times ``first_ms`` to ``last_ms`` inclusive."""

    first_ms: int
    last_ms: int
    bars: int

    def describe(self) -> str:
        return f"{_iso(self.first_ms)} .. {_iso(self.last_ms)} ({self.bars} bar{'s' if self.bars != 1 else ''})"


@dataclass
class DownloadReport:
    """What one run did; ``since_ms``/``until_ms`` are the window actually requested (until exclusive)."""

    exchange: str
    symbol: str
    timeframe: str
    path: Path
    since_ms: int
    until_ms: int
    resumed_from_ms: int | None = None
    rows_written: int = 0
    rows_total: int = 0
    pages: int = 0
    retries: int = 0
    gaps_found: int = 0
    gaps_repaired: int = 0
    gaps_remaining: list[MissingRange] = field(default_factory=list)
    first_candle_ms: int | None = None  # stored candles inside the window: a late first or early last
    last_candle_ms: int | None = None  # one means the venue has nothing there (listing, delisting)

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "path": str(self.path),
            "since": _iso(self.since_ms),
            "until": _iso(self.until_ms),
            "resumed_from": None if self.resumed_from_ms is None else _iso(self.resumed_from_ms),
            "rows_written": self.rows_written,
            "rows_total": self.rows_total,
            "pages": self.pages,
            "retries": self.retries,
            "gaps_found": self.gaps_found,
            "gaps_repaired": self.gaps_repaired,
            "gaps_remaining": [
                {"first": _iso(g.first_ms), "last": _iso(g.last_ms), "bars": g.bars} for g in self.gaps_remaining
            ],
            "first_candle": None if self.first_candle_ms is None else _iso(self.first_candle_ms),
            "last_candle": None if self.last_candle_ms is None else _iso(self.last_candle_ms),
        }


def close_matches(word: str, choices: list[str], what: str) -> str:
    """``unknown X 'w'; did you mean ...? valid: ...`` for an error message."""
    near = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    text = f"unknown {what} {word!r}"
    if near:
        text += f"; did you mean {', '.join(repr(n) for n in near)}?"
    shown = choices if len(choices) <= 20 else [*choices[:20], f"... ({len(choices)} in all)"]
    return f"{text} (valid: {', '.join(shown)})"


def check_timeframe(exchange: Any, timeframe: str) -> int:
    """The timeframe in milliseconds, if the venue offers it and bot4's bars can hold it."""
    offered = list(getattr(exchange, "timeframes", None) or {})
    if offered and timeframe not in offered:
        raise UnknownChoice(close_matches(timeframe, offered, f"timeframe for {exchange.id}"))
    if timeframe.endswith(("M", "y")):
        raise UnknownChoice(f"timeframe {timeframe!r}: calendar months and years are not bars bot4 can store")
    return int(exchange.parse_timeframe(timeframe)) * 1000


def download_candles(
    exchange: Any,
    symbol: str,
    timeframe: str,
    since_ms: int,
    until_ms: int | None,
    store: CandleStore,
    clock: Clock,
    progress: ProgressFn | None = None,
    *,
    limit: int = 1000,
    retry: RetryPolicy | None = None,
    sleep: SleepFn = time.sleep,
) -> DownloadReport:
    """Make ``[since_ms, until_ms)`` of ``symbol`` complete in the store (until: default now).

    ``exchange`` is a synchronous ``ccxt.Exchange``. ``progress(done, total)`` counts bars.
    Raises ``UnknownChoice`` for a symbol/timeframe the venue lacks, ``DownloadError`` otherwise.
    """
    if limit < 1:
        raise ValueError(f"limit: must be >= 1 (got {limit})")
    tf_ms = check_timeframe(exchange, timeframe)
    fetch = _Fetcher(exchange, symbol, timeframe, tf_ms, limit, retry or RetryPolicy(), sleep)
    fetch.call(exchange.load_markets, "load markets")
    if symbol not in exchange.markets:
        raise UnknownChoice(close_matches(symbol, sorted(exchange.markets), f"symbol on {exchange.id}"))
    now_ms = clock.now_ns() // NS_PER_MS
    end = min(until_ms if until_ms is not None else now_ms, now_ms - tf_ms + 1)  # closed candles only
    if since_ms >= end:
        raise ValueError(f"since {_iso(since_ms)} is not before until {_iso(end)} (the last closed {timeframe} bar)")
    path = store.path(exchange.id, symbol, timeframe)
    report = DownloadReport(exchange.id, symbol, timeframe, path, since_ms, end)
    fetch.report = report
    sink = _Sink(store, exchange.id, symbol, timeframe, store.read(exchange.id, symbol, timeframe))
    ranges, report.resumed_from_ms = _plan(sink.frame, since_ms, end, tf_ms)
    total = sum(max(0, (b - a) // tf_ms) for a, b in ranges)
    done = 0

    def advanced(bars: int) -> None:
        nonlocal done
        done += bars
        if progress is not None:
            progress(min(done, total), total)

    try:
        for a, b in ranges:
            _fetch_range(fetch, sink, a, b, advanced)
        holes = _missing(sink.frame, tf_ms, since_ms, end, symbol)
        report.gaps_found = len(holes)
        for hole in holes:
            _fetch_range(fetch, sink, hole.first_ms, hole.last_ms + 1, lambda _n: None)
    finally:
        sink.flush()
    report.gaps_remaining = _missing(sink.frame, tf_ms, since_ms, end, symbol)
    report.gaps_repaired = sum(
        1 for h in holes if not any(r.first_ms <= h.last_ms and r.last_ms >= h.first_ms for r in report.gaps_remaining)
    )
    report.rows_written = sink.written
    report.rows_total = len(sink.frame)
    stored = sink.frame["timestamp_ms"].to_numpy(dtype=np.int64)
    inside = stored[(stored >= since_ms) & (stored < end)]
    if len(inside):
        report.first_candle_ms, report.last_candle_ms = int(inside[0]), int(inside[-1])
    if progress is not None:
        progress(total, total)
    return report


def _plan(stored: pd.DataFrame, since_ms: int, end: int, tf_ms: int) -> tuple[list[tuple[int, int]], int | None]:
    """Ranges still to fetch around what is stored (before its first, after its last candle), and where
    the run resumes; holes inside the stored span are left to the gap repair."""
    if not len(stored):
        return [(since_ms, end)], None
    first, last = int(stored["timestamp_ms"].iloc[0]), int(stored["timestamp_ms"].iloc[-1])
    ranges = [(since_ms, min(first, end))] if since_ms < first else []
    tail = max(since_ms, last + tf_ms)
    if tail >= end:
        return ranges, None
    return [*ranges, (tail, end)], tail if last >= since_ms else None


def _fetch_range(fetch: _Fetcher, sink: _Sink, a: int, b: int, advanced: Callable[[int], None]) -> None:
    """Page forward through ``[a, b)`` until the venue has nothing more in it."""
    cursor = a
    while cursor < b:
        ts, values = fetch.page(cursor, b)
        if not len(ts):  # ask once more: a one-off empty reply must not cut the range short unnoticed
            ts, values = fetch.page(cursor, b)
        if not len(ts):
            return
        sink.add(ts, values)
        nxt = int(ts[-1]) + fetch.tf_ms
        advanced((nxt - cursor) // fetch.tf_ms)
        cursor = nxt


def _missing(frame: pd.DataFrame, tf_ms: int, lo: int, hi: int, symbol: str) -> list[MissingRange]:
    """Holes between stored candles, clipped to the window ``[lo, hi)``."""
    ts = frame["timestamp_ms"].to_numpy(dtype=np.int64)
    empty = np.zeros(len(ts))
    series = BarSeries(symbol, tf_ms * NS_PER_MS, ts * NS_PER_MS, empty, empty, empty, empty, empty)
    out = []
    for gap in find_gaps(series):
        first = max(gap.after_ts // NS_PER_MS + tf_ms, lo)
        last = min(gap.before_ts // NS_PER_MS - tf_ms, hi - 1)
        if first <= last:
            out.append(MissingRange(first, last, (last - first) // tf_ms + 1))
    return out


class _Sink:
    """Stored candles plus validated pages not yet written; flushes often enough to bound lost work."""

    def __init__(
        self, store: CandleStore, exchange_id: str, symbol: str, timeframe: str, frame: pd.DataFrame | None
    ) -> None:
        self.store, self.key = store, (exchange_id, symbol, timeframe)
        self.frame = frame if frame is not None else empty_frame()
        self.pending: list[pd.DataFrame] = []
        self.pending_rows = 0
        self.written = 0

    def add(self, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> None:
        page = pd.DataFrame(values, columns=list(COLUMNS[1:]))
        page.insert(0, "timestamp_ms", ts)
        self.pending.append(page)
        self.pending_rows += len(page)
        # Every page while the file is small, later every ~5 % of it: each flush rewrites the whole file,
        # so this keeps the total rewrite work linear; a SIGKILL loses at most that 5 % (refetched on rerun).
        if self.pending_rows >= max(1, len(self.frame) // 20):
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        before = len(self.frame)
        merged = pd.concat([self.frame, *self.pending], ignore_index=True)
        merged = merged.drop_duplicates("timestamp_ms", keep="last").sort_values("timestamp_ms", ignore_index=True)
        self.store.write(*self.key, merged)
        self.frame, self.pending, self.pending_rows = merged, [], 0
        self.written += len(merged) - before


class _Fetcher:
    """One venue, one series: retried reads and validated pages."""

    def __init__(
        self,
        exchange: Any,
        symbol: str,
        timeframe: str,
        tf_ms: int,
        limit: int,
        retry: RetryPolicy,
        sleep: SleepFn,
    ) -> None:
        self.exchange, self.symbol, self.timeframe, self.tf_ms = exchange, symbol, timeframe, tf_ms
        self.limit, self.retry, self.sleep = limit, retry, sleep
        self.report: DownloadReport | None = None
        self.label = f"{exchange.id} {symbol} {timeframe}"

    def page(self, cursor: int, end: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Validated candles in ``[cursor, end)``, oldest first, from one ``fetch_ohlcv`` call."""
        what = f"fetch_ohlcv {self.label} since {_iso(cursor)}"

        def read() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
            rows = self.exchange.fetch_ohlcv(
                self.symbol, self.timeframe, since=cursor, limit=self.limit, params={"until": end - 1}
            )
            if rows == [] and not _empty_list_reply(self.exchange):
                # ccxt turns a body it cannot parse into [], which would read as "no more candles"
                raise _Malformed(f"{what}: the reply is not valid JSON")
            return _parse(rows, what)

        ts, values = self.call(read, what)
        if self.report is not None:
            self.report.pages += 1
        keep = (ts >= cursor) & (ts < end)
        ts, values = ts[keep], values[keep]
        order = np.argsort(ts, kind="stable")
        ts, values = ts[order], values[order]
        if len(ts) > 1:  # a venue repeating a row: keep its last version
            last = np.r_[ts[1:] != ts[:-1], True]
            ts, values = ts[last], values[last]
        _validate(ts, values, self.tf_ms, self.label)
        return ts, values

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()`` with bounded retries; Retry-After is obeyed to the second, never shortened."""
        policy = self.retry
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return fn()
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
                wait = _retry_after(self.exchange)
                if wait is not None and wait > policy.max_retry_after_s:
                    raise DownloadError(
                        f"{what}: rate limited, the venue asks to wait {wait:.0f} s (more than "
                        f"{policy.max_retry_after_s:.0f} s); run again later, the download resumes"
                    ) from exc
                error: Exception = exc
                wait = wait if wait is not None else policy.backoff(attempt)
            except (ccxt.NetworkError, RetryableError, _Malformed) as exc:
                error, wait = exc, policy.backoff(attempt)
            except ccxt.BaseError as exc:
                raise DownloadError(f"{what}: {type(exc).__name__}: {_short(exc)}") from exc
            if attempt == policy.max_attempts:
                raise DownloadError(
                    f"{what}: gave up after {attempt} attempts; last error {type(error).__name__}: {_short(error)}"
                ) from error
            if self.report is not None:
                self.report.retries += 1
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


class _Malformed(Exception):
    """A reply that is not a list of candles (e.g. a truncated body): worth asking again."""


def _parse(rows: Any, what: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    if not isinstance(rows, list) or not all(isinstance(r, (list, tuple)) and len(r) >= 6 for r in rows):
        raise _Malformed(f"{what}: the reply is not a list of [time, open, high, low, close, volume] rows")
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 5), dtype=np.float64)
    try:
        ts = np.array([int(r[0]) for r in rows], dtype=np.int64)
        values = np.array([[np.nan if v is None else float(v) for v in r[1:6]] for r in rows], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _Malformed(f"{what}: a row holds a value that is not a number ({exc})") from exc
    return ts, values


def _validate(ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], tf_ms: int, label: str) -> None:
    """Refuse the page at its first bad candle, naming the candle's time, the field and the value."""
    with np.errstate(invalid="ignore"):
        checks = _checks(ts, values, tf_ms)
    for bad, problem in checks:
        where = np.flatnonzero(bad)
        if where.size:
            i = int(where[0])
            raise DownloadError(
                f"{label}: bad candle at {_iso(int(ts[i]))}: {problem(i)}; nothing from this page was stored"
            )


def _checks(
    ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], tf_ms: int
) -> list[tuple[npt.NDArray[np.bool_], Callable[[int], str]]]:
    o, h, lo, c, v = (values[:, k] for k in range(5))

    def says(template: str) -> Callable[[int], str]:
        return lambda i: template.format(o=float(o[i]), h=float(h[i]), lo=float(lo[i]), c=float(c[i]), v=float(v[i]))

    checks: list[tuple[npt.NDArray[np.bool_], Callable[[int], str]]] = []
    if _DAY_MS % tf_ms == 0:
        checks.append((ts % tf_ms != 0, says(f"open time is not on a {tf_ms // 1000} s boundary")))
    for key, name in (("o", "open"), ("h", "high"), ("lo", "low"), ("c", "close"), ("v", "volume")):
        col = values[:, ("o", "h", "lo", "c", "v").index(key)]
        checks.append((~np.isfinite(col), says(f"{name} is {{{key}}} (not a finite number)")))
        if key == "v":
            checks.append((col < 0, says("volume must not be negative, got {v!r}")))
        else:
            checks.append((col <= 0, says(f"{name} must be positive, got {{{key}!r}}")))
    checks.append((h < lo, says("high < low (high={h!r}, low={lo!r})")))
    checks.append(((o < lo) | (o > h), says("open {o!r} is outside [low {lo!r}, high {h!r}]")))
    checks.append(((c < lo) | (c > h), says("close {c!r} is outside [low {lo!r}, high {h!r}]")))
    return checks


def _empty_list_reply(exchange: Any) -> bool:
    text = getattr(exchange, "last_http_response", None)
    if not isinstance(text, str):
        return True  # this client keeps no raw reply: nothing to check against
    try:
        return bool(json.loads(text) == [])
    except ValueError:
        return False


def _retry_after(exchange: Any) -> float | None:
    headers = getattr(exchange, "last_response_headers", None) or {}
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date or garbage: fall back to backoff


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "(no message)"


def _iso(ms: int) -> str:
    fmt = "%Y-%m-%d %H:%M UTC" if ms % 60_000 == 0 else "%Y-%m-%d %H:%M:%S UTC"
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime(fmt)


__all__ = [
    "DownloadError",
    "DownloadReport",
    "MissingRange",
    "RetryPolicy",
    "UnknownChoice",
    "check_timeframe",
    "close_matches",
    "download_candles",
]
