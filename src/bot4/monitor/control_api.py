"""The authenticated control API: status, read the mode, change it, kill switch (S5-S8, S11; tests F3/F4).

Built on aiohttp, which the venue and exchange-server code already use; FastAPI is not used so the node
carries one web stack, not two. Every route is listed once in ``ROUTES`` with the role it needs, and
the guard middleware enforces that table, so a new route cannot be added without choosing a role and
the role tests cover it automatically.

Rules: bearer tokens only (no cookies, so no CSRF surface; no CORS headers, so browsers cannot call
it cross-origin), compared with ``hmac.compare_digest`` and never echoed; no control token means the
API refuses to start; loopback only unless ``allow_remote=True`` (then a TLS warning is logged); 16 KB
body limit; strict request models that reject unknown fields with 422 before any state changes; more
than 10 failed authentications per minute from one IP get 429 for the rest of the window, whatever
token they then present, because a guessing client must not learn when it is right. All clients on
the node's host share 127.0.0.1, so a local abuser can lock the API for a minute; the CLI
(``bot4 control emergency``) still works then, since it writes the mode file directly.

Every control-route attempt and every failure is passed to ``audit(actor, action, payload)`` with
the source IP and, for mode changes, the old and new mode. Successful reads are not audited: the
dashboard polls them.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot4.engine.clock import LiveClock
from bot4.live.secrets import ControlTokens, SecretsError, check_token
from bot4.monitor.logs import default_redactor
from bot4.risk.engine import RiskEngine
from bot4.risk.modes import ControlMode

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
AUTH_FAILURES_PER_WINDOW = 10
WINDOW_NS = 60 * 1_000_000_000
MAX_TRACKED_IPS = 10_000
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

AuditFn = Callable[[str, str, dict[str, Any]], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlApiError(Exception):
    """The control API cannot start with this configuration."""


class ControlTarget(Protocol):
    """What the API drives: the node's risk engine behind a small, string-typed seam."""

    def status(self) -> dict[str, Any]: ...

    def mode(self) -> str: ...

    def set_mode(self, mode: str, actor: str, reason: str, confirm: bool) -> None:
        """Change the mode; raise ``ValueError`` (message safe to show) for a refused transition."""
        ...


class MonotonicClock(Protocol):
    def monotonic_ns(self) -> int: ...


class Role(StrEnum):
    READ = "read"
    CONTROL = "control"  # implies read


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    role: Role
    handler: str  # name of the ControlApi method that serves it


ROUTES: tuple[Route, ...] = (
    Route("GET", "/status", Role.READ, "_status"),
    Route("GET", "/control/mode", Role.READ, "_get_mode"),
    Route("POST", "/control/mode", Role.CONTROL, "_post_mode"),
    Route("POST", "/control/kill", Role.CONTROL, "_kill"),
)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


M = TypeVar("M", bound=_Strict)


class ModeRequest(_Strict):
    mode: Literal["normal", "reduce", "pause", "emergency"]
    reason: str = Field(min_length=1, max_length=500)
    confirm: bool = False

    @model_validator(mode="after")
    def _resume_needs_confirm(self) -> ModeRequest:
        if self.mode == "normal" and not self.confirm:
            raise ValueError("returning to normal needs confirm=true")
        return self


class KillRequest(_Strict):
    reason: str = Field("kill switch via control API", min_length=1, max_length=500)


class _FailureLimiter:
    """Counts authentication failures per IP over a sliding window of the injected monotonic clock."""

    def __init__(self, limit: int, window_ns: int, clock: MonotonicClock) -> None:
        self._limit, self._window, self._clock = limit, window_ns, clock
        self._failures: dict[str, deque[int]] = {}
        self._noticed: set[str] = set()  # IPs whose block was already audited in this window

    def _recent(self, ip: str) -> deque[int] | None:
        q = self._failures.get(ip)
        if q is None:
            return None
        horizon = self._clock.monotonic_ns() - self._window
        while q and q[0] <= horizon:
            q.popleft()
        if not q:
            del self._failures[ip]
            self._noticed.discard(ip)
            return None
        return q

    def blocked(self, ip: str) -> bool:
        q = self._recent(ip)
        return q is not None and len(q) >= self._limit

    def first_notice(self, ip: str) -> bool:
        if ip in self._noticed:
            return False
        self._noticed.add(ip)
        return True

    def retry_after_s(self, ip: str) -> int:
        q = self._failures.get(ip)
        if not q:
            return 0
        return max(1, -(-(q[0] + self._window - self._clock.monotonic_ns()) // 1_000_000_000))

    def record(self, ip: str) -> None:
        q = self._recent(ip)
        if q is None:
            if len(self._failures) >= MAX_TRACKED_IPS:  # bounded memory: forget the oldest tracked IP
                oldest = next(iter(self._failures))
                del self._failures[oldest]
                self._noticed.discard(oldest)
            q = self._failures[ip] = deque()
        q.append(self._clock.monotonic_ns())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # any other host name may resolve anywhere


def _reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    text = default_redactor()(json.dumps(body, default=str))
    return web.Response(
        status=status, text=text, content_type="application/json", headers={**_HEADERS, **(headers or {})}
    )


class ControlApi:
    """The control API server; ``await start()``, then ``port`` is the bound port; ``await close()``."""

    def __init__(
        self,
        target: ControlTarget,
        tokens: ControlTokens,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        audit: AuditFn,
        clock: MonotonicClock | None = None,
        max_body: int = MAX_BODY,
        auth_failures_per_window: int = AUTH_FAILURES_PER_WINDOW,
    ) -> None:
        if not tokens.control:
            raise ControlApiError(
                "control API enabled but no control token is configured: set BOT4_CONTROL_TOKEN or "
                "[control] control_token in the secrets file (`bot4 secrets generate-token` makes one)"
            )
        try:
            check_token(tokens.control, "control token")
            if tokens.read:
                check_token(tokens.read, "read token")
        except SecretsError as exc:
            raise ControlApiError(str(exc)) from None
        if tokens.read == tokens.control:
            raise ControlApiError("the control token and the read token are the same; the roles must differ")
        if not is_loopback(host):
            if not allow_remote:
                raise ControlApiError(
                    f"control API host {host!r} is not loopback; binding it needs allow_remote=true "
                    "(and TLS in front of it)"
                )
            log.warning(
                "control API listens on %s, beyond loopback: put TLS in front of it (reverse proxy, SSH tunnel "
                "or VPN); bearer tokens travel in clear text otherwise",
                host,
            )
        self._target = target
        self._control = tokens.control.encode("utf-8")
        self._read = tokens.read.encode("utf-8") if tokens.read else None
        self._host, self._port = host, port
        self._max_body = max_body
        self._audit_fn = audit
        self._limiter = _FailureLimiter(auth_failures_per_window, WINDOW_NS, clock or LiveClock())
        self._roles = {(r.method, r.path): r.role for r in ROUTES}
        self.app = web.Application(middlewares=[self._guard], client_max_size=max_body)
        for route in ROUTES:
            self.app.router.add_route(route.method, route.path, getattr(self, route.handler))
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        runner = web.AppRunner(self.app)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        log.info("control API listening on %s:%d", self._host, self._port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- guard ---------------------------------------------------------------------------------------------

    def _audit(self, actor: str, action: str, payload: dict[str, Any]) -> None:
        try:
            self._audit_fn(actor, action, payload)
        except Exception:  # the audit sink failing must not block the kill path
            log.exception("control API: audit callback failed for %s", action)

    def _role_of_token(self, request: web.Request) -> Role | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        presented = token.strip().encode("utf-8") if scheme.lower() == "bearer" else b""
        # compare against both tokens every time so the timing does not tell which one was close
        is_control = hmac.compare_digest(presented, self._control)
        is_read = self._read is not None and hmac.compare_digest(presented, self._read)
        if is_control:
            return Role.CONTROL
        return Role.READ if is_read else None

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ip = request.remote or "unknown"
        base = {"source_ip": ip, "method": request.method, "path": request.path[:200]}
        if self._limiter.blocked(ip):
            if self._limiter.first_notice(ip):
                self._audit("anonymous", "api_rate_limited", {**base, "status": 429})
            retry = str(self._limiter.retry_after_s(ip))
            return _reply(429, {"error": "too many failed authentications; retry later"}, {"Retry-After": retry})
        role = self._role_of_token(request)
        if role is None:
            self._limiter.record(ip)
            missing = "Authorization" not in request.headers
            self._audit("anonymous", "api_auth_failed", {**base, "status": 401, "missing_token": missing})
            error = "missing bearer token" if missing else "invalid token"
            return _reply(401, {"error": error}, {"WWW-Authenticate": "Bearer"})
        needed = self._roles.get((request.method, request.path))
        if needed is Role.CONTROL and role is not Role.CONTROL:
            self._audit(f"api:{role}", "api_forbidden", {**base, "status": 403})
            return _reply(403, {"error": f"{request.method} {request.path} needs the control role"})
        return await handler(request)

    def _context(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        """Actor and audit fields of a request the guard has already let through."""
        base = {"source_ip": request.remote or "unknown", "method": request.method, "path": request.path[:200]}
        return f"api:{self._role_of_token(request)}", base

    async def _body(self, request: web.Request, model: type[M]) -> M | web.Response:
        """Parse the body into ``model`` or return the 413/415/422 reply (audited); no state is touched."""
        actor, base = self._context(request)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self._audit(actor, "api_rejected", {**base, "status": 413})
            return _reply(413, {"error": f"request body larger than {self._max_body} bytes"})
        if raw and request.content_type != "application/json":
            self._audit(actor, "api_rejected", {**base, "status": 415})
            return _reply(415, {"error": "request body must be application/json"})
        try:
            return model.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            # loc and message only: pydantic's "input" would echo whatever the client sent
            errors = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
            self._audit(actor, "api_rejected", {**base, "status": 422, "errors": errors})
            return _reply(422, {"error": "invalid request", "details": errors})

    async def _apply(self, request: web.Request, mode: str, reason: str, confirm: bool, action: str) -> web.Response:
        actor, base = self._context(request)
        old = self._target.mode()
        payload = {**base, "old": old, "requested": mode, "reason": reason, "confirm": confirm}
        try:
            self._target.set_mode(mode, actor, reason, confirm)
        except ValueError as exc:
            self._audit(actor, f"{action}_refused", {**payload, "status": 409, "error": str(exc)})
            return _reply(409, {"error": str(exc), "mode": self._target.mode()})
        except Exception as exc:
            log.exception("control API: %s failed", action)
            self._audit(actor, f"{action}_failed", {**payload, "status": 500, "error": exc.__class__.__name__})
            return _reply(500, {"error": "internal error; see the node log"})
        new = self._target.mode()
        self._audit(actor, action, {**payload, "new": new, "status": 200})
        return _reply(200, {"old": old, "mode": new})

    # -- handlers ------------------------------------------------------------------------------------------

    async def _status(self, request: web.Request) -> web.Response:
        return _reply(200, default_redactor().redact_value(self._target.status()))

    async def _get_mode(self, request: web.Request) -> web.Response:
        return _reply(200, {"mode": self._target.mode()})

    async def _post_mode(self, request: web.Request) -> web.Response:
        body = await self._body(request, ModeRequest)
        if isinstance(body, web.Response):
            return body
        return await self._apply(request, body.mode, body.reason, body.confirm, "api_mode_change")

    async def _kill(self, request: web.Request) -> web.Response:
        body = await self._body(request, KillRequest)
        if isinstance(body, web.Response):
            return body
        return await self._apply(request, "emergency", body.reason, False, "api_kill")


class RiskEngineTarget:
    """Adapts ``RiskEngine`` to ``ControlTarget``: lower-case mode names, refusals as ``ValueError``."""

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine

    def status(self) -> dict[str, Any]:
        eng = self.engine
        last = eng.mode_changes[-1] if eng.mode_changes else None
        return {
            "mode": self.mode(),
            "crisis": eng.crisis,
            "denials": eng.denials,
            "breakers": {name: b.state.value for name, b in eng.breakers.items()},
            "last_change": None
            if last is None
            else {
                "ts_ns": last.ts_ns,
                "old": last.old.value.lower(),
                "new": last.new.value.lower(),
                "actor": last.actor,
            },
        }

    def mode(self) -> str:
        return self.engine.mode.value.lower()

    def set_mode(self, mode: str, actor: str, reason: str, confirm: bool) -> None:
        try:
            self.engine.operator_set_mode(ControlMode.parse(mode), actor, reason, confirm=confirm)
        except PermissionError as exc:
            raise ValueError(str(exc)) from None
