"""The trading node's configuration: validated in full before the node opens a file lock or a socket (G3, S13).

Safe defaults: paper mode; live needs both ``--live`` on the command line and ``live_enabled = true``
here; the risk engine is on (live refuses to run without it). Secrets never live in this file: a
venue names the account whose keys come from the environment or a 0600 secrets file. Every error
names the field (``node.venue.symbols: ...``), the way the backtest config does.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot4.engine.config import RiskConfig, StrategyEntry, unique_strategy_ids
from bot4.live.bars import parse_interval
from bot4.model.errors import ConfigError, describe_validation_error
from bot4.venues.ccxt.settings import VenueSettings

__all__ = ["ControlSettings", "NodeConfig", "PaperSettings", "SecretsRef", "VenueEntry", "load_node_config"]

_NODE_ID = re.compile(r"^[A-Za-z0-9]{1,8}$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretsRef(_Strict):
    """Where a venue's API keys come from: env ``BOT4__<ACCOUNT>__API_KEY``/``..._SECRET``, else ``file``."""

    account: str = Field(default="main", pattern=r"^[A-Za-z0-9_]{1,40}$")
    file: str | None = Field(default=None, description="TOML secrets file (mode 0600); unset = environment only")


class VenueEntry(_Strict):
    """One venue: the ccxt connection settings plus which secrets to use (the keys themselves are elsewhere)."""

    settings: VenueSettings
    secrets: SecretsRef = SecretsRef()

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, raw: Any) -> Any:
        """Accept the flat ``[venue]`` table: everything but ``secrets`` is a ccxt venue setting."""
        if isinstance(raw, dict) and "settings" not in raw:
            rest = {k: v for k, v in raw.items() if k != "secrets"}
            out: dict[str, Any] = {"settings": rest}
            if "secrets" in raw:
                out["secrets"] = raw["secrets"]
            return out
        return raw


class ControlSettings(_Strict):
    """The authenticated control API (tokens come from the secret store, never from here)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    allow_remote: bool = False


class PaperSettings(_Strict):
    """The simulated account of paper mode."""

    cash: dict[str, Decimal] = Field(default_factory=lambda: {"USDT": Decimal(10_000)})
    fee_rate: Decimal = Field(default=Decimal("0.001"), ge=Decimal("-0.01"), lt=Decimal("0.1"))
    slippage_bps: Decimal = Field(default=Decimal(0), ge=0, lt=10_000)

    @field_validator("cash")
    @classmethod
    def _positive(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for ccy, amount in v.items():
            if amount < 0 or not amount.is_finite():
                raise ValueError(f"cash.{ccy}: must be a finite amount >= 0 (got {amount})")
        return v


class NodeConfig(_Strict):
    """Everything ``bot4 run`` needs; the node is built from this alone."""

    mode: Literal["paper", "live"] = "paper"
    live_enabled: bool = Field(default=False, description="live trading also needs --live on the command line")
    node_id: str = Field(default="b4", description="client order id prefix of this node (1-8 letters/digits)")
    state_dir: str = "state"
    journal_url: str | None = Field(default=None, description="SQLAlchemy URL; unset = sqlite file under state_dir")
    shutdown: Literal["cancel", "keep"] = Field(default="cancel", description="working orders on SIGTERM")
    settle_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="how long a stop waits for cancels to settle"
    )
    bar_interval: str = "1m"
    bar_grace_ms: int = Field(default=250, ge=0, le=60_000, description="wait after a bar's end before closing it")
    keep_trades: int = Field(
        default=0,
        ge=0,
        le=10_000_000,
        description="public trades the node keeps in memory for parity checks (0 = none: production)",
    )
    keep_bars: int = Field(
        default=10_000, ge=0, le=10_000_000, description="latest bars the node keeps in memory (status, parity checks)"
    )
    reconcile_interval_s: float = Field(default=30.0, gt=0)
    reconcile_tolerance_steps: int = Field(default=1, ge=0)
    reconcile_deadline_s: float | None = Field(
        default=None, gt=0, description="give up (exit 5) if not reconciled by then"
    )
    venue_stall_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="a venue call running longer than this blocks new entries until a REST reconcile (E4)",
    )
    filter_refresh_min_s: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="at most one exchangeInfo refresh per this many seconds after filter failures (-1013, G1)",
    )
    venue: VenueEntry
    strategies: list[StrategyEntry] = Field(min_length=1)
    risk: RiskConfig = RiskConfig.model_validate({})
    risk_enabled: bool = True
    control: ControlSettings = ControlSettings()
    paper: PaperSettings = PaperSettings()

    @field_validator("node_id")
    @classmethod
    def _node_id(cls, v: str) -> str:
        if not _NODE_ID.match(v):
            raise ValueError(f"node_id: 1-8 letters or digits (got {v!r})")
        return v

    @field_validator("bar_interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        try:
            parse_interval(v)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("strategies")
    @classmethod
    def _unique_ids(cls, v: list[StrategyEntry]) -> list[StrategyEntry]:
        return unique_strategy_ids(v)

    @field_validator("risk")
    @classmethod
    def _limits(cls, v: RiskConfig) -> RiskConfig:
        from bot4.risk.limits import RiskLimits

        try:
            RiskLimits.model_validate(v.limits)
        except ValidationError as exc:
            raise ValueError(describe_validation_error(exc, "limits")) from None
        return v

    @model_validator(mode="after")
    def _live_rules(self) -> NodeConfig:
        if self.mode == "live" and not self.live_enabled:
            raise ValueError("mode: 'live' needs live_enabled = true in the config (and --live on the command line)")
        if self.mode == "live" and not self.risk_enabled:
            raise ValueError("risk_enabled: the risk engine cannot be turned off in live mode")
        return self

    # -- derived -------------------------------------------------------------------------------------

    @property
    def bar_interval_ns(self) -> int:
        return parse_interval(self.bar_interval)

    def state_path(self, mode: str) -> Path:
        """Paper and live keep separate state (journal, risk mode), so a paper run never touches live books."""
        return Path(self.state_dir).expanduser() / mode

    def journal_for(self, mode: str) -> str:
        if self.journal_url is not None:
            return self.journal_url
        return f"sqlite:///{self.state_path(mode) / 'journal.db'}"


def check_secrets_file(cfg: NodeConfig) -> None:
    """Refuse a group/world-readable secrets file before anything starts (S1, G3); names the file and the fix."""
    ref = cfg.venue.secrets
    if ref.file is None:
        return
    path = Path(ref.file).expanduser()
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"venue.secrets.file: cannot read {path}: {exc.strerror or exc}") from None
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"venue.secrets.file: {path} has mode {mode:04o}; it must not be readable by group or others "
            f"(run: chmod 600 {path})"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise ConfigError(f"venue.secrets.file: {path} is not owned by the user running bot4")


def load_node_config(path: str | Path) -> NodeConfig:
    """Read a TOML or JSON node config, failing with the field that is wrong (``ConfigError``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    is_json = p.suffix.lower() == ".json"
    try:
        raw = json.loads(text) if is_json else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not valid {'JSON' if is_json else 'TOML'}: {exc}") from None
    return parse_node_config(raw, p.name)


def parse_node_config(raw: dict[str, Any], where: str = "node") -> NodeConfig:
    try:
        cfg = NodeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, where)) from None
    check_secrets_file(cfg)
    return cfg


def check_strategies(cfg: NodeConfig, extra: dict[str, type[Any]] | None = None) -> None:
    """Every strategy exists and its parameters parse, before the node connects to anything."""
    from bot4.strategies.registry import UnknownStrategy, strategy_class

    for i, entry in enumerate(cfg.strategies):
        try:
            cls = (extra or {}).get(entry.name) or strategy_class(entry.name)
        except UnknownStrategy as exc:
            raise ConfigError(f"strategies.{i}.name: {exc}") from None
        try:
            cls.parse_config(entry.params)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, f"strategies.{i}.params")) from None
        for name in entry.instruments or []:
            if not any(name in (sym, f"{cfg.venue.settings.name}:{sym}") for sym in cfg.venue.settings.symbols):
                raise ConfigError(
                    f"strategies.{i}.instruments: {name!r} is not one of the venue's symbols "
                    f"{cfg.venue.settings.symbols}"
                )
