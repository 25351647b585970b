"""Waiting out a venue's 429/418 before a stream's own REST call (reliability.md E1/E2).

The streams talk to the venue over their own HTTP session (listenKey, depth snapshots), not through
the ccxt client's ``RequestGate``, so without this a reconnect during an IP ban would probe the venue
and could lengthen the ban. The node passes ``may_request`` (seconds to wait, 0 = go) read from that
gate; a stream waits until it says go instead of failing and retrying in a loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
MayRequest = Callable[[], float]  # seconds until a request may be sent (0: now)
MAX_NAP_S = 1.0  # re-read the gate at least this often: a ban can be extended or lifted early


async def wait_for_permit(may_request: MayRequest | None, what: str) -> float:
    """Sleep until ``may_request`` allows ``what``; returns the seconds waited (0 when it could go at once)."""
    if may_request is None:
        return 0.0
    wait = may_request()
    if wait <= 0:
        return 0.0
    log.warning("%s: held back %.1f s, the venue limits or bans requests (no probing until it ends)", what, wait)
    loop = asyncio.get_running_loop()
    start = loop.time()
    while wait > 0:
        await asyncio.sleep(min(wait, MAX_NAP_S))
        wait = may_request()
    return loop.time() - start


__all__ = ["MayRequest", "wait_for_permit"]
