"""G3/S13: a bad node config fails before anything starts, and the message names the field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bot4.live.config import load_node_config, parse_node_config
from bot4.live.node import TradingNode
from bot4.model.errors import ConfigError


def raw(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "venue": {"exchange": "binance", "name": "BINANCE", "symbols": ["BTC/USDT"], "url": "http://127.0.0.1:1"},
        "strategies": [{"name": "ema_cross", "params": {"fast": 2, "slow": 4, "size": "0.001"}}],
    }
    base.update(over)
    return base


def fails(data: dict[str, Any], *needles: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_node_config(data)
    text = str(info.value)
    for n in needles:
        assert n in text, text
    return text


def test_config_when_minimal_then_paper_with_risk_on_and_sqlite_journal_under_state_dir() -> None:
    cfg = parse_node_config(raw(state_dir="/tmp/x"))
    assert cfg.mode == "paper" and not cfg.live_enabled and cfg.risk_enabled
    assert cfg.journal_for("paper") == "sqlite:////tmp/x/paper/journal.db"
    assert cfg.journal_for("live") != cfg.journal_for("paper")  # paper never touches the live books
    assert cfg.bar_interval_ns == 60_000_000_000


@pytest.mark.parametrize(
    ("over", "needles"),
    [
        ({"mode": "livee"}, ("mode",)),  # typo'd mode
        ({"mode": "live"}, ("live_enabled",)),  # live without the config flag
        ({"mode": "live", "live_enabled": True, "risk_enabled": False}, ("risk_enabled",)),
        ({"colour": "red"}, ("colour", "Extra inputs")),  # unknown key
        ({"risk": {"limits": {"max_order_notional": -5}}}, ("max_order_notional",)),  # negative limit
        ({"risk": {"limits": {"max_order_notionl": 5}}}, ("max_order_notionl",)),
        ({"bar_interval": "1x"}, ("bar_interval",)),
        ({"reconcile_interval_s": -1}, ("reconcile_interval_s",)),
        ({"shutdown": "flatten"}, ("shutdown",)),
        ({"node_id": "b4-!"}, ("node_id",)),
        ({"paper": {"cash": {"USDT": "-1"}}}, ("cash",)),
    ],
)
def test_config_when_field_is_bad_then_error_names_the_field(over: dict[str, Any], needles: tuple[str, ...]) -> None:
    fails(raw(**over), *needles)


def test_config_when_venue_url_is_not_local_then_refused_naming_url_s14() -> None:
    data = raw()
    data["venue"]["url"] = "https://evil.example.com"
    fails(data, "venue.settings.url", "evil.example.com")


def test_config_when_venue_has_unknown_key_then_error_names_it() -> None:
    data = raw()
    data["venue"]["verify_tls"] = False
    fails(data, "verify_tls")


def test_config_when_secrets_file_is_world_readable_then_refused_with_chmod_hint_s1(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[accounts.main]\napi_key = "k"\nsecret = "s"\n')
    os.chmod(secrets, 0o644)
    data = raw()
    data["venue"]["secrets"] = {"account": "main", "file": str(secrets)}
    text = fails(data, "venue.secrets.file", "0644", "chmod 600")
    assert "api_key" not in text
    os.chmod(secrets, 0o600)
    assert parse_node_config(data).venue.secrets.file == str(secrets)


def test_config_when_strategy_unknown_or_params_bad_then_node_refuses_before_connecting() -> None:
    bad_name = parse_node_config(raw(strategies=[{"name": "ema_crosss"}]))
    with pytest.raises(ConfigError, match=r"strategies\.0\.name"):
        TradingNode(bad_name, "paper")
    bad_params = parse_node_config(raw(strategies=[{"name": "ema_cross", "params": {"fast": 9, "slow": 3}}]))
    with pytest.raises(ConfigError, match=r"strategies\.0\.params"):
        TradingNode(bad_params, "paper")
    bad_inst = parse_node_config(raw(strategies=[{"name": "ema_cross", "instruments": ["ETH/USDT"]}]))
    with pytest.raises(ConfigError, match=r"strategies\.0\.instruments"):
        TradingNode(bad_inst, "paper")


def test_node_when_live_requested_but_config_not_enabled_then_refused_g3() -> None:
    cfg = parse_node_config(raw())
    with pytest.raises(ConfigError, match="live_enabled"):
        TradingNode(cfg, "live")


def test_load_when_file_is_not_toml_then_error_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "node.toml"
    p.write_text("mode = \n")
    with pytest.raises(ConfigError, match=r"node\.toml"):
        load_node_config(p)
    with pytest.raises(ConfigError, match="cannot read"):
        load_node_config(tmp_path / "missing.toml")


def test_examples_parse() -> None:
    root = Path(__file__).resolve().parents[3] / "examples" / "live"
    assert load_node_config(root / "paper.toml").mode == "paper"
    live = load_node_config(root / "live.toml")
    assert live.mode == "live" and live.live_enabled and live.control.enabled
    local = load_node_config(root / "local.toml")
    assert local.mode == "paper" and local.bar_interval == "1s" and local.venue.settings.is_local
