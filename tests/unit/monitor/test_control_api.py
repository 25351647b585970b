"""The control API against a real server on 127.0.0.1 and a real RiskEngine (S5-S8, S11; F3/F4).

Role tests are driven by ``ROUTES``: a route added to the table is covered without touching this file,
and a route registered outside the table fails ``test_s6_routes_when_registered_then_all_in_the_table``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot4.engine.clock import SimClock
from bot4.live.secrets import ControlTokens, generate_token
from bot4.monitor.control_api import ROUTES, ControlApi, ControlApiError, RiskEngineTarget, Role
from bot4.risk.audit import AuditLog, audit_table, make_db_engine, verify
from bot4.risk.engine import RiskEngine
from bot4.risk.modes import ControlMode, ModeStore

CONTROL, READ = generate_token(), generate_token()
TOKENS = ControlTokens(CONTROL, READ)
S = 1_000_000_000


@dataclass
class Harness:
    api: ControlApi
    engine: RiskEngine
    session: aiohttp.ClientSession
    clock: SimClock
    audits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, dict[str, str]]:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        url = f"http://127.0.0.1:{self.api.port}{path}"
        async with self.session.request(method, url, json=json, data=data, headers=hdrs) as resp:
            return resp.status, await resp.text(), dict(resp.headers)

    def actions(self) -> list[str]:
        return [a for _, a, _ in self.audits]


@asynccontextmanager
async def serve(tmp_path: Path, **kwargs: Any) -> AsyncIterator[Harness]:
    engine = RiskEngine(state_dir=tmp_path / "state")
    clock = SimClock(1_000 * S)
    audits: list[tuple[str, str, dict[str, Any]]] = []
    audit = kwargs.pop("audit", lambda actor, action, payload: audits.append((actor, action, payload)))
    api = ControlApi(RiskEngineTarget(engine), TOKENS, audit=audit, clock=clock, **kwargs)
    await api.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield Harness(api, engine, session, clock, audits)
    finally:
        await api.close()


def run(tmp_path: Path, body: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> None:
    async def main() -> None:
        async with serve(tmp_path, **kwargs) as h:
            await body(h)

    asyncio.run(main())


def _valid_body(path: str) -> dict[str, Any] | None:
    return {"mode": "pause", "reason": "role test"} if path == "/control/mode" else None


def _assert_no_token_leak(text: str, headers: dict[str, str]) -> None:
    for token in (CONTROL, READ):
        assert token not in text
        assert all(token not in v for v in headers.values())


# -- S5/S6: authentication and roles, driven by the route table --------------------------------------------------


def test_s6_routes_when_registered_then_all_in_the_table(tmp_path: Path) -> None:
    api = ControlApi(RiskEngineTarget(RiskEngine(state_dir=tmp_path)), TOKENS, audit=lambda *a: None)

    registered = {(r.method, r.resource.canonical) for r in api.app.router.routes() if r.resource is not None}

    assert registered == {(r.method, r.path) for r in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_s5_route_when_token_missing_or_wrong_then_401_no_change_audited(tmp_path: Path, route: Any) -> None:
    async def body(h: Harness) -> None:
        for token in (None, "", generate_token(), CONTROL[:-1], CONTROL + "x", READ.swapcase()):
            status, text, headers = await h.call(route.method, route.path, token, json=_valid_body(route.path))
            assert status == 401, (token, text)
            assert headers["WWW-Authenticate"] == "Bearer"
            _assert_no_token_leak(text, headers)
        assert h.engine.mode is ControlMode.NORMAL
        assert h.actions() == ["api_auth_failed"] * 6
        assert all(p["source_ip"] == "127.0.0.1" and p["status"] == 401 for _, _, p in h.audits)

    run(tmp_path, body)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_s6_route_when_read_token_then_allowed_only_if_read_role(tmp_path: Path, route: Any) -> None:
    async def body(h: Harness) -> None:
        status, text, headers = await h.call(route.method, route.path, READ, json=_valid_body(route.path))

        _assert_no_token_leak(text, headers)
        if route.role is Role.CONTROL:
            assert status == 403, text
            assert h.engine.mode is ControlMode.NORMAL
            assert h.actions() == ["api_forbidden"]
        else:
            assert route.method == "GET"
            assert status == 200, text

    run(tmp_path, body)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_s6_route_when_control_token_then_served(tmp_path: Path, route: Any) -> None:
    async def body(h: Harness) -> None:
        status, text, headers = await h.call(route.method, route.path, CONTROL, json=_valid_body(route.path))

        assert status == 200, text
        _assert_no_token_leak(text, headers)

    run(tmp_path, body)


def test_s6_mutating_routes_when_listed_then_need_control_role() -> None:
    assert all(r.role is Role.CONTROL for r in ROUTES if r.method != "GET")


@pytest.mark.parametrize(
    ("tokens", "needle"),
    [
        (ControlTokens(None, READ), "no control token is configured"),
        (ControlTokens("", READ), "no control token is configured"),
        (ControlTokens("admin", READ), "control token is too weak"),
        (ControlTokens(CONTROL, "readonly"), "read token is too weak"),
        (ControlTokens(CONTROL, CONTROL), "must differ"),
    ],
)
def test_s5_startup_when_token_missing_weak_or_shared_then_refused(
    tmp_path: Path, tokens: ControlTokens, needle: str
) -> None:
    with pytest.raises(ControlApiError, match=needle) as err:
        ControlApi(RiskEngineTarget(RiskEngine(state_dir=tmp_path)), tokens, audit=lambda *a: None)

    assert CONTROL not in str(err.value)


# -- S7: loopback by default ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_s7_bind_when_not_loopback_and_not_allowed_then_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(ControlApiError, match="allow_remote"):
        ControlApi(RiskEngineTarget(RiskEngine(state_dir=tmp_path)), TOKENS, host=host, audit=lambda *a: None)


def test_s7_bind_when_not_loopback_and_allowed_then_tls_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot4.monitor.control_api"):
        ControlApi(
            RiskEngineTarget(RiskEngine(state_dir=tmp_path)),
            TOKENS,
            host="0.0.0.0",
            allow_remote=True,
            audit=lambda *a: None,
        )

    assert any("TLS" in r.getMessage() for r in caplog.records)


def test_s7_default_when_started_then_listens_on_loopback_only(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        assert h.api.port > 0
        addresses = h.api._runner.addresses  # type: ignore[union-attr]
        assert addresses and all(addr[0] == "127.0.0.1" for addr in addresses)

    run(tmp_path, body)


# -- F3/F4 + S11: mode changes ---------------------------------------------------------------------------------


def test_f4_post_mode_when_pause_then_engine_paused_and_audited_with_old_new_and_ip(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        status, text, _ = await h.call("POST", "/control/mode", CONTROL, json={"mode": "pause", "reason": "news"})

        assert status == 200, text
        assert h.engine.mode is ControlMode.PAUSE
        assert (await h.call("GET", "/control/mode", READ))[1] == '{"mode": "pause"}'
        actor, action, payload = h.audits[-1]
        assert (actor, action) == ("api:control", "api_mode_change")
        assert payload["old"] == "normal" and payload["new"] == "pause" and payload["source_ip"] == "127.0.0.1"
        assert payload["reason"] == "news"

    run(tmp_path, body)


def test_f4_resume_when_confirm_missing_then_422_and_with_confirm_then_normal(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        await h.call("POST", "/control/mode", CONTROL, json={"mode": "reduce", "reason": "drawdown"})

        refused, text, _ = await h.call("POST", "/control/mode", CONTROL, json={"mode": "normal", "reason": "ok"})
        assert refused == 422 and "confirm=true" in text
        assert h.engine.mode.value == "REDUCE"

        resume = {"mode": "normal", "reason": "ok", "confirm": True}
        ok, _, _ = await h.call("POST", "/control/mode", CONTROL, json=resume)
        assert ok == 200
        assert h.engine.mode is ControlMode.NORMAL

    run(tmp_path, body)


def test_f3_kill_when_posted_then_emergency_persisted_and_audited(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        status, text, _ = await h.call("POST", "/control/kill", CONTROL, json={"reason": "key leaked"})

        assert status == 200, text
        assert h.engine.mode is ControlMode.EMERGENCY
        assert ModeStore(tmp_path / "state").read().mode is ControlMode.EMERGENCY  # survives a restart
        _, action, payload = h.audits[-1]
        assert action == "api_kill" and payload["new"] == "emergency" and payload["reason"] == "key leaked"

    run(tmp_path, body)


def test_s11_actions_when_sent_then_one_hash_chained_audit_row_each(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    log = AuditLog(url, tmp_path / "audit.head.json")
    clock = SimClock(5 * S)

    def audit(actor: str, action: str, payload: dict[str, Any]) -> None:
        log.append(actor, action, payload, clock.now_ns())

    async def body(h: Harness) -> None:
        await h.call("POST", "/control/mode", CONTROL, json={"mode": "pause", "reason": "a"})
        await h.call("POST", "/control/kill", CONTROL)
        await h.call("POST", "/control/mode", "wrong-token")
        await h.call("POST", "/control/mode", READ, json={"mode": "pause", "reason": "b"})
        await h.call("POST", "/control/mode", CONTROL, json={"mode": "pause", "reason": "c", "x": 1})

    run(tmp_path, body, audit=audit)
    assert log.flush()

    db = make_db_engine(url)
    with db.connect() as conn:
        rows = [(r.actor, r.action) for r in conn.execute(select(audit_table).order_by(audit_table.c.seq))]
    db.dispose()
    api_rows = [r for r in rows if r[1].startswith("api_")]
    assert api_rows == [
        ("api:control", "api_mode_change"),
        ("api:control", "api_kill"),
        ("anonymous", "api_auth_failed"),
        ("api:read", "api_forbidden"),
        ("api:control", "api_rejected"),
    ]
    assert verify(url, tmp_path / "audit.head.json").ok


# -- S8: validation and abuse limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"mode": "pause", "reason": "x", "extra": True},
        {"mode": "PAUSE", "reason": "x"},
        {"mode": "halt", "reason": "x"},
        {"mode": "pause"},
        {"mode": "pause", "reason": ""},
        {"mode": "emergency", "reason": "x", "confirm": "true"},
        {"mode": "emergency", "reason": 5},
        ["pause"],
    ],
)
def test_s8_post_mode_when_invalid_body_then_422_and_no_state_change(tmp_path: Path, payload: Any) -> None:
    async def body(h: Harness) -> None:
        status, text, _ = await h.call("POST", "/control/mode", CONTROL, json=payload)

        assert status == 422, text
        assert h.engine.mode is ControlMode.NORMAL
        assert h.actions() == ["api_rejected"]

    run(tmp_path, body)


def test_s8_post_when_not_json_then_rejected_without_change(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        bad_json = await h.call(
            "POST", "/control/mode", CONTROL, data=b"{mode: pause", headers={"Content-Type": "application/json"}
        )
        form = await h.call("POST", "/control/kill", CONTROL, data=b"reason=x")

        assert bad_json[0] == 422 and form[0] == 415
        assert h.engine.mode is ControlMode.NORMAL

    run(tmp_path, body)


def test_s8_post_when_body_over_16kb_then_413_and_no_change(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        status, _, _ = await h.call("POST", "/control/kill", CONTROL, json={"reason": "x" * (16 * 1024)})

        assert status == 413
        assert h.engine.mode is ControlMode.NORMAL
        assert h.audits[-1][1] == "api_rejected" and h.audits[-1][2]["status"] == 413

    run(tmp_path, body)


def test_s8_auth_failures_when_over_10_per_minute_then_429_even_with_right_token_until_window_passes(
    tmp_path: Path,
) -> None:
    async def body(h: Harness) -> None:
        for _ in range(10):
            assert (await h.call("GET", "/status", "guess-" + generate_token()))[0] == 401

        blocked, _, headers = await h.call("POST", "/control/kill", CONTROL)
        again, _, _ = await h.call("GET", "/status", READ)
        assert (blocked, again) == (429, 429)
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert h.engine.mode is ControlMode.NORMAL
        assert h.actions().count("api_rate_limited") == 1  # a flood does not flood the audit trail

        h.clock.advance_to(h.clock.monotonic_ns() + 61 * S)
        assert (await h.call("GET", "/status", READ))[0] == 200

    run(tmp_path, body)


def test_s8_auth_failures_when_10_spread_over_more_than_a_minute_then_not_blocked(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        for _ in range(10):
            await h.call("GET", "/status", "nope")
            h.clock.advance_to(h.clock.monotonic_ns() + 7 * S)

        assert (await h.call("GET", "/status", READ))[0] == 200

    run(tmp_path, body)


def test_s7_s8_responses_when_any_then_no_cookies_and_no_cors(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        origin = {"Origin": "https://evil.example"}
        seen = [
            await h.call("GET", "/status", READ, headers=origin),
            await h.call("OPTIONS", "/control/mode", None, headers={**origin, "Access-Control-Request-Method": "POST"}),
            await h.call("POST", "/control/mode", CONTROL, json={"mode": "pause", "reason": "x"}, headers=origin),
        ]

        for _, _, headers in seen:
            assert "Set-Cookie" not in headers
            assert not any(k.lower().startswith("access-control-") for k in headers)

    run(tmp_path, body)


# -- refusals and failures -------------------------------------------------------------------------------------


class RefusingTarget:
    """A node that refuses every transition, as a real one does for e.g. NORMAL during a breaker trip."""

    def status(self) -> dict[str, Any]:
        return {"mode": "pause", "apiKey": "must-not-show", "db": "postgresql://u:pw123@h/db"}

    def mode(self) -> str:
        return "pause"

    def set_mode(self, mode: str, actor: str, reason: str, confirm: bool) -> None:
        raise ValueError(f"cannot go to {mode} while the breaker is open")


def test_post_mode_when_target_refuses_then_409_with_reason_and_audited() -> None:
    async def main() -> None:
        audits: list[tuple[str, str, dict[str, Any]]] = []
        api = ControlApi(RefusingTarget(), TOKENS, audit=lambda *a: audits.append(a))
        await api.start()
        try:
            async with aiohttp.ClientSession() as s:
                url = f"http://127.0.0.1:{api.port}"
                auth = {"Authorization": f"Bearer {CONTROL}"}
                async with s.post(f"{url}/control/kill", headers=auth) as resp:
                    assert resp.status == 409
                    assert "breaker is open" in await resp.text()
                async with s.get(f"{url}/status", headers=auth) as resp:
                    text = await resp.text()
                    assert "must-not-show" not in text and "pw123" not in text
        finally:
            await api.close()
        assert audits[0][1] == "api_kill_refused" and audits[0][2]["old"] == "pause"

    asyncio.run(main())


def test_f3_kill_when_audit_sink_raises_then_still_emergency(tmp_path: Path) -> None:
    def broken(actor: str, action: str, payload: dict[str, Any]) -> None:
        raise OSError("audit database is locked")

    async def body(h: Harness) -> None:
        status, _, _ = await h.call("POST", "/control/kill", CONTROL)

        assert status == 200
        assert h.engine.mode is ControlMode.EMERGENCY

    run(tmp_path, body, audit=broken)
