"""The seam where the risk engine sits on every order.

Until the risk engine exists, ``PassThroughRisk`` approves everything; the engine still routes every
order through the hook so that plugging the real one in changes no other code.
"""

from __future__ import annotations

from typing import Protocol

from bot4.model.orders import Order


class RiskHook(Protocol):
    def check(self, order: Order) -> str | None:
        """Return ``None`` to approve, or the reason for denying the order."""
        ...


class PassThroughRisk:
    """Approves every order."""

    def check(self, order: Order) -> str | None:
        return None
