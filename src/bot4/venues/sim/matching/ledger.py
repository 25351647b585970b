"""The simulated account's spot balances: free and locked per currency, never negative.

Resting orders lock what they could spend (quote for buys, base for sells); fills draw from the lock
first. Every movement is checked, so a matching bug shows up as an exception naming the currency
instead of as a negative balance.
"""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)


class LedgerError(RuntimeError):
    """A movement that would make a balance negative: always a bug in the caller."""


class Ledger:
    __slots__ = ("free", "locked")

    def __init__(self, balances: dict[str, Decimal]) -> None:
        for ccy, amount in balances.items():
            if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
                raise ValueError(f"balance {ccy}: must be a finite Decimal >= 0 (got {amount!r})")
        self.free: dict[str, Decimal] = dict(balances)
        self.locked: dict[str, Decimal] = {c: ZERO for c in balances}

    def available(self, ccy: str) -> Decimal:
        return self.free.get(ccy, ZERO)

    def total(self, ccy: str) -> Decimal:
        return self.free.get(ccy, ZERO) + self.locked.get(ccy, ZERO)

    def lock(self, ccy: str, amount: Decimal) -> bool:
        """Move ``amount`` from free to locked; False (nothing moved) if free is short."""
        if amount > self.free.get(ccy, ZERO):
            return False
        self.free[ccy] = self.free.get(ccy, ZERO) - amount
        self.locked[ccy] = self.locked.get(ccy, ZERO) + amount
        return True

    def release(self, ccy: str, amount: Decimal) -> None:
        self._sub(self.locked, ccy, amount, "locked")
        self.free[ccy] = self.free.get(ccy, ZERO) + amount

    def spend_locked(self, ccy: str, amount: Decimal) -> None:
        self._sub(self.locked, ccy, amount, "locked")

    def spend(self, ccy: str, amount: Decimal) -> None:
        self._sub(self.free, ccy, amount, "free")

    def credit(self, ccy: str, amount: Decimal) -> None:
        """Add (or, for a negative amount such as a funding payment, take) free balance."""
        if amount < 0:
            self._sub(self.free, ccy, -amount, "free")
        else:
            self.free[ccy] = self.free.get(ccy, ZERO) + amount

    @staticmethod
    def _sub(book: dict[str, Decimal], ccy: str, amount: Decimal, kind: str) -> None:
        have = book.get(ccy, ZERO)
        if amount > have:
            raise LedgerError(f"{kind} {ccy} would go negative: {have} - {amount}")
        book[ccy] = have - amount
