"""``bot4 secrets ...``: write and check the encrypted secrets file (S1, S2, S5).

Values are read from a prompt (or one line each from a non-terminal stdin), never from options, so
they do not land in shell history or the process list. Every write is atomic and leaves mode 0600.
No command prints a stored secret; ``generate-token`` and ``set-token`` print the new token once,
because the operator has to hand it to the dashboard or to curl.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from bot4.live.secrets import (
    MIN_WRITE_PASSPHRASE,
    PASSPHRASE_ENV,
    PassphraseRequired,
    SecretsDocument,
    SecretsError,
    generate_token,
    read_secrets_file,
    write_secrets_file,
)

secrets_app = typer.Typer(help="Manage the encrypted secrets file (API keys, control tokens).", no_args_is_help=True)

SecretsFile = Annotated[Path, typer.Option("--file", "-f", help="the secrets file (TOML, mode 0600)")]


class _Fail(Exception):
    pass


def _ask(prompt: str) -> str:
    typer.echo(prompt, err=True, nl=False)
    if sys.stdin.isatty():
        return getpass.getpass("")
    line = sys.stdin.readline()
    if not line:
        raise _Fail(f"no input for {prompt.strip().rstrip(':')}")
    return line.rstrip("\r\n")


def _passphrase(*, new: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    value = _ask("operator passphrase: ")
    if new:
        if len(value) < MIN_WRITE_PASSPHRASE:
            raise _Fail(f"the passphrase must have at least {MIN_WRITE_PASSPHRASE} characters")
        if _ask("repeat passphrase: ") != value:
            raise _Fail("the passphrases do not match")
    return value


def _existing(path: Path) -> tuple[SecretsDocument, str]:
    """The decrypted file (or an empty one) and the passphrase to write it back with."""
    if not path.exists():
        return SecretsDocument({}, {}, True), _passphrase(new=True)
    passphrase = _passphrase(new=False)
    return read_secrets_file(path, passphrase), passphrase


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except (SecretsError, _Fail) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@secrets_app.command("generate-token")
def generate_token_cmd() -> None:
    """Print a new random token (32 bytes) for BOT4_CONTROL_TOKEN or BOT4_READ_TOKEN."""
    typer.echo(generate_token())


@secrets_app.command("set")
def set_account(
    account: Annotated[str, typer.Argument(help="account name, as in the node config's secrets.account")],
    file: SecretsFile,
    with_passphrase: Annotated[
        bool, typer.Option("--with-passphrase", help="also ask for an exchange API passphrase (OKX and the like)")
    ] = False,
) -> None:
    """Add or replace an account's API key and secret in the encrypted file (prompts for the values)."""

    def act() -> None:
        doc, passphrase = _existing(file)
        entry = {"api_key": _ask(f"{account} API key: "), "secret": _ask(f"{account} API secret: ")}
        if with_passphrase:
            entry["passphrase"] = _ask(f"{account} API passphrase: ")
        for name, value in entry.items():
            if not value or value != value.strip():
                raise _Fail(f"{account} {name} is empty or has surrounding whitespace")
        accounts = {**doc.accounts, account: entry}
        write_secrets_file(file, SecretsDocument(accounts, doc.control, True), passphrase)
        typer.echo(f"stored account {account!r} in {file} (encrypted, mode 0600)")

    _run(act)


@secrets_app.command("set-token")
def set_token(
    file: SecretsFile,
    role: Annotated[str, typer.Option("--role", help="control or read")] = "control",
) -> None:
    """Generate a control or read token, store it encrypted, and print it once."""

    def act() -> None:
        if role not in ("control", "read"):
            raise _Fail(f"--role: {role!r} is not a role; use control or read")
        doc, passphrase = _existing(file)
        token = generate_token()
        control = {**doc.control, f"{role}_token": token}
        write_secrets_file(file, SecretsDocument(doc.accounts, control, True), passphrase)
        typer.echo(token)
        typer.echo(f"stored the {role} token in {file} (encrypted, mode 0600); it is shown only now", err=True)

    _run(act)


@secrets_app.command("encrypt")
def encrypt(
    file: Annotated[Path, typer.Argument(help="a plaintext secrets file")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="output (default: replace FILE)")] = None,
) -> None:
    """Encrypt a plaintext secrets file with the operator passphrase (Argon2id + Fernet)."""

    def act() -> None:
        try:
            doc = read_secrets_file(file, None, check_permissions=False)
        except PassphraseRequired:
            raise _Fail(f"{file} is already encrypted") from None
        target = output or file
        write_secrets_file(target, doc, _passphrase(new=True))
        typer.echo(f"encrypted {len(doc.accounts)} account(s) into {target} (mode 0600)")
        if output is not None:
            typer.echo(f"the plaintext {file} is still there: delete it once the encrypted file works", err=True)

    _run(act)


@secrets_app.command("check")
def check(file: SecretsFile) -> None:
    """Check permissions and the passphrase, and list what the file holds (names only, never values)."""

    def act() -> None:
        passphrase = os.environ.get(PASSPHRASE_ENV)
        try:
            doc = read_secrets_file(file, passphrase)
        except PassphraseRequired:
            doc = read_secrets_file(file, _passphrase(new=False))
        typer.echo(f"{file}: {'encrypted' if doc.encrypted else 'PLAINTEXT (run `bot4 secrets encrypt`)'}, mode 0600")
        for name in sorted(doc.accounts):
            typer.echo(f"  account {name}: {', '.join(sorted(doc.accounts[name]))}")
        for name in sorted(doc.control):
            typer.echo(f"  {name}: set")

    _run(act)
