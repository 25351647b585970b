"""Smoke test of ``benchmarks/live_loop.py --quick``: runs against the real local exchange, prints one JSON object.

Only the shape and the sanity of the figures are checked (no timed assertions: the numbers depend on
the machine and its load).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "live_loop.py"


def _ordered(pcts: dict[str, Any]) -> bool:
    return all(isinstance(pcts[k], float) for k in ("p50", "p90", "p99", "max")) and (
        0 < pcts["p50"] <= pcts["p90"] <= pcts["p99"] <= pcts["max"]
    )


def test_live_loop_quick_when_run_then_prints_one_json_object_with_latency_and_throughput(shared_data: Path) -> None:
    data = shared_data / "nautilus_trader" / "binance"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout[-2000:]
    out = json.loads(lines[0])
    assert out["benchmark"] == "live_loop"
    lat = out["latency"]
    assert lat["samples"] >= 1 and lat["venue_rejects"] == 0 and lat["denied"] == 0
    assert _ordered(lat["tick_to_order_us"]) and _ordered(lat["handler_to_order_us"])
    assert lat["handler_to_order_us"]["p50"] <= lat["tick_to_order_us"]["p50"]
    assert list(lat["stages_p50_us"]) == [
        "rx_to_handler", "handler_to_strategy", "strategy_to_journal", "journal_commit", "journal_to_venue",
        "venue_to_gate", "gate_to_wire",
    ]  # fmt: skip
    tp = out["throughput"]
    for part in ("feed_alone", "node"):
        assert tp[part]["msgs_per_s"] > 0 and tp[part]["msgs_per_cpu_s"] > 0 and 0 < tp[part]["cpu_share"] <= 2
    assert [type(t["pass"]) for t in out["targets"]] == [bool, bool]
    assert out["cpu_count"] >= 1 and out["python"].startswith("3.")
    assert "journal" in out["note"] and "signing" in out["note"]
