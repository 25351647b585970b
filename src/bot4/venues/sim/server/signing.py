"""Binance's rules for authenticated requests: API key header, HMAC-SHA256 signature, timing window.

Binance signs ``queryString + requestBody`` (without the ``signature`` pair) with the account secret
and refuses a ``timestamp`` that is 1 s or more ahead of server time, or older than ``recvWindow``
(default 5000 ms, at most 60000). The codes below are the ones its documentation lists.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from bot4.venues.sim.server.accounts import Account

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000


@dataclass(frozen=True, slots=True)
class ApiError(Exception):
    """A refusal in Binance's shape: HTTP status, ``code`` and ``msg``."""

    http_status: int
    code: int
    msg: str

    def __str__(self) -> str:
        return f"HTTP {self.http_status} {self.code} {self.msg}"


def mandatory(name: str) -> ApiError:
    return ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=`` pair, and the signature (or None)."""
    if not raw:
        return "", None
    kept, sig = [], None
    for pair in raw.split("&"):
        if pair.startswith("signature="):
            sig = pair[len("signature=") :]
        else:
            kept.append(pair)
    return "&".join(kept), sig


def find_account(accounts: dict[str, Account], api_key: str | None) -> Account:
    if not api_key:
        raise ApiError(401, -2014, "API-key format invalid.")
    acct = accounts.get(api_key)
    if acct is None:
        raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    return acct


def verify(
    account: Account,
    raw_query: str,
    raw_body: str,
    params: dict[str, str],
    server_ms: int,
) -> None:
    """Raise ``ApiError`` unless the request is signed by ``account`` and inside its time window."""
    query, sig_q = strip_signature(raw_query)
    body, sig_b = strip_signature(raw_body)
    signature = sig_q or sig_b
    if not signature:
        raise mandatory("signature")
    check_time(params)
    if not hmac.compare_digest(sign(account.secret, query + body), signature.lower()):
        raise ApiError(400, -1022, "Signature for this request is not valid.")
    check_window(params, server_ms)


def verify_ws(account: Account, params: dict[str, str], server_ms: int) -> None:
    """WebSocket API requests sign their params sorted by name, ``key=value`` joined with ``&``."""
    signature = params.get("signature")
    if not signature:
        raise mandatory("signature")
    check_time(params)
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
    if not hmac.compare_digest(sign(account.secret, payload), signature.lower()):
        raise ApiError(400, -1022, "Signature for this request is not valid.")
    check_window(params, server_ms)


def check_time(params: dict[str, str]) -> None:
    """The ``timestamp``/``recvWindow`` parameters must be present and well-formed."""
    if "timestamp" not in params:
        raise mandatory("timestamp")
    for name in ("timestamp", "recvWindow"):
        if name in params:
            try:
                int(params[name])
            except ValueError:
                bad = params[name]
                raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; got {bad!r}.") from None
    window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    if window > MAX_RECV_WINDOW_MS or window <= 0:
        raise ApiError(400, -1131, "recvWindow must be less than 60000")


def check_window(params: dict[str, str], server_ms: int) -> None:
    """Binance's rule: ``timestamp < serverTime + 1000`` and ``serverTime - timestamp <= recvWindow``."""
    ts = int(params["timestamp"])
    window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    if ts >= server_ms + 1000:
        raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server_ms - ts > window:
        raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
