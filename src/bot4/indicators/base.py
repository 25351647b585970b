"""The contract every indicator keeps, in both of its forms.

A *streaming* indicator is an object fed one input at a time in O(1) time and memory; strategies use it
in backtest and live alike. A *vectorized* indicator is a function over whole arrays for research and
ML features. Both forms of one indicator are registered under one name so that ``stream()`` can run
the streaming form over a frame and anyone can compare the two.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

#: Bar fields an indicator may read, in the order ``update_bar`` receives them.
BAR_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

#: Extra input an indicator may list to receive the bar's open time (UTC integer nanoseconds).
#: ``stream()`` takes it from a ``ts`` column, else from the frame's DatetimeIndex.
TS_FIELD = "ts"


class IndicatorError(ValueError):
    """Bad indicator input or parameter; the message names what was wrong."""


class Indicator(ABC):
    """A streaming indicator.

    Subclasses set ``name``, ``inputs`` (bar fields read, in the order ``update`` takes them) and
    ``outputs`` (output names; TA-Lib's where TA-Lib has the indicator). ``lookback`` is the number of
    inputs consumed before the first non-NaN output, equal to TA-Lib's lookback for the same
    parameters. ``update`` returns the first output (``nan`` until warmed up); ``values()`` returns all
    outputs.
    """

    name: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ("close",)
    outputs: ClassVar[tuple[str, ...]] = ("real",)

    lookback: int
    count: int = 0

    @abstractmethod
    def update(self, *args: float) -> float:
        """Consume one input (the fields named in ``inputs``) and return the first output."""

    @property
    def value(self) -> float:
        """The current first output, ``nan`` before warm-up (kept in ``_value`` unless overridden)."""
        return self._value  # type: ignore[attr-defined, no-any-return]

    def values(self) -> dict[str, float]:
        """All current outputs by name; single-output indicators override nothing."""
        return {self.outputs[0]: self.value}

    @property
    def ready(self) -> bool:
        """True once the indicator has produced a value (``count > lookback``)."""
        return self.count > self.lookback

    def update_bar(self, open_: float, high: float, low: float, close: float, volume: float) -> float:
        """Feed one OHLCV bar, picking the fields this indicator reads."""
        bar = (open_, high, low, close, volume)
        return self.update(*(bar[_FIELD_INDEX[f]] for f in self.inputs))


_FIELD_INDEX = {name: i for i, name in enumerate(BAR_FIELDS)}


@dataclass(frozen=True)
class IndicatorSpec:
    """One registered indicator: its streaming class and its vectorized function."""

    name: str
    streaming: type[Indicator]
    vectorized: Callable[..., Any]


REGISTRY: dict[str, IndicatorSpec] = {}


def register(name: str, vectorized: Callable[..., Any]) -> Callable[[type[Indicator]], type[Indicator]]:
    """Class decorator: register a streaming class together with its vectorized function."""

    def wrap(cls: type[Indicator]) -> type[Indicator]:
        key = name.upper()
        if key in REGISTRY:
            raise RuntimeError(f"indicator {key} registered twice")
        REGISTRY[key] = IndicatorSpec(key, cls, vectorized)
        return cls

    return wrap


def get(name: str) -> IndicatorSpec:
    """Look an indicator up by name (case-insensitive) or fail naming the known ones."""
    spec = REGISTRY.get(name.upper())
    if spec is None:
        known = ", ".join(sorted(REGISTRY))
        raise IndicatorError(f"unknown indicator {name!r}; known: {known}")
    return spec


def stream(name: str, frame: pd.DataFrame, **params: Any) -> FloatArray | dict[str, FloatArray]:
    """Run the streaming form of ``name`` bar by bar over an OHLCV frame.

    Returns one array for a single-output indicator, else a dict of arrays keyed by output name.
    """
    spec = get(name)
    cls = spec.streaming
    has_index_ts = isinstance(frame.index, pd.DatetimeIndex)
    missing = [f for f in cls.inputs if f not in frame.columns and not (f == TS_FIELD and has_index_ts)]
    if missing:
        raise IndicatorError(f"{spec.name} needs column(s) {missing}; frame has {list(frame.columns)}")
    columns = [
        _timestamps_ns(frame) if f == TS_FIELD else check_series(frame[f].to_numpy(dtype=np.float64), f)
        for f in cls.inputs
    ]
    ind = cls(**params)
    n = len(frame)
    outs = {o: np.full(n, np.nan) for o in cls.outputs}
    update = ind.update
    if len(cls.outputs) == 1:
        first = outs[cls.outputs[0]]
        for i, row in enumerate(zip(*(c.tolist() for c in columns), strict=True)):
            first[i] = update(*row)
        return first
    for i, row in enumerate(zip(*(c.tolist() for c in columns), strict=True)):
        update(*row)
        for key, val in ind.values().items():
            outs[key][i] = val
    return outs


def _timestamps_ns(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Bar open times as int64 UTC nanoseconds: the ``ts`` column if present, else the DatetimeIndex."""
    if TS_FIELD in frame.columns:
        col = frame[TS_FIELD]
        if pd.api.types.is_datetime64_any_dtype(col):
            return np.asarray(pd.DatetimeIndex(col).as_unit("ns").asi8, dtype=np.int64)
        if not pd.api.types.is_integer_dtype(col):
            raise IndicatorError(f"column {TS_FIELD!r} must hold integer nanoseconds or datetimes, got {col.dtype}")
        return np.asarray(col.to_numpy(), dtype=np.int64)
    index = frame.index
    assert isinstance(index, pd.DatetimeIndex)
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


# ---------------------------------------------------------------------------------------------------
# Input validation shared by both forms.


def check_period(value: int, param: str, minimum: int = 1, n: int | None = None) -> int:
    """Refuse a period below ``minimum`` or (for vectorized input of length ``n``) longer than the data."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise IndicatorError(f"{param} must be an integer, got {value!r}")
    if value < minimum:
        raise IndicatorError(f"{param} must be >= {minimum}, got {value}")
    if n is not None and value > n:
        raise IndicatorError(f"{param}={value} is longer than the data ({n} values)")
    return int(value)


def check_series(values: Any, param: str, n: int | None = None) -> FloatArray:
    """Convert to a float64 array; refuse NaN/inf and a length that differs from ``n``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise IndicatorError(f"{param} must be one-dimensional, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise IndicatorError(f"{param} has {len(arr)} values, expected {n} (all inputs must be equally long)")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise IndicatorError(f"{param}[{i}] is {arr[i]!r}; inputs must be finite numbers")
    return arr


def check_value(x: float, param: str) -> float:
    """Streaming-side guard: refuse a NaN or infinite input naming the field."""
    if not math.isfinite(x):
        raise IndicatorError(f"{param} input is {x!r}; inputs must be finite numbers")
    return x
