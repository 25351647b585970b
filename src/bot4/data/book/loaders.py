"""Readers for the recorded depth, quote and trade feeds in the shared data folder.

Each reader converts prices and sizes to exact integer ticks/lots through a ``Scale`` (book feeds)
or to the model's float ``QuoteTick``/``TradeTick`` (market data), and names the file, row and field
of the first value it cannot use.
"""

from __future__ import annotations

import csv
import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot4.data.book.errors import BookError, InvalidLevel
from bot4.data.book.l2 import Level
from bot4.data.book.scale import Scale
from bot4.data.book.sync import BybitBookMessage, DepthDiff, DepthSnapshot
from bot4.model.events import QuoteTick, TradeTick

L3Row = tuple[int, bool, int, int]  # (order_id, is_bid, price ticks, size lots); size 0 = delete


class FeedError(BookError):
    """A feed file that does not have the documented layout."""


def _levels(raw: Any, scale: Scale, where: str) -> list[Level]:
    try:
        return [(scale.ticks(p, f"{where} price"), scale.lots(s, f"{where} size")) for p, s in raw]
    except InvalidLevel:
        raise
    except (TypeError, ValueError) as exc:
        raise FeedError(f"{where}: {exc}") from None


def load_bybit_orderbook(path: Path, scale: Scale) -> list[BybitBookMessage]:
    """Bybit v5 ``orderbook.N`` JSON lines (optionally zipped, one member)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if len(names) != 1:
                raise FeedError(f"{path}: expected one member in the zip, found {names}")
            lines = zf.read(names[0]).decode().splitlines()
    else:
        lines = path.read_text().splitlines()
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            msg = json.loads(line)
            data, kind = msg["data"], msg["type"]
            out.append(
                BybitBookMessage(
                    is_snapshot=kind == "snapshot",
                    update_id=int(data["u"]),
                    seq=int(data.get("seq", 0)),
                    ts_ms=int(msg["ts"]),
                    bids=_levels(data["b"], scale, f"{where} b"),
                    asks=_levels(data["a"], scale, f"{where} a"),
                )
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise FeedError(f"{where}: not a Bybit order-book message ({exc!r})") from None
    return out


def load_bitfinex_l3(path: Path, scale: Scale) -> tuple[list[L3Row], list[L3Row]]:
    """Bitfinex v2 ``book`` channel, ``prec=R0``: (snapshot orders, updates); heartbeats skipped.

    Raw rows are ``[order_id, price, amount]``: amount > 0 bid, < 0 ask; price 0 deletes the order.
    """
    msgs = json.loads(path.read_text(), parse_float=Decimal)
    snapshot: list[L3Row] | None = None
    updates: list[L3Row] = []
    for n, msg in enumerate(msgs):
        if isinstance(msg, dict):
            continue  # info / subscribed events
        where = f"{path.name} message {n}"
        if not (isinstance(msg, list) and len(msg) == 2):
            raise FeedError(f"{where}: expected [chanId, payload], got {str(msg)[:80]}")
        payload = msg[1]
        if payload == "hb":
            continue
        if payload and isinstance(payload[0], list):
            if snapshot is not None:
                raise FeedError(f"{where}: a second snapshot in one capture")
            snapshot = [_bitfinex_row(r, scale, where) for r in payload]
        else:
            updates.append(_bitfinex_row(payload, scale, where))
    if snapshot is None:
        raise FeedError(f"{path.name}: no snapshot message")
    return snapshot, updates


def _bitfinex_row(row: Any, scale: Scale, where: str) -> L3Row:
    try:
        oid, price, amount = row
        amount = Decimal(amount)
    except (TypeError, ValueError):
        raise FeedError(f"{where}: expected [order_id, price, amount], got {row!r}") from None
    if amount == 0:
        raise FeedError(f"{where}: order {oid} has amount 0 (side unknown)")
    if price == 0:
        return int(oid), amount > 0, 0, 0
    return int(oid), amount > 0, scale.ticks(price, f"{where} price"), scale.lots(abs(amount), f"{where} amount")


def load_binance_depth_csv(path: Path, scale: Scale) -> list[DepthSnapshot | DepthDiff]:
    """Binance historical ``T_DEPTH`` csv: rows grouped into snapshot and diff messages in file order."""
    out: list[DepthSnapshot | DepthDiff] = []
    key: tuple[str, int, int] | None = None
    bids: list[Level] = []
    asks: list[Level] = []
    meta: dict[str, int] = {}

    def flush() -> None:
        if key is None:
            return
        if key[0] == "snap":
            out.append(DepthSnapshot(key[2], list(bids), list(asks), meta["ts"]))
        else:
            pu = meta["pu"]
            out.append(DepthDiff(key[1], key[2], list(bids), list(asks), None if pu < 0 else pu, meta["ts"]))

    with path.open(newline="") as f:
        for n, row in enumerate(csv.DictReader(f), 2):
            where = f"{path.name} row {n}"
            try:
                kind = row["update_type"]
                k = (kind, int(row["first_update_id"]), int(row["last_update_id"]))
                side = row["side"]
                level = (scale.ticks(row["price"], f"{where} price"), scale.lots(row["qty"], f"{where} qty"))
                ts, pu = int(row["timestamp"]), int(row["pu"])
            except (KeyError, TypeError, ValueError) as exc:
                raise FeedError(f"{where}: {exc}") from None
            if kind not in ("snap", "set") or side not in ("a", "b"):
                raise FeedError(f"{where}: update_type {kind!r} / side {side!r} not snap|set / a|b")
            if k != key:
                flush()
                key, bids, asks, meta = k, [], [], {"ts": ts, "pu": pu}
            (bids if side == "b" else asks).append(level)
    flush()
    return out


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def load_tardis_quotes(path: Path, instrument_id: str) -> list[QuoteTick]:
    """Tardis ``quotes`` csv (exchange timestamps in microseconds)."""
    out = []
    for n, r in enumerate(_csv_rows(path), 2):
        try:
            out.append(
                QuoteTick(
                    instrument_id,
                    int(r["timestamp"]) * 1000,
                    float(r["bid_price"]),
                    float(r["bid_amount"]),
                    float(r["ask_price"]),
                    float(r["ask_amount"]),
                )
            )
        except (KeyError, ValueError) as exc:
            raise FeedError(f"{path.name} row {n}: {exc!r}") from None
    return out


def load_tardis_trades(path: Path, instrument_id: str) -> list[TradeTick]:
    """Tardis ``trades`` csv; ``side`` is the aggressor."""
    out = []
    for n, r in enumerate(_csv_rows(path), 2):
        try:
            side = r["side"].upper()
            out.append(
                TradeTick(
                    instrument_id,
                    int(r["timestamp"]) * 1000,
                    float(r["price"]),
                    float(r["amount"]),
                    side if side in ("BUY", "SELL") else "",
                    r["id"],
                )
            )
        except (KeyError, ValueError) as exc:
            raise FeedError(f"{path.name} row {n}: {exc!r}") from None
    return out


def load_binance_quotes_parquet(path: Path, instrument_id: str) -> list[QuoteTick]:
    import pandas as pd

    df = pd.read_parquet(path)
    ts = df["timestamp"].astype("int64").to_numpy()
    unit = 10**6 if str(df["timestamp"].dtype).startswith("datetime64[ms") else 1
    return [
        QuoteTick(instrument_id, int(t) * unit, float(b), float(bs), float(a), float(az))
        for t, b, bs, a, az in zip(ts, df["bid"], df["bid_size"], df["ask"], df["ask_size"], strict=True)
    ]


def load_binance_trades_parquet(path: Path, instrument_id: str) -> list[TradeTick]:
    """``buyer_maker == 'True'`` means the seller was the aggressor."""
    import pandas as pd

    df = pd.read_parquet(path)
    ts = df["timestamp"].astype("int64").to_numpy()
    unit = 10**6 if str(df["timestamp"].dtype).startswith("datetime64[ms") else 1
    return [
        TradeTick(instrument_id, int(t) * unit, float(p), float(q), "SELL" if str(bm) == "True" else "BUY", str(tid))
        for t, p, q, bm, tid in zip(ts, df["price"], df["quantity"], df["buyer_maker"], df["trade_id"], strict=True)
    ]
