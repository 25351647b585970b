"""The ``bot4`` command: a thin shell that reads options, builds a config and calls the kernel.

Every user mistake (unknown strategy, bad parameter, unreadable file, bad data) ends in one clear line
on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from bot4.cli.progress import ProgressBar
from bot4.data.errors import DataError
from bot4.engine.config import (
    BacktestConfig,
    ConfigError,
    describe_validation_error,
    load_config_file,
)
from bot4.model.errors import DomainError
from bot4.strategies.registry import BUILTINS, UnknownStrategy, describe

app = typer.Typer(
    name="bot4",
    help="bot4: autonomous crypto trading. Backtest, paper and live on one engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_USAGE = 2


def _register_subcommands() -> None:
    from bot4.cli.data_commands import data_app
    from bot4.cli.exchange_commands import exchange_app
    from bot4.cli.risk_commands import audit_app, control_app
    from bot4.cli.run_commands import RUN_HELP, run_command
    from bot4.cli.secrets_commands import secrets_app

    app.add_typer(control_app, name="control", help="Set the trading mode: pause, reduce, emergency, resume, status.")
    app.add_typer(audit_app, name="audit", help="Check the hash-chained audit trail.")
    app.add_typer(exchange_app, name="exchange", help="Run the local simulated exchange (Binance-spot API, 127.0.0.1).")
    app.add_typer(data_app, name="data", help="Download historical candles into the local store (resumable).")
    app.add_typer(secrets_app, name="secrets", help="Manage the encrypted secrets file (API keys, control tokens).")
    app.command("run", help=RUN_HELP)(run_command)


_register_subcommands()


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


def _parse_params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"bad --param {item!r}: expected NAME=VALUE, e.g. --param fast=10")
        if key.strip() in params:
            raise CliError(f"--param {key.strip()} given twice")
        params[key.strip()] = value.strip()
    return params


def _build_config(
    config_file: Path | None,
    strategy: str,
    data: Path | None,
    symbol: str | None,
    timeframe: str | None,
    params: list[str],
    cash: str | None,
    fee_rate: str | None,
    slippage_bps: str | None,
    tick_size: str | None,
    step_size: str | None,
    risk: str | None = None,
) -> BacktestConfig:
    risk_section = None if risk is None else {"limits": _read_limits(risk)}
    if config_file is not None:
        loose: list[object] = [data, symbol, timeframe, tick_size, step_size]
        if params or any(v is not None for v in loose):
            raise CliError(
                "--config replaces --data/--symbol/--timeframe/--param/--tick-size/--step-size; use one or the other"
            )
        cfg = load_config_file(config_file)
        overrides: dict[str, Any] = {}
        if cash is not None:
            overrides["cash"] = cash
        if fee_rate is not None:
            overrides["fee_rate"] = fee_rate
        if slippage_bps is not None:
            overrides["slippage_bps"] = slippage_bps
        if risk_section is not None:
            overrides["risk"] = risk_section
        return BacktestConfig.model_validate({**cfg.model_dump(), **overrides}) if overrides else cfg
    if data is not None and not data.exists():
        raise CliError(f"data file not found: {data}")
    feed: dict[str, Any] = {"path": str(data) if data else None, "symbol": symbol, "timeframe": timeframe}
    if tick_size is not None:
        feed["tick_size"] = tick_size
    if step_size is not None:
        feed["step_size"] = step_size
    raw: dict[str, Any] = {
        "data": [feed],
        "strategies": [{"name": strategy, "params": _parse_params(params)}],
    }
    for key, value in (("cash", cash), ("fee_rate", fee_rate), ("slippage_bps", slippage_bps)):
        if value is not None:
            raw[key] = value
    if risk_section is not None:
        raw["risk"] = risk_section
    return BacktestConfig.model_validate(raw)


def _read_limits(spec: str) -> dict[str, Any]:
    """``default`` or a TOML/JSON file of risk limits (``bot4.risk.limits.RiskLimits`` fields)."""
    if spec == "default":
        return {}
    import tomllib

    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise CliError(f"cannot read risk limits {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CliError(
            f"risk limits {path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise CliError(f"risk limits {path}: expected a table of limits")
    return raw


@app.command()
def backtest(
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="built-in strategy name")] = "ema_cross",
    data: Annotated[
        Path | None, typer.Option(help="OHLCV file (CSV/Parquet/JSON); default: bundled BTC/USDT 5m")
    ] = None,
    symbol: Annotated[str | None, typer.Option(help="BASE/QUOTE when the file name does not tell")] = None,
    timeframe: Annotated[str | None, typer.Option(help="bar timeframe, e.g. 5m, when it cannot be inferred")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="strategy parameter NAME=VALUE")] = None,
    cash: Annotated[str | None, typer.Option(help="starting cash in the quote currency [default: 10000]")] = None,
    fee_rate: Annotated[str | None, typer.Option(help="fee as a fraction of notional [default: 0.001]")] = None,
    slippage_bps: Annotated[str | None, typer.Option(help="market-order slippage in basis points [default: 0]")] = None,
    tick_size: Annotated[str | None, typer.Option(help="price increment [default: 0.00000001]")] = None,
    step_size: Annotated[str | None, typer.Option(help="quantity increment [default: 0.00000001]")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML/JSON run config (several strategies/instruments)")
    ] = None,
    risk: Annotated[
        str | None, typer.Option(help="risk engine on every order: 'default' limits or a TOML/JSON limits file")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="write a self-contained HTML report here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print summary, metrics and all trades as JSON")] = False,
    db: Annotated[str, typer.Option(help="SQLAlchemy URL where results are stored")] = "sqlite:///bot4.sqlite",
    store: Annotated[bool, typer.Option("--store/--no-store", help="store the results in --db")] = True,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="progress bar [default: on a terminal]")
    ] = None,
) -> None:
    """Backtest a strategy on OHLCV data and print a summary."""
    from bot4.cli.backtest_output import print_summary, result_json
    from bot4.engine.kernel import build_backtest
    from bot4.research.metrics import compute_metrics

    try:
        cfg = _build_config(
            config,
            strategy,
            data,
            symbol,
            timeframe,
            param or [],
            cash,
            fee_rate,
            slippage_bps,
            tick_size,
            step_size,
            risk,
        )
        show_progress = sys.stderr.isatty() if progress is None else progress
        with ProgressBar(show_progress and not as_json, "backtest") as bar:
            runner = build_backtest(cfg, progress=bar.update)
            result = runner.run()
    except ValidationError as exc:
        raise CliError(describe_validation_error(exc, "backtest")) from None
    metrics = compute_metrics(result)
    run_id = None
    if store:
        run_id = _store(db, result, metrics)
    if report is not None:
        from bot4.research.report import write_report

        try:
            write_report(result, metrics, report)
        except OSError as exc:
            raise CliError(f"cannot write report {report}: {exc.strerror or exc}") from None
    if as_json:
        typer.echo(json.dumps(result_json(result, metrics, run_id), indent=2))
    else:
        print_summary(result, metrics, report, run_id)


def _store(url: str, result: Any, metrics: Any) -> int | str:
    from sqlalchemy.exc import SQLAlchemyError

    from bot4.engine.clock import LiveClock
    from bot4.persistence.results_store import ResultsStore

    try:
        run_id: int | str = ResultsStore(url).save(result, metrics, LiveClock().now_ns())
        return run_id
    except (SQLAlchemyError, OSError, ValueError) as exc:  # OSError covers ConnectionError
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise CliError(f"cannot store results in {url}: {exc.__class__.__name__}: {first}") from None


@app.command()
def strategies(as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False) -> None:
    """List the built-in strategies and their parameters."""
    listing: list[dict[str, Any]] = [
        {"name": name, "description": cls.description, "parameters": describe(cls)}
        for name, cls in sorted(BUILTINS.items())
    ]
    if as_json:
        typer.echo(json.dumps(listing, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="bot4 built-in strategies")
    for col in ("strategy", "parameter", "type", "default", "description"):
        table.add_column(col)
    for entry in listing:
        table.add_row(f"[bold]{entry['name']}[/bold]", "", "", "", str(entry["description"]))
        for p in entry["parameters"]:
            table.add_row("", p["name"], p["type"], str(p["default"]), p["description"])
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn user errors into one line and exit code 2."""
    try:
        # standalone_mode=False hands back a subcommand's ``raise typer.Exit(code)`` as the return value
        code = app(args=argv, standalone_mode=False)
    except (CliError, ConfigError, DataError, DomainError, UnknownStrategy) as exc:
        typer.echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    except ValidationError as exc:
        typer.echo(f"error: {describe_validation_error(exc, 'input')}", err=True)
        return EXIT_USAGE
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except FileNotFoundError as exc:
        typer.echo(f"error: file not found: {exc.filename}", err=True)
        return EXIT_USAGE
    except Exception as exc:
        # Usage errors (unknown option, missing value) come from typer's bundled click.
        fmt = getattr(exc, "format_message", None)
        if fmt is not None and type(exc).__module__.startswith(("typer", "click")):
            typer.echo(f"error: {fmt()}", err=True)
            return EXIT_USAGE
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
