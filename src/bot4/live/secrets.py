"""Exchange credentials and control-API tokens: where they come from and how they stay secret (S1, S2, S16).

Secrets never live in the repository or the main config. They come from environment variables
(``BOT4__<ACCOUNT>__API_KEY``/``__SECRET``/``__PASSPHRASE``, freqtrade's double-underscore pattern,
taking precedence) or from a separate TOML secrets file that must be mode 0600 and owned by the
current user. A file written by bot4 is encrypted at rest: every value is ``enc:`` + a Fernet token
whose key is derived from the operator passphrase (``BOT4_SECRETS_PASSPHRASE``) with **Argon2id**
(``cryptography``'s ``Argon2id`` KDF, present in cryptography 50; no Scrypt fallback is needed) and a
per-file random salt stored in the file's ``[bot4_secrets]`` header.

Everything a load produces is decrypted and validated before anything is returned or swapped in, so a
wrong passphrase or a damaged file leaves no partial state; ``SecretStore.reload`` keeps the old
secrets when the new ones fail. Every value loaded is registered with the process-wide log redactor.
"""

from __future__ import annotations

import base64
import math
import os
import re
import secrets as _stdlib_secrets
import tempfile
import threading
import tomllib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from bot4.monitor.logs import Redactor, default_redactor

ENC_PREFIX = "enc:"
PASSPHRASE_ENV = "BOT4_SECRETS_PASSPHRASE"
CONTROL_TOKEN_ENV = "BOT4_CONTROL_TOKEN"
READ_TOKEN_ENV = "BOT4_READ_TOKEN"
HEADER = "bot4_secrets"
FORMAT_VERSION = 1
MIN_TOKEN_BITS = 256  # 32 bytes of entropy, what secrets.token_urlsafe(32) gives
MIN_WRITE_PASSPHRASE = 12
_VERIFIER = b"bot4-secrets-v1"  # encrypted in the header: tells a wrong passphrase from a damaged value
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_FIELDS = ("api_key", "secret", "passphrase")
_TOKEN_FIELDS = ("control_token", "read_token")


class SecretsError(Exception):
    """A secret could not be loaded or written; the message names the source and never the value."""


class PassphraseRequired(SecretsError):
    """The file is encrypted and no operator passphrase was given."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost. The defaults (64 MiB, 3 passes) take about 0.2 s; tests write cheaper files."""

    iterations: int = 3
    lanes: int = 4
    memory_cost: int = 64 * 1024  # KiB

    def check(self, source: str) -> None:
        if self.iterations < 1 or self.lanes < 1 or self.memory_cost < 8 * self.lanes or self.memory_cost > 4 << 20:
            raise SecretsError(f"{source}: Argon2id parameters out of range: {self}")


def _mask(api_key: str) -> str:
    return f"{api_key[:4]}…" if len(api_key) > 8 else "…"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An exchange API key pair; printing it shows only the first 4 characters of the key."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Credentials(api_key={_mask(self.api_key)})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ControlTokens:
    """Bearer tokens for the control API: ``control`` may change the mode, ``read`` may only GET."""

    control: str | None = field(default=None, repr=False)
    read: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"ControlTokens(control={'set' if self.control else 'unset'}, read={'set' if self.read else 'unset'})"

    __str__ = __repr__


def generate_token() -> str:
    """A new control/read token: 32 random bytes, URL-safe base64."""
    return _stdlib_secrets.token_urlsafe(32)


_ALPHABETS = (
    (frozenset("0123456789"), math.log2(10)),
    (frozenset("0123456789abcdef"), 4.0),
    (frozenset("0123456789ABCDEF"), 4.0),
    (frozenset("abcdefghijklmnopqrstuvwxyz0123456789"), math.log2(36)),
    (frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="), 6.0),
)
_ZLIB_OVERHEAD = 11  # header, adler32 and block framing of a zlib stream


def token_entropy_bits(token: str) -> float:
    """Upper bound on a token's entropy: its length times the bits of the smallest alphabet that spells it,
    capped by how far it compresses (repeated patterns like "abcabc…" compress and so score low)."""
    chars = set(token)
    per_char = next((bits for alphabet, bits in _ALPHABETS if chars <= alphabet), math.log2(95))
    compressed = len(zlib.compress(token.encode("utf-8"), 9)) - _ZLIB_OVERHEAD
    return min(len(token.rstrip("=")) * per_char, max(compressed, 0) * 8.0)


def check_token(token: str, name: str) -> None:
    """Refuse a token with less than 32 bytes of entropy (S5); the message names the token, not its value."""
    if not token or token != token.strip():
        raise SecretsError(f"{name} is empty or has surrounding whitespace")
    bits = token_entropy_bits(token)
    if bits < MIN_TOKEN_BITS:
        raise SecretsError(
            f"{name} is too weak (about {bits:.0f} bits, need {MIN_TOKEN_BITS}); "
            "create one with `bot4 secrets generate-token`"
        )


def _env_prefix(account: str) -> str:
    return f"BOT4__{account.upper()}__"


def _check_account(account: str) -> None:
    if not _ACCOUNT_RE.match(account):
        raise SecretsError(f"account name {account!r} is invalid: use 1-64 letters, digits or _")


# -- file format ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretsDocument:
    """The decrypted content of a secrets file: ``accounts[name][field]`` and ``control[field]``."""

    accounts: Mapping[str, Mapping[str, str]]
    control: Mapping[str, str]
    encrypted: bool


def _derive_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    kdf = Argon2id(
        salt=salt, length=32, iterations=params.iterations, lanes=params.lanes, memory_cost=params.memory_cost
    )
    return base64.urlsafe_b64encode(kdf.derive(passphrase.encode("utf-8")))


def read_secrets_file(path: Path, passphrase: str | None, *, check_permissions: bool = True) -> SecretsDocument:
    """Read, permission-check and decrypt ``path``; raises ``SecretsError`` naming the file and the problem."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SecretsError(f"cannot open secrets file {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)  # check the file actually read, not whatever the path points to later
        if check_permissions:
            if st.st_mode & 0o077:
                raise SecretsError(
                    f"secrets file {path} has mode {st.st_mode & 0o777:04o}, readable or writable by group/others; "
                    f"run `chmod 600 {path}`"
                )
            if st.st_uid != os.geteuid():
                raise SecretsError(
                    f"secrets file {path} is owned by uid {st.st_uid}, not by the current user (uid {os.geteuid()})"
                )
        with os.fdopen(os.dup(fd), "rb") as fh:
            raw = fh.read()
    finally:
        os.close(fd)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # the decoder's message quotes no values beyond a position; keep only its first line
        raise SecretsError(f"secrets file {path} is not valid TOML: {str(exc).splitlines()[0]}") from None
    return _decode_document(data, str(path), passphrase)


def _decode_document(data: dict[str, Any], source: str, passphrase: str | None) -> SecretsDocument:
    unknown = set(data) - {HEADER, "accounts", "control"}
    if unknown:
        raise SecretsError(f"{source}: unknown section(s) {sorted(unknown)}; expected [accounts.<name>], [control]")
    fernet = _fernet_for(data.get(HEADER), source, passphrase)
    accounts: dict[str, dict[str, str]] = {}
    raw_accounts = data.get("accounts", {})
    if not isinstance(raw_accounts, dict):
        raise SecretsError(f"{source}: [accounts] must be a table of [accounts.<name>] tables")
    for name, table in raw_accounts.items():
        _check_account(name)
        accounts[name] = _decode_table(table, f"{source}: [accounts.{name}]", _FIELDS, fernet)
        for required in ("api_key", "secret"):
            if required not in accounts[name]:
                raise SecretsError(f"{source}: [accounts.{name}] is missing {required}")
    control = _decode_table(data.get("control", {}), f"{source}: [control]", _TOKEN_FIELDS, fernet)
    return SecretsDocument(accounts, control, fernet is not None)


def _fernet_for(header: object, source: str, passphrase: str | None) -> Fernet | None:
    if header is None:
        return None
    if not isinstance(header, dict):
        raise SecretsError(f"{source}: [{HEADER}] must be a table")
    try:
        if header.get("version") != FORMAT_VERSION or header.get("kdf") != "argon2id":
            raise SecretsError(f"{source}: unsupported format (need version={FORMAT_VERSION}, kdf=argon2id)")
        salt = base64.b64decode(str(header["salt"]), validate=True)
        params = KdfParams(int(header["iterations"]), int(header["lanes"]), int(header["memory_cost"]))
        verifier = str(header["verifier"])
    except (KeyError, ValueError, TypeError) as exc:
        raise SecretsError(f"{source}: damaged [{HEADER}] header ({exc.__class__.__name__}: {exc})") from None
    params.check(source)
    if len(salt) < 16:
        raise SecretsError(f"{source}: salt is shorter than 16 bytes")
    if not passphrase:
        raise PassphraseRequired(f"{source} is encrypted: set {PASSPHRASE_ENV} to the operator passphrase")
    fernet = Fernet(_derive_key(passphrase, salt, params))
    if not verifier.startswith(ENC_PREFIX):
        raise SecretsError(f"{source}: damaged [{HEADER}] verifier")
    try:
        ok = fernet.decrypt(verifier[len(ENC_PREFIX) :]) == _VERIFIER
    except InvalidToken:
        ok = False
    if not ok:
        raise SecretsError(f"{source}: wrong passphrase ({PASSPHRASE_ENV}); nothing was loaded")
    return fernet


def _decode_table(table: object, where: str, allowed: tuple[str, ...], fernet: Fernet | None) -> dict[str, str]:
    if not isinstance(table, dict):
        raise SecretsError(f"{where} must be a table")
    out: dict[str, str] = {}
    for key, value in table.items():
        if key not in allowed:
            raise SecretsError(f"{where}: unknown key {key!r}; allowed: {', '.join(allowed)}")
        if not isinstance(value, str) or not value:
            raise SecretsError(f"{where}: {key} must be a non-empty string")
        if fernet is None:
            if value.startswith(ENC_PREFIX):
                raise SecretsError(f"{where}: {key} is encrypted but the file has no [{HEADER}] header")
            out[key] = value
            continue
        if not value.startswith(ENC_PREFIX):
            raise SecretsError(f"{where}: {key} is plaintext in an encrypted file; re-run `bot4 secrets set`")
        try:
            out[key] = fernet.decrypt(value[len(ENC_PREFIX) :]).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise SecretsError(f"{where}: {key} is damaged (it does not decrypt with this file's key)") from None
    return out


def _toml_str(value: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_encrypted(doc: SecretsDocument, passphrase: str, params: KdfParams | None = None) -> str:
    """The TOML text of ``doc`` with every value encrypted under a fresh salt."""
    if len(passphrase) < MIN_WRITE_PASSPHRASE:
        raise SecretsError(f"the passphrase must have at least {MIN_WRITE_PASSPHRASE} characters")
    params = params or KdfParams()
    params.check("KDF parameters")
    salt = os.urandom(16)
    fernet = Fernet(_derive_key(passphrase, salt, params))

    def enc(value: str) -> str:
        return _toml_str(ENC_PREFIX + fernet.encrypt(value.encode("utf-8")).decode("ascii"))

    lines = [
        "# bot4 secrets file: encrypted at rest; keep it mode 0600. Edit with `bot4 secrets set`.",
        f"[{HEADER}]",
        f"version = {FORMAT_VERSION}",
        'kdf = "argon2id"',
        f'salt = "{base64.b64encode(salt).decode("ascii")}"',
        f"iterations = {params.iterations}",
        f"lanes = {params.lanes}",
        f"memory_cost = {params.memory_cost}",
        f"verifier = {enc(_VERIFIER.decode('ascii'))}",
    ]
    for name in sorted(doc.accounts):
        _check_account(name)
        lines += ["", f"[accounts.{name}]"]
        lines += [f"{k} = {enc(v)}" for k, v in sorted(doc.accounts[name].items())]
    if doc.control:
        lines += ["", "[control]"]
        lines += [f"{k} = {enc(v)}" for k, v in sorted(doc.control.items())]
    return "\n".join(lines) + "\n"


def write_secrets_file(path: Path, doc: SecretsDocument, passphrase: str, params: KdfParams | None = None) -> None:
    """Encrypt ``doc`` into ``path`` atomically with mode 0600: readers see the old or the new file."""
    text = render_encrypted(doc, passphrase, params)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# -- loading ---------------------------------------------------------------------------------------------


def _credentials_from(account: str, env: Mapping[str, str], doc: SecretsDocument | None, source: str) -> Credentials:
    _check_account(account)
    prefix = _env_prefix(account)
    key, secret = env.get(prefix + "API_KEY"), env.get(prefix + "SECRET")
    if key or secret:
        if not (key and secret):
            missing = prefix + ("SECRET" if key else "API_KEY")
            raise SecretsError(f"account {account!r}: {missing} is not set (both API_KEY and SECRET are needed)")
        return Credentials(key, secret, env.get(prefix + "PASSPHRASE") or None)
    table = doc.accounts.get(account) if doc is not None else None
    if table is None:
        raise SecretsError(
            f"no credentials for account {account!r}: set {prefix}API_KEY and {prefix}SECRET, "
            f"or add [accounts.{account}] to {source}"
        )
    return Credentials(table["api_key"], table["secret"], table.get("passphrase"))


def _tokens_from(env: Mapping[str, str], doc: SecretsDocument | None) -> ControlTokens:
    control = env.get(CONTROL_TOKEN_ENV) or (doc.control.get("control_token") if doc else None)
    read = env.get(READ_TOKEN_ENV) or (doc.control.get("read_token") if doc else None)
    if control is not None:
        check_token(control, "control token")
    if read is not None:
        check_token(read, "read token")
    if control is not None and control == read:
        raise SecretsError("the control token and the read token are the same; the roles must differ")
    return ControlTokens(control, read)


def _register(redactor: Redactor, creds: Credentials | ControlTokens | None, *extra: str | None) -> None:
    values: list[str | None] = list(extra)
    if isinstance(creds, Credentials):
        values += [creds.api_key, creds.secret, creds.passphrase]
    elif isinstance(creds, ControlTokens):
        values += [creds.control, creds.read]
    for value in values:
        if value and len(value) >= 4:
            redactor.add_secret(value)


def load_credentials(
    account: str,
    *,
    env: Mapping[str, str],
    secrets_file: Path | None,
    passphrase: str | None = None,
    redactor: Redactor | None = None,
) -> Credentials:
    """Credentials for ``account``: env vars first, else the secrets file (decrypted with ``passphrase``).

    ``passphrase`` defaults to ``env[BOT4_SECRETS_PASSPHRASE]``. The values are registered with
    ``redactor`` (default: the process-wide one) before they are returned.
    """
    red = redactor or default_redactor()
    _check_account(account)
    prefix = _env_prefix(account)
    doc = None
    if not (env.get(prefix + "API_KEY") or env.get(prefix + "SECRET")) and secrets_file is not None:
        doc = read_secrets_file(secrets_file, passphrase or env.get(PASSPHRASE_ENV))
    creds = _credentials_from(account, env, doc, str(secrets_file) if secrets_file else "a secrets file")
    _register(red, creds)
    return creds


def load_control_tokens(
    *, env: Mapping[str, str], secrets_file: Path | None, passphrase: str | None = None
) -> ControlTokens:
    """Control/read tokens from ``BOT4_CONTROL_TOKEN``/``BOT4_READ_TOKEN`` or the file's ``[control]`` table."""
    doc = None
    if not (env.get(CONTROL_TOKEN_ENV) and env.get(READ_TOKEN_ENV)) and secrets_file is not None:
        doc = read_secrets_file(secrets_file, passphrase or env.get(PASSPHRASE_ENV))
    tokens = _tokens_from(env, doc)
    _register(default_redactor(), tokens)
    return tokens


class _Hidden:
    """Holds the operator passphrase for reloads without ever printing it."""

    __slots__ = ("value",)

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"


class SecretStore:
    """Live secrets that can be re-read without a restart (S16: rotate a key, then ``reload()``).

    ``reload`` reads and decrypts everything first and swaps it in only if every account already handed
    out still resolves; otherwise it raises ``SecretsError`` and the old secrets stay in force. Old values
    stay registered with the redactor, so a compromised key never reappears in a log.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        secrets_file: Path | None,
        passphrase: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self._env_source = env
        self._file = secrets_file
        self._passphrase = _Hidden(passphrase or env.get(PASSPHRASE_ENV))
        self._redactor = redactor or default_redactor()
        self._lock = threading.Lock()
        self._accounts_used: set[str] = set()
        self._env: dict[str, str] = {}
        self._doc: SecretsDocument | None = None
        self.generation = 0
        _register(self._redactor, None, self._passphrase.value)
        self._env, self._doc = self._read()
        self._register_all(self._env, self._doc)

    def _read(self) -> tuple[dict[str, str], SecretsDocument | None]:
        env = {k: v for k, v in self._env_source.items() if k.startswith("BOT4")}
        doc = read_secrets_file(self._file, self._passphrase.value) if self._file is not None else None
        return env, doc

    def _register_all(self, env: Mapping[str, str], doc: SecretsDocument | None) -> None:
        for name, value in env.items():
            if name.endswith(("__API_KEY", "__SECRET", "__PASSPHRASE", "_TOKEN")) and len(value) >= 4:
                self._redactor.add_secret(value)
        if doc is not None:
            for table in (*doc.accounts.values(), doc.control):
                for value in table.values():
                    if len(value) >= 4:
                        self._redactor.add_secret(value)

    def credentials(self, account: str) -> Credentials:
        """The current credentials for ``account``."""
        with self._lock:
            env, doc = self._env, self._doc
        creds = _credentials_from(account, env, doc, str(self._file) if self._file else "a secrets file")
        with self._lock:
            self._accounts_used.add(account)
        return creds

    def control_tokens(self) -> ControlTokens:
        """The current control/read tokens (validated: ≥ 32 bytes of entropy, different from each other)."""
        with self._lock:
            env, doc = self._env, self._doc
        return _tokens_from(env, doc)

    def reload(self) -> set[str]:
        """Re-read env and file; return the accounts whose credentials changed. Keeps the old state on error."""
        env, doc = self._read()
        with self._lock:
            used = set(self._accounts_used)
            old_env, old_doc = self._env, self._doc
        changed = set()
        for account in sorted(used):
            new = _credentials_from(account, env, doc, str(self._file) if self._file else "a secrets file")
            if new != _credentials_from(account, old_env, old_doc, ""):
                changed.add(account)
        _tokens_from(env, doc)  # validate before the swap
        self._register_all(env, doc)
        with self._lock:
            self._env, self._doc = env, doc
            self.generation += 1
        return changed
