"""The emergency intent log: the kill path's durable record when the journal cannot commit (F3, B4).

Why a file: the write-ahead rule (no order is sent without a durable record) must hold during a kill
switch, but the database may be locked or failing exactly then. One JSON line per system (risk)
intent, appended and fsynced before the order is sent, is durable without the database. Cancels are
idempotent, so their lines are appended after sending and synced with the next intent.

The log is replayed into the journal when it is writable again (``WriteBehind.flush``) and read by
the order manager's ``load`` at the next start, so a crash during a locked-database kill still knows
those client ids: recovery settles them by query and never sends them again. A torn last line (a crash
mid-append) is skipped: its order was never sent, because sending waits for the fsync.
"""

from __future__ import annotations

import json
import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot4.execution.errors import JournalError
from bot4.execution.records import OrderRecord
from bot4.execution.states import OmsStatus
from bot4.model.enums import OrderType, Side, TimeInForce
from bot4.model.orders import Order

log = logging.getLogger(__name__)


class EmergencyLog:
    """Append-only JSON lines next to the journal; ``append`` is durable when it returns (``sync=True``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._unsynced = False

    def append(self, entry: dict[str, Any], *, sync: bool = True) -> None:
        """Raises ``JournalError`` when the line cannot be written (the caller must then not send)."""
        line = (json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                if sync or self._unsynced:
                    os.fsync(fd)
                self._unsynced = not sync
            finally:
                os.close(fd)
        except OSError as exc:
            raise JournalError(f"emergency log {self.path}: cannot append ({exc.strerror or exc})") from exc

    def entries(self) -> list[dict[str, Any]]:
        """Every complete line; a torn or unreadable line is skipped with a warning naming the file and line."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise JournalError(f"emergency log {self.path}: cannot read ({exc.strerror or exc})") from exc
        out: list[dict[str, Any]] = []
        for n, line in enumerate(raw.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                log.warning("emergency log %s line %d: torn or invalid JSON, skipped", self.path, n)
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def clear(self) -> None:
        """Forget every line (after they are all in the journal); truncation is synced before returning."""
        try:
            with open(self.path, "r+b") as fh:
                fh.truncate(0)
                fh.flush()
                os.fsync(fh.fileno())
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise JournalError(f"emergency log {self.path}: cannot truncate ({exc.strerror or exc})") from exc
        self._unsynced = False


def intent_entry(rec: OrderRecord) -> dict[str, Any]:
    """One intent as a log line: everything needed to rebuild its journal row."""
    o = rec.order
    return {
        "kind": "intent",
        "client_order_id": rec.client_order_id,
        "intent_seq": rec.intent_seq,
        "venue": rec.venue,
        "role": rec.role,
        "parent_id": rec.parent_id,
        "strategy_id": o.strategy_id,
        "instrument_id": o.instrument_id,
        "side": o.side.value,
        "type": o.type.value,
        "quantity": _s(o.quantity),
        "price": _s(o.price),
        "trigger_price": _s(o.trigger_price),
        "time_in_force": o.time_in_force.value,
        "post_only": o.post_only,
        "reduce_only": o.reduce_only,
        "quote_quantity": _s(o.quote_quantity),
        "ts_init": o.ts_init,
    }


def record_from_entry(entry: dict[str, Any]) -> OrderRecord:
    """The intent as an in-flight record: sent or not, only the venue can say (recovery asks by client id)."""
    try:
        order = Order(
            client_order_id=str(entry["client_order_id"]),
            strategy_id=str(entry["strategy_id"]),
            instrument_id=str(entry["instrument_id"]),
            side=Side(entry["side"]),
            type=OrderType(entry["type"]),
            quantity=_d(entry["quantity"]),
            price=_d(entry["price"]),
            trigger_price=_d(entry["trigger_price"]),
            time_in_force=TimeInForce(entry["time_in_force"]),
            post_only=bool(entry["post_only"]),
            reduce_only=bool(entry["reduce_only"]),
            quote_quantity=_d(entry["quote_quantity"]),
            ts_init=int(entry["ts_init"]),
        )
        return OrderRecord(
            order.client_order_id,
            int(entry["intent_seq"]),
            str(entry["venue"]),
            order,
            str(entry["role"]),
            str(entry["parent_id"]),
            OmsStatus.IN_FLIGHT,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise JournalError(f"emergency log: intent line {entry!r} is malformed ({exc!r})") from exc


def _s(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def _d(x: object) -> Decimal | None:
    return None if x is None else Decimal(str(x))


__all__ = ["EmergencyLog", "intent_entry", "record_from_entry"]
