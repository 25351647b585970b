"""The strategy API: a frozen config, a handful of callbacks, and a context to act through.

A strategy never touches a venue, the portfolio or the clock directly: everything goes through
``self.ctx``, which the engine provides. The same strategy object therefore runs unchanged in backtest,
paper and live trading. Reads return copies (Decimals, tuples), never live engine state.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from bot4.model.events import Bar, OrderEvent, QuoteTick, TradeTick
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.orders import Order

if TYPE_CHECKING:
    from bot4.indicators.base import Indicator

IndT = TypeVar("IndT", bound="Indicator")


class StrategyConfig(BaseModel):
    """Base of every strategy's parameters: immutable, and unknown names are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class StrategyContext(Protocol):
    """What a strategy can see and do."""

    @property
    def strategy_id(self) -> str: ...

    @property
    def instrument_ids(self) -> tuple[str, ...]:
        """Instruments this strategy was given, in configuration order."""
        ...

    def now_ns(self) -> int:
        """Current time (simulated in backtests)."""
        ...

    def instrument(self, instrument_id: str) -> Instrument: ...

    def register_indicator(self, instrument_id: str, indicator: IndT) -> IndT:
        """Have the engine feed ``indicator`` every bar of ``instrument_id`` before ``on_bar``.

        ``on_bar`` for that instrument is not called until all its registered indicators are warmed up.
        """
        ...

    def submit(
        self,
        instrument_id: str,
        side: str,
        quantity: object = None,
        *,
        type: str = "MARKET",
        price: object = None,
        trigger_price: object = None,
        time_in_force: str = "GTC",
        post_only: bool = False,
        reduce_only: bool = False,
        quote_quantity: object = None,
    ) -> str:
        """Submit an order and return its client order id; the outcome arrives in ``on_order_update``."""
        ...

    def cancel(self, client_order_id: str) -> None: ...

    def position(self, instrument_id: str) -> Decimal:
        """This strategy's signed position (base units)."""
        ...

    def balance(self, currency: str) -> Decimal:
        """The account's holdings of ``currency`` (cash, or base asset held)."""
        ...

    def free_balance(self, currency: str) -> Decimal:
        """What the venue would let an order spend right now."""
        ...

    def open_orders(self, instrument_id: str | None = None) -> tuple[Order, ...]: ...


class Strategy:
    """Subclass, set ``name``, a ``Config`` model and override the callbacks you need."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Config: ClassVar[type[StrategyConfig]] = StrategyConfig

    def __init__(self, config: StrategyConfig, ctx: StrategyContext) -> None:
        self.config = config
        self.ctx = ctx

    @classmethod
    def parse_config(cls, params: dict[str, Any]) -> StrategyConfig:
        """Validate loose parameters (e.g. strings from the command line) into the frozen config."""
        return cls.Config.model_validate(params)

    def on_start(self) -> None:
        """Called once before the first event."""

    def on_bar(self, bar: Bar) -> None:
        """A bar closed (and every registered indicator already includes it)."""

    def on_trade(self, tick: TradeTick) -> None:
        """A public trade printed."""

    def on_quote(self, quote: QuoteTick) -> None:
        """The top of book changed."""

    def on_order_update(self, event: OrderEvent) -> None:
        """One of this strategy's orders changed state (accepted, denied, rejected, filled, canceled...)."""

    def on_fill(self, fill: Fill) -> None:
        """One of this strategy's orders traded."""

    def on_stop(self) -> None:
        """Called once after the last event, or when the engine stops the strategy."""
