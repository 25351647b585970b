from decimal import Decimal

from bot4.engine.portfolio import Portfolio
from bot4.model import Fill, Liquidity, Side
from tests.builders import make_instrument

INST = make_instrument()


def _fill(side: Side, qty: str, price: str, fee: str, ts: int) -> Fill:
    return Fill(
        f"t{ts}", f"c{ts}", "s", INST.id, side, Decimal(qty), Decimal(price), Decimal(fee), "USDT", Liquidity.TAKER, ts
    )


def test_apply_fill_when_round_trip_in_pieces_then_one_trade_with_weighted_prices_and_all_fees() -> None:
    pf = Portfolio({INST.id: INST}, {"USDT": Decimal(1000)})
    pf.apply_fill(_fill(Side.BUY, "1", "100", "0.1", 1), 1)
    pf.apply_fill(_fill(Side.BUY, "1", "110", "0.11", 2), 2)
    pf.apply_fill(_fill(Side.SELL, "0.5", "120", "0.06", 3), 3)
    assert pf.trades() == []
    pf.apply_fill(_fill(Side.SELL, "1.5", "90", "0.135", 4), 4)
    (t,) = pf.trades()
    assert (t.direction, t.quantity, t.entry_price, t.exit_price) == ("LONG", Decimal(2), Decimal(105), Decimal("97.5"))
    assert t.fees == Decimal("0.405")
    assert t.pnl == Decimal("7.5") - Decimal("22.5") - Decimal("0.405")
    assert (t.entry_ts, t.exit_ts) == (1, 4)
    assert pf.cash["USDT"] == Decimal(1000) + t.pnl
    assert pf.fees_paid == {"USDT": Decimal("0.405")}


def test_apply_fill_when_position_flips_then_trade_closes_and_remainder_opens_new_one() -> None:
    pf = Portfolio({INST.id: INST}, {"USDT": Decimal(1000)})
    pf.apply_fill(_fill(Side.BUY, "1", "100", "0.2", 1), 1)
    pf.apply_fill(_fill(Side.SELL, "3", "110", "0.6", 2), 2)
    (closed,) = pf.trades()
    assert closed.pnl == Decimal(10) - Decimal("0.2") - Decimal("0.2")  # a third of the flip fill's fee
    assert pf.position("s", INST.id) == Decimal(-2)
    pf.apply_fill(_fill(Side.BUY, "2", "100", "0.2", 3), 3)
    short = pf.trades()[1]
    assert (short.direction, short.entry_price, short.exit_price) == ("SHORT", Decimal(110), Decimal(100))
    assert short.pnl == Decimal(20) - Decimal("0.4") - Decimal("0.2")
