"""Errors the domain raises: each names the field and value that were wrong."""

from __future__ import annotations


class DomainError(ValueError):
    """A value or request that the domain refuses."""


class InvalidValue(DomainError):
    """A price, quantity or amount that is NaN, infinite, negative, off-tick or otherwise unusable."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{field}: {problem} (got {value!r})")
