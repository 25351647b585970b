"""Turn OHLCV files from the usual sources into validated ``BarSeries``.

Every later result (indicators, fills, P&L) inherits the defects of its input bars, so this module
accepts many layouts but no bad data: anything suspicious raises ``DataError`` naming the file, the
1-based data row, its timestamp and the problem. Nothing is repaired, reordered or filled; gaps stay
gaps (see ``bot4.data.gaps``).

Formats: CSV (``.csv``, also ``.csv.gz``/``.csv.zip``), JSON (``.json``/``.json.gz``: ccxt/freqtrade
array of ``[ts, o, h, l, c, v]`` arrays, a list of records, or pandas column-oriented objects),
Parquet and Feather. A CSV whose first line is all numbers after its first field has no header; its
first six columns are then ``ts, open, high, low, close, volume`` (this covers the 12-column Binance
kline export). With a header, names are matched case-insensitively against common aliases.

Timestamp units are told apart by magnitude, value by value (so a file that crosses Binance's 2025
switch from milliseconds to microseconds loads): below 1e11 seconds, below 1e14 milliseconds, below
1e17 microseconds, else nanoseconds. For dates after 1973 these ranges cannot overlap. Date strings
are read as ISO 8601; strings without an offset are taken as UTC. Timestamps are taken as bar *open*
times, as every supported source writes them.
"""

from __future__ import annotations

import bz2
import gzip
import importlib.resources
import io
import json
import logging
import lzma
import re
import zipfile
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot4.data.bars import BarSeries, format_timeframe, parse_timeframe
from bot4.data.errors import DataError

__all__ = [
    "LoadReport",
    "bundled_path",
    "infer_from_file_name",
    "list_bundled",
    "load_bundled",
    "load_ohlcv",
    "load_ohlcv_report",
]

log = logging.getLogger(__name__)

PRICE_COLUMNS = ("open", "high", "low", "close")
ROLES = ("timestamp", *PRICE_COLUMNS, "volume")

# Normalised header name -> role; earlier entries win when a file has several candidates.
# fmt: off
_ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": (
        "open_time", "timestamp_ms", "timestamp", "ts_open", "ts", "time", "unix", "unix_timestamp",
        "timestamp_us", "timestamp_ns", "timestamp_s", "date", "datetime", "date_time", "opentime",
        "time_open", "t", "start", "start_time",
    ),
    "open": ("open", "o", "open_price", "opening_price"),
    "high": ("high", "h", "high_price", "max"),
    "low": ("low", "l", "low_price", "min"),
    "close": ("close", "c", "close_price", "closing_price", "last"),
    "volume": ("volume", "v", "vol", "base_volume", "volume_base", "base_asset_volume"),
}
# fmt: on

_UNIT_NAMES = ("s", "ms", "us", "ns")
_UNIT_UPPER_BOUNDS = np.array([1e11, 1e14, 1e17])
_UNIT_TO_NS = np.array([1_000_000_000, 1_000_000, 1_000, 1], dtype=np.int64)
_INT64_MAX = float(np.iinfo(np.int64).max)
_NS_PER_DAY = 86_400_000_000_000

_COMPRESSION_SUFFIXES = (".gz", ".zip", ".bz2", ".xz")
_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
}


@dataclass(frozen=True)
class LoadReport:
    """A loaded series plus how it was read, for callers that must not lose the loader's notes."""

    series: BarSeries
    layout: str
    timestamp_unit: str
    symbol_from: str
    timeframe_from: str
    notes: tuple[str, ...] = ()


def load_ohlcv(path: str | Path, *, symbol: str | None = None, timeframe: str | None = None) -> BarSeries:
    """Load and validate one OHLCV file; see the module docstring for what is accepted."""
    return load_ohlcv_report(path, symbol=symbol, timeframe=timeframe).series


def load_ohlcv_report(
    path: str | Path, *, symbol: str | None = None, timeframe: str | None = None
) -> LoadReport:
    """``load_ohlcv`` that also returns the layout, timestamp unit and notes (e.g. volume set to 0)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"OHLCV file not found: {path}")
    if symbol is not None and not symbol.strip():
        raise ValueError(f"symbol must be a non-empty string, got {symbol!r}")
    tf_arg = _parse_timeframe_arg(timeframe) if timeframe is not None else None
    name_symbol, name_timeframe = infer_from_file_name(path.name)
    if symbol is not None:
        symbol, symbol_from = symbol.strip(), "argument"
    elif name_symbol is not None:
        symbol, symbol_from = name_symbol, "file name"
    else:
        raise DataError(
            path, "cannot infer the symbol from the file name; pass symbol=, e.g. symbol='BTC/USDT'"
        )

    frame, roles, layout = _read_table(path)
    if len(frame) == 0:
        raise DataError(path, "empty file: no data rows")
    notes: list[str] = []
    ts, units = _timestamps_ns(frame[roles["timestamp"]], path)
    check = _Checker(path, ts)
    check.order()
    prices = {role: _float_column(frame[roles[role]], path, role, ts) for role in PRICE_COLUMNS}
    volume = _volume(frame, roles, path, notes, ts)
    check.prices(prices)
    check.volume(volume)

    if tf_arg is not None:
        tf_ns, timeframe_from = tf_arg, "argument"
    elif name_timeframe is not None:
        tf_ns, timeframe_from = _parse_timeframe_arg(name_timeframe), "file name"
    else:
        tf_ns, timeframe_from = _most_common_interval(ts, path), "most common interval"
    check.alignment(tf_ns)

    for note in notes:
        log.warning("%s: %s", path, note)
    series = BarSeries(
        symbol=symbol,
        timeframe_ns=tf_ns,
        ts_open=ts,
        open=prices["open"],
        high=prices["high"],
        low=prices["low"],
        close=prices["close"],
        volume=volume,
        source=str(path),
    )
    return LoadReport(series, layout, "+".join(units), symbol_from, timeframe_from, tuple(notes))


# --------------------------------------------------------------------------- file names

_TF = r"(?P<tf>[1-9]\d*[smhdw])"
_NAME_PATTERNS = (
    # bot4 / shared data: EXCHANGE_BASE_QUOTE_TF, e.g. BITTREX_ETH_BTC_5m, BINANCE-USDM_BTC_USDT_5m
    re.compile(rf"^(?P<venue>[A-Za-z0-9-]+)_(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)_{_TF}$"),
    # freqtrade: BASE_QUOTE[_SETTLE]-TF[-candle type], e.g. ETH_BTC-5m, XRP_USDT_USDT-1h-mark
    re.compile(
        rf"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)(?:_(?P<settle>[A-Za-z0-9]+))?-{_TF}"
        r"(?:-(?P<kind>[A-Za-z_]+))?$"
    ),
    # Binance public data: PAIR-TF-YYYY-MM[-DD], e.g. ADABTC-1m-2021-11-27
    re.compile(rf"^(?P<pair>[A-Za-z0-9]+)-{_TF}-\d{{4}}-\d{{2}}(?:-\d{{2}})?$"),
    # market-FROM-TO_TF, e.g. btc-perp-20211231-20220201_1m (nautilus_trader's FTX file)
    re.compile(rf"^(?P<market>[A-Za-z0-9]+(?:-[A-Za-z]+)*)-\d{{8}}-\d{{8}}_{_TF}$"),
)
_ANY_TF = re.compile(r"(?:^|[_\-.])([1-9]\d*[smhdw])(?:$|[_\-.])")
# Quote currencies recognised at the end of a Binance pair name; longest first, so USDT beats USD.
# fmt: off
_QUOTES = sorted(
    ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "GBP",
     "AUD", "DAI", "USD", "JPY", "XRP"),
    key=len, reverse=True,
)
# fmt: on


def infer_from_file_name(name: str) -> tuple[str | None, str | None]:
    """``(symbol, timeframe)`` from a data file's name, each ``None`` when the name does not tell."""
    stem = _strip_suffixes(name)
    for pattern in _NAME_PATTERNS:
        m = pattern.match(stem)
        if m is None:
            continue
        groups = m.groupdict()
        tf = _weeks_to_days(groups["tf"])
        if groups.get("base"):
            symbol = f"{groups['base'].upper()}/{groups['quote'].upper()}"
            if groups.get("settle"):
                symbol += f":{groups['settle'].upper()}"
            return symbol, tf
        if groups.get("pair"):
            return _split_pair(groups["pair"].upper()), tf
        return groups["market"].upper(), tf
    m_tf = _ANY_TF.search(stem)
    return None, _weeks_to_days(m_tf.group(1)) if m_tf else None


def _strip_suffixes(name: str) -> str:
    stem = name
    for suffix in _COMPRESSION_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    dot = stem.rfind(".")
    return stem[:dot] if dot > 0 else stem


def _weeks_to_days(tf: str) -> str:
    return f"{int(tf[:-1]) * 7}d" if tf.endswith("w") and tf[:-1].isdigit() else tf


def _split_pair(pair: str) -> str:
    for quote in _QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return f"{pair[: -len(quote)]}/{quote}"
    return pair


def _parse_timeframe_arg(text: str) -> int:
    try:
        return parse_timeframe(_weeks_to_days(text.strip()))
    except ValueError as exc:
        raise ValueError(f"timeframe argument: {exc}") from None


# --------------------------------------------------------------------------- reading


def _file_format(path: Path) -> tuple[str, str | None]:
    name = path.name.lower()
    compression = None
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            compression, name = suffix, name[: -len(suffix)]
            break
    ext = name[name.rfind(".") :] if "." in name else ""
    # Binance's public klines come as BTCUSDT-1m-2024-01-01.zip holding one headerless CSV.
    fmt = "csv" if compression == ".zip" and not ext else _FORMATS.get(ext)
    if fmt is None or (compression is not None and fmt not in ("csv", "json")):
        raise DataError(
            path,
            f"unsupported file type {path.name!r}: expected .csv, .csv.gz, .csv.zip, .json, .json.gz, "
            ".parquet or .feather",
        )
    return fmt, compression


def _read_table(path: Path) -> tuple[pd.DataFrame, dict[str, Hashable], str]:
    fmt, compression = _file_format(path)
    if fmt == "csv":
        return _read_csv(path, compression)
    if fmt == "json":
        return _read_json(path, compression)
    try:
        frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_feather(path)
    except Exception as exc:  # pyarrow raises several unrelated types for damaged files
        raise DataError(path, f"cannot read {fmt} file: {exc}") from exc
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    return frame, _labelled(frame, _roles_from_header(list(frame.columns), path)), f"{fmt} columns"


@contextmanager
def _open_text(path: Path, compression: str | None) -> Iterator[IO[str]]:
    """The file's text, decompressed; a zip must hold exactly one file (as Binance's downloads do)."""
    if compression == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if not n.endswith("/")]
            if len(members) != 1:
                raise DataError(path, f"zip archive must hold exactly one file, found {len(members)}")
            with archive.open(members[0]) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig") as text:
                yield text
        return
    openers: dict[str, Callable[..., IO[str]]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    with openers.get(compression or "", open)(path, "rt", encoding="utf-8-sig") as handle:
        yield handle


def _first_line(path: Path, compression: str | None) -> str | None:
    try:
        with _open_text(path, compression) as handle:
            for line in handle:
                if line.strip():
                    return line.strip()
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"cannot read file: {exc}") from exc
    return None


def _is_number(text: str) -> bool:
    try:
        float(text.strip().strip('"'))
    except ValueError:
        return False
    return True


def _read_csv(path: Path, compression: str | None) -> tuple[pd.DataFrame, dict[str, Hashable], str]:
    first = _first_line(path, compression)
    if first is None:
        raise DataError(path, "empty file: no data rows")
    sep = "," if "," in first else ";" if ";" in first else "\t" if "\t" in first else ","
    fields = first.split(sep)
    headerless = len(fields) >= 5 and all(_is_number(f) for f in fields[1:])
    if headerless:
        header_roles = {role: i for i, role in enumerate(ROLES) if i < len(fields)}
        layout = "csv without header" + (" (Binance kline, 12 columns)" if len(fields) == 12 else "")
    else:
        header_roles = _roles_from_header([f.strip().strip('"') for f in fields], path)
        layout = "csv with header"
    try:
        # All columns are read, not just the used ones: only then does pandas reject rows with extra
        # fields, which is how an unquoted thousands separator shows up.
        frame = pd.read_csv(
            path,
            sep=sep,
            header=None if headerless else 0,
            compression="infer",
            encoding="utf-8-sig",
            skip_blank_lines=True,
            low_memory=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(path, "empty file: no data rows") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot parse CSV: {exc}") from exc
    if not frame.index.equals(
        pd.RangeIndex(len(frame))
    ):  # pandas' reading of "row 1 is wider than the header"
        raise DataError(path, "row has more fields than the header", row=1)
    # Column labels become positions so that duplicate or odd header names cannot confuse the mapping.
    frame.columns = pd.RangeIndex(frame.shape[1])
    roles: dict[str, Hashable] = dict(header_roles)
    return frame, roles, layout


def _read_json(path: Path, compression: str | None) -> tuple[pd.DataFrame, dict[str, Hashable], str]:
    try:
        with _open_text(path, compression) as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"cannot read JSON file: {exc}") from exc
    if not text.strip():
        raise DataError(path, "empty file: no data rows")
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if isinstance(obj, list):
        if not obj:
            raise DataError(path, "empty file: no data rows")
        if all(isinstance(row, list) for row in obj):
            frame = _frame_from_arrays(obj)
            width = frame.shape[1]
            roles: dict[str, Hashable] = {role: i for i, role in enumerate(ROLES) if i < width}
            _require_roles(roles, path, [f"element {i + 1}" for i in range(width)])
            return frame, roles, "json array of arrays"
        if all(isinstance(row, dict) for row in obj):
            frame = pd.DataFrame.from_records(obj)
            return (
                frame,
                _labelled(frame, _roles_from_header(list(frame.columns), path)),
                "json array of records",
            )
        kind = type(obj[0]) if isinstance(obj[0], (list, dict)) else None
        bad = next((i for i, row in enumerate(obj) if kind is None or not isinstance(row, kind)), 0)
        raise DataError(
            path,
            "each JSON row must be an array [ts, o, h, l, c, v] or an object, all of one kind",
            row=bad + 1,
        )
    if isinstance(obj, dict) and obj and all(isinstance(v, (dict, list)) for v in obj.values()):
        try:
            frame = pd.DataFrame(obj)
        except ValueError as exc:
            raise DataError(path, f"cannot read JSON object as columns: {exc}") from exc
        frame = frame.reset_index(drop=True)
        return frame, _labelled(frame, _roles_from_header(list(frame.columns), path)), "json columns"
    raise DataError(
        path, "unsupported JSON layout: expected an array of [ts, o, h, l, c, v] arrays, records, or columns"
    )


def _frame_from_arrays(rows: list[list[Any]]) -> pd.DataFrame:
    """Rows of numbers as columns; numpy's bulk conversion is several times faster than pandas'.

    It is used only when it is exact: float64 holds epoch values below 2**53 (every s/ms/us stamp)
    exactly. Text, ragged rows or nanosecond stamps go through pandas, which keeps the raw values
    so that errors can quote them.
    """
    try:
        block = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        return pd.DataFrame(rows)
    if block.ndim != 2 or not (np.abs(block[:, 0]) < 2.0**53).all():
        return pd.DataFrame(rows)
    return pd.DataFrame(block)


def _normalise(name: object) -> str:
    text = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def _roles_from_header(columns: Sequence[Hashable], path: Path) -> dict[str, int]:
    """Role -> position of the column that plays it; earlier aliases win."""
    by_name: dict[str, int] = {}
    for position, col in enumerate(columns):
        by_name.setdefault(_normalise(col), position)
    roles: dict[str, int] = {}
    for role, aliases in _ALIASES.items():
        pos = next((by_name[a] for a in aliases if a in by_name), None)
        if pos is None and role == "volume":
            # e.g. CryptoDataDownload's "Volume BTC" (base) before "Volume USDT" (quote)
            pos = next((p for n, p in by_name.items() if n.startswith("volume_")), None)
        if pos is not None:
            roles[role] = pos
    _require_roles(roles, path, [str(c) for c in columns])
    return roles


def _labelled(frame: pd.DataFrame, roles: dict[str, int]) -> dict[str, Hashable]:
    return {role: frame.columns[pos] for role, pos in roles.items()}


def _require_roles(roles: Mapping[str, Hashable], path: Path, found: list[str]) -> None:
    missing = [role for role in ROLES if role not in roles and role != "volume"]
    if missing:
        raise DataError(
            path,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"found {', '.join(found) if found else 'no columns'}",
        )


# --------------------------------------------------------------------------- parsing


def _float_column(
    raw: pd.Series, path: Path, column: str, ts: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Numbers of one column; text that is not a number is an error, empty cells become NaN."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return np.ascontiguousarray(raw.to_numpy(dtype=np.float64, na_value=np.nan))
    coerced = pd.to_numeric(raw, errors="coerce")
    suspects = np.flatnonzero((coerced.isna() & raw.notna()).to_numpy())
    if suspects.size:
        text = raw.iloc[suspects].astype(str).str.strip()
        bad = suspects[(text != "").to_numpy()]
        if bad.size:
            i = int(bad[0])
            raise DataError(
                path,
                f"cannot parse {raw.iloc[i]!r} as a number",
                row=i + 1,
                timestamp=_format_ts(int(ts[i])),
                column=column,
                more_rows=bad.size - 1,
            )
    return np.ascontiguousarray(coerced.to_numpy(dtype=np.float64, na_value=np.nan))


def _timestamps_ns(raw: pd.Series, path: Path) -> tuple[npt.NDArray[np.int64], list[str]]:
    """UTC epoch nanoseconds of each row, and the units the raw values were found in."""
    missing = np.flatnonzero(raw.isna().to_numpy())
    if missing.size:
        raise DataError(
            path,
            "timestamp is empty",
            row=int(missing[0]) + 1,
            column="timestamp",
            more_rows=missing.size - 1,
        )
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        stamps = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
        return np.ascontiguousarray(pd.DatetimeIndex(stamps).as_unit("ns").asi8, dtype=np.int64), ["datetime"]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return _epoch_to_ns(raw.to_numpy(), path)
    text = raw.astype(str).str.strip()
    if _is_number(text.iloc[0]):  # epoch numbers stored as text (e.g. JSON strings)
        numbers = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise DataError(
                path,
                f"cannot parse timestamp {text.iloc[i]!r} as an epoch number like the rows before it",
                row=i + 1,
                column="timestamp",
                more_rows=bad.size - 1,
            )
        return _epoch_to_ns(numbers.to_numpy(), path)
    stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataError(
            path,
            f"cannot parse timestamp {text.iloc[i]!r}: expected epoch s/ms/us/ns or an ISO 8601 date",
            row=i + 1,
            column="timestamp",
            more_rows=bad.size - 1,
        )
    return np.ascontiguousarray(pd.DatetimeIndex(stamps).as_unit("ns").asi8, dtype=np.int64), ["iso8601"]


def _epoch_to_ns(values: npt.NDArray[Any], path: Path) -> tuple[npt.NDArray[np.int64], list[str]]:
    as_float = values.astype(np.float64)
    non_positive = np.flatnonzero(~(as_float > 0))
    if non_positive.size:
        i = int(non_positive[0])
        raise DataError(
            path,
            f"timestamp {values[i]} is not after 1970-01-01",
            row=i + 1,
            column="timestamp",
            more_rows=non_positive.size - 1,
        )
    unit = np.searchsorted(_UNIT_UPPER_BOUNDS, as_float, side="right")
    scale = _UNIT_TO_NS[unit]
    too_big = np.flatnonzero(as_float * scale >= _INT64_MAX)
    if too_big.size:
        i = int(too_big[0])
        raise DataError(
            path,
            f"timestamp {values[i]} is beyond the year 2262",
            row=i + 1,
            column="timestamp",
            more_rows=too_big.size - 1,
        )
    if np.issubdtype(values.dtype, np.integer):
        ns = values.astype(np.int64) * scale
    elif np.all(as_float == np.floor(as_float)):
        ns = as_float.astype(np.int64) * scale
    else:  # fractional epoch numbers: round to the microsecond, the precision float64 still carries
        micros = np.round(as_float * (scale / 1000))
        ns = np.where(scale >= 1000, micros.astype(np.int64) * 1000, np.round(as_float).astype(np.int64))
    units = [_UNIT_NAMES[u] for u in np.unique(unit)]
    return np.ascontiguousarray(ns, dtype=np.int64), units


def _volume(
    frame: pd.DataFrame,
    roles: dict[str, Hashable],
    path: Path,
    notes: list[str],
    ts: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Volume, or zeros with a note when a series carries none (mark/index-price candles)."""
    n = len(frame)
    if "volume" not in roles:
        notes.append("no volume column; volume set to 0.0")
        return np.zeros(n, dtype=np.float64)
    volume = _float_column(frame[roles["volume"]], path, "volume", ts)
    empty = np.isnan(volume)
    if empty.all():
        notes.append("volume is empty in every row (e.g. a mark-price series); volume set to 0.0")
        return np.zeros(n, dtype=np.float64)
    return volume


def _most_common_interval(ts: npt.NDArray[np.int64], path: Path) -> int:
    if len(ts) < 2:
        raise DataError(path, "cannot infer the timeframe from a single bar; pass timeframe=, e.g. '5m'")
    deltas, counts = np.unique(np.diff(ts), return_counts=True)
    return int(deltas[int(np.argmax(counts))])


def _num(value: Any) -> str:
    return repr(float(value))


def _format_ts(ns: int) -> str:
    return (
        pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")
        + " UTC"
    )


class _Checker:
    """Vectorised row checks that raise on the first offending row, naming it."""

    def __init__(self, path: Path, ts: npt.NDArray[np.int64]) -> None:
        self.path = path
        self.ts = ts

    def fail_where(self, mask: npt.NDArray[np.bool_], problem: Any, column: str | None = None) -> None:
        rows = np.flatnonzero(mask)
        if rows.size:
            i = int(rows[0])
            raise DataError(
                self.path,
                problem(i),
                row=i + 1,
                timestamp=_format_ts(int(self.ts[i])),
                column=column,
                more_rows=rows.size - 1,
            )

    def order(self) -> None:
        ts = self.ts
        step = np.diff(ts)
        bad = np.flatnonzero(step <= 0)
        if not bad.size:
            return
        i = int(bad[0]) + 1
        fmt = _format_ts(int(ts[i - 1]))
        if step[i - 1] == 0:
            problem = f"duplicate timestamp: same as row {i}"
        elif np.all(step < 0):
            problem = f"timestamps are in descending order (row {i} is {fmt}); sort the file oldest first"
        else:
            problem = f"timestamps not sorted: earlier than row {i} ({fmt})"
        raise DataError(
            self.path,
            problem,
            row=i + 1,
            timestamp=_format_ts(int(ts[i])),
            column="timestamp",
            more_rows=int(bad.size) - 1,
        )

    def prices(self, p: dict[str, npt.NDArray[np.float64]]) -> None:
        for col in PRICE_COLUMNS:
            v = p[col]
            self.fail_where(np.isnan(v), lambda i: "price is empty or NaN", col)
            self.fail_where(np.isinf(v), lambda i, v=v: f"price is infinite ({_num(v[i])})", col)
            self.fail_where(
                v <= 0, lambda i, v=v, c=col: f"{c} price must be positive, got {_num(v[i])}", col
            )
        high, low = p["high"], p["low"]
        self.fail_where(
            high < low, lambda i: f"high < low (high={_num(high[i])}, low={_num(low[i])})", "high"
        )
        for col in ("open", "close"):
            v = p[col]
            self.fail_where(
                (v < low) | (v > high),
                lambda i, v=v, c=col: (
                    f"{c} {_num(v[i])} is outside [low {_num(low[i])}, high {_num(high[i])}]"
                ),
                col,
            )

    def volume(self, v: npt.NDArray[np.float64]) -> None:
        self.fail_where(
            np.isnan(v), lambda i: "volume is empty or NaN while other rows have volume", "volume"
        )
        self.fail_where(np.isinf(v), lambda i: f"volume is infinite ({_num(v[i])})", "volume")
        self.fail_where(v < 0, lambda i: f"volume must not be negative, got {_num(v[i])}", "volume")

    def alignment(self, tf_ns: int) -> None:
        """Bars must open on timeframe boundaries: epoch multiples when the timeframe divides a day
        (so 8h bars open at 00/08/16 UTC), else the first bar's phase (e.g. weekly bars)."""
        origin = 0 if _NS_PER_DAY % tf_ns == 0 else int(self.ts[0])
        tf = format_timeframe(tf_ns)
        self.fail_where(
            (self.ts - origin) % tf_ns != 0,
            lambda i: f"timestamp is not on a {tf} boundary (bars of this timeframe must open every {tf})",
            "timestamp",
        )


# --------------------------------------------------------------------------- bundled demo data

_BUNDLED_DIR = "bundled"


def list_bundled() -> list[str]:
    """File names of the real candle sets shipped inside the package (for demos and smoke tests)."""
    folder = importlib.resources.files("bot4.data").joinpath(_BUNDLED_DIR)
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".csv"))


def bundled_path(name: str) -> Path:
    """Filesystem path of a bundled file; ``name`` may omit ``.csv``."""
    file_name = name if name.endswith(".csv") else f"{name}.csv"
    available = list_bundled()
    if file_name not in available:
        raise ValueError(f"no bundled data set {name!r}; available: {', '.join(available)}")
    resource = importlib.resources.files("bot4.data").joinpath(_BUNDLED_DIR, file_name)
    path = Path(str(resource))
    if not path.is_file():  # e.g. installed as a zip: the path would not be real
        raise FileNotFoundError(f"bundled data {file_name} is not on the filesystem (zipped install?)")
    return path


def load_bundled(name: str) -> BarSeries:
    """Load a bundled data set; symbol and timeframe come from its name."""
    return load_ohlcv(bundled_path(name))
