"""Typed, frozen run configuration: unknown keys and bad values fail before anything starts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot4.model.errors import ConfigError, describe_validation_error

__all__ = [
    "BacktestConfig",
    "ConfigError",
    "DataFeedConfig",
    "RiskConfig",
    "StrategyEntry",
    "describe_validation_error",
    "load_config_file",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataFeedConfig(_Frozen):
    """One OHLCV source and the instrument it is traded as."""

    path: str | None = Field(None, description="OHLCV file (CSV, Parquet, JSON); unset = bundled data")
    bundled: str | None = Field(None, description="name of a bundled data file")
    symbol: str | None = Field(None, description="BASE/QUOTE; inferred from the file name when unset")
    timeframe: str | None = Field(None, description="e.g. 5m; inferred when unset")
    venue: str = "SIM"
    tick_size: Decimal = Field(Decimal("0.00000001"), gt=0)
    step_size: Decimal = Field(Decimal("0.00000001"), gt=0)
    min_quantity: Decimal | None = Field(None, ge=0)
    min_notional: Decimal = Field(Decimal(0), ge=0)
    maker_fee: Decimal | None = Field(None, ge=Decimal("-0.01"), lt=Decimal("0.1"))
    taker_fee: Decimal | None = Field(None, ge=Decimal("-0.01"), lt=Decimal("0.1"))


class StrategyEntry(_Frozen):
    """One strategy instance: which built-in, its id, its parameters and the instruments it trades."""

    name: str
    id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    instruments: list[str] | None = Field(None, description="instrument ids or symbols; unset = all")


class RiskConfig(_Frozen):
    """The risk engine for a run: its limits (``bot4.risk.limits.RiskLimits`` fields) and where it keeps state."""

    limits: dict[str, Any] = Field(default_factory=dict, description="RiskLimits fields; unset = the defaults")
    state_dir: str | None = Field(None, description="mode file directory; unset = a fresh one per run")
    audit_url: str | None = Field(None, description="SQLAlchemy URL of the audit trail; unset = no audit")


class BacktestConfig(_Frozen):
    """Everything a backtest needs; the kernel builds the run from this alone."""

    data: list[DataFeedConfig] = Field(min_length=1)
    strategies: list[StrategyEntry] = Field(min_length=1)
    cash: Decimal = Field(Decimal(10_000), gt=0, description="starting cash in the quote currency")
    fee_rate: Decimal = Field(Decimal("0.001"), ge=Decimal("-0.01"), lt=Decimal("0.1"))
    slippage_bps: Decimal = Field(Decimal(0), ge=0, lt=10_000)
    risk: RiskConfig | None = Field(None, description="run every order through the risk engine; unset = off")

    @field_validator("strategies")
    @classmethod
    def _unique_ids(cls, v: list[StrategyEntry]) -> list[StrategyEntry]:
        return unique_strategy_ids(v)


def unique_strategy_ids(entries: list[StrategyEntry]) -> list[StrategyEntry]:
    """Each strategy needs its own id: its order ids and results are keyed by it (backtest and node configs)."""
    ids = [s.id or s.name for s in entries]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"strategy ids must be unique; repeated: {dupes} (set 'id' on each)")
    return entries


def load_config_file(path: str | Path) -> BacktestConfig:
    """Read a TOML or JSON backtest configuration, failing with the field that is wrong."""
    import json
    import tomllib

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    try:
        raw = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    try:
        return BacktestConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, p.name)) from None
