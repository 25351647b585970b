"""Binance spot stream and snapshot messages turned into bot4 records, refusing anything malformed.

The feeds never trust a frame: every price and size goes through ``Scale`` (which refuses "abc",
NaN, infinities, negatives and off-grid values) and every missing or mistyped field raises
``MessageError`` naming the event and field, so the caller can count the message, drop it and resync.
Fill amounts stay ``Decimal`` (they reach the order manager's books); market data becomes float ticks.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from bot4.data.book.errors import InvalidLevel
from bot4.data.book.l2 import Level
from bot4.data.book.scale import Scale
from bot4.data.book.sync import DepthDiff, DepthSnapshot
from bot4.execution.http_client import BINANCE_ORDER_STATUS
from bot4.execution.records import ExecReport
from bot4.model.enums import Liquidity, Side
from bot4.model.events import TradeTick
from bot4.model.fill import Fill

MS = 1_000_000

#: executionReport ``X`` (order status after the event) -> the order manager's status.
ORDER_STATUS = BINANCE_ORDER_STATUS


class MessageError(ValueError):
    """A stream message or snapshot that cannot be used; the text names the event and the field."""


def _field(msg: dict[str, Any], name: str, where: str) -> Any:
    try:
        return msg[name]
    except KeyError:
        raise MessageError(f"{where}: field {name!r} is missing") from None


def _int(msg: dict[str, Any], name: str, where: str) -> int:
    value = _field(msg, name, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MessageError(f"{where}: field {name!r} must be an integer (got {value!r})")
    return value


def _decimal(msg: dict[str, Any], name: str, where: str, *, allow_zero: bool = True) -> Decimal:
    raw = _field(msg, name, where)
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise MessageError(f"{where}: field {name!r} must be a decimal string (got {raw!r})")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise MessageError(f"{where}: field {name!r} is not a number (got {raw!r})") from None
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        raise MessageError(f"{where}: field {name!r} must be a finite {'non-negative' if allow_zero else 'positive'} "
                           f"number (got {raw!r})")  # fmt: skip
    return value


def _levels(raw: Any, scale: Scale, where: str) -> list[Level]:
    if not isinstance(raw, list):
        raise MessageError(f"{where}: must be a list of [price, qty] (got {type(raw).__name__})")
    out = []
    for i, row in enumerate(raw):
        if not (isinstance(row, list) and len(row) >= 2):
            raise MessageError(f"{where}[{i}]: must be [price, qty] (got {row!r})")
        try:
            out.append((scale.ticks(row[0], f"{where}[{i}] price"), scale.lots(row[1], f"{where}[{i}] qty")))
        except InvalidLevel as exc:
            raise MessageError(str(exc)) from None
    return out


def parse_depth_update(data: dict[str, Any], scale: Scale) -> DepthDiff:
    """A ``depthUpdate`` event (``U``, ``u``, ``b``, ``a``, ``E``) as a diff in ticks and lots."""
    where = f"depthUpdate {data.get('s', '?')}"
    return DepthDiff(
        _int(data, "U", where),
        _int(data, "u", where),
        _levels(_field(data, "b", where), scale, f"{where} b"),
        _levels(_field(data, "a", where), scale, f"{where} a"),
        None,
        _int(data, "E", where),
    )


def parse_depth_snapshot(body: Any, scale: Scale, symbol: str) -> DepthSnapshot:
    """A ``GET /api/v3/depth`` answer (``lastUpdateId``, ``bids``, ``asks``)."""
    where = f"GET /api/v3/depth {symbol}"
    if not isinstance(body, dict):
        raise MessageError(f"{where}: expected a JSON object (got {type(body).__name__})")
    return DepthSnapshot(
        _int(body, "lastUpdateId", where),
        _levels(_field(body, "bids", where), scale, f"{where} bids"),
        _levels(_field(body, "asks", where), scale, f"{where} asks"),
    )


def parse_trade(data: dict[str, Any], instrument_id: str) -> TradeTick:
    """A public ``trade`` event; ``m`` (buyer is maker) means the seller was the aggressor."""
    where = f"trade {data.get('s', '?')}"
    price = _decimal(data, "p", where, allow_zero=False)
    qty = _decimal(data, "q", where, allow_zero=False)
    maker = _field(data, "m", where)
    if not isinstance(maker, bool):
        raise MessageError(f"{where}: field 'm' must be true or false (got {maker!r})")
    return TradeTick(
        instrument_id, _int(data, "T", where) * MS, float(price), float(qty), "SELL" if maker else "BUY",
        str(_int(data, "t", where)),
    )  # fmt: skip


def execution_key(msg: dict[str, Any]) -> tuple[str, int, int]:
    """(symbol, order id ``i``, execution id ``I``): the same event seen on two connections has one key."""
    where = "executionReport"
    return str(_field(msg, "s", where)), _int(msg, "i", where), _int(msg, "I", where)


def parse_execution_report(msg: dict[str, Any], instruments: dict[str, str]) -> ExecReport:
    """An ``executionReport`` as the order manager's ``ExecReport``; a fill when ``x`` is ``TRADE``.

    ``seq`` is the execution id ``I`` (unique per event), ``trade_seq`` the trade id ``t``. A cancel's
    ``c`` is the cancel request's own id, so the order is named by ``C`` (original client id) then.
    """
    sym = str(_field(msg, "s", "executionReport"))
    where = f"executionReport {sym}"
    iid = instruments.get(sym)
    if iid is None:
        raise MessageError(f"{where}: symbol {sym!r} is not one of ours ({sorted(instruments)})")
    exec_type, status_raw = str(_field(msg, "x", where)), str(_field(msg, "X", where))
    status = ORDER_STATUS.get(status_raw)
    if status is None:
        raise MessageError(f"{where}: unknown order status X={status_raw!r}")
    orig = msg.get("C")
    cid = str(orig) if exec_type == "CANCELED" and orig else str(_field(msg, "c", where))
    if not cid:
        raise MessageError(f"{where}: empty client order id")
    seq = _int(msg, "I", where)
    ts = _int(msg, "T" if "T" in msg else "E", where) * MS
    cum = _decimal(msg, "z", where)
    reason = str(msg.get("r", "NONE"))
    fill = None
    trade_seq = 0
    if exec_type == "TRADE":
        trade_seq = _int(msg, "t", where)
        side = str(_field(msg, "S", where))
        if side not in ("BUY", "SELL"):
            raise MessageError(f"{where}: field 'S' must be BUY or SELL (got {side!r})")
        maker = _field(msg, "m", where)
        if not isinstance(maker, bool):
            raise MessageError(f"{where}: field 'm' must be true or false (got {maker!r})")
        fill = Fill(
            str(trade_seq), cid, "", iid, Side(side), _decimal(msg, "l", where, allow_zero=False),
            _decimal(msg, "L", where, allow_zero=False), _decimal(msg, "n", where), str(msg.get("N") or ""),
            Liquidity.MAKER if maker else Liquidity.TAKER, ts,
        )  # fmt: skip
    return ExecReport(cid, status, seq, ts, iid, cum, fill, trade_seq, "" if reason == "NONE" else reason, 0, False)
