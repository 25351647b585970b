"""The fault plan: per-endpoint scripts of things going wrong, read from a JSON or TOML file.

Shape (JSON shown; TOML is the same tables)::

    {"endpoints": {
        "POST /api/v3/order": [{"action": "drop_after_book", "count": 1, "skip": 1}],
        "*": [{"action": "status", "code": 429, "headers": {"Retry-After": "3"}, "duration_ms": 3000}],
        "ws:user": [{"action": "duplicate_event", "n": 3, "when": {"x": "TRADE"}}],
        "ws:depth": [{"action": "skip_update_id", "count": 1, "skip": 2}]}}

The same file may carry ``latency`` (see ``LatencyModel.from_dict``) and ``rate_limit``
(``capacity``, ``window_s``, ``ban_after``, ``ban_s``) tables.

A rule fires on a matching request/event (``when``: equal request params or event fields), after
letting ``skip`` matches pass, at most ``count`` times (default: every time), and, with
``duration_ms``, for that long after its first firing. REST actions: ``delay(ms)``,
``drop_before_book``, ``drop_after_book``, ``status(code, body, headers)`` (with ``book = true`` the
request is carried out first: "unknown outcome", e.g. 503 or ``{"code": -1007}`` after booking),
``malformed_body`` (carried out, reply cut in half).
Stream actions (``ws:user``, ``ws:depth``, ``ws:trade``): ``delay(ms)``, ``duplicate_event(n)``,
``reorder_events(n)`` (hold n events, send them in reverse), ``skip_update_id`` / ``drop_event``,
``silent_stream(duration_ms)`` (pings go on, events stop), ``disconnect_at`` (close after the event;
pick the event with ``skip``/``when``), ``malformed_body`` (the frame is cut in half: not JSON),
``server_shutdown(close_after_ms)`` (after the event: a ``serverShutdown`` event, then the server closes
the connection ``close_after_ms`` later, default 1000). ``ws:depth`` only: ``inject_level(side, price,
qty)`` (append a level, e.g. price "abc", qty "-1" or a bid above the ask, to the diff as sent; the
server's own book is untouched). ``ws:user`` only: ``listen_key_expired`` (a ``listenKeyExpired`` event,
the listenKey is forgotten and the connection gets no more events) and ``event_stream_terminated`` (an
``eventStreamTerminated`` event, then the subscription ends; the connection stays open).

An old depth snapshot (D1) needs no special action: ``status`` with ``code = 200`` and ``body`` set to an
earlier ``/api/v3/depth`` answer serves it, ``count = 1`` makes it once.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REST_ACTIONS = frozenset({"delay", "drop_before_book", "drop_after_book", "status", "malformed_body"})
WS_ACTIONS = frozenset(
    {
        "delay",
        "duplicate_event",
        "reorder_events",
        "skip_update_id",
        "drop_event",
        "silent_stream",
        "disconnect_at",
        "malformed_body",
        "server_shutdown",
        "inject_level",
        "listen_key_expired",
        "event_stream_terminated",
    }
)
_ONLY_ON = {"inject_level": "ws:depth", "listen_key_expired": "ws:user", "event_stream_terminated": "ws:user"}
WS_ENDPOINTS = frozenset({"ws:user", "ws:depth", "ws:trade"})


class FaultPlanError(ValueError):
    """A fault plan that cannot be used; the message names the file, endpoint, rule and field."""


@dataclass(slots=True)
class Rule:
    """One scripted fault and its firing state."""

    endpoint: str
    action: str
    args: dict[str, Any]
    when: dict[str, str] = field(default_factory=dict)
    count: int | None = None
    skip: int = 0
    duration_ms: int | None = None
    seen: int = 0
    fired: int = 0
    first_ns: int | None = None

    def matches(self, values: dict[str, Any], now_ns: int) -> bool:
        """Count a candidate and say whether the rule fires for it (updates the firing state)."""
        if any(str(values.get(k)) != v for k, v in self.when.items()):
            return False
        if self.duration_ms is not None and self.first_ns is not None:
            if now_ns - self.first_ns < self.duration_ms * 1_000_000:
                self.fired += 1
                return True
            return False
        self.seen += 1
        if self.seen <= self.skip or (self.count is not None and self.fired >= self.count):
            return False
        self.fired += 1
        if self.first_ns is None:
            self.first_ns = now_ns
        return True


@dataclass(slots=True)
class FaultPlan:
    rules: list[Rule] = field(default_factory=list)

    def firing(self, endpoint: str, values: dict[str, Any], now_ns: int) -> list[Rule]:
        """Rules for ``endpoint`` (or ``*`` for REST) that fire on this request/event, in plan order."""
        out = []
        for r in self.rules:
            applies = r.endpoint == endpoint or (r.endpoint == "*" and not endpoint.startswith("ws:"))
            if applies and r.matches(values, now_ns):
                out.append(r)
        return out

    def add(self, endpoint: str, action: str, **spec: Any) -> Rule:
        """Add a rule at run time (tests); same fields as in the file."""
        rule = _rule(endpoint, {"action": action, **spec}, "FaultPlan.add")
        self.rules.append(rule)
        return rule

    @classmethod
    def from_dict(cls, raw: Any, where: str = "fault plan") -> FaultPlan:
        if not isinstance(raw, dict) or not isinstance(raw.get("endpoints", {}), dict):
            raise FaultPlanError(f"{where}: must be a table with an 'endpoints' table")
        rules = []
        for endpoint, specs in raw.get("endpoints", {}).items():
            if not isinstance(specs, list):
                raise FaultPlanError(f"{where}: endpoints[{endpoint!r}] must be a list of actions")
            for i, spec in enumerate(specs):
                rules.append(_rule(endpoint, spec, f"{where}: endpoints[{endpoint!r}][{i}]"))
        return cls(rules)

    @classmethod
    def load(cls, path: Path) -> FaultPlan:
        return cls.from_dict(read_plan_file(path), f"fault plan {path}")


def read_plan_file(path: Path) -> dict[str, Any]:
    """The whole plan file: ``endpoints`` plus the optional ``latency`` and ``rate_limit`` tables."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise FaultPlanError(f"fault plan {path}: {exc}") from None
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise FaultPlanError(f"fault plan {path}: not valid {path.suffix or 'JSON'}: {exc}") from None
    if not isinstance(raw, dict):
        raise FaultPlanError(f"fault plan {path}: must be a table/object at the top")
    unknown = set(raw) - {"endpoints", "latency", "rate_limit"}
    if unknown:
        raise FaultPlanError(f"fault plan {path}: unknown top-level key(s) {sorted(unknown)}")
    return raw


_COMMON = {"action", "when", "count", "skip", "duration_ms"}
_ARGS: dict[str, dict[str, type]] = {
    "delay": {"ms": int},
    "status": {"code": int, "body": object, "headers": dict, "book": bool},
    "duplicate_event": {"n": int},
    "reorder_events": {"n": int},
    "server_shutdown": {"close_after_ms": int},
    "inject_level": {"side": str, "price": str, "qty": str},
}


def _rule(endpoint: str, spec: Any, where: str) -> Rule:
    if not isinstance(spec, dict):
        raise FaultPlanError(f"{where}: must be a table with 'action' (got {spec!r})")
    action = spec.get("action")
    is_ws = endpoint.startswith("ws:")
    if is_ws and endpoint not in WS_ENDPOINTS:
        raise FaultPlanError(f"{where}: unknown stream {endpoint!r}; use one of {sorted(WS_ENDPOINTS)}")
    if not is_ws and endpoint != "*" and (" " not in endpoint or not endpoint.split(" ", 1)[1].startswith("/")):
        raise FaultPlanError(f"{where}: endpoint {endpoint!r} must look like 'POST /api/v3/order', '*' or 'ws:user'")
    allowed = WS_ACTIONS if is_ws else REST_ACTIONS
    if action not in allowed:
        raise FaultPlanError(f"{where}: action {action!r} is not one of {sorted(allowed)} for {endpoint!r}")
    types = _ARGS.get(action, {})
    args = {k: v for k, v in spec.items() if k not in _COMMON}
    for k, v in args.items():
        if k not in types:
            raise FaultPlanError(f"{where}: {action} takes no field {k!r} (fields: {sorted(types) or 'none'})")
        if types[k] is not object and not isinstance(v, types[k]):
            raise FaultPlanError(f"{where}: field {k!r} must be {types[k].__name__} (got {v!r})")
    if action == "delay" and "ms" not in args:
        raise FaultPlanError(f"{where}: delay needs 'ms'")
    if action == "status" and "code" not in args:
        raise FaultPlanError(f"{where}: status needs 'code'")
    only = _ONLY_ON.get(str(action))
    if only is not None and endpoint != only:
        raise FaultPlanError(f"{where}: {action} works on {only!r} only (got {endpoint!r})")
    if action == "inject_level" and (args.get("side") not in ("b", "a") or "price" not in args or "qty" not in args):
        raise FaultPlanError(f"{where}: inject_level needs side ('b' or 'a'), price and qty (strings)")
    when = spec.get("when", {})
    if not isinstance(when, dict):
        raise FaultPlanError(f"{where}: 'when' must be a table of field = value")
    for name in ("count", "skip", "duration_ms"):
        value = spec.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise FaultPlanError(f"{where}: {name!r} must be an integer >= 0 (got {value!r})")
    return Rule(
        endpoint,
        action,
        args,
        {str(k): str(v) for k, v in when.items()},
        spec.get("count"),
        spec.get("skip", 0) or 0,
        spec.get("duration_ms"),
    )
