"""Replay of the recorded Binance spot BTC/USDT quotes and trades into the fake exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from bot4.venues.sim.server import Account, Listing, ManualClock, SimExchange
from bot4.venues.sim.server.replay import Replay, ReplayError, load_events


def files(shared_data: Path) -> list[Path]:
    d = shared_data / "nautilus_trader" / "binance"
    return [d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"]


def test_load_events_when_quotes_and_trades_then_merged_in_time_order(shared_data: Path) -> None:
    events = load_events(files(shared_data), "BTCUSDT")
    assert len(events) == 451 + 2001
    assert [e.ts_ns for e in events] == sorted(e.ts_ns for e in events)
    assert events[0].kind == "trade" and events[0].trade_id == 553287559 and events[0].buyer_maker


def test_load_events_when_file_kind_unknown_then_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text("x\n")
    with pytest.raises(ReplayError, match=r"book\.csv: name must contain"):
        load_events([path], "BTCUSDT")


def test_step_when_replaying_then_book_follows_quotes_and_public_trades_publish(shared_data: Path) -> None:
    ex = SimExchange([Listing()], [Account("a", "k", "s", {"USDT": Decimal(1)})], ManualClock())
    trades: list[int] = []
    ex.market_listeners.append(lambda s, m: trades.append(m["t"]) if s == "btcusdt@trade" else None)
    replay = Replay(ex, load_events(files(shared_data), "BTCUSDT"))
    assert replay.step_until("quote")
    assert ex.depth("BTCUSDT", 1)["bids"] == [["39432.99000000", "0.00310000"]]
    assert trades == list(range(553287559, 553287559 + replay.position - 1))  # every trade before the quote
    left = len(replay.events) - replay.position
    assert replay.step(10**6) == left and replay.done and replay.step() == 0


def test_run_when_speeded_up_then_plays_everything_in_order(shared_data: Path) -> None:
    ex = SimExchange([Listing()], [Account("a", "k", "s", {})], ManualClock())
    events = load_events(files(shared_data), "BTCUSDT")[:60]
    replay = Replay(ex, events)
    asyncio.run(asyncio.wait_for(replay.run(speed=1000.0), 10))
    assert replay.done and replay.position == 60
