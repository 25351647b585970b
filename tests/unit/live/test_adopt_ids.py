"""Orders adopted after a lost journal keep their strategy: ``<node>-<strategy>-<n>`` ids say whose they are (B5)."""

from __future__ import annotations

from decimal import Decimal

from bot4.engine.clock import LiveClock
from bot4.execution.bar_client import BarClient
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.recovery import recover
from bot4.model.orders import Order
from bot4.venues.sim.bar_venue import BarVenue
from tests.unit.live.test_node_paper import IID, INST


def test_recovery_when_our_orders_adopted_then_strategy_id_recovered_from_client_order_id_b5() -> None:
    clock = LiveClock()
    client = BarClient("BINANCE")
    venue = BarVenue("BINANCE", {IID: INST}, {"USDT": Decimal(100_000)}, clock, client.sink)
    client.bind(venue)
    ids = ("b4-ema_cross-3", "b4-my-strat-12", "b4-7", "b4-odd-x", "risk-2", "manual-1")
    for cid in ids:
        venue.submit(Order.create(INST, client_order_id=cid, strategy_id="x", side="BUY", type="LIMIT",
                                  quantity="0.001", price="30000", ts_init=0))  # fmt: skip
    oms = OrderManager(
        client, MemoryJournal(), clock, OmsConfig(id_prefix="b4-", caller_ids=True, also_ours=("risk-",))
    )
    recover(oms, [IID])
    got = {cid: (oms.orders[cid].role, oms.orders[cid].order.strategy_id) for cid in ids}
    assert got == {
        "b4-ema_cross-3": ("ADOPTED", "ema_cross"),
        "b4-my-strat-12": ("ADOPTED", "my-strat"),  # a strategy id may hold dashes: the number is the last part
        "b4-7": ("ADOPTED", "adopted"),  # no strategy in the id
        "b4-odd-x": ("ADOPTED", "adopted"),  # not our scheme: no number at the end
        "risk-2": ("ADOPTED", "adopted"),
        "manual-1": ("EXTERNAL", "external"),
    }
