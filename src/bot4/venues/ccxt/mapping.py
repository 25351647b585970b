"""ccxt's unified order/trade/market dicts into bot4's records, with exact Decimals.

ccxt's unified numbers are floats. Where the exchange's raw ``info`` holds the exact string (the
overrides name the key) that string is used; otherwise a float is turned back into the decimal it
was parsed from (its shortest repr), refusing values with more significant digits than a float
keeps, so no rounding error can slip into quantities or money.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from bot4.execution.records import ExecReport, OrderSnapshot
from bot4.execution.states import OmsStatus
from bot4.model.enums import Liquidity, OrderType, Side
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO
from bot4.model.orders import Order
from bot4.venues.ccxt.overrides import ExchangeOverrides

MS = 1_000_000
FLOAT_DIGITS = 15

_UNIFIED_STATUS = {
    "closed": OmsStatus.FILLED,
    "canceled": OmsStatus.CANCELED,
    "cancelled": OmsStatus.CANCELED,
    "expired": OmsStatus.EXPIRED,
    "rejected": OmsStatus.REJECTED,
}


class MappingError(ValueError):
    """A venue answer bot4 cannot read exactly (the message names the field)."""


def to_decimal(value: object, field: str) -> Decimal:
    """An exact Decimal from a venue string, int or float (a float must round-trip within 15 digits)."""
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, bool) or value is None:
        raise MappingError(f"{field}: expected a number (got {value!r})")
    elif isinstance(value, float):
        out = Decimal(repr(value))
        if len(out.as_tuple().digits) > FLOAT_DIGITS:
            raise MappingError(f"{field}: {value!r} has more digits than a float keeps exactly")
    else:
        try:
            out = Decimal(str(value))
        except InvalidOperation:
            raise MappingError(f"{field}: not a number ({value!r})") from None
    if not out.is_finite():
        raise MappingError(f"{field}: not finite ({value!r})")
    return out


def wire(value: Decimal) -> str:
    """Plain decimal notation for the wire (never ``1E-7``)."""
    return format(value, "f")


def exact(d: dict[str, Any], key: str, ov: ExchangeOverrides, kind: str, default: Decimal | None = None) -> Decimal:
    """Field ``key`` of a unified dict, read from the raw ``info`` string when the overrides name it."""
    raw_key = ov.raw_fields.get(f"{kind}.{key}")
    info = d.get("info")
    if raw_key and isinstance(info, dict) and info.get(raw_key) not in (None, ""):
        return to_decimal(info[raw_key], f"{kind}.{raw_key}")
    value = d.get(key)
    if value is None:
        if default is not None:
            return default
        raise MappingError(f"{kind}.{key}: missing in the venue's answer")
    return to_decimal(value, f"{kind}.{key}")


def status_of(o: dict[str, Any], filled: Decimal) -> OmsStatus:
    found = _UNIFIED_STATUS.get(str(o.get("status")))
    if found is not None:
        return found
    return OmsStatus.PARTIALLY_FILLED if filled > 0 else OmsStatus.ACCEPTED  # open, canceling, unknown


def ts_ms(d: dict[str, Any]) -> int:
    for key in ("lastUpdateTimestamp", "timestamp"):
        value = d.get(key)
        if isinstance(value, int | float) and value > 0:
            return int(value)
    return 0


def order_type(o: dict[str, Any]) -> OrderType:
    stop = o.get("triggerPrice") or o.get("stopPrice")
    kind = str(o.get("type") or "").lower()
    if kind == "market" or (not kind and not o.get("price")):
        return OrderType.STOP_MARKET if stop else OrderType.MARKET
    return OrderType.STOP_LIMIT if stop else OrderType.LIMIT


def snapshot(o: dict[str, Any], instrument_id: str, ov: ExchangeOverrides) -> OrderSnapshot:
    filled = exact(o, "filled", ov, "order", ZERO)
    price = exact(o, "price", ov, "order", ZERO)
    return OrderSnapshot(
        client_order_id=str(o.get("clientOrderId") or ""),
        instrument_id=instrument_id,
        side=str(o.get("side") or "").upper(),
        type=order_type(o).value,
        status=status_of(o, filled),
        quantity=exact(o, "amount", ov, "order", ZERO),
        cum_quantity=filled,
        price=price if price > 0 else None,
        ts_update=ts_ms(o) * MS,
    )


def reports(o: dict[str, Any], order: Order, ov: ExchangeOverrides) -> list[ExecReport]:
    """The ack and any immediate fills an order answer carries (fee in the asset charged)."""
    cid, iid = order.client_order_id, order.instrument_id
    ts = ts_ms(o) * MS
    filled = exact(o, "filled", ov, "order", ZERO)
    status = status_of(o, filled)
    out: list[ExecReport] = []
    cum = ZERO
    for t in o.get("trades") or []:
        qty = exact(t, "amount", ov, "trade")
        cum += qty
        # as the stdlib client: a fill in the answer to a non-limit or fully filled order took liquidity
        taker = order.type is not OrderType.LIMIT or status is OmsStatus.FILLED
        fill = _fill(t, cid, order.strategy_id, iid, order.side, ov, ts, Liquidity.TAKER if taker else Liquidity.MAKER)
        out.append(ExecReport(cid, None, 0, ts, iid, cum, fill, trade_seq(t)))
    out.append(ExecReport(cid, status, 0, ts, iid, filled))
    return out


def trade_fill(t: dict[str, Any], client_order_id: str, instrument_id: str, ov: ExchangeOverrides) -> Fill:
    side = Side.BUY if str(t.get("side")).lower() == "buy" else Side.SELL
    liq = Liquidity.MAKER if t.get("takerOrMaker") == "maker" else Liquidity.TAKER
    return _fill(t, client_order_id, "", instrument_id, side, ov, ts_ms(t) * MS, liq)


def _fill(
    t: dict[str, Any],
    cid: str,
    strategy_id: str,
    iid: str,
    side: Side,
    ov: ExchangeOverrides,
    fallback_ts: int,
    liquidity: Liquidity,
) -> Fill:
    fee = t.get("fee") or {}
    fee_cost = exact({"fee": fee.get("cost"), "info": t.get("info")}, "fee", ov, "trade", ZERO)
    ts = ts_ms(t) * MS or fallback_ts
    return Fill(
        str(t.get("id")),
        cid,
        strategy_id,
        iid,
        side,
        exact(t, "amount", ov, "trade"),
        exact(t, "price", ov, "trade"),
        fee_cost,
        str(fee.get("currency") or ""),
        liquidity,
        ts,
    )


def trade_seq(t: dict[str, Any]) -> int:
    """The venue's trade id as a sequence (Binance: per-symbol increasing); else its timestamp."""
    raw = str(t.get("id") or "")
    return int(raw) if raw.isdigit() else ts_ms(t)


def instrument(venue: str, symbol: str, market: dict[str, Any], precision_mode: int) -> Instrument:
    """An Instrument from a ccxt market: tick, step, minimums and fees as Decimals."""
    prec = market.get("precision") or {}
    limits = market.get("limits") or {}
    return Instrument.spot(
        venue,
        symbol,
        tick_size=_increment(prec.get("price"), precision_mode, f"{symbol} precision.price"),
        step_size=_increment(prec.get("amount"), precision_mode, f"{symbol} precision.amount"),
        min_quantity=_limit(limits, "amount", symbol),
        min_notional=_limit(limits, "cost", symbol) or ZERO,
        maker_fee=to_decimal(market.get("maker") or 0, f"{symbol} maker fee"),
        taker_fee=to_decimal(market.get("taker") or 0, f"{symbol} taker fee"),
    )


def _increment(value: object, precision_mode: int, field: str) -> Decimal:
    from ccxt.base.decimal_to_precision import TICK_SIZE  # type: ignore[import-untyped]

    if value is None:
        raise MappingError(f"{field}: the market has no precision")
    if precision_mode == TICK_SIZE:
        return to_decimal(value, field)
    places = int(to_decimal(value, field))
    return Decimal(1).scaleb(-places)


def _limit(limits: dict[str, Any], key: str, symbol: str) -> Decimal | None:
    value = (limits.get(key) or {}).get("min")
    return None if value is None else to_decimal(value, f"{symbol} limits.{key}.min")


__all__ = [
    "MappingError",
    "exact",
    "instrument",
    "reports",
    "snapshot",
    "status_of",
    "to_decimal",
    "trade_fill",
    "trade_seq",
    "wire",
]
