"""``bot4 exchange serve``: the local Binance-spot-compatible exchange, for tests and dry runs.

It binds to 127.0.0.1 only and prints one JSON line ``{"event": "listening", "port": N, ...}`` once
it accepts connections, so callers can ask for ``--port 0`` and read the port back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot4.venues.sim.server.accounts import Account, AccountsError, check_unique, load_accounts, parse_balances
from bot4.venues.sim.server.faults import FaultPlan, FaultPlanError, read_plan_file
from bot4.venues.sim.server.latency import LatencyError, LatencyModel
from bot4.venues.sim.server.ratelimit import WeightLimiter
from bot4.venues.sim.server.replay import ReplayError
from bot4.venues.sim.server.server import LOOPBACK, ExchangeServer, ServerConfig

exchange_app = typer.Typer(help="Run the local simulated exchange.", no_args_is_help=True)


@exchange_app.callback()
def _group() -> None:
    """Keep ``serve`` a subcommand even while it is the only one."""


def _limiter(raw: Any, where: str) -> WeightLimiter:
    if raw is None:
        return WeightLimiter()
    if not isinstance(raw, dict):
        raise FaultPlanError(f"{where}: rate_limit must be a table")
    allowed = {"capacity", "window_s", "ban_after", "ban_s"}
    unknown = set(raw) - allowed
    if unknown:
        raise FaultPlanError(f"{where}: rate_limit has unknown field(s) {sorted(unknown)}; use {sorted(allowed)}")
    try:
        return WeightLimiter(
            capacity=int(raw.get("capacity", 6000)),
            window_s=float(raw.get("window_s", 60.0)),
            ban_after=int(raw.get("ban_after", 3)),
            ban_s=int(raw.get("ban_s", 120)),
        )
    except (TypeError, ValueError) as exc:
        raise FaultPlanError(f"{where}: rate_limit: {exc}") from None


def build_config(
    *,
    host: str,
    port: int,
    data: list[Path],
    fault_plan: Path | None,
    accounts_file: Path | None,
    api_key: str | None,
    api_secret: str | None,
    balances: list[str],
    speed: float,
    seed: int,
    debug: bool,
) -> ServerConfig:
    """Turn the CLI options into a ``ServerConfig``, naming the first bad option or file field."""
    if host not in LOOPBACK:
        raise typer.BadParameter(f"the local exchange binds to 127.0.0.1 only (got {host!r})", param_hint="--host")
    if speed < 0:
        raise typer.BadParameter(f"must be >= 0 (got {speed})", param_hint="--speed")
    accounts: list[Account] = load_accounts(accounts_file) if accounts_file else []
    if api_key or api_secret:
        if not (api_key and api_secret):
            raise typer.BadParameter("give both --api-key and --api-secret", param_hint="--api-key")
        accounts.append(Account("default", api_key, api_secret, parse_balances(balances, "--balance")))
    if not accounts:
        raise typer.BadParameter("give --accounts FILE or --api-key/--api-secret", param_hint="--accounts")
    check_unique(accounts, "accounts")
    plan, latency, limiter = FaultPlan(), LatencyModel.zero(), WeightLimiter()
    if fault_plan is not None:
        raw = read_plan_file(fault_plan)
        where = f"fault plan {fault_plan}"
        plan = FaultPlan.from_dict(raw, where)
        latency = LatencyModel.from_dict(raw.get("latency", {}), seed)
        limiter = _limiter(raw.get("rate_limit"), where)
    return ServerConfig(
        accounts=accounts,
        data=data,
        faults=plan,
        latency=latency,
        limiter=limiter,
        speed=speed or None,
        debug=debug,
        host=host,
        port=port,
    )


async def _serve(config: ServerConfig) -> None:
    server = ExchangeServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    port = await server.start()
    line = {"event": "listening", "host": "127.0.0.1", "port": port, "url": server.url, "ws": server.ws_url}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await server.close()


@exchange_app.command()
def serve(
    port: Annotated[int, typer.Option("--port", help="TCP port; 0 picks a free one (printed on start)")] = 0,
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="market data to replay: *quotes*.parquet / *trades*.parquet")
    ] = None,
    fault_plan: Annotated[Path | None, typer.Option("--fault-plan", help="JSON/TOML fault plan")] = None,
    accounts: Annotated[Path | None, typer.Option("--accounts", help="JSON/TOML accounts file")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="a single test account's API key")] = None,
    api_secret: Annotated[str | None, typer.Option("--api-secret", help="its secret")] = None,
    balance: Annotated[list[str] | None, typer.Option("--balance", help="its balance, ASSET=AMOUNT (repeat)")] = None,
    speed: Annotated[float, typer.Option("--speed", help="replay speed (1 = recorded pace; 0 = manual)")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="seed for latency draws")] = 0,
    debug_endpoints: Annotated[
        bool, typer.Option("--debug-endpoints", help="serve /_sim/ledger and /_sim/advance (tests only)")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="bind address; only 127.0.0.1 is accepted")] = "127.0.0.1",
) -> None:
    """Serve the Binance-spot-compatible REST API and WebSocket streams on 127.0.0.1."""
    try:
        config = build_config(
            host=host,
            port=port,
            data=data or [],
            fault_plan=fault_plan,
            accounts_file=accounts,
            api_key=api_key,
            api_secret=api_secret,
            balances=balance or [],
            speed=speed,
            seed=seed,
            debug=debug_endpoints,
        )
        asyncio.run(_serve(config))
    except typer.BadParameter as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        raise typer.Exit(2) from None
    except (AccountsError, FaultPlanError, LatencyError, ReplayError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


if __name__ == "__main__":
    exchange_app()
