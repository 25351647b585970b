"""The one exception bad market-data files raise.

A backtest on silently repaired data is worse than no backtest, so loaders refuse bad input. The
error must let a person fix the file without a debugger: it names the file, the 1-based data row
(the first data record is row 1, whatever header lines precede it), that row's timestamp when it is
known, the column, and what is wrong. It subclasses ``ValueError`` so generic callers can still
catch it as bad input.
"""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A data file that cannot be turned into trustworthy bars."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        row: int | None = None,
        timestamp: str | None = None,
        column: str | None = None,
        more_rows: int = 0,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.row = row
        self.timestamp = timestamp
        self.column = column
        self.more_rows = more_rows
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = [self.path]
        if self.row is not None:
            where.append(f"row {self.row}" + (f" ({self.timestamp})" if self.timestamp else ""))
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ": ".join([", ".join(where), self.problem])
        if self.more_rows > 0:
            text += f" (and {self.more_rows} more row{'s' if self.more_rows != 1 else ''} like it)"
        return text
