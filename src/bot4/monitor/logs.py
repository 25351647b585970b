"""Structured JSON logs that cannot leak secrets (security checklist S4, CWE-532).

A live node logs exchange errors, HTTP bodies and tracebacks, and any of them can carry an API key, a
signature, a listen key or a DB password. Scrubbing therefore happens in two places: ``Redactor`` as a
``logging.Filter`` cleans every record (message, args, ``extra`` fields, traceback, stack) before any
handler formats it, and the formatters run the finished line through the same redactor once more as a
last line of defence. The same callable is used on exception messages, HTTP bodies and audit payloads.

Secrets known only at runtime (keys loaded from the secret store, control tokens) are registered with
the process-wide ``default_redactor()`` and replaced wherever they appear verbatim, JSON-escaped or
URL-encoded. Timestamps come from an injected clock so log lines agree with the engine's time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from bot4.engine.clock import LiveClock

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter strings would blank out ordinary words; they are refused

# Field names whose values are always secret, in JSON/dict form (`"secret": "..."`) or as `extra` keys.
SENSITIVE_KEYS = frozenset(
    k.lower()
    for k in (
        "apiKey",
        "api_key",
        "secret",
        "secretKey",
        "secret_key",
        "password",
        "passphrase",
        "token",
        "control_token",
        "read_token",
        "privateKey",
        "private_key",
        "authorization",
        "x-mbx-apikey",
        "listenKey",
        "signature",
    )
)
_KEY_ALT = "|".join(sorted((re.escape(k) for k in SENSITIVE_KEYS), key=len, reverse=True))

# (pattern, replacement). Each keeps the name and replaces only the value, so a redacted line still says
# *what* was there.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "apiKey": "...", 'secret': '...' (JSON bodies, dict reprs, ccxt verbose output)
    (re.compile(rf"""(["'](?:{_KEY_ALT})["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2""", re.IGNORECASE), rf"\1\2{MASK}\2"),
    # X-MBX-APIKEY: value / Authorization: Bearer value (raw headers)
    (
        re.compile(r"((?:X-MBX-APIKEY|Authorization)\s*[:=]\s*(?:(?:Bearer|Basic|Token)\s+)?)[^\s,;'\"}]+", re.I),
        rf"\1{MASK}",
    ),
    # signature=..., listenKey=..., secret=..., token=..., password=... (query strings, form bodies, URLs)
    (
        re.compile(r"\b((?:signature|listenKey|secret|secretKey|password|passphrase|token)=)[^&\s'\",;)>]+", re.I),
        rf"\1{MASK}",
    ),
    # scheme://user:PASSWORD@host (PostgreSQL, Redis, AMQP, ... URLs)
    (re.compile(r"\b([a-zA-Z][\w+.-]*://[^:/@\s]+:)[^@\s]+(@)"), rf"\1{MASK}\2"),
)

# LogRecord attributes that are not `extra` fields.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "ts_ns"}


class Redactor(logging.Filter):
    """Replace secrets in text and in log records; both a ``logging.Filter`` and ``redact(text)``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._exact: re.Pattern[str] | None = None
        for value in secrets:
            self.add_secret(value)

    def add_secret(self, value: str) -> None:
        """Redact ``value`` from now on (also JSON-escaped and URL-encoded forms)."""
        if not isinstance(value, str):
            raise TypeError(f"secret to redact must be a str, got {type(value).__name__}")
        if len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"secret to redact is shorter than {MIN_SECRET_LENGTH} characters; refusing it")
        forms = {value, json.dumps(value)[1:-1], quote(value, safe=""), quote(value, safe="/")}
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            alternatives = sorted(self._secrets, key=len, reverse=True)  # longest first: no partial leftovers
            self._exact = re.compile("|".join(re.escape(s) for s in alternatives))

    def __call__(self, text: str) -> str:
        """Return ``text`` with registered secrets and known secret-bearing patterns masked."""
        exact = self._exact
        if exact is not None:
            text = exact.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    redact = __call__

    def redact_value(self, value: Any) -> Any:
        """A scrubbed copy of a JSON-like value: sensitive keys masked, strings redacted; input untouched."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {k: MASK if str(k).lower() in SENSITIVE_KEYS else self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_value(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self(str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place so every handler downstream sees only redacted text."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not turn into an unredacted crash report
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self(record.exc_text)
        if record.stack_info:
            record.stack_info = self(record.stack_info)
        for key in [k for k in vars(record) if k not in _RECORD_ATTRS]:
            value = getattr(record, key)
            setattr(record, key, MASK if key.lower() in SENSITIVE_KEYS else self.redact_value(value))
        return True


_DEFAULT = Redactor()


def default_redactor() -> Redactor:
    """The process-wide redactor: the node registers every loaded secret here."""
    return _DEFAULT


def redact(text: str) -> str:
    """Redact ``text`` with the process-wide redactor."""
    return _DEFAULT(text)


def _iso(ts_ns: int) -> str:
    stamp = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ts_ns % 1_000_000_000 // 1000:06d}Z"


class _ClockStamp(logging.Filter):
    """Stamp each record once with the injected clock, so every handler prints the same time."""

    def __init__(self, clock: Callable[[], int]) -> None:
        super().__init__()
        self._clock = clock

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "ts_ns"):
            record.ts_ns = self._clock()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, ts_ns, level, logger, event, extra fields, exc."""

    def __init__(self, redactor: Redactor, clock: Callable[[], int]) -> None:
        super().__init__()
        self._redactor = redactor
        self._clock = clock

    def format(self, record: logging.LogRecord) -> str:
        ts_ns = int(getattr(record, "ts_ns", 0) or self._clock())
        out: dict[str, Any] = {
            "ts": _iso(ts_ns),
            "ts_ns": ts_ns,
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in out:
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        line = json.dumps(self._redactor.redact_value(out), ensure_ascii=False, default=str)
        return self._redactor(line)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, with the same clock and redaction as the JSON form."""

    def __init__(self, redactor: Redactor, clock: Callable[[], int]) -> None:
        super().__init__()
        self._redactor = redactor
        self._clock = clock

    def format(self, record: logging.LogRecord) -> str:
        ts_ns = int(getattr(record, "ts_ns", 0) or self._clock())
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _RECORD_ATTRS)
        line = f"{_iso(ts_ns)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line = f"{line} {extras}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{record.stack_info}"
        return self._redactor(line)


_INSTALLED: list[logging.Handler] = []


def _open_log_file(path: Path) -> IO[str]:
    # logs are redacted, but still operational detail: owner-only, like the secret files (S15)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)


def configure_logging(
    level: int | str = logging.INFO,
    *,
    json: bool = True,
    stream: IO[str] | None = None,
    file: Path | None = None,
    clock: Callable[[], int] | None = None,
    redactor: Redactor | None = None,
) -> list[logging.Handler]:
    """Send all logging to ``stream`` (default stderr) and optionally ``file``, redacted, one line per record.

    Calling it again replaces the handlers it installed before (not anyone else's). Returns the handlers.
    """
    red = redactor or _DEFAULT
    now = clock or LiveClock().now_ns
    root = logging.getLogger()
    for handler in _INSTALLED:
        root.removeHandler(handler)
        handler.close()
    _INSTALLED.clear()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream if stream is not None else sys.stderr)]
    if file is not None:
        handlers.append(logging.StreamHandler(_open_log_file(file)))
    formatter = JsonFormatter(red, now) if json else TextFormatter(red, now)
    stamp = _ClockStamp(now)
    for handler in handlers:
        handler.addFilter(stamp)
        handler.addFilter(red)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        _INSTALLED.append(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    logging.captureWarnings(True)
    return handlers
