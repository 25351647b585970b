"""The bot4 command: one clear line and a non-zero exit for every user mistake; JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot4.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_clean_line(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["backtest", "--strategy", "ema_crss"], "unknown strategy 'ema_crss'; did you mean 'ema_cross'?"),
        (["backtest", "--param", "fast=abc"], "fast"),
        (["backtest", "--param", "fats=10"], "fats: Extra inputs are not permitted"),
        (["backtest", "--param", "fast"], "bad --param 'fast': expected NAME=VALUE"),
        (["backtest", "--param", "fast=30", "--param", "slow=10"], "fast (30) must be smaller than slow (10)"),
        (["backtest", "--cash", "-5"], "cash: Input should be greater than 0"),
        (["backtest", "--fee-rate", "abc"], "fee_rate"),
        (["backtest", "--data", "/nonexistent/candles.csv"], "data file not found: /nonexistent/candles.csv"),
        (["backtest", "--bogus"], "No such option: --bogus"),
    ],
)
def test_backtest_when_input_is_bad_then_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = run(capsys, *argv, "--no-store")
    assert code == 2
    _assert_one_clean_line(err)
    assert needle in err


def test_backtest_when_data_file_malformed_then_error_names_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "BTC_USDT-5m.csv"
    bad.write_text(
        "timestamp_ms,open,high,low,close,volume\n1672677900000,1,2,0.5,1.5,3\n1672678200000,1,0.5,2,1.5,3\n"
    )
    code, _, err = run(capsys, "backtest", "--data", str(bad), "--no-store")
    assert code == 2
    _assert_one_clean_line(err)
    assert str(bad) in err or bad.name in err


def test_backtest_when_json_then_summary_metrics_and_every_trade(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "r.html"
    code, out, err = run(
        capsys,
        "backtest",
        "--param",
        "fast=10",
        "--param",
        "slow=30",
        "--json",
        "--report",
        str(report),
        "--db",
        f"sqlite:///{tmp_path / 'runs.sqlite'}",
    )
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"summary", "metrics", "trades", "events"}
    assert data["summary"]["instruments"] == ["SIM:BTC/USDT"]
    assert data["summary"]["run_id"] is not None
    assert len(data["trades"]) == data["metrics"]["n_trades"] > 0
    assert {"entry_time", "entry_price", "exit_time", "exit_price", "pnl"} <= set(data["trades"][0])
    assert report.stat().st_size > 10_000


def test_backtest_when_run_twice_then_identical_json(capsys: pytest.CaptureFixture[str]) -> None:
    outs = [run(capsys, "backtest", "--json", "--no-store", "--param", "slow=40")[1] for _ in range(2)]
    assert outs[0] == outs[1]


def test_strategies_when_listed_then_builtins_with_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "strategies", "--json")
    assert code == 0
    listing = {s["name"]: s for s in json.loads(out)}
    assert {"ema_cross", "rsi_reversion"} <= set(listing)
    assert [p["name"] for p in listing["ema_cross"]["parameters"]] == ["fast", "slow", "size"]


@pytest.mark.parametrize("kind", ["unknown-dialect", "path-under-a-file"])
def test_backtest_when_result_store_unusable_then_one_line_naming_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    url = "nosuchdialect://x" if kind == "unknown-dialect" else f"sqlite:///{blocker}/runs.sqlite"
    code, _, err = run(capsys, "backtest", "--db", url)
    assert code == 2
    _assert_one_clean_line(err)
    assert f"cannot store results in {url}" in err


def test_backtest_when_risk_default_then_oversized_orders_denied_with_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "backtest", "--json", "--no-store", "--risk", "default")
    assert code == 0, err
    data = json.loads(out)
    denied = [e for e in data["events"] if e["kind"] == "ORDER_DENIED"]
    assert denied and all("MAX_POSITION" in e["message"] or "CONCENTRATION" in e["message"] for e in denied[:5])
    assert data["metrics"]["n_trades"] == 0


def test_backtest_when_risk_limits_file_has_unknown_key_then_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    limits = tmp_path / "limits.toml"
    limits.write_text("max_order_notionl = 5\n")
    code, _, err = run(capsys, "backtest", "--no-store", "--risk", str(limits))
    assert code == 2
    _assert_one_clean_line(err)
    assert "risk.limits.max_order_notionl: Extra inputs are not permitted" in err
