"""Credentials and tokens: env first, 0600 file, encrypted at rest, hot reload (S1, S2, S5, S16)."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from bot4.cli.main import main
from bot4.live.secrets import (
    ControlTokens,
    Credentials,
    KdfParams,
    SecretsDocument,
    SecretsError,
    SecretStore,
    check_token,
    generate_token,
    load_control_tokens,
    load_credentials,
    read_secrets_file,
    write_secrets_file,
)
from bot4.monitor.logs import Redactor, default_redactor

CHEAP = KdfParams(iterations=1, lanes=1, memory_cost=1024)  # tests only: the format stores its own cost
PASS = "correct horse battery staple"


def sentinel() -> str:
    return f"SENTINEL-SECRET-{uuid.uuid4()}"


def plain_file(path: Path, body: str, mode: int = 0o600) -> Path:
    path.write_text(body, encoding="utf-8")
    os.chmod(path, mode)
    return path


def encrypted_file(path: Path, accounts: dict[str, dict[str, str]], control: dict[str, str] | None = None) -> Path:
    write_secrets_file(path, SecretsDocument(accounts, control or {}, True), PASS, CHEAP)
    return path


# -- Credentials --------------------------------------------------------------------------------------------


def test_repr_and_str_when_printed_then_only_first_four_key_chars_and_no_secret() -> None:
    secret = sentinel()
    creds = Credentials("ABCDEFGHIJKL", secret, "pass-phrase-xyz")

    shown = [repr(creds), str(creds), f"{creds}", repr([creds]), repr({"c": creds})]

    for text in shown:
        assert "ABCD…" in text
        assert "EFGH" not in text
        assert secret not in text
        assert "pass-phrase-xyz" not in text


# -- S1: sources and file permissions -------------------------------------------------------------------------


def test_load_when_env_and_file_both_have_the_account_then_env_wins(tmp_path: Path) -> None:
    file = plain_file(tmp_path / "s.toml", '[accounts.main]\napi_key = "file-key-123456"\nsecret = "file-secret-1"\n')
    env = {"BOT4__MAIN__API_KEY": "env-key-1234567", "BOT4__MAIN__SECRET": "env-secret-123"}

    creds = load_credentials("main", env=env, secrets_file=file, passphrase=None, redactor=Redactor())

    assert (creds.api_key, creds.secret, creds.passphrase) == ("env-key-1234567", "env-secret-123", None)


def test_load_when_only_file_then_file_values(tmp_path: Path) -> None:
    body = '[accounts.main]\napi_key = "file-key-123456"\nsecret = "file-secret-1"\npassphrase = "okx-pass"\n'
    file = plain_file(tmp_path / "s.toml", body)

    creds = load_credentials("main", env={}, secrets_file=file, passphrase=None, redactor=Redactor())

    assert (creds.api_key, creds.secret, creds.passphrase) == ("file-key-123456", "file-secret-1", "okx-pass")


def test_load_when_env_has_only_the_key_then_error_names_the_missing_variable() -> None:
    with pytest.raises(SecretsError, match="BOT4__MAIN__SECRET is not set"):
        load_credentials("main", env={"BOT4__MAIN__API_KEY": "k" * 20}, secrets_file=None, redactor=Redactor())


def test_load_when_account_nowhere_then_error_says_where_to_put_it(tmp_path: Path) -> None:
    file = plain_file(tmp_path / "s.toml", '[accounts.other]\napi_key = "abcdefgh1"\nsecret = "s3cr3t-x"\n')

    with pytest.raises(SecretsError) as err:
        load_credentials("main", env={}, secrets_file=file, redactor=Redactor())

    assert (
        "BOT4__MAIN__API_KEY" in str(err.value) and "[accounts.main]" in str(err.value) and str(file) in str(err.value)
    )
    assert "s3cr3t-x" not in str(err.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_s1_load_when_file_group_or_world_accessible_then_refused_with_chmod_fix(tmp_path: Path, mode: int) -> None:
    secret = sentinel()
    file = plain_file(tmp_path / "s.toml", f'[accounts.main]\napi_key = "abcdefgh1"\nsecret = "{secret}"\n', mode)

    with pytest.raises(SecretsError) as err:
        load_credentials("main", env={}, secrets_file=file, redactor=Redactor())

    msg = str(err.value)
    assert str(file) in msg and f"{mode:04o}" in msg and f"chmod 600 {file}" in msg
    assert secret not in msg


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_s1_load_when_file_owned_by_someone_else_then_refused(tmp_path: Path) -> None:
    file = plain_file(tmp_path / "s.toml", '[accounts.main]\napi_key = "abcdefgh1"\nsecret = "s3cr3t-x"\n')
    os.chown(file, 54321, 54321)

    with pytest.raises(SecretsError, match="owned by uid 54321"):
        load_credentials("main", env={}, secrets_file=file, redactor=Redactor())


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[accounts.main]\napi_key = "abcdefgh1"\n', "missing secret"),
        ('[accounts.main]\napi_key = "abcdefgh1"\nsecret = "x-123456"\nsecert = "y"\n', "unknown key 'secert'"),
        ('[acounts.main]\napi_key = "a"\n', "unknown section"),
        ('[accounts.main]\napi_key = "abcdefgh1"\nsecret = 5\n', "secret must be a non-empty string"),
        ('[accounts.main]\napi_key = "abc"\nsecret = "enc:gAAAA"\n', "encrypted but the file has no"),
        ("[accounts.main\n", "not valid TOML"),
    ],
)
def test_load_when_file_malformed_then_error_names_file_and_field(tmp_path: Path, body: str, needle: str) -> None:
    file = plain_file(tmp_path / "s.toml", body)

    with pytest.raises(SecretsError, match=r"s\.toml") as err:
        read_secrets_file(file, None)

    assert needle in str(err.value)


# -- S2: encrypted at rest ------------------------------------------------------------------------------------


def test_s2_write_when_encrypted_then_0600_no_plaintext_on_disk_and_round_trips(tmp_path: Path) -> None:
    secret = sentinel()
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": secret}})

    raw = file.read_bytes()
    creds = load_credentials("main", env={}, secrets_file=file, passphrase=PASS, redactor=Redactor())

    assert file.stat().st_mode & 0o777 == 0o600
    assert secret.encode() not in raw and b"KEY-abcdefgh" not in raw
    assert b"argon2id" in raw
    assert creds.secret == secret and creds.api_key == "KEY-abcdefgh"
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]  # no temp file left behind


def test_s2_load_when_passphrase_only_in_env_then_used(tmp_path: Path) -> None:
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": "SEC-abcdefgh"}})

    creds = load_credentials("main", env={"BOT4_SECRETS_PASSPHRASE": PASS}, secrets_file=file, redactor=Redactor())

    assert creds.secret == "SEC-abcdefgh"


def test_s2_load_when_wrong_passphrase_then_clear_error_and_no_secret_in_message(tmp_path: Path) -> None:
    secret = sentinel()
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": secret}})

    with pytest.raises(SecretsError, match="wrong passphrase") as err:
        load_credentials("main", env={}, secrets_file=file, passphrase="not the passphrase", redactor=Redactor())

    assert str(file) in str(err.value) and secret not in str(err.value)


def test_s2_load_when_encrypted_and_no_passphrase_then_error_names_env_var(tmp_path: Path) -> None:
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": "SEC-abcdefgh"}})

    with pytest.raises(SecretsError, match="BOT4_SECRETS_PASSPHRASE"):
        load_credentials("main", env={}, secrets_file=file, redactor=Redactor())


def test_s2_load_when_one_value_tampered_then_damaged_value_named(tmp_path: Path) -> None:
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": "SEC-abcdefgh"}})
    lines = file.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("secret = "))
    lines[i] = lines[i][:-6] + ("A" if lines[i][-6] != "A" else "B") + lines[i][-5:]
    file.write_text("\n".join(lines) + "\n")

    with pytest.raises(SecretsError, match=r"\[accounts.main\]: secret is damaged"):
        read_secrets_file(file, PASS)


def test_s2_load_when_plaintext_value_in_encrypted_file_then_refused(tmp_path: Path) -> None:
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": "SEC-abcdefgh"}})
    file.write_text(file.read_text() + '\n[accounts.extra]\napi_key = "plain-key-1"\nsecret = "plain-secret"\n')

    with pytest.raises(SecretsError, match="plaintext in an encrypted file"):
        read_secrets_file(file, PASS)


def test_s2_write_when_replacing_a_loose_file_then_result_is_0600(tmp_path: Path) -> None:
    file = plain_file(tmp_path / "s.toml", "# old\n", 0o644)

    encrypted_file(file, {"main": {"api_key": "KEY-abcdefgh", "secret": "SEC-abcdefgh"}})

    assert file.stat().st_mode & 0o777 == 0o600


def test_s4_load_when_loaded_then_values_registered_with_redactor(tmp_path: Path) -> None:
    secret = sentinel()
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": secret}})
    red = Redactor()

    load_credentials("main", env={}, secrets_file=file, passphrase=PASS, redactor=red)

    assert red(f"boom {secret} KEY-abcdefgh") == "boom *** ***"


def test_s4_load_when_no_redactor_given_then_process_wide_redactor_learns_the_secret(tmp_path: Path) -> None:
    secret = sentinel()
    env = {"BOT4__MAIN__API_KEY": "KEY-abcdefgh", "BOT4__MAIN__SECRET": secret}

    load_credentials("main", env=env, secrets_file=None)

    assert secret not in default_redactor()(f"error {secret}")


# -- S16: hot reload --------------------------------------------------------------------------------------------


def test_s16_reload_when_key_rotated_then_new_key_returned_and_old_never(tmp_path: Path) -> None:
    old_secret, new_secret = sentinel(), sentinel()
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "OLD-abcdefgh", "secret": old_secret}})
    store = SecretStore(env={}, secrets_file=file, passphrase=PASS, redactor=Redactor())
    assert store.credentials("main").secret == old_secret
    encrypted_file(file, {"main": {"api_key": "NEW-abcdefgh", "secret": new_secret}})

    changed = store.reload()
    after = store.credentials("main")

    assert changed == {"main"}
    assert (after.api_key, after.secret) == ("NEW-abcdefgh", new_secret)
    assert old_secret not in (after.api_key, after.secret) and "OLD-abcdefgh" not in (after.api_key, after.secret)
    assert store.generation == 1


def test_s16_reload_when_new_file_bad_then_error_and_old_credentials_kept(tmp_path: Path) -> None:
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "OLD-abcdefgh", "secret": "OLD-secret-1"}})
    store = SecretStore(env={}, secrets_file=file, passphrase=PASS, redactor=Redactor())
    store.credentials("main")
    write_secrets_file(
        file,
        SecretsDocument({"main": {"api_key": "N" * 12, "secret": "N" * 12}}, {}, True),
        "another passphrase",
        CHEAP,
    )

    with pytest.raises(SecretsError, match="wrong passphrase"):
        store.reload()

    assert store.credentials("main").api_key == "OLD-abcdefgh"
    assert store.generation == 0


def test_s16_reload_when_account_removed_then_refused_and_old_kept(tmp_path: Path) -> None:
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "OLD-abcdefgh", "secret": "OLD-secret-1"}})
    store = SecretStore(env={}, secrets_file=file, passphrase=PASS, redactor=Redactor())
    store.credentials("main")
    encrypted_file(file, {"other": {"api_key": "OTH-abcdefgh", "secret": "OTH-secret-1"}})

    with pytest.raises(SecretsError, match="no credentials for account 'main'"):
        store.reload()

    assert store.credentials("main").api_key == "OLD-abcdefgh"


def test_s16_reload_when_rotated_then_old_secret_still_redacted(tmp_path: Path) -> None:
    old_secret = sentinel()
    red = Redactor()
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "OLD-abcdefgh", "secret": old_secret}})
    store = SecretStore(env={}, secrets_file=file, passphrase=PASS, redactor=red)
    store.credentials("main")
    encrypted_file(file, {"main": {"api_key": "NEW-abcdefgh", "secret": sentinel()}})

    store.reload()

    assert old_secret not in red(f"leak {old_secret}")


# -- control tokens (S5) -------------------------------------------------------------------------------------


def test_generate_token_when_called_then_43_urlsafe_chars_that_pass_the_check() -> None:
    tokens = {generate_token() for _ in range(20)}

    assert len(tokens) == 20
    for token in tokens:
        assert len(token) == 43
        check_token(token, "control token")


@pytest.mark.parametrize(
    "weak",
    [
        "short-token",
        "a" * 64,
        "ab" * 40,
        "0123456789abcdef" * 3,
        "password" * 5,
        "kR3v9QpXz2LmN8sTb4WcYd7Fh1JgUe6AoKi5Ht0Q",
    ],
)
def test_s5_check_token_when_under_32_bytes_of_entropy_then_refused(weak: str) -> None:
    with pytest.raises(SecretsError, match="control token is too weak") as err:
        check_token(weak, "control token")

    assert weak not in str(err.value)


def test_s5_tokens_when_in_env_then_loaded_and_redacted_by_default(tmp_path: Path) -> None:
    control, read = generate_token(), generate_token()

    tokens = load_control_tokens(env={"BOT4_CONTROL_TOKEN": control, "BOT4_READ_TOKEN": read}, secrets_file=None)

    assert (tokens.control, tokens.read) == (control, read)
    assert control not in repr(tokens) and read not in str(tokens)
    assert control not in default_redactor()(f"Bearer {control}")


def test_s5_tokens_when_in_encrypted_file_then_loaded(tmp_path: Path) -> None:
    control, read = generate_token(), generate_token()
    file = encrypted_file(tmp_path / "s.toml", {}, {"control_token": control, "read_token": read})

    tokens = load_control_tokens(env={}, secrets_file=file, passphrase=PASS)

    assert tokens == ControlTokens(control, read)


def test_s5_tokens_when_control_equals_read_then_refused() -> None:
    token = generate_token()

    with pytest.raises(SecretsError, match="must differ"):
        load_control_tokens(env={"BOT4_CONTROL_TOKEN": token, "BOT4_READ_TOKEN": token}, secrets_file=None)


def test_s5_tokens_when_weak_token_in_env_then_refused() -> None:
    with pytest.raises(SecretsError, match="control token is too weak"):
        load_control_tokens(env={"BOT4_CONTROL_TOKEN": "admin"}, secrets_file=None)


# -- CLI ------------------------------------------------------------------------------------------------------


def _cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_set_when_new_file_then_encrypted_0600_and_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = sentinel()
    file = tmp_path / "secrets.toml"
    monkeypatch.setenv("BOT4_SECRETS_PASSPHRASE", PASS)

    code, out, err = _cli(
        monkeypatch, capsys, f"KEY-abcdefgh\n{secret}\n", "secrets", "set", "main", "--file", str(file)
    )

    assert code == 0, err
    assert file.stat().st_mode & 0o777 == 0o600
    assert secret.encode() not in file.read_bytes()
    assert secret not in out + err
    assert load_credentials("main", env={}, secrets_file=file, passphrase=PASS, redactor=Redactor()).secret == secret


def test_cli_encrypt_when_plaintext_file_then_replaced_by_encrypted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = sentinel()
    file = plain_file(tmp_path / "s.toml", f'[accounts.main]\napi_key = "KEY-abcdefgh"\nsecret = "{secret}"\n')
    monkeypatch.setenv("BOT4_SECRETS_PASSPHRASE", PASS)

    code, _, err = _cli(monkeypatch, capsys, "", "secrets", "encrypt", str(file))
    again, _, err2 = _cli(monkeypatch, capsys, "", "secrets", "encrypt", str(file))

    assert code == 0, err
    assert secret.encode() not in file.read_bytes()
    assert read_secrets_file(file, PASS).accounts["main"]["secret"] == secret
    assert again == 2 and "already encrypted" in err2


def test_cli_check_when_wrong_passphrase_then_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": "SEC-abcdefgh"}})
    monkeypatch.setenv("BOT4_SECRETS_PASSPHRASE", "wrong passphrase here")

    code, _, err = _cli(monkeypatch, capsys, "", "secrets", "check", "--file", str(file))

    assert code == 2
    assert err.startswith("error: ") and "wrong passphrase" in err and len(err.strip().splitlines()) == 1


def test_cli_check_when_ok_then_lists_names_but_no_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = encrypted_file(tmp_path / "s.toml", {"main": {"api_key": "KEY-abcdefgh", "secret": "SEC-abcdefgh"}})
    monkeypatch.setenv("BOT4_SECRETS_PASSPHRASE", PASS)

    code, out, _ = _cli(monkeypatch, capsys, "", "secrets", "check", "--file", str(file))

    assert code == 0
    assert "account main: api_key, secret" in out and "encrypted" in out
    assert "KEY-abcdefgh" not in out and "SEC-abcdefgh" not in out


def test_cli_set_token_when_called_then_token_stored_and_printed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "s.toml"
    monkeypatch.setenv("BOT4_SECRETS_PASSPHRASE", PASS)

    code, out, err = _cli(monkeypatch, capsys, "", "secrets", "set-token", "--file", str(file), "--role", "control")

    assert code == 0, err
    token = out.strip()
    assert load_control_tokens(env={}, secrets_file=file, passphrase=PASS).control == token
