"""The soak's fault plan, drawn from ``random.Random(seed)``: the same seed gives the same plan.

Every fault kind the brief names appears at least once (REST delays, 503 with and without booking,
``drop_after_book``, duplicated and reordered user/market events, user-stream disconnects, a 429
burst), each at a random point of the run: ``skip`` lets a random number of matching requests or events
pass first, ``count`` bounds how often it fires. ``orders`` sizes the REST faults so they land among
the first orders; user-stream disconnects come later (between one and three times the user events of
``orders`` orders), market-stream faults anywhere in ``market_events``.
"""

from __future__ import annotations

import random
from typing import Any

from bot4.venues.sim.server import FaultPlan

POST = "POST /api/v3/order"
DELETE = "DELETE /api/v3/order"
KINDS = (
    "delay",
    "status_503",
    "status_503_booked",
    "drop_after_book",
    "duplicate_event",
    "reorder_events",
    "disconnect_at",
    "status_429_burst",
)


def soak_plan(seed: int, *, orders: int = 200, market_events: int = 50_000) -> dict[str, Any]:
    """The plan as the fault file's dict (``FaultPlan.from_dict`` reads it); ``orders``/``market_events``
    are the expected traffic, so the random ``skip`` values land inside the run."""
    rng = random.Random(seed)

    def at(n: int) -> int:
        return rng.randrange(max(1, n))

    rest: dict[str, list[dict[str, Any]]] = {POST: [], DELETE: [], "GET /api/v3/openOrders": [], "*": []}
    for _ in range(4):
        rest[POST].append({"action": "delay", "ms": rng.randrange(50, 600), "count": 1, "skip": at(orders)})
    for _ in range(3):
        rest[POST].append({"action": "status", "code": 503, "count": 1, "skip": at(orders)})
        rest[POST].append({"action": "status", "code": 503, "book": True, "count": 1, "skip": at(orders)})
        rest[POST].append({"action": "drop_after_book", "count": 1, "skip": at(orders)})
    rest[DELETE].append({"action": "delay", "ms": rng.randrange(50, 600), "count": 2, "skip": at(orders // 3)})
    rest[DELETE].append({"action": "status", "code": 503, "book": True, "count": 1, "skip": at(orders // 3)})
    rest["GET /api/v3/openOrders"].append({"action": "status", "code": 500, "count": 1, "skip": at(60)})
    rest["*"].append(
        {"action": "status", "code": 429, "headers": {"Retry-After": "1"}, "duration_ms": 1000,
         "skip": at(orders * 4)}
    )  # fmt: skip
    streams: dict[str, list[dict[str, Any]]] = {"ws:user": [], "ws:trade": [], "ws:depth": []}
    user_events = orders * 3  # NEW + TRADE + a position update per order, roughly
    # disconnects after the REST faults had their chance: a gap denies new orders until the resync
    streams["ws:user"] += [
        {"action": "duplicate_event", "n": 2, "when": {"x": "TRADE"}, "count": 3, "skip": at(orders)},
        {"action": "reorder_events", "n": 2, "count": 2, "skip": at(user_events)},
        {"action": "disconnect_at", "count": 1, "skip": user_events + at(user_events)},
        {"action": "disconnect_at", "count": 1, "skip": 2 * user_events + at(user_events)},
    ]
    streams["ws:trade"] += [
        {"action": "duplicate_event", "n": 2, "count": 20, "skip": at(market_events)},
        {"action": "reorder_events", "n": 3, "count": 5, "skip": at(market_events)},
        {"action": "delay", "ms": rng.randrange(50, 300), "count": 10, "skip": at(market_events)},
    ]
    streams["ws:depth"] += [
        {"action": "duplicate_event", "n": 2, "count": 10, "skip": at(market_events // 4)},
        {"action": "reorder_events", "n": 2, "count": 3, "skip": at(market_events // 4)},
    ]
    return {"endpoints": {**rest, **streams}}


def fault_kinds(plan: dict[str, Any]) -> set[str]:
    """Which of ``KINDS`` the plan contains."""
    out = set()
    for endpoint, rules in plan["endpoints"].items():
        for r in rules:
            a = r["action"]
            if a == "status" and r["code"] == 503:
                out.add("status_503_booked" if r.get("book") else "status_503")
            elif a == "status" and r["code"] == 429 and endpoint == "*":
                out.add("status_429_burst")
            elif a in KINDS:
                out.add(a)
    return out


def build(seed: int, **kw: Any) -> FaultPlan:
    return FaultPlan.from_dict(soak_plan(seed, **kw), f"soak plan (seed {seed})")
