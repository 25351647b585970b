"""Control modes and the small file that remembers them across restarts.

The mode lives in a file, not the database, because the kill path must work when the database is
locked or down. The file is replaced atomically (write a temp file, fsync, rename), so a crash leaves
either the old or the new mode, never half of one. The CLI and the running engine share this file.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class ControlMode(StrEnum):
    """What trading may do, from most to least permissive."""

    NORMAL = "NORMAL"  # every rule applies, orders flow
    PAUSE = "PAUSE"  # no new orders; working orders stay
    REDUCE = "REDUCE"  # only exposure-reducing orders; positions are unwound in stages
    EMERGENCY = "EMERGENCY"  # cancel everything, flatten with reduce-only orders

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @classmethod
    def parse(cls, value: object, field: str = "mode") -> ControlMode:
        try:
            return cls(str(value).strip().upper())
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"{field}: {value!r} is not a control mode; use one of {allowed}") from None


_SEVERITY = {ControlMode.NORMAL: 0, ControlMode.PAUSE: 1, ControlMode.REDUCE: 2, ControlMode.EMERGENCY: 3}

MODE_FILE = "control_mode.json"
SENTINEL_FILE = "EMERGENCY"  # its mere existence in the state dir means: go to EMERGENCY


@dataclass(frozen=True, slots=True)
class ModeRecord:
    """The persisted mode, who set it, why and when (engine-clock ns, or 0 when set offline)."""

    mode: ControlMode
    actor: str
    reason: str
    ts_ns: int
    version: int  # bumped on every write, so the engine sees changes made by the CLI


class ModeStore:
    """Reads and atomically writes ``<state_dir>/control_mode.json``; a missing file means NORMAL."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / MODE_FILE
        self.sentinel = self.state_dir / SENTINEL_FILE
        self._path_str = str(self.path)
        self._sentinel_str = str(self.sentinel)

    def read(self) -> ModeRecord:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ModeRecord(ControlMode.NORMAL, "default", "no mode file", 0, 0)
        try:
            raw = json.loads(text)
            return ModeRecord(
                ControlMode.parse(raw["mode"], f"{self.path}: mode"),
                str(raw.get("actor", "")),
                str(raw.get("reason", "")),
                int(raw.get("ts_ns", 0)),
                int(raw.get("version", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            # A damaged mode file must not silently mean NORMAL: fail safe to PAUSE.
            return ModeRecord(ControlMode.PAUSE, "mode-store", f"unreadable mode file {self.path}: {exc}", 0, -1)

    def write(self, mode: ControlMode, actor: str, reason: str, ts_ns: int) -> ModeRecord:
        record = ModeRecord(mode, actor, reason, ts_ns, max(self.read().version, 0) + 1)
        payload = {"mode": mode.value, "actor": actor, "reason": reason, "ts_ns": ts_ns, "version": record.version}
        atomic_write(self.path, json.dumps(payload, sort_keys=True).encode())
        return record

    def sentinel_present(self) -> bool:
        return os.path.exists(self._sentinel_str)

    def signature(self) -> tuple[int, int, int]:
        """Cheap change detection (inode, mtime, size): the engine re-reads the file only when it moves."""
        try:
            st = os.stat(self._path_str)
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_ino, st.st_mtime_ns, st.st_size)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see the old or the new content, never a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # pid + thread id: the node's loop thread and its trading thread may both persist the mode
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
