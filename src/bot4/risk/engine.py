"""The risk engine: pre-trade rules in line with every order, plus the guards that can stop trading.

It implements the engine's ``RiskHook``. ``check`` is the hot path: mode gate, a few scratch values,
then each rule in turn; no I/O, no database; an approval only appends one small tuple to a buffer
(when auditing) that ``poll`` turns into hash-chained audit rows. Everything slower happens off
the hot path, on bars, fills and ``poll``: revaluing exposure, the drawdown and daily-loss guards,
VaR and correlations, circuit breakers, the dead man's switch, reading the mode file and sentinel,
flushing the audit buffer.

Modes move up automatically (NORMAL < PAUSE < REDUCE < EMERGENCY) and come down only by an operator
action; returning to NORMAL needs an explicit confirmation. The mode is persisted in a small file,
so a restart resumes in it. The kill path (cancel everything, flatten with reduce-only orders) acts
first and records afterwards, and the audit only buffers, so a locked database cannot slow it down.
Time comes only from the engine clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bot4.model.enums import OrderType, Side
from bot4.model.events import Bar, OrderAccepted, OrderEvent, OrderRejected, QuoteTick
from bot4.model.fill import Fill
from bot4.model.orders import Order
from bot4.model.ports import SYSTEM_STRATEGY_ID, ExecutionControl
from bot4.risk import var as var_methods
from bot4.risk.audit import AuditLog
from bot4.risk.breakers import CircuitBreaker, SpreadMonitor
from bot4.risk.drawdown import DrawdownGuard
from bot4.risk.limits import RiskLimits
from bot4.risk.modes import ControlMode, ModeStore
from bot4.risk.rules import Rule, default_rules
from bot4.risk.state import InstrumentRisk, RiskState

DAY_NS = 86_400 * 1_000_000_000
_INF = float("inf")
log = logging.getLogger(__name__)

_NORMAL = ControlMode.NORMAL
_PAUSE = ControlMode.PAUSE
_REDUCE = ControlMode.REDUCE
_EMERGENCY = ControlMode.EMERGENCY


@dataclass(frozen=True, slots=True)
class ModeChange:
    ts_ns: int
    old: ControlMode
    new: ControlMode
    actor: str
    reason: str


_SYSTEM_PREFIX = SYSTEM_STRATEGY_ID + "-"


def _is_system(order: Order) -> bool:
    """The engine's own flattening orders: booked to the system id, or ids the engine numbers ``risk-N``."""
    return order.strategy_id == SYSTEM_STRATEGY_ID or order.client_order_id.startswith(_SYSTEM_PREFIX)


class RiskEngine:
    """Pre-trade rules, guards, breakers and control modes behind the engine's ``RiskHook`` seam."""

    wants_market_data = True

    def __init__(
        self,
        limits: RiskLimits | None = None,
        *,
        state_dir: str | Path,
        audit: AuditLog | None = None,
        rules: list[Rule] | None = None,
        equity_currency: str | None = None,
    ) -> None:
        self.limits = lim = limits or RiskLimits()
        self.state = RiskState(lim)
        self.rules: tuple[Rule, ...] = tuple(rules if rules is not None else default_rules(self.state))
        self._checks = tuple(r.check for r in self.rules)  # bound once: the hot loop does no lookups
        self.store = ModeStore(state_dir)
        self.audit = audit
        # approvals waiting to become audit rows: (engine time, order, reference price). The hot path only
        # appends a tuple; ``poll`` (or the next audited event, to keep the chain in decision order)
        # turns them into hash-chained rows in one batch.
        self._approvals: list[tuple[int, Order, float]] = []
        self.drawdown = DrawdownGuard(lim.drawdown_soft, lim.drawdown_hard)
        w, cd = lim.breaker_window_ns, lim.breaker_cooldown_ns
        self.breakers: dict[str, CircuitBreaker] = {
            "runaway": CircuitBreaker(
                "runaway", lim.runaway_denials_to_trip, lim.runaway_window_ns, cd, lim.runaway_mode
            ),
            "slippage": CircuitBreaker("slippage", lim.slippage_events_to_trip, w, cd, lim.breaker_mode),
            "stale_data": CircuitBreaker("stale_data", lim.stale_events_to_trip, w, cd, lim.breaker_mode),
            "spread": CircuitBreaker("spread", lim.spread_events_to_trip, w, cd, lim.breaker_mode),
            "api_errors": CircuitBreaker("api_errors", lim.api_errors_to_trip, w, cd, lim.breaker_mode),
            "rejects": CircuitBreaker("rejects", lim.rejects_to_trip, w, cd, lim.breaker_mode),
        }
        self._spreads: dict[str, SpreadMonitor] = {}
        self.mode_changes: list[ModeChange] = []
        self.denials = 0
        self.bad_market_data = 0  # bars/quotes refused for NaN, inf or non-positive prices
        self.crisis = False
        self.last_var: var_methods.TailRisk | None = None
        self._equity_ccy = equity_currency
        self._control: ExecutionControl | None = None
        self._expected: dict[str, float] = {}  # market order id -> reference price at approval (slippage)
        self._pending: tuple[ControlMode, str, str] | None = None  # mode asked for by a signal handler
        self._entry_actions_due = False  # a restored REDUCE/EMERGENCY acts once the engine is running
        self._next_poll = 0
        self._next_stage = 0
        self._last_heartbeat = 0
        self._deadman_tripped = False
        self._daily_tripped_day = -1
        self._bars = 0
        self._equity_samples: list[float] = []
        self._last_sample_ts = -1
        self.store.state_dir.mkdir(parents=True, exist_ok=True)
        record = self.store.read()
        self.state.mode = record.mode
        self._mode_version = record.version
        self._mode_signature = (0, 0, 0)
        self._entry_actions_due = record.mode in (_REDUCE, _EMERGENCY)

    # -- RiskHook -------------------------------------------------------------------------------------

    def bind(self, control: ExecutionControl) -> None:
        self._control = control
        st = self.state
        st.now = now = control.now_ns()
        self._last_heartbeat = now
        self._refresh_cash()
        st.revalue()
        st.day_start_equity = st.equity
        st.day_index = now // DAY_NS
        st.refresh_limits()
        self.drawdown.update(st.equity)
        self._audit("config", "config_load", {"limits": self.limits.model_dump(mode="json")})
        if st.mode is not _NORMAL:
            self._audit("mode-store", "mode_restored", {"mode": st.mode.value, "file": str(self.store.path)})

    def check(self, order: Order) -> str | None:
        if order.reduce_only and _is_system(order):
            if self.audit is not None:  # the engine's own flattening is never blocked, but it is recorded
                self._approvals.append((self._now(), order, 0.0))
            return None
        if self._pending is not None:
            self._apply_pending()
        st = self.state
        mode = st.mode
        if mode is _PAUSE or mode is _EMERGENCY:
            return self._deny(order, f"MODE_{mode.value}: trading is in {mode.value} mode; no new orders", None)
        st.now = now = self._control.now_ns()  # type: ignore[union-attr]
        inst = st.instruments.get(order.instrument_id)
        if inst is None:
            inst = st.instrument(order.instrument_id)
        px = order.price or order.trigger_price
        price = float(px) if px is not None else inst.last
        if not (price > 0.0 and inst.last > 0.0):  # also refuses NaN
            return self._deny(order, f"NO_REFERENCE_PRICE: no market price seen yet for {order.instrument_id}", None)
        qty = order.quantity
        q = float(qty) if qty is not None else float(order.quote_quantity) / price  # type: ignore[arg-type]
        delta = q if order.side is Side.BUY else -q
        pos = inst.qty
        st.o_inst = inst
        st.o_price = price
        st.o_qty = q
        st.o_delta = delta
        st.o_increases = abs(pos + delta) > abs(pos)
        for rule_check in self._checks:
            reason = rule_check(order, st)
            if reason is not None:
                return self._deny(order, reason, self._rule_of(reason))
        st.order_times.append(now)
        st.total_orders += 1
        if order.type is OrderType.MARKET:
            self._expected[order.client_order_id] = price
        if self.audit is not None:
            self._approvals.append((now, order, price))
        return None

    def on_bar(self, bar: Bar) -> None:
        iid, _, ts, _, high, low, close, _ = bar
        st = self.state
        inst = st.instruments.get(iid)
        if inst is None:
            inst = st.instrument(iid)
            if self._equity_ccy is None:
                self._equity_ccy = inst.quote
                self._refresh_cash()
        if not (0.0 < close < _INF and 0.0 < high < _INF and 0.0 < low < _INF):
            self.bad_market_data += 1  # never let NaN, inf or zero become a reference price
            self._audit(
                "market_data",
                "bad_bar",
                {"instrument": iid, "ts": ts, "high": repr(high), "low": repr(low), "close": repr(close)},
            )
            return
        self._update_market(inst, high, low, close)
        inst.last = close
        inst.last_ts = ts
        st.now = ts
        self._bars += 1
        if st.open_positions:
            st.revalue()
        self._evaluate(ts)
        lim = self.limits
        if self._bars % lim.correlation_refresh_bars == 0 and len(st.instruments) > 1:
            self.refresh_correlations()
        if ts > self._last_sample_ts:
            self._last_sample_ts = ts
            self._equity_samples.append(st.equity)
            if len(self._equity_samples) > 2 * lim.var_window:
                del self._equity_samples[: lim.var_window]
            if len(self._equity_samples) % lim.var_refresh_bars == 0:
                self.refresh_var()
        if ts >= self._next_poll or self._entry_actions_due:
            self.poll()

    def on_fill(self, fill: Fill) -> None:
        st = self.state
        inst = st.instrument(fill.instrument_id)
        inst.qty_d += fill.quantity if fill.side is Side.BUY else -fill.quantity
        inst.qty = float(inst.qty_d)
        st.open_positions = [i for i in st.instruments.values() if i.qty_d != 0]
        if inst.last <= 0:
            inst.last = float(fill.price)
        self._refresh_cash()
        st.revalue()
        expected = self._expected.pop(fill.client_order_id, None)
        if expected:
            adverse_bps = (float(fill.price) - expected) / expected * 1e4 * fill.side.sign
            limit_bps = self.limits.expected_slippage_bps * self.limits.slippage_multiple
            self._breaker(
                "slippage",
                adverse_bps > limit_bps,
                fill.ts_event,
                f"{fill.instrument_id} filled {adverse_bps:.1f} bps from the reference (limit {limit_bps:g})",
            )
        self._evaluate(fill.ts_event)

    # -- more inputs (quotes, venue events, API health, heartbeats) --------------------------------------

    def on_quote(self, quote: QuoteTick) -> None:
        """Top of book: the reference price becomes the mid; abnormal spreads feed the spread breaker."""
        inst = self.state.instrument(quote.instrument_id)
        if not (0.0 < quote.bid < _INF and 0.0 < quote.ask < _INF):
            self.bad_market_data += 1
            return
        if quote.bid > 0 and quote.ask > 0:
            inst.last = (quote.bid + quote.ask) * 0.5
            inst.last_ts = quote.ts_event
        monitor = self._spreads.get(quote.instrument_id)
        if monitor is None:
            monitor = self._spreads[quote.instrument_id] = SpreadMonitor(
                self.limits.spread_multiple, floor_bps=self.limits.spread_floor_bps
            )
        bad = monitor.observe(quote.bid, quote.ask)
        self._breaker(
            "spread",
            bad,
            quote.ts_event,
            f"{quote.instrument_id} spread {quote.ask - quote.bid:.10g} is over "
            f"{self.limits.spread_multiple:g}x its normal",
        )

    def on_order_event(self, event: OrderEvent) -> None:
        """Venue outcomes: a storm of rejections trips the reject breaker."""
        if isinstance(event, OrderRejected):
            self._breaker("rejects", True, event.ts_event, f"{event.client_order_id} rejected: {event.reason}")
        elif isinstance(event, OrderAccepted):
            self._breaker("rejects", False, event.ts_event, "")

    def record_api_error(self, description: str) -> None:
        self._breaker("api_errors", True, self._now(), description)

    def record_api_success(self) -> None:
        self._breaker("api_errors", False, self._now(), "")

    def heartbeat(self) -> None:
        """The supervisor is alive; without this for ``heartbeat_timeout_ns`` everything is cancelled."""
        self._last_heartbeat = self._now()
        self._deadman_tripped = False

    def set_stop(self, instrument_id: str, stop_price: float) -> None:
        """A strategy's stop for an instrument: risk per trade and heat are measured against it."""
        if not stop_price > 0:
            raise ValueError(f"stop_price for {instrument_id} must be positive, got {stop_price}")
        inst = self.state.instrument(instrument_id)
        inst.stop_price = stop_price
        if inst.last > 0:
            inst.stop_dist = abs(inst.last - stop_price)

    # -- control modes --------------------------------------------------------------------------------

    @property
    def mode(self) -> ControlMode:
        return self.state.mode

    def operator_set_mode(self, mode: ControlMode, actor: str, reason: str, *, confirm: bool = False) -> None:
        """An operator's explicit choice; going back to NORMAL needs ``confirm=True``."""
        if mode is _NORMAL and not confirm:
            raise PermissionError("returning to NORMAL needs an explicit confirmation (confirm=True / --confirm)")
        self._audit(actor, "operator_action", {"requested": mode.value, "reason": reason})
        if mode is not self.state.mode:
            self._transition(mode, actor, reason)

    def request_mode(self, mode: ControlMode, actor: str, reason: str) -> None:
        """Safe to call from a signal handler: the change is applied at the next check, bar or poll."""
        if mode is _NORMAL:
            raise PermissionError("a signal cannot resume trading; use `bot4 control resume --confirm`")
        self._pending = (mode, actor, reason)

    def escalate(self, mode: ControlMode, actor: str, reason: str) -> bool:
        """An automatic trigger: only ever moves to a stricter mode. Returns True if the mode changed."""
        if mode.severity <= self.state.mode.severity:
            return False
        self._transition(mode, actor, reason)
        return True

    def set_crisis(self, on: bool, actor: str, reason: str) -> None:
        """Crisis mode multiplies every equity-based risk budget by ``crisis_budget_factor`` (0.5)."""
        if on == self.crisis:
            return
        self.crisis = on
        st = self.state
        st.budget_factor = self.limits.crisis_budget_factor if on else 1.0
        st.refresh_limits()
        self._audit(actor, "crisis_on" if on else "crisis_off", {"reason": reason, "factor": st.budget_factor})

    # -- housekeeping (off the hot path) -----------------------------------------------------------------

    def poll(self) -> None:
        """Everything periodic: control inputs, dead man's switch, breakers, emergency follow-up, audit flush.

        The backtest calls this from ``on_bar``; a live node should also call it on a ~1 s timer so the
        kill path works while market data is silent.
        """
        if self._control is None:
            return
        now = self._control.now_ns()
        self.state.now = now
        self._next_poll = now + self.limits.control_poll_ns
        if self._pending is not None:
            self._apply_pending()
        self._read_control_inputs()
        if self._entry_actions_due:
            self._entry_actions_due = False
            self._enter_actions(self.state.mode, "restored mode after restart")
        lim = self.limits
        timeout = lim.heartbeat_timeout_ns
        if timeout is not None and not self._deadman_tripped and now - self._last_heartbeat > timeout:
            self._deadman_tripped = True
            sent = self._control.cancel_all("dead man's switch: no heartbeat")
            self._audit("deadman", "deadman_trip", {"silent_ns": now - self._last_heartbeat, "cancels": sent})
            self.escalate(_PAUSE, "deadman", "no heartbeat within the timeout")
        for breaker in self.breakers.values():
            breaker.poll(now)
        if lim.live:
            for inst in self.state.instruments.values():
                if inst.last_ts:
                    age = now - inst.last_ts
                    self._breaker(
                        "stale_data", age > lim.max_data_age_ns, now, f"{inst.iid} price is {age / 1e6:.0f} ms old"
                    )
        mode = self.state.mode
        if mode is _EMERGENCY:
            self._emergency_follow_up()
        elif mode is _REDUCE and lim.reduce_stage_fraction > 0 and now >= self._next_stage:
            self._reduce_stage(now)
        if len(self._expected) > 10_000:  # reference prices of market orders that never filled
            self._expected.clear()
        if self.audit is not None:
            if self._approvals:
                self._drain_approvals(self.audit)
            self.audit.flush()

    def refresh_correlations(self) -> None:
        """Pairwise correlations of the last ``correlation_window`` returns, for the correlation cap."""
        window = self.limits.correlation_window
        ready = [i for i in self.state.instruments.values() if len(i.returns) >= window]
        if len(ready) < 2:
            return
        data = np.array([i.returns[-window:] for i in ready], dtype=np.float64)
        matrix = np.atleast_2d(np.asarray(np.corrcoef(data), dtype=np.float64))
        for a, inst in enumerate(ready):
            inst.corr = {
                other.iid: float(matrix[a, b]) for b, other in enumerate(ready) if b != a and np.isfinite(matrix[a, b])
            }

    def refresh_var(self) -> None:
        """Portfolio VaR from recent equity returns; over the limit turns crisis mode on."""
        lim = self.limits
        eq = np.asarray(self._equity_samples[-lim.var_window - 1 :], dtype=np.float64)
        if eq.size < 31 or np.any(eq <= 0):
            return
        returns = eq[1:] / eq[:-1] - 1.0
        if not np.any(returns):
            return
        try:
            risk = var_methods.tail_risk(returns, lim.var_confidence, lim.var_method)
        except ValueError:
            return
        self.last_var = risk
        reason = var_methods.breaches(risk, lim.var_limit, lim.es_limit)
        if reason is not None and not self.crisis:
            self.set_crisis(True, "var", reason)

    # -- internals -------------------------------------------------------------------------------------

    def _now(self) -> int:
        return self._control.now_ns() if self._control is not None else self.state.now

    def _rule_of(self, reason: str) -> Rule | None:
        code = reason.split(":", 1)[0]
        return next((r for r in self.rules if r.code == code), None)

    def _deny(self, order: Order, reason: str, rule: Rule | None) -> str:
        self.denials += 1
        st = self.state
        self._audit(
            "risk",
            "order_denied",
            {
                "order": order.client_order_id,
                "strategy": order.strategy_id,
                "instrument": order.instrument_id,
                "reason": reason,
            },
        )
        if rule is not None and rule.counts_as_runaway:
            self._breaker("runaway", True, st.now, f"{order.strategy_id}: {reason}")
        return reason

    def _breaker(self, name: str, bad: bool, now: int, detail: str) -> None:
        breaker = self.breakers[name]
        if breaker.record(bad, now):
            self._audit(
                f"breaker:{name}",
                "breaker_trip",
                {"detail": detail, "mode": breaker.mode.value, "trips": breaker.trips},
            )
            self.escalate(breaker.mode, f"breaker:{name}", detail)

    def _evaluate(self, now: int) -> None:
        """Daily-loss and drawdown guards on the latest equity."""
        st = self.state
        day = now // DAY_NS
        if day != st.day_index:
            st.day_index = day
            st.day_start_equity = st.equity
            st.refresh_limits()
        loss = st.day_start_equity - st.equity
        if loss > st.max_daily_loss and self._daily_tripped_day != day:
            self._daily_tripped_day = day
            self._audit("daily_loss", "limit_breach", {"loss": loss, "limit": st.max_daily_loss})
            self.escalate(
                self.limits.daily_loss_mode, "daily_loss", f"today's loss {loss:.2f} exceeds {st.max_daily_loss:.2f}"
            )
        want = self.drawdown.update(st.equity)
        if want is not None and want.severity > st.mode.severity:
            dd = self.drawdown.drawdown
            self._audit("drawdown", "limit_breach", {"drawdown": dd, "peak": self.drawdown.peak, "equity": st.equity})
            self.escalate(want, "drawdown", f"drawdown {dd:.2%} from peak {self.drawdown.peak:.2f}")

    def _update_market(self, inst: InstrumentRisk, high: float, low: float, close: float) -> None:
        """Wilder ATR (as TA-Lib: first value is the mean of the first ``period`` true ranges) and returns."""
        prev = inst.prev_close
        inst.prev_close = close
        if prev <= 0:
            return
        tr = max(high - low, abs(high - prev), abs(low - prev))
        period = self.limits.atr_period
        if inst.tr_n < period:
            inst.tr_n += 1
            inst.tr_sum += tr
            if inst.tr_n == period:
                inst.atr = inst.tr_sum / period
        else:
            inst.atr += (tr - inst.atr) / period
        if inst.stop_price > 0:
            inst.stop_dist = abs(close - inst.stop_price)
        elif inst.atr > 0:
            inst.stop_dist = inst.atr * self.limits.atr_stop_multiple
        returns = inst.returns
        returns.append(close / prev - 1.0)
        if len(returns) > 2 * self.limits.correlation_window:
            del returns[: self.limits.correlation_window]

    def _refresh_cash(self) -> None:
        if self._control is None:
            return
        cash = self._control.cash()
        if self._equity_ccy is None and len(cash) == 1:
            self._equity_ccy = next(iter(cash))
        if self._equity_ccy is not None:
            self.state.cash = float(cash.get(self._equity_ccy, Decimal(0)))

    def _apply_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            mode, actor, reason = pending
            self._audit(actor, "operator_action", {"requested": mode.value, "reason": reason})
            if mode is not self.state.mode:
                self._transition(mode, actor, reason)

    def _read_control_inputs(self) -> None:
        store = self.store
        if store.sentinel_present() and self.state.mode is not _EMERGENCY:
            self._audit("sentinel", "operator_action", {"requested": "EMERGENCY", "file": str(store.sentinel)})
            self._transition(_EMERGENCY, "sentinel", f"sentinel file {store.sentinel} present")
        signature = store.signature()
        if signature == self._mode_signature:
            return
        self._mode_signature = signature
        record = store.read()
        if record.version != self._mode_version:
            self._mode_version = record.version
            if record.mode is not self.state.mode:
                self._transition(
                    record.mode, record.actor or "mode-file", record.reason or "mode file changed", persist=False
                )

    def _transition(self, new: ControlMode, actor: str, reason: str, *, persist: bool = True) -> None:
        st = self.state
        old = st.mode
        st.mode = new
        now = self._now()
        # act first: the kill path must not wait for the disk or the database
        if self._control is not None:
            self._enter_actions(new, reason)
        else:
            self._entry_actions_due = new in (_REDUCE, _EMERGENCY)
        if persist:
            try:
                self._mode_version = self.store.write(new, actor, reason, now).version
            except OSError as exc:
                log.error("could not persist control mode %s to %s: %s", new.value, self.store.path, exc)
                self._audit("mode-store", "persist_failed", {"mode": new.value, "error": str(exc)})
        self.mode_changes.append(ModeChange(now, old, new, actor, reason))
        self._audit(actor, "mode_change", {"old": old.value, "new": new.value, "reason": reason})
        log.warning("risk mode %s -> %s by %s: %s", old.value, new.value, actor, reason)

    def _enter_actions(self, mode: ControlMode, reason: str) -> None:
        control = self._control
        if control is None:
            return
        if mode is _EMERGENCY:
            cancels = control.cancel_all(f"EMERGENCY: {reason}")
            flattens = control.flatten_all(f"EMERGENCY: {reason}")
            self._audit("risk", "kill_switch", {"cancels": cancels, "flatten_orders": flattens, "reason": reason})
        elif mode is _REDUCE:
            cancels = control.cancel_all(f"REDUCE: {reason}")
            self._next_stage = control.now_ns()
            self._audit("risk", "reduce_started", {"cancels": cancels, "reason": reason})

    def _emergency_follow_up(self) -> None:
        """Keep EMERGENCY true: cancel anything that is working, re-flatten what is still held."""
        control = self._control
        if control is None:
            return
        working = control.open_orders()
        if not all(_is_system(o) for o in working):
            control.cancel_all("EMERGENCY follow-up")
            working = []
        if control.net_positions() and not any(_is_system(o) for o in working):
            sent = control.flatten_all("EMERGENCY follow-up")
            self._audit("risk", "flatten_retry", {"flatten_orders": sent})

    def _reduce_stage(self, now: int) -> None:
        """Unwind a share of every position; needs ``reduce_positions`` from the engine (optional)."""
        self._next_stage = now + self.limits.reduce_stage_interval_ns
        reducer: Any = getattr(self._control, "reduce_positions", None)
        if reducer is None or not self.state.open_positions or self.limits.reduce_stage_fraction <= 0:
            return
        sent = reducer(self.limits.reduce_stage_fraction, "REDUCE stage")
        self._audit("risk", "reduce_stage", {"fraction": self.limits.reduce_stage_fraction, "orders": sent})

    def _audit(self, actor: str, action: str, payload: dict[str, Any]) -> None:
        audit = self.audit
        if audit is not None:
            if self._approvals:
                self._drain_approvals(audit)
            audit.append(actor, action, payload, self._now())

    def _drain_approvals(self, audit: AuditLog) -> None:
        """Turn buffered approvals into audit entries, in the order they were decided."""
        approvals, self._approvals = self._approvals, []
        for ts, order, ref in approvals:
            audit.append(
                "risk",
                "order_approved",
                {
                    "order": order.client_order_id,
                    "strategy": order.strategy_id,
                    "instrument": order.instrument_id,
                    "side": order.side.value,
                    "type": order.type.value,
                    "quantity": order.quantity,
                    "quote_quantity": order.quote_quantity,
                    "price": order.price,
                    "trigger_price": order.trigger_price,
                    "reduce_only": order.reduce_only,
                    "reference_price": ref,
                },
                ts,
            )
