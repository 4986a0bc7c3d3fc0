"""`footfall run`: the channels of a store on this machine, one supervised worker process each, a live table.

footfall run --cameras config/demo_store.json [--channels channel_1,channel_3] [--duration 60] [-- --every 2]
"""

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path

from footfall_contract.config import ConfigError, load_store_config
from footfall_contract.config.cameras import StoreConfig
from footfall_worker.log_setup import setup_logging
from footfall_worker.manager.shutdown import ShutdownSignals
from footfall_worker.manager.status_table import StatusPoller, StatusTable
from footfall_worker.manager.supervisor import DEFAULT_PROGRAM, Supervisor, worker_command
from footfall_worker.manager.worker_process import WorkerSpec

log = logging.getLogger("footfall.manager")

_LOOP_S = 0.1
_TERMINAL_REDRAW_S = 1.0


def add_run_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `run` to the `footfall` subcommands."""
    parser = commands.add_parser(
        "run",
        help="run a store's channels locally: one worker process each, supervised, with a live table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cameras", type=Path, required=True, help="store config JSON")
    parser.add_argument("--channels", default="", help="comma-separated channel ids (default: every channel)")
    parser.add_argument("--duration", type=float, default=0, help="seconds to run; 0 = until Ctrl+C or SIGTERM")
    parser.add_argument("--base-port", type=int, default=9100, help="the i-th channel's worker serves on base+i")
    parser.add_argument(
        "--log-dir",
        type=Path,
        help="write each worker's logs to DIR/<channel>.log instead of stderr (on a terminal: keeps the table clear)",
    )
    parser.add_argument(
        "--table-interval", type=float, default=10, help="seconds between table lines when stdout is not a terminal"
    )
    parser.add_argument("--stop-timeout", type=float, default=25, help="seconds workers get after SIGTERM")
    parser.add_argument(
        "--worker-command",
        help=f"the worker program as shell words (default: {shlex.join(DEFAULT_PROGRAM)}); "
        "--cameras, --channel and --http-port are appended",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("worker_args", nargs="*", metavar="-- WORKER_ARGS", help="passed on to every worker")
    parser.set_defaults(handler=run)


def select_channels(store: StoreConfig, wanted: str) -> list[str]:
    """The channel ids to run, in config order; `wanted` is a comma-separated list, empty for all.

    Raises:
        ConfigError: a wanted id is not in the store.
    """
    ids = [channel.id for channel in store.channels]
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    for name in names:
        store.channel(name)  # raises, naming the known channels
    return [channel_id for channel_id in ids if not names or channel_id in names]


def build_specs(args: argparse.Namespace, channel_ids: list[str]) -> list[WorkerSpec]:
    if not 1 <= args.base_port <= 65535 - len(channel_ids) + 1:
        raise ConfigError(f"--base-port {args.base_port}: the ports of {len(channel_ids)} channels must fit in 1-65535")
    if args.log_dir is not None:
        try:
            args.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"--log-dir {args.log_dir}: {error.strerror}") from None
    program = shlex.split(args.worker_command) if args.worker_command else list(DEFAULT_PROGRAM)
    return [
        WorkerSpec(
            channel=channel_id,
            port=args.base_port + index,
            command=worker_command(args.cameras, channel_id, args.base_port + index, args.worker_args, program),
            log_file=args.log_dir / f"{channel_id}.log" if args.log_dir else None,
        )
        for index, channel_id in enumerate(channel_ids)
    ]


def run(args: argparse.Namespace) -> int:
    """Run and supervise the workers until the duration is over or a signal comes; 0 when all exited 0."""
    store = load_store_config(args.cameras)
    specs = build_specs(args, select_channels(store, args.channels))
    setup_logging(args.log_level, store=store.store_id)
    interactive = sys.stdout.isatty()
    ports = f"{specs[0].port}-{specs[-1].port}"
    title = f"footfall run: {store.store_id}, {len(specs)} channel(s), ports {ports}; Ctrl+C stops (twice: at once)"
    table = StatusTable(
        sys.stdout, interactive, _TERMINAL_REDRAW_S if interactive else args.table_interval, StatusPoller(), title
    )
    deadline = time.monotonic() + args.duration if args.duration > 0 else float("inf")
    with ShutdownSignals() as signals:
        # The kernel kills the workers should this process die unhandled (SIGKILL); this thread starts them all.
        supervisor = Supervisor(specs, die_with_manager=True)
        try:
            supervisor.start()
            while not signals.requested and time.monotonic() < deadline:
                supervisor.check()
                table.refresh_if_due(supervisor.snapshot(), time.monotonic())
                time.sleep(_LOOP_S)
        finally:
            if signals.last_signal is not None:
                reason = signals.last_signal.name
            else:
                reason = "duration over" if time.monotonic() >= deadline else "error"
            log.info("stopping", extra={"reason": reason, "deadline_s": args.stop_timeout})
            codes = supervisor.stop(args.stop_timeout, should_abort=lambda: signals.forced)
            table.close()
    for channel_id, code in codes.items():
        print(
            f"{channel_id}: exit {code if code is not None else 'unknown'}, restarts "
            f"{supervisor.workers[channel_id].restarts}",
            flush=True,
        )
    return 0 if all(code == 0 for code in codes.values()) else 1
