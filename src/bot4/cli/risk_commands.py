"""``bot4 control ...`` and ``bot4 audit ...``: the operator's levers and the audit check.

``control`` writes the mode file in the state directory (the running engine picks it up within a
poll interval) and appends an audit record; it needs neither the engine nor a database to be up to
change the mode, because the mode file is what the engine obeys. ``audit verify`` recomputes the hash
chain and exits 1 at the first broken record.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from bot4.engine.clock import LiveClock
from bot4.risk.audit import AuditLog, verify
from bot4.risk.modes import ControlMode, ModeStore

control_app = typer.Typer(help="Change or show the trading control mode.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the risk audit trail.", no_args_is_help=True)

DEFAULT_STATE_DIR = "state"
HEAD_FILE = "audit.head.json"

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", help="where the mode file lives (default $BOT4_STATE_DIR or ./state)"),
]
Actor = Annotated[str, typer.Option("--actor", help="who is acting (recorded in the audit trail)")]
Reason = Annotated[str, typer.Option("--reason", help="why (recorded in the audit trail)")]
AuditDb = Annotated[
    str | None, typer.Option("--audit-db", help="SQLAlchemy URL (default sqlite:///<state-dir>/audit.db)")
]


def resolve_state_dir(state_dir: Path | None) -> Path:
    return state_dir or Path(os.environ.get("BOT4_STATE_DIR", DEFAULT_STATE_DIR))


def default_audit_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'audit.db'}"


def _set(mode: ControlMode, state_dir: Path | None, actor: str, reason: str, audit_db: str | None) -> None:
    directory = resolve_state_dir(state_dir)
    store = ModeStore(directory)
    now = LiveClock().now_ns()
    old = store.read().mode
    try:
        store.write(mode, actor, reason, now)
    except OSError as exc:
        typer.echo(f"error: cannot write the mode file {store.path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"mode {old.value} -> {mode.value} (written to {store.path})")
    audit = AuditLog(audit_db or default_audit_url(directory), directory / HEAD_FILE)
    audit.append(
        actor, "operator_action", {"old": old.value, "new": mode.value, "reason": reason, "source": "cli"}, now
    )
    if not audit.flush():
        typer.echo("warning: the audit database is unavailable; the mode was changed but not yet audited", err=True)
    audit.close()


@control_app.command()
def pause(
    state_dir: StateDir = None, actor: Actor = "operator", reason: Reason = "operator pause", audit_db: AuditDb = None
) -> None:
    """No new orders; working orders stay."""
    _set(ControlMode.PAUSE, state_dir, actor, reason, audit_db)


@control_app.command()
def reduce(
    state_dir: StateDir = None, actor: Actor = "operator", reason: Reason = "operator reduce", audit_db: AuditDb = None
) -> None:
    """Only exposure-reducing orders; positions are unwound in stages."""
    _set(ControlMode.REDUCE, state_dir, actor, reason, audit_db)


@control_app.command()
def emergency(
    state_dir: StateDir = None,
    actor: Actor = "operator",
    reason: Reason = "operator emergency",
    audit_db: AuditDb = None,
) -> None:
    """Cancel every order and flatten every position now."""
    _set(ControlMode.EMERGENCY, state_dir, actor, reason, audit_db)


@control_app.command()
def resume(
    confirm: Annotated[bool, typer.Option("--confirm", help="required to resume trading")] = False,
    state_dir: StateDir = None,
    actor: Actor = "operator",
    reason: Reason = "operator resume",
    audit_db: AuditDb = None,
) -> None:
    """Return to NORMAL. Needs --confirm."""
    if not confirm:
        typer.echo("error: resuming normal trading needs --confirm", err=True)
        raise typer.Exit(2)
    _set(ControlMode.NORMAL, state_dir, actor, reason, audit_db)


@control_app.command()
def status(state_dir: StateDir = None) -> None:
    """Show the persisted mode and who set it."""
    record = ModeStore(resolve_state_dir(state_dir)).read()
    typer.echo(f"{record.mode.value} (set by {record.actor}: {record.reason})")


@audit_app.callback()
def audit_main() -> None:
    """Check the risk audit trail."""


@audit_app.command("verify")
def verify_command(
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the audit database")] = None,
    head: Annotated[Path | None, typer.Option("--head", help="head-hash side file")] = None,
    state_dir: StateDir = None,
) -> None:
    """Recompute the hash chain; exit 1 and name the first broken record if it does not hold."""
    directory = resolve_state_dir(state_dir)
    url = db or default_audit_url(directory)
    head_path = head if head is not None else directory / HEAD_FILE
    report = verify(url, head_path)
    if report.ok:
        typer.echo(report.message)
        return
    where = f"first broken record: {report.first_bad_seq}; " if report.first_bad_seq is not None else ""
    typer.echo(f"AUDIT BROKEN: {where}{report.message}", err=True)
    raise typer.Exit(1)
