"""`footfall-worker`: one channel, the whole pipeline, until SIGTERM.

    footfall-worker --cameras config/demo_store.json --channel channel_1 [--http-port 8080]
    FOOTFALL_CAMERAS=... FOOTFALL_CHANNEL=... footfall-worker          # as the operator runs it

Every other setting comes from the environment: FOOTFALL_* (worker: database, Redis, probes, shutdown),
FOOTFALL_READER_*, FOOTFALL_TRITON_*, FOOTFALL_TRACKER_*, FOOTFALL_GENDER_*, FOOTFALL_STORAGE_* (see
settings.py). Exit codes: 0 clean stop, 1 a thread crashed or shutdown overran, 2 bad configuration, 3 the
database schema disagrees with this build, 4 another worker of the channel holds its journal.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from footfall_contract.config import ConfigError, load_store_config
from footfall_contract.config.cameras import format_validation_error
from footfall_worker.allocator import tune_allocator
from footfall_worker.log_setup import setup_logging
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.channel_worker import ChannelWorker
from footfall_worker.pipeline.runner import exit_code, run_until_stopped
from footfall_worker.settings import Settings
from footfall_worker.storage.journal_lock import JournalLocked
from footfall_worker.storage.migrations import MigrationError

EXIT_CONFIG = 2
EXIT_SCHEMA = 3
EXIT_JOURNAL_LOCKED = 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="footfall-worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", help="store config JSON (default: FOOTFALL_CAMERAS)")
    parser.add_argument("--channel", help="channel id in it (default: FOOTFALL_CHANNEL)")
    parser.add_argument("--source", type=Path, help="a video file instead of a store channel (replayed like a camera)")
    parser.add_argument("--http-port", type=int, help="probes and metrics port (default: FOOTFALL_HTTP_PORT or 8080)")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run; 0 = until SIGTERM")
    parser.add_argument("--log-level", default="INFO")
    return parser


def load_spec(settings: Settings, source: Path | None) -> ChannelSpec:
    """The channel to run: a file, or the store config's channel (named by flags or the environment)."""
    if source is not None:
        return ChannelSpec.from_file(source, settings.worker.channel)
    if not settings.worker.cameras or not settings.worker.channel:
        raise ConfigError("set FOOTFALL_CAMERAS and FOOTFALL_CHANNEL (or --cameras and --channel), or give --source")
    store = load_store_config(settings.worker.cameras)
    return ChannelSpec.from_store(store, store.channel(settings.worker.channel))


def main(argv: Sequence[str] | None = None) -> int:
    tune_allocator()
    args = build_parser().parse_args(argv)
    overrides = {
        key: value
        for key, value in {"cameras": args.cameras, "channel": args.channel, "http_port": args.http_port}.items()
        if value is not None
    }
    try:
        settings = Settings.from_env(**overrides)
        spec = load_spec(settings, args.source)
    except ValidationError as error:
        setup_logging(args.log_level, channel=args.channel or "-")
        print(format_validation_error(error, "footfall-worker settings"), file=sys.stderr)
        return EXIT_CONFIG
    except ConfigError as error:
        print(f"footfall-worker: {error}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(args.log_level, channel=spec.channel_id)
    try:
        summary = run_until_stopped(ChannelWorker(spec, settings), args.duration)
    except MigrationError as error:
        print(f"footfall-worker: {error}", file=sys.stderr)
        return EXIT_SCHEMA
    except JournalLocked as error:
        print(f"footfall-worker: {error}", file=sys.stderr)
        return EXIT_JOURNAL_LOCKED
    except OSError as error:  # the probe port is taken
        print(f"footfall-worker: cannot listen on port {settings.worker.http_port}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(main())
