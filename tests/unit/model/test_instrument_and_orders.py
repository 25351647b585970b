from decimal import Decimal

import pytest

from bot4.model import InvalidValue, Order, OrderType, Side
from bot4.model.instrument import Instrument
from tests.builders import make_instrument


def test_spot_when_built_from_loose_values_then_exact_and_named() -> None:
    inst = Instrument.spot("binance", "eth/usdt", tick_size=0.01, step_size="0.0001", maker_fee=0.001)
    assert inst.id == "BINANCE:ETH/USDT"
    assert inst.tick_size == Decimal("0.01")
    assert inst.min_quantity == inst.step_size


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"tick_size": "0"}, "tick_size"),
        ({"step_size": float("nan")}, "step_size"),
        ({"min_notional": "-1"}, "min_notional"),
        ({"taker_fee": "0.5"}, "taker_fee"),
    ],
)
def test_spot_when_filter_invalid_then_error_names_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidValue, match=rf"^{field}:"):
        Instrument.spot("SIM", "BTC/USDT", **kw)  # type: ignore[arg-type]


def test_spot_when_symbol_not_base_quote_then_refused() -> None:
    with pytest.raises(InvalidValue, match="symbol: must look like BASE/QUOTE"):
        Instrument.spot("SIM", "BTCUSDT")


def test_make_price_and_quantity_when_floats_then_rounded_to_tick_and_down_to_step() -> None:
    inst = make_instrument()
    assert inst.make_price(64123.456) == Decimal("64123.46")
    assert inst.make_price(64123.456, rounding="floor") == Decimal("64123.45")
    assert inst.make_quantity(0.12399) == Decimal("0.123")
    with pytest.raises(InvalidValue, match="price: rounds to zero"):
        inst.make_price(0.001)


def _order(**kw: object) -> Order:
    base: dict[str, object] = {"client_order_id": "c1", "strategy_id": "s", "side": "BUY", "quantity": "1"}
    base.update(kw)
    return Order.create(make_instrument(), **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"quantity": float("nan")}, "quantity: must be a finite number"),
        ({"quantity": "-1"}, "quantity: must be positive"),
        ({"quantity": "0.0005"}, "quantity: is not a multiple of the step size"),
        ({"type": "LIMIT", "price": "100.001"}, "price: is not a multiple of the tick size"),
        ({"type": "LIMIT", "price": float("inf")}, "price: must be a finite number"),
        ({"type": "LIMIT"}, "price: is required for a LIMIT order"),
        ({"price": "100"}, "price: is not allowed on a MARKET order"),
        ({"type": "STOP_MARKET"}, "trigger_price: is required"),
        ({"post_only": True}, "post_only: is only allowed on LIMIT orders"),
        ({"side": "HOLD"}, "side: must be one of BUY, SELL"),
        ({"type": "ICEBERG"}, "type: must be one of MARKET, LIMIT"),
        ({"quote_quantity": "10"}, "quantity: give either quantity or quote_quantity"),
        ({"side": "SELL", "quantity": None, "quote_quantity": "10"}, "quote_quantity: is only allowed on MARKET BUY"),
        ({"quantity": None}, "quantity: is required"),
    ],
)
def test_create_when_field_invalid_then_error_names_field(kw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValue, match=message.replace("(", r"\(")):
        _order(**kw)


def test_create_when_limit_below_min_notional_then_refused() -> None:
    inst = make_instrument(min_notional="10")
    with pytest.raises(InvalidValue, match="notional: is below the minimum notional 10 USDT"):
        Order.create(
            inst, client_order_id="c", strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price="100"
        )


def test_create_when_valid_then_immutable_with_exact_fields() -> None:
    o = _order(type="STOP_LIMIT", price="100.5", trigger_price="101", time_in_force="ioc")
    assert (o.side, o.type, o.price, o.trigger_price) == (
        Side.BUY,
        OrderType.STOP_LIMIT,
        Decimal("100.5"),
        Decimal("101"),
    )
    with pytest.raises(AttributeError):
        o.price = Decimal(1)  # type: ignore[misc]
