from decimal import Decimal

from bot4.model import Fill, Liquidity, Position, Side


def _fill(side: Side, qty: str, price: str) -> Fill:
    return Fill(
        "t", "c", "s", "SIM:BTC/USDT", side, Decimal(qty), Decimal(price), Decimal(0), "USDT", Liquidity.TAKER, 0
    )


def test_apply_when_adding_then_weighted_average_entry() -> None:
    p = Position("SIM:BTC/USDT")
    p.apply(_fill(Side.BUY, "1", "100"))
    p.apply(_fill(Side.BUY, "3", "200"))
    assert p.quantity == 4
    assert p.avg_price == Decimal("175")
    assert p.unrealized_pnl(Decimal("200")) == Decimal("100")


def test_apply_when_reducing_then_realizes_against_average() -> None:
    p = Position("SIM:BTC/USDT")
    p.apply(_fill(Side.BUY, "2", "100"))
    assert p.apply(_fill(Side.SELL, "0.5", "120")) == Decimal("10")
    assert (p.quantity, p.avg_price, p.realized_pnl) == (Decimal("1.5"), Decimal("100"), Decimal("10"))
    p.apply(_fill(Side.SELL, "1.5", "90"))
    assert p.is_flat and p.avg_price == 0 and p.realized_pnl == Decimal("-5")


def test_apply_when_flipping_through_zero_then_remainder_opens_at_fill_price() -> None:
    p = Position("SIM:BTC/USDT")
    p.apply(_fill(Side.BUY, "1", "100"))
    realized = p.apply(_fill(Side.SELL, "3", "110"))
    assert realized == Decimal("10")
    assert (p.quantity, p.avg_price) == (Decimal("-2"), Decimal("110"))
    assert p.apply(_fill(Side.BUY, "2", "100")) == Decimal("20")  # a short gains when price falls
