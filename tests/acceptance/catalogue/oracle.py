"""The global oracle of reliability.md 3.1, asserted after every catalogue scenario.

It compares the fake exchange's ledger (the ground truth) with what bot4 persisted, reading the
journal's tables straight through SQLAlchemy (no single-writer lock is taken, so it also works while
a node still holds the journal), and searches every sink for the sentinel secret:

1. orders on the fake (ours) == orders in the journal, no orphans and no ghosts;
2. per order, the sum of journal fills == the fake's ``executedQty`` (and the order row agrees);
3. journal position == the fake's base balance change within one step; the quote balance change
   equals what the journal's fills and fees imply (within 1e-8 per fill: the REST wire has 8 decimals);
4. no clientOrderId was POSTed again after its first order left the open states;
5. the journal's audit chain (``oms_audit``) and any risk audit trail (``bot4.risk.audit``) verify;
6. the sentinel appears in no log record, log file, DB row (every table of every watched DB), HTTP body
   or captured process output.

``check`` returns every violation at once, so one failing scenario shows all it broke.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from bot4.persistence.journal import _chain  # the journal's own hash-chain step
from bot4.risk.audit import verify as verify_risk_audit
from tests.acceptance.catalogue.server import Ledger

ZERO = Decimal(0)
NOT_AT_VENUE = frozenset({"FAILED", "REJECTED"})  # intents the venue never booked
WIRE_QUANTUM = Decimal("0.00000001")


@dataclass
class JournalView:
    """What the journal holds: order rows, fill sums per client id, positions and fees."""

    status: dict[str, str] = field(default_factory=dict)
    role: dict[str, str] = field(default_factory=dict)
    filled: dict[str, Decimal] = field(default_factory=dict)  # the order row's filled_qty
    fills: dict[str, Decimal] = field(default_factory=dict)  # sum of fill rows
    fill_count: int = 0
    quote_flow: Decimal = ZERO  # sells minus buys at fill prices
    fees: dict[str, Decimal] = field(default_factory=dict)
    position: Decimal = ZERO
    missing: bool = False


def read_journal(url: str, schema: str | None = None) -> JournalView:
    """Read the journal tables; an engine of its own, no lock."""
    engine = sa.create_engine(url)
    md = sa.MetaData(schema=schema)
    view = JournalView()
    try:
        if not sa.inspect(engine).has_table("oms_orders", schema=schema):
            view.missing = True  # never opened (e.g. the node refused its config): an empty journal
            return view
        md.reflect(engine, only=["oms_orders", "oms_fills", "oms_positions", "oms_fees"])
        t = md.tables
        key = (schema + ".") if schema else ""
        with engine.connect() as conn:
            for r in conn.execute(sa.select(t[key + "oms_orders"])):
                view.status[r.client_order_id] = r.status
                view.role[r.client_order_id] = r.role
                view.filled[r.client_order_id] = Decimal(r.filled_qty)
            for r in conn.execute(sa.select(t[key + "oms_fills"])):
                q, px = Decimal(r.quantity), Decimal(r.price)
                view.fills[r.client_order_id] = view.fills.get(r.client_order_id, ZERO) + q
                view.quote_flow += px * q if r.side == "SELL" else -px * q
                view.fill_count += 1
            view.position = sum((Decimal(r.quantity) for r in conn.execute(sa.select(t[key + "oms_positions"]))), ZERO)
            for r in conn.execute(sa.select(t[key + "oms_fees"])):
                view.fees[r.currency] = view.fees.get(r.currency, ZERO) + Decimal(r.amount)
    finally:
        engine.dispose()
    return view


def journal_audit_rows(url: str, schema: str | None = None) -> list[tuple[str, str, str, str]]:
    """(kind, client id, detail, hash) of ``oms_audit`` in id order, read without the writer's lock."""
    engine = sa.create_engine(url)
    try:
        t = sa.Table("oms_audit", sa.MetaData(schema=schema), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.id))
            return [(r.kind, r.client_order_id, r.detail, r.hash) for r in rows]
    finally:
        engine.dispose()


def journal_audit_break(url: str, schema: str | None = None) -> int | None:
    """First row whose hash does not chain from the previous one, recomputed from the contents, else None.

    ``SqlJournal.verify_audit`` does the same but needs the single-writer lock, which a node that failed
    to stop could still hold; the chaining function is the journal's own.
    """
    prev = ""
    for i, (kind, cid, detail, stored) in enumerate(journal_audit_rows(url, schema)):
        if stored != _chain(prev, {"kind": kind, "client_order_id": cid, "detail": detail}):
            return i
        prev = stored
    return None


def dump_db(url: str) -> list[str]:
    """Every row of every table as text, for the sentinel search."""
    engine = sa.create_engine(url)
    out: list[str] = []
    try:
        md = sa.MetaData()
        md.reflect(engine)
        with engine.connect() as conn:
            for table in md.sorted_tables:
                out += [f"{table.name}: {tuple(r)!r}" for r in conn.execute(sa.select(table))]
    finally:
        engine.dispose()
    return out


def log_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    """Everything a handler could print from each record: message, args, extras, exception and stack."""
    out = []
    for rec in records:
        parts = [rec.getMessage(), repr(rec.__dict__)]
        if rec.exc_info and rec.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(*rec.exc_info)))
        if rec.exc_text:
            parts.append(rec.exc_text)
        if rec.stack_info:
            parts.append(rec.stack_info)
        out.append("\n".join(parts))
    return out


@dataclass
class Sinks:
    """Everywhere a secret could leak to; tests register what their scenario produced."""

    records: list[logging.LogRecord] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    dbs: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # label -> HTTP body, process output...

    def leaks(self, sentinel: str) -> list[str]:
        found = []
        for i, text in enumerate(log_texts(self.records)):
            if sentinel in text:
                found.append(f"log record {i} ({self.records[i].name}: {self.records[i].msg!r:.80})")
        for path in self.files:
            if path.exists() and sentinel in path.read_text(errors="replace"):
                found.append(f"file {path}")
        for url in self.dbs:
            found += [f"db {url} row {row[:120]}" for row in dump_db(url) if sentinel in row]
        found += [f"text {label}" for label, text in self.texts.items() if sentinel in text]
        return found


@dataclass
class OracleInput:
    """What one scenario hands to the oracle."""

    ledger: Ledger
    start_balances: dict[str, Decimal]
    base: str = "BTC"
    quote: str = "USDT"
    step: Decimal = Decimal("0.000001")
    journal_url: str | None = None
    journal_schema: str | None = None
    risk_audit: list[tuple[str, Path | None]] = field(default_factory=list)  # (url, head file)
    prefixes: tuple[str, ...] | None = None  # None: every order of the (dedicated) test account is ours


def check(inp: OracleInput, sentinel: str, sinks: Sinks) -> list[str]:
    """All violations of the six oracle rules (empty when the scenario left a consistent world)."""
    bad: list[str] = []
    led = inp.ledger
    if inp.journal_url is not None:
        view = read_journal(inp.journal_url, inp.journal_schema)
        bad += _orders_and_fills(inp, view)
        bad += _balances(inp, view)
        brk = None if view.missing else journal_audit_break(inp.journal_url, inp.journal_schema)
        if brk is not None:
            rows = [r[:3] for r in journal_audit_rows(inp.journal_url, inp.journal_schema)[max(0, brk - 1) : brk + 1]]
            bad.append(f"rule 5: journal audit chain breaks at row {brk} (rows {brk - 1}..{brk}: {rows})")
    elif led.orders:
        bad.append(f"rule 1: {len(led.orders)} orders on the fake but the scenario registered no journal")
    for url, head in inp.risk_audit:
        if not _has_table(url, "risk_audit"):
            continue  # no risk engine ever started here (e.g. a refused config): nothing to verify
        rep = verify_risk_audit(url, head)
        if not rep.ok:
            bad.append(f"rule 5: risk audit {url}: {rep.message}")
    for cid, n in sorted(led.posts.items()):
        closed_at = led.posts_at_close.get(cid)
        if closed_at is not None and n > closed_at:
            bad.append(f"rule 4: {cid} POSTed {n - closed_at} more time(s) after its first order left 'open'")
    bad += [f"rule 6: sentinel secret found in {where}" for where in sinks.leaks(sentinel)]
    return bad


def _has_table(url: str, name: str) -> bool:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).has_table(name)
    finally:
        engine.dispose()


def _ours(inp: OracleInput, cid: str) -> bool:
    return inp.prefixes is None or cid.startswith(inp.prefixes)


def _orders_and_fills(inp: OracleInput, view: JournalView) -> list[str]:
    bad = []
    fake = {c for c in inp.ledger.orders if _ours(inp, c)}
    db = {
        c for c, s in view.status.items() if _ours(inp, c) and s not in NOT_AT_VENUE and view.role.get(c) != "EXTERNAL"
    }
    external = {c for c, r in view.role.items() if r == "EXTERNAL"}
    orphans, ghosts = sorted(fake - db - external), sorted(db - fake)
    if orphans:
        bad.append(f"rule 1: orphans (on the fake, not in the journal): {orphans}")
    if ghosts:
        bad.append(f"rule 1: ghosts (in the journal, not on the fake): {ghosts} {[view.status[g] for g in ghosts]}")
    for cid in sorted(fake | set(view.fills)):
        venue_qty, db_qty = inp.ledger.executed(cid), view.fills.get(cid, ZERO)
        if venue_qty != db_qty:
            bad.append(f"rule 2: {cid}: journal fills sum {db_qty} != fake executedQty {venue_qty}")
        if cid in view.filled and view.filled[cid] != db_qty:
            bad.append(f"rule 2: {cid}: order row filled_qty {view.filled[cid]} != its fills {db_qty}")
    return bad


def _balances(inp: OracleInput, view: JournalView) -> list[str]:
    bad = []
    led, start = inp.ledger, inp.start_balances
    base_change = led.balances.get(inp.base, ZERO) - start.get(inp.base, ZERO)
    expect_base = view.position - view.fees.get(inp.base, ZERO)
    if abs(base_change - expect_base) > inp.step:
        bad.append(
            f"rule 3: {inp.base}: fake changed by {base_change}, journal says {expect_base} (pos {view.position})"
        )
    if abs(led.position - view.position) > inp.step:
        bad.append(f"rule 3: position: fake trades sum {led.position} != journal position {view.position}")
    quote_change = led.balances.get(inp.quote, ZERO) - start.get(inp.quote, ZERO)
    expect_quote = view.quote_flow - view.fees.get(inp.quote, ZERO)
    tolerance = WIRE_QUANTUM * (view.fill_count + 1)
    if abs(quote_change - expect_quote) > tolerance:
        bad.append(f"rule 3: {inp.quote}: fake changed by {quote_change}, journal fills and fees say {expect_quote}")
    return bad
