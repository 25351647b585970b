"""Test accounts for the local exchange server: API key, secret and starting balances.

Loaded from a small JSON or TOML file (``{"accounts": [{"name", "api_key", "secret", "balances"}]}``)
or built from CLI flags, so tests and the live-trading issues can log in like on the real venue.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


class AccountsError(ValueError):
    """An accounts file or flag that cannot be used; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    api_key: str
    secret: str
    balances: dict[str, Decimal] = field(default_factory=dict)
    enable_withdrawals: bool = False
    ip_restrict: bool = True


def parse_balances(raw: dict[str, Any] | list[str], where: str) -> dict[str, Decimal]:
    """``{"USDT": "1000"}`` or ``["USDT=1000"]`` into Decimals, refusing negatives and junk."""
    items: list[tuple[str, object]] = []
    if isinstance(raw, dict):
        items = [(str(k), v) for k, v in raw.items()]
    else:
        for entry in raw:
            if "=" not in entry:
                raise AccountsError(f"{where}: balance {entry!r} must look like ASSET=AMOUNT")
            key, text = entry.split("=", 1)
            items.append((key, text))
    out: dict[str, Decimal] = {}
    for asset, amount in items:
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise AccountsError(f"{where}: balance of {asset!r} is not a number: {amount!r}") from None
        if not value.is_finite() or value < 0:
            raise AccountsError(f"{where}: balance of {asset!r} must be finite and >= 0 (got {amount!r})")
        out[str(asset).strip().upper()] = value
    return out


def account_from_dict(raw: Any, where: str) -> Account:
    if not isinstance(raw, dict):
        raise AccountsError(f"{where}: each account must be a table/object (got {type(raw).__name__})")
    for key in ("name", "api_key", "secret"):
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise AccountsError(f"{where}: field {key!r} must be a non-empty string (got {value!r})")
    balances = raw.get("balances", {})
    if not isinstance(balances, dict):
        raise AccountsError(f"{where}: field 'balances' must be a table of ASSET = amount")
    return Account(
        raw["name"],
        raw["api_key"],
        raw["secret"],
        parse_balances(balances, f"{where} balances"),
        bool(raw.get("enable_withdrawals", False)),
        bool(raw.get("ip_restrict", True)),
    )


def load_accounts(path: Path) -> list[Account]:
    """Read accounts from ``path`` (``.toml`` or JSON), checking names and keys are unique."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise AccountsError(f"accounts file {path}: {exc}") from None
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise AccountsError(f"accounts file {path}: not valid {path.suffix or 'JSON'}: {exc}") from None
    rows = data.get("accounts") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise AccountsError(f"accounts file {path}: needs a non-empty 'accounts' list")
    accounts = [account_from_dict(r, f"{path} accounts[{i}]") for i, r in enumerate(rows)]
    check_unique(accounts, str(path))
    return accounts


def check_unique(accounts: list[Account], where: str) -> None:
    for attr in ("name", "api_key"):
        seen: set[str] = set()
        for a in accounts:
            value = getattr(a, attr)
            if value in seen:
                raise AccountsError(f"{where}: duplicate account {attr} {value!r}")
            seen.add(value)
