"""Built-in strategies by name, and a friendly error for the rest."""

from __future__ import annotations

import difflib
from typing import Any

from bot4.strategies.base import Strategy
from bot4.strategies.ema_cross import EmaCross
from bot4.strategies.rsi_reversion import RsiReversion

BUILTINS: dict[str, type[Strategy]] = {cls.name: cls for cls in (EmaCross, RsiReversion)}


class UnknownStrategy(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def strategy_class(name: str) -> type[Strategy]:
    """Look a built-in strategy up by name, suggesting the closest on a typo."""
    cls = BUILTINS.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, BUILTINS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownStrategy(f"unknown strategy {name!r}{hint} (built-ins: {', '.join(sorted(BUILTINS))})")
    return cls


def describe(cls: type[Strategy]) -> list[dict[str, Any]]:
    """Parameters of a strategy: name, type, default and description."""
    out = []
    for pname, f in cls.Config.model_fields.items():
        ann = f.annotation
        out.append(
            {
                "name": pname,
                "type": getattr(ann, "__name__", str(ann)).replace("typing.", ""),
                "default": None if f.is_required() else f.default,
                "description": f.description or "",
            }
        )
    return out
