from decimal import Decimal

import pytest

from bot4.model.errors import InvalidValue
from bot4.model.numbers import is_multiple, non_negative, positive, round_to_increment, to_decimal


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), "NaN", "abc", None, True, "Infinity"])
def test_to_decimal_when_value_is_not_a_finite_number_then_error_names_field(bad: object) -> None:
    with pytest.raises(InvalidValue, match=r"^price: "):
        to_decimal(bad, "price")


def test_to_decimal_when_float_then_shortest_round_trip_not_binary_expansion() -> None:
    import numpy as np

    assert to_decimal(0.1, "x") == Decimal("0.1")
    assert to_decimal(np.float64(0.3), "x") == Decimal("0.3")
    assert to_decimal(7, "x") == Decimal(7)


def test_positive_and_non_negative_when_out_of_range_then_refused_with_field() -> None:
    with pytest.raises(InvalidValue, match="quantity: must be positive"):
        positive("0", "quantity")
    with pytest.raises(InvalidValue, match="fee: must not be negative"):
        non_negative("-0.1", "fee")
    assert non_negative("0", "fee") == 0


@pytest.mark.parametrize(
    ("value", "inc", "mode", "expected"),
    [
        ("1.23456", "0.01", "nearest", "1.23"),
        ("1.235", "0.01", "nearest", "1.24"),  # half-even at .5 goes to the even cent
        ("1.239", "0.01", "down", "1.23"),
        ("1.231", "0.01", "ceiling", "1.24"),
        ("0.30000000000000004", "0.1", "down", "0.3"),
        ("17", "5", "down", "15"),
        ("2.2504", "0.0001", "down", "2.2504"),
    ],
)
def test_round_to_increment_when_rounding_mode_given_then_lands_on_grid(
    value: str, inc: str, mode: str, expected: str
) -> None:
    out = round_to_increment(Decimal(value), Decimal(inc), mode)
    assert out == Decimal(expected)
    assert is_multiple(out, Decimal(inc))
