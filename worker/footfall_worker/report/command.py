"""`footfall report`: one store's footfall, occupancy, dwell and gender split over a period, as an HTML page with
the CSV behind each plot.

footfall report --store kidsplaza_thanhxuan --from 2024-05-06 --to 2024-05-06 --out reports/2024-05-06
footfall report --store kidsplaza_thanhxuan --from 2024-05-06T08:00 --to 2024-05-06T22:00 --out r --timezone UTC

A date as --to means the end of that day (so --from D --to D is the whole day D); a date and time is excluded.
Times without a UTC offset are local to the report's time zone: --timezone, else the store's time zone as its
workers recorded it (the store config's or CameraChannel's `timezone`; UTC when it sets none). Hours are the
store's wall-clock hours: a spring-forward day has 23, a fall-back day 25. Every count shows the fraction of the
hour its camera saw (coverage); an hour it saw only part of is greyed, one it did not see at all has no counts,
never zero visitors. Exit codes: 0 written, 2 bad input (unknown store, period, flag), 1 database.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg2

from footfall_contract.config.masking import mask_credentials
from footfall_worker.report import query
from footfall_worker.report.query import ReportInputError, Window

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"  # the worker's default (FOOTFALL_DATABASE_URL)
REPORT_FILE = "report.html"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footfall report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", required=True, help="store_id of the channels in the record")
    parser.add_argument("--from", dest="start", required=True, metavar="WHEN", help="ISO date or date and time")
    parser.add_argument("--to", dest="end", required=True, metavar="WHEN", help="ISO date (whole day) or date and time")
    parser.add_argument("--out", type=Path, required=True, help="directory for report.html and the CSV files")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("FOOTFALL_DATABASE_URL") or DEFAULT_DSN,
        help="PostgreSQL URL (default: $FOOTFALL_DATABASE_URL, else %(default)s)",
    )
    parser.add_argument("--timezone", help="IANA zone for hours and dates (default: the store's recorded one)")
    parser.add_argument(
        "--pictures",
        type=Path,
        help="`footfall draw` output per channel (DIR/<channel id>/geometry.png) to draw the heatmaps over",
    )
    return parser


def _zone(key: str, origin: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory of the zone database ("Europe")
        raise ReportInputError(
            f"{origin}: unknown time zone {key!r}; expected an IANA name such as 'Asia/Ho_Chi_Minh'"
        ) from None


def parse_when(text: str, flag: str) -> date | datetime:
    """An ISO date, or an ISO date and time (naive, or aware when it carries an offset)."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ReportInputError(
            f"{flag} {text!r}: expected an ISO date (2024-05-06) or date and time (2024-05-06T10:00, optionally "
            "with an offset such as +07:00)"
        ) from None


def _bound(when: date | datetime, tz: ZoneInfo, *, end: bool) -> datetime:
    """An aware datetime: a date is its day's start, or as `end` the next day's start; naive times are in `tz`."""
    if not isinstance(when, datetime):
        return datetime.combine(when + timedelta(days=1 if end else 0), time(), tz)
    return when if when.tzinfo is not None else when.replace(tzinfo=tz)


def _window(args: argparse.Namespace, tz: ZoneInfo, source: str) -> Window:
    start = _bound(parse_when(args.start, "--from"), tz, end=False)
    end = _bound(parse_when(args.end, "--to"), tz, end=True)
    if start >= end:
        raise ReportInputError(f"--from ({args.start}) must be before --to ({args.end}): the period is empty")
    return Window(start, end, tz, source)


def _check_flags(args: argparse.Namespace) -> None:
    """What the flags alone can tell, before connecting: syntax, the zone, and the order of --from and --to when
    it does not depend on the store's time zone (both local, or both with an offset)."""
    tz = _zone(args.timezone, "--timezone") if args.timezone else ZoneInfo("UTC")
    start, end = parse_when(args.start, "--from"), parse_when(args.end, "--to")
    offsets = {isinstance(w, datetime) and w.tzinfo is not None for w in (start, end)}
    if args.timezone or len(offsets) == 1:
        _window(args, tz, "")


def _report_zone(args: argparse.Namespace, channels: Sequence[query.Channel]) -> tuple[ZoneInfo, str]:
    if args.timezone:
        return _zone(args.timezone, "--timezone"), "from --timezone"
    stored = query.stored_timezones(channels)
    if len(stored) > 1:
        raise ReportInputError(
            f"the channels of store {args.store!r} record different time zones ({', '.join(stored)}): set one "
            "`timezone` for the store (its CameraChannels or store config), or give --timezone"
        )
    return _zone(stored[0], f"store {args.store!r}"), "the store's, as its workers recorded it"


def make_report(conn: psycopg2.extensions.connection, args: argparse.Namespace) -> Path:
    """Query, plot, write. Returns the report's path."""
    # Imported here: matplotlib is only needed once the input is known to be good.
    from footfall_worker.report import html, plots
    from footfall_worker.report.csv_export import write_csvs
    from footfall_worker.report.data import collect
    from footfall_worker.report.heatmap import backgrounds

    channels = query.store_channels(conn, args.store)
    if not channels:
        stores = query.known_stores(conn)
        known = ", ".join(stores) if stores else "none: no channel has been recorded yet"
        raise ReportInputError(f"--store {args.store!r}: unknown store; known stores: {known}")
    tz, source = _report_zone(args, channels)
    window = _window(args, tz, source)
    data = collect(conn, args.store, channels, window)
    write_csvs(data, args.out)
    rendered = {
        "hourly": plots.hourly_footfall(data),
        "occupancy": plots.occupancy(data),
        "store": plots.store_occupancy(data),
        "heatmap": plots.heatmaps(data, backgrounds(channels, args.pictures)),
        "dwell": plots.dwell_histogram(data),
        "gender": plots.gender_split(data),
    }
    path = args.out / REPORT_FILE
    path.write_text(html.render(data, rendered), encoding="utf-8")
    for day in data.days:  # the lines a manager reads, on the terminal too
        print(day.text)
    return path


def run(argv: Sequence[str] | None = None) -> int:
    """`footfall report ARGS`: 0 when the report is written, 2 for bad input, 1 when the database fails."""
    args = build_parser().parse_args(argv)
    try:
        _check_flags(args)
        conn = psycopg2.connect(args.dsn, connect_timeout=5, application_name="footfall-report")
    except ReportInputError as error:
        print(f"footfall report: error: {error}", file=sys.stderr)
        return 2
    except psycopg2.Error as error:
        print(f"footfall report: cannot connect to {mask_credentials(args.dsn)}: {error}".strip(), file=sys.stderr)
        return 1
    try:
        # One snapshot for every query: workers writing meanwhile cannot make the tables disagree.
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        path = make_report(conn, args)
    except ReportInputError as error:
        print(f"footfall report: error: {error}", file=sys.stderr)
        return 2
    except psycopg2.Error as error:
        print(f"footfall report: database error: {mask_credentials(str(error)).strip()}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(f"footfall report: wrote {path} and its CSV files")
    return 0
