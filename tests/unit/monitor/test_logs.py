"""JSON log lines and the redactor: no secret reaches any sink, whatever path it takes (S4, CWE-532)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot4.monitor.logs import MASK, Redactor, configure_logging

T0 = 1_763_760_000_123_456_789  # 2025-11-21T21:20:00.123456Z


@pytest.fixture()
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def sentinel() -> str:
    return f"SENTINEL-SECRET-{uuid.uuid4()}"


def setup(tmp_path: Path, *, as_json: bool = True) -> tuple[Redactor, io.StringIO, Path]:
    red, stream, file = Redactor(), io.StringIO(), tmp_path / "logs" / "node.log"
    configure_logging(logging.DEBUG, json=as_json, stream=stream, file=file, clock=lambda: T0, redactor=red)
    return red, stream, file


def _fail_with(secret: str) -> None:
    try:
        raise ConnectionError(f"POST /api/v3/order failed: key={secret}")
    except ConnectionError as exc:
        raise RuntimeError(f"order rejected, request was {{'secret': '{secret}'}}") from exc


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("as_json", [True, False])
def test_s4_sentinel_when_logged_every_way_then_absent_from_stream_and_file(tmp_path: Path, as_json: bool) -> None:
    red, stream, file = setup(tmp_path, as_json=as_json)
    secret = sentinel()
    red.add_secret(secret)
    log = logging.getLogger("bot4.live.test")

    log.debug("plain %s", secret)
    log.info("in message " + secret)
    log.warning("extra fields", extra={"detail": secret, "body": {"nested": [secret, 1]}, "order": {"x": secret}})
    try:
        _fail_with(secret)
    except RuntimeError:
        log.exception("exception with traceback and cause")
    log.error("with stack", stack_info=True, extra={"note": f'json "{secret}"'})
    logging.getLogger("ccxt.base.exchange").debug("raw %r", {"url": f"https://x/?signature=ab&k={secret}"})

    for sink in (stream.getvalue(), file.read_text()):
        assert secret not in sink
        assert sink.count(MASK) >= 8
        assert "Traceback" in sink and "ConnectionError" in sink  # the traceback itself is kept
    assert (file.stat().st_mode & 0o777) == 0o600


@pytest.mark.usefixtures("restore_logging")
def test_json_line_when_logged_then_one_object_with_clock_time_level_logger_event_and_fields(tmp_path: Path) -> None:
    _, stream, _ = setup(tmp_path)

    logging.getLogger("bot4.node").info("order %s sent", "abc-1", extra={"symbol": "BTC/USDT", "qty": "0.5"})

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec == {
        "ts": "2025-11-21T21:20:00.123456Z",
        "ts_ns": T0,
        "level": "INFO",
        "logger": "bot4.node",
        "event": "order abc-1 sent",
        "symbol": "BTC/USDT",
        "qty": "0.5",
    }


@pytest.mark.usefixtures("restore_logging")
def test_json_line_when_exception_then_exc_field_is_redacted_traceback(tmp_path: Path) -> None:
    red, stream, _ = setup(tmp_path)
    secret = sentinel()
    red.add_secret(secret)

    try:
        _fail_with(secret)
    except RuntimeError:
        logging.getLogger("bot4").exception("failed")

    rec = json.loads(stream.getvalue().splitlines()[0])
    assert rec["event"] == "failed"
    assert "RuntimeError: order rejected" in rec["exc"] and MASK in rec["exc"]
    assert secret not in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_configure_when_called_twice_then_no_duplicate_lines(tmp_path: Path) -> None:
    setup(tmp_path)
    _, stream, _ = setup(tmp_path)

    logging.getLogger("bot4").warning("once")

    assert len(stream.getvalue().splitlines()) == 1


@pytest.mark.usefixtures("restore_logging")
def test_s4_extra_when_redacted_then_callers_objects_untouched(tmp_path: Path) -> None:
    red, stream, _ = setup(tmp_path)
    secret = sentinel()
    red.add_secret(secret)
    payload = {"apiKey": "visible-to-caller", "note": secret}

    logging.getLogger("bot4").info("request", extra={"payload": payload})

    assert payload == {"apiKey": "visible-to-caller", "note": secret}
    rec = json.loads(stream.getvalue())
    assert rec["payload"] == {"apiKey": MASK, "note": MASK}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /api/v3/order?symbol=BTCUSDT&signature=9f86d0818", "GET /api/v3/order?symbol=BTCUSDT&signature=***"),
        ("X-MBX-APIKEY: vmPUZE6mv9SD5VNHk4HlWFsOr", "X-MBX-APIKEY: ***"),
        (  # ccxt's DEBUG request line: url, header dict, form body
            "POST https://127.0.0.1/api/v3/order?signature=ff00, Request: {'X-MBX-APIKEY': 'k1'} a=1&signature=ee",
            "POST https://127.0.0.1/api/v3/order?signature=***, Request: {'X-MBX-APIKEY': '***'} a=1&signature=***",
        ),
        ("{'X-MBX-APIKEY': 'vmPUZE6mv9SD5VNHk4HlWFsOr'}", "{'X-MBX-APIKEY': '***'}"),
        ("Authorization: Bearer eyJhbGciOi.JIUzI1.NiJ9", "Authorization: Bearer ***"),
        ('{"Authorization": "Basic dXNlcjpwYXNz"}', '{"Authorization": "***"}'),
        ("PUT /api/v3/userDataStream?listenKey=pqia91ma19a5s61", "PUT /api/v3/userDataStream?listenKey=***"),
        ('{"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8"}', '{"listenKey": "***"}'),
        ("postgresql://bot4:hunter2@127.0.0.1:5432/test", "postgresql://bot4:***@127.0.0.1:5432/test"),
        ("postgresql+psycopg2://u:p%40ss:x@db/x", "postgresql+psycopg2://u:***@db/x"),
        ('{"apiKey": "abc", "secret": "s\\"q", "x": "BTC"}', '{"apiKey": "***", "secret": "***", "x": "BTC"}'),
        ("{'apiKey': 'abc', 'password': 'pw'}", "{'apiKey': '***', 'password': '***'}"),
        ("nothing secret here: the secret word alone", "nothing secret here: the secret word alone"),
        ("Credentials(api_key=abcd…)", "Credentials(api_key=abcd…)"),
    ],
)
def test_s4_redact_when_known_secret_shapes_then_values_masked(text: str, expected: str) -> None:
    assert Redactor()(text) == expected


def test_s4_redact_when_secret_registered_then_raw_json_escaped_and_url_encoded_forms_masked() -> None:
    secret = 'SENTINEL-SECRET-a"b/c+d'
    red = Redactor([secret])

    out = red(f"raw {secret} json {json.dumps(secret)} url ?k=SENTINEL-SECRET-a%22b%2Fc%2Bd&")

    assert "SENTINEL" not in out
    assert out.count(MASK) == 3


def test_redactor_when_secret_too_short_then_refused() -> None:
    with pytest.raises(ValueError, match="shorter than 4"):
        Redactor().add_secret("abc")


def test_s4_redact_when_overlapping_secrets_then_longest_masked_whole() -> None:
    red = Redactor(["abcd1234", "abcd1234-and-more"])

    assert red("x abcd1234-and-more y abcd1234") == f"x {MASK} y {MASK}"
