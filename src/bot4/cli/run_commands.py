"""``bot4 run``: start the paper or live trading node from a config file.

Exit codes (documented for supervisors such as systemd, which restart on some and not on others):

    0  clean stop (SIGTERM/SIGINT: strategies stopped, working orders cancelled or kept, journal closed)
    1  unexpected error (a bug or an unrecoverable venue error; the log says which)
    2  configuration error (bad or unknown field, unknown symbol, live without both flags, unsafe secrets file)
    3  another instance holds this account's journal lock (nothing was sent)
    4  the API key has permissions live trading refuses (withdrawals, transfers)
    5  the venue could not be reconciled within ``reconcile_deadline_s``

Paper is the default: live needs ``--live`` here *and* ``live_enabled = true`` in the config (S13).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot4.model.errors import ConfigError

EXIT_CONFIG = 2
RUN_HELP = (
    "Run the paper (default) or live trading node until SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 unexpected "
    "error, 2 config error, 3 another instance holds the journal lock, 4 refused API key permissions, "
    "5 venue not reconciled within reconcile_deadline_s."
)


def run_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="node config file (TOML or JSON)")],
    paper: Annotated[bool, typer.Option("--paper", help="paper trading (the default)")] = False,
    live: Annotated[bool, typer.Option("--live", help="live trading; the config must also say live_enabled")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR")] = "INFO",
    log_file: Annotated[Path | None, typer.Option("--log-file", help="also write JSON log lines here")] = None,
) -> None:
    """Run the trading node until SIGTERM/SIGINT (exit codes in ``bot4 run --help`` and the module docs)."""
    raise typer.Exit(main(config, paper=paper, live=live, log_level=log_level, log_file=log_file))


def main(config: Path, *, paper: bool, live: bool, log_level: str, log_file: Path | None) -> int:
    from bot4.live.config import load_node_config
    from bot4.live.node import TradingNode

    if paper and live:
        return _fail("choose one of --paper and --live")
    level = log_level.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        return _fail(f"--log-level: {log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")
    try:
        cfg = load_node_config(config)
        mode = "live" if live else "paper" if paper else cfg.mode
        if cfg.mode == "live" and not live:
            raise ConfigError("mode: the config asks for live trading; start with --live to confirm it")
        node = TradingNode(cfg, mode)
    except ConfigError as exc:
        return _fail(str(exc))
    _configure_logging(level, log_file)
    return asyncio.run(_serve(node))


async def _serve(node: object) -> int:
    from bot4.live.node import TradingNode

    assert isinstance(node, TradingNode)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, node.request_stop, f"signal {sig.name}")
    return await node.run()


def _configure_logging(level: str, log_file: Path | None) -> None:
    from bot4.engine.clock import LiveClock
    from bot4.monitor.logs import configure_logging

    configure_logging(level, json=True, file=log_file, clock=LiveClock().now_ns)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_CONFIG
