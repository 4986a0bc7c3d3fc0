"""`footfall retention`: keep the history's partitions ahead of time and drop what is past its retention.

    footfall retention --raw-days 90                 # tracks, boxes and events kept 90 days; rollups kept
    footfall retention --raw-days 90 --rollup-days 730 --dry-run

Raw history (tracks, track_points, events) is kept `--raw-days`; the rollups the reports read
(channel_stats_minute, channel_heatmap_hour) `--rollup-days`, or for ever without it. A partition goes whole once
every row it can hold is past its retention, so a day is kept until the retention has passed for its last second.
The chart runs this hourly as a CronJob; the settings may also come from FOOTFALL_RETENTION_RAW_DAYS and
FOOTFALL_RETENTION_ROLLUP_DAYS. Prints one JSON object a line (what was created, what was dropped and how many
rows), then a summary. Exit codes: 0 done (or another process was at it), 2 bad input, 1 database.
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg2
from pydantic import BaseModel, Field, ValidationError

from footfall_contract.config.cameras import format_validation_error
from footfall_contract.config.masking import mask_credentials
from footfall_worker.storage.partitions import AHEAD, drop_expired, ensure_partitions

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


class RetentionPolicy(BaseModel):
    """How long each class of the history is kept, in days (None: for ever)."""

    raw_days: int = Field(ge=1, le=36500, description="tracks, boxes and events")
    rollup_days: int | None = Field(default=None, ge=1, le=36500, description="minute and heatmap rollups")
    ahead_days: int = Field(default=AHEAD.days, ge=1, le=366, description="partitions created this far ahead")


def _env_int(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footfall retention",
        description=__doc__.splitlines()[0],
        epilog="\n".join(__doc__.splitlines()[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--raw-days", default=_env_int("FOOTFALL_RETENTION_RAW_DAYS"), help="required (or its env)")
    parser.add_argument("--rollup-days", default=_env_int("FOOTFALL_RETENTION_ROLLUP_DAYS"), help="default: keep")
    parser.add_argument("--ahead-days", default=str(AHEAD.days), help="partitions created this far ahead")
    parser.add_argument("--dry-run", action="store_true", help="say what would be dropped, drop nothing")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("FOOTFALL_DATABASE_URL") or DEFAULT_DSN,
        help="PostgreSQL URL (default: $FOOTFALL_DATABASE_URL, else %(default)s)",
    )
    parser.add_argument("--lock-timeout", type=float, default=5.0, help="seconds to wait for a table lock")
    return parser


def _emit(**fields: object) -> None:
    print(json.dumps(fields, default=str), flush=True)


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.raw_days is None:
        print("footfall retention: --raw-days (or FOOTFALL_RETENTION_RAW_DAYS) is required", file=sys.stderr)
        return 2
    try:
        policy = RetentionPolicy(raw_days=args.raw_days, rollup_days=args.rollup_days, ahead_days=args.ahead_days)
    except ValidationError as error:
        print(format_validation_error(error, origin="footfall retention"), file=sys.stderr)
        return 2
    now = datetime.now().astimezone()
    try:
        conn = psycopg2.connect(args.dsn, connect_timeout=5, application_name="footfall-retention")
    except psycopg2.Error as error:
        print(f"footfall retention: cannot connect to {mask_credentials(args.dsn)}: {error}".strip(), file=sys.stderr)
        return 1
    try:
        created = ensure_partitions(conn, now, timedelta(days=policy.ahead_days), args.lock_timeout)
        for change in created or []:
            _emit(action="created", partition=change.partition, rows_moved=change.rows)
        dropped = drop_expired(conn, now, policy.raw_days, policy.rollup_days, args.lock_timeout, args.dry_run)
        for change in dropped or []:
            _emit(action="would drop" if args.dry_run else "dropped", partition=change.partition, rows=change.rows)
    except psycopg2.Error as error:
        print(f"footfall retention: database error: {mask_credentials(str(error)).strip()}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    busy = created is None or dropped is None
    _emit(
        summary="another process holds the upkeep: nothing done" if busy else "done",
        raw_days=policy.raw_days,
        rollup_days=policy.rollup_days,
        created=len(created or []),
        dropped=len(dropped or []),
        rows_dropped=sum(change.rows for change in dropped or []),
        dry_run=args.dry_run,
    )
    return 0
