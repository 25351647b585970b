"""Errors the domain raises: each names the field and value that were wrong."""

from __future__ import annotations

from typing import Any


class DomainError(ValueError):
    """A value or request that the domain refuses."""


class InvalidValue(DomainError):
    """A price, quantity or amount that is NaN, infinite, negative, off-tick or otherwise unusable."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{field}: {problem} (got {value!r})")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the field."""


def describe_validation_error(exc: Any, where: str = "config") -> str:
    """One readable line per problem of a pydantic ``ValidationError``: ``where.field.path: message (got value)``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        got = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
        lines.append(f"{where}.{loc}: {err['msg']}{got}" if loc else f"{where}: {err['msg']}{got}")
    return "; ".join(lines)
