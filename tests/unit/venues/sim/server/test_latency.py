"""Seeded latency: the same seed gives the same delays; channels do not share a random stream."""

from __future__ import annotations

import pytest

from bot4.venues.sim.server.latency import LatencyError, LatencyModel

SPEC = {"order_entry": {"kind": "uniform", "a": 5, "b": 50}, "market_data": {"kind": "lognormal", "a": 1, "b": 0.5}}


def draws(model: LatencyModel) -> list[float]:
    return [model.order_entry.sample_ms() for _ in range(5)] + [model.market_data.sample_ms() for _ in range(5)]


def test_sample_when_same_seed_then_same_delays() -> None:
    assert draws(LatencyModel.from_dict(SPEC, 7)) == draws(LatencyModel.from_dict(SPEC, 7))


def test_sample_when_other_seed_then_other_delays() -> None:
    assert draws(LatencyModel.from_dict(SPEC, 7)) != draws(LatencyModel.from_dict(SPEC, 8))


def test_sample_when_uniform_then_inside_bounds_and_fixed_is_exact() -> None:
    model = LatencyModel.from_dict({**SPEC, "ack": {"kind": "fixed", "a": 12}}, 1)
    assert all(5 <= model.order_entry.sample_ms() <= 50 for _ in range(100))
    assert model.ack.sample_ms() == 12


def test_sample_when_normal_goes_negative_then_clamped_to_zero() -> None:
    model = LatencyModel.from_dict({"ack": {"kind": "normal", "a": -100, "b": 1}}, 1)
    assert model.ack.sample_ms() == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"orders": {}}, "unknown channel"),
        ({"ack": {"kind": "pareto"}}, r"latency.ack.kind: 'pareto'"),
        ({"ack": {"kind": "uniform", "a": 5, "b": 1}}, "a <= b"),
        ({"ack": {"a": "soon"}}, "must be numbers"),
    ],
)
def test_from_dict_when_spec_bad_then_error_names_channel(spec: dict[str, object], message: str) -> None:
    with pytest.raises(LatencyError, match=message):
        LatencyModel.from_dict(spec, 0)
