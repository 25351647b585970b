"""``bot4 data download``: historical candles from an exchange (through ccxt) into the local store.

Only public market data is read, so no API key is asked for. ``--url`` redirects every ccxt endpoint to
a local server (``bot4 exchange serve``); any host but 127.0.0.1/localhost is refused, so the option
cannot send traffic to an arbitrary machine. Bad input ends in one ``error:`` line and exit code 2; a
download that fails part-way exits 1 and keeps what it stored, so running it again resumes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from bot4.cli.progress import ProgressBar
from bot4.data.errors import DataError

data_app = typer.Typer(help="Market data: download candles into the local store.", no_args_is_help=True)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# A local server speaks Binance spot only: keep ccxt away from the futures/margin/currency endpoints.
LOCAL_OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}


class _UserError(Exception):
    """Bad input: one line, exit 2."""


@data_app.callback()
def _group() -> None:
    """Keep ``download`` a subcommand even while it is the only one."""


def local_url(url: str) -> str:
    """``scheme://host:port`` of a loopback server, or ``_UserError`` naming the refused URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _UserError(f"--url {url!r}: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or parts.hostname not in LOCAL_HOSTS or parts.username is not None:
        raise _UserError(
            f"--url {url!r}: only a local server is allowed (http://127.0.0.1:PORT or http://localhost:PORT); "
            "leave --url out to use the exchange's own API"
        )
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def parse_time(text: str, option: str) -> int:
    """Epoch milliseconds from ``2020-01-01``, ``2020-01-01T12:00``, an ISO time with offset, or epoch ms."""
    import pandas as pd

    raw = text.strip()
    if raw.isdigit():
        return int(raw)
    try:
        stamp = pd.Timestamp(raw)
    except ValueError:
        stamp = None
    if stamp is None or pd.isna(stamp):
        raise _UserError(f"{option} {text!r}: expected a date like 2020-01-01, 2020-01-01T12:00 or epoch ms")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


def make_exchange(exchange_id: str, url: str | None) -> Any:
    """A synchronous ccxt client; with ``url`` every REST endpoint points at that local server."""
    import ccxt  # type: ignore[import-untyped]

    from bot4.data.download import close_matches

    if exchange_id not in ccxt.exchanges:
        raise _UserError(close_matches(exchange_id, list(ccxt.exchanges), "exchange"))
    config: dict[str, Any] = {"enableRateLimit": True}
    if url is not None:
        config["options"] = dict(LOCAL_OPTIONS)
    client = getattr(ccxt, exchange_id)(config)
    if url is not None:
        base = local_url(url)
        client.urls["api"] = _redirect(client.urls["api"], base)
    return client


def _redirect(urls: Any, base: str) -> Any:
    if isinstance(urls, dict):
        return {k: _redirect(v, base) for k, v in urls.items()}
    if isinstance(urls, str):
        return re.sub(r"^[a-z]+://[^/]+", base, urls)
    return urls


@data_app.command()
def download(
    exchange: Annotated[str, typer.Option(help="ccxt exchange id, e.g. binance")],
    symbol: Annotated[str, typer.Option(help="market symbol, e.g. BTC/USDT")],
    timeframe: Annotated[str, typer.Option(help="candle timeframe, e.g. 5m")],
    since: Annotated[str, typer.Option(help="first candle: date (UTC), ISO time or epoch ms")],
    until: Annotated[str | None, typer.Option(help="end, exclusive [default: now]")] = None,
    store: Annotated[Path, typer.Option(help="store folder; files go to <store>/<exchange>/")] = Path("data"),
    url: Annotated[str | None, typer.Option(help="a local server, http://127.0.0.1:PORT only")] = None,
    limit: Annotated[int, typer.Option(help="candles per request", min=1, max=1000)] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="progress bar [default: on a terminal]")
    ] = None,
) -> None:
    """Download candles into the store: resumes after the last stored candle, repairs gaps, reports real ones."""
    from bot4.data.download import DownloadError, UnknownChoice, check_timeframe, download_candles
    from bot4.data.store import CandleStore
    from bot4.engine.clock import LiveClock

    try:
        if url is not None:
            local_url(url)
        since_ms = parse_time(since, "--since")
        until_ms = parse_time(until, "--until") if until is not None else None
        client = make_exchange(exchange, url)
        check_timeframe(client, timeframe)
        candle_store = CandleStore(store)
        candle_store.path(client.id, symbol, timeframe)
        show = sys.stderr.isatty() if progress is None else progress
        with ProgressBar(show and not as_json, f"{exchange} {symbol} {timeframe}") as bar:
            report = download_candles(
                client, symbol, timeframe, since_ms, until_ms, candle_store, LiveClock(), bar.update, limit=limit
            )
    except (_UserError, UnknownChoice, DataError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except DownloadError as exc:
        typer.echo(f"error: {exc} (what was stored is kept; run again to resume)", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: cannot write to the store {store}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    typer.echo(f"{report.exchange} {report.symbol} {report.timeframe} -> {report.path}")
    resumed = "" if report.resumed_from_ms is None else f", resumed from {report.to_json()['resumed_from']}"
    typer.echo(
        f"  {report.rows_written} candles written ({report.rows_total} stored), {_n(report.pages, 'page')}, "
        f"{_n(report.retries, 'retry', 'retries')}{resumed}"
    )
    typer.echo(
        f"  gaps: {report.gaps_found} found, {report.gaps_repaired} repaired, {len(report.gaps_remaining)} remaining"
    )
    for gap in report.gaps_remaining:
        typer.echo(f"  missing at the exchange (not filled): {gap.describe()}")


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


__all__ = ["data_app", "local_url", "make_exchange", "parse_time"]
