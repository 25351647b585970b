"""Test accounts from JSON/TOML files and flags, with errors naming the file and field."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot4.venues.sim.server.accounts import AccountsError, load_accounts, parse_balances


def test_load_accounts_when_json_then_keys_and_decimal_balances(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(
        json.dumps({"accounts": [{"name": "a", "api_key": "k", "secret": "s", "balances": {"usdt": "10.5"}}]})
    )
    (acct,) = load_accounts(path)
    assert (acct.name, acct.api_key, acct.balances) == ("a", "k", {"USDT": Decimal("10.5")})


def test_load_accounts_when_duplicate_key_then_error_names_it(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(
        '[[accounts]]\nname="a"\napi_key="k"\nsecret="s"\n[[accounts]]\nname="b"\napi_key="k"\nsecret="t"\n'
    )
    with pytest.raises(AccountsError, match="duplicate account api_key 'k'"):
        load_accounts(path)


def test_load_accounts_when_secret_missing_then_error_names_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps({"accounts": [{"name": "a", "api_key": "k"}]}))
    with pytest.raises(AccountsError, match=r"accounts\[0\]: field 'secret'"):
        load_accounts(path)


@pytest.mark.parametrize(
    ("raw", "message"), [(["USDT"], "ASSET=AMOUNT"), (["USDT=-1"], ">= 0"), (["BTC=x"], "not a number")]
)
def test_parse_balances_when_bad_then_error_names_asset(raw: list[str], message: str) -> None:
    with pytest.raises(AccountsError, match=message):
        parse_balances(raw, "--balance")
