"""The report's tables: collected by `query`, derived here (histogram, summaries), written as the CSVs behind
every plot. Pure except `collect` (which reads the database) and `write_csvs` (which writes files)."""

import csv
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg2.extensions

from footfall_worker.report import query
from footfall_worker.report.query import GENDERS, Channel, GenderCount, HourlyCount, OccupancyBucket, Window, ZoneDwells
from footfall_worker.report.store_occupancy import StoreOccupancy, store_occupancy

# Dwell histogram bins in seconds, [start, end); the last is open-ended. Uneven on purpose: a queue of 40 s and
# one of 50 s matter less than 4 minutes against 40.
DWELL_BINS: tuple[tuple[float, float | None, str], ...] = (
    (0, 30, "<30 s"),
    (30, 60, "30-60 s"),
    (60, 120, "1-2 min"),
    (120, 300, "2-5 min"),
    (300, 600, "5-10 min"),
    (600, 900, "10-15 min"),
    (900, 1800, "15-30 min"),
    (1800, None, "30 min+"),
)

CSV_FILES = {
    "hourly": "hourly_footfall.csv",
    "occupancy": "occupancy.csv",
    "dwell": "dwell_histogram.csv",
    "gender": "gender_split.csv",
    "summary_footfall": "summary_footfall.csv",
    "summary_dwell": "summary_dwell.csv",
    "store": "store_occupancy.csv",
    "occupancy_days": "occupancy_days.csv",
}


@dataclass(frozen=True, slots=True)
class HistogramBin:
    channel_id: str
    zone: str
    label: str
    start_s: float
    end_s: float | None
    count: int


@dataclass(frozen=True, slots=True)
class FootfallSummary:
    """Totals of one entrance channel, or of the store (`channel_id` empty): in, out, staff's part of the entries,
    customers' entries by final gender, and the fraction of the period the channel saw (the store's: its
    least-covered entrance)."""

    channel_id: str
    name: str
    entries: int
    exits: int
    female: int
    male: int
    unknown: int
    coverage: float
    staff: int = 0  # entries of staff

    @property
    def customers(self) -> int:
        return self.entries - self.staff

    @property
    def unknown_share(self) -> float | None:
        return self.unknown / self.customers if self.customers else None


@dataclass(frozen=True, slots=True)
class ZoneSummary:
    channel_id: str
    zone: str
    visits: int
    mean_s: float
    median_s: float


@dataclass(frozen=True, slots=True)
class ReportData:
    store_id: str
    channels: tuple[Channel, ...]
    window: Window
    generated_at: datetime
    entrances: tuple[str, ...]  # channels with line crossings in the window
    hourly: tuple[HourlyCount, ...]
    occupancy: tuple[OccupancyBucket, ...]
    zones: tuple[ZoneDwells, ...]
    histogram: tuple[HistogramBin, ...]
    genders: tuple[GenderCount, ...]
    footfall: tuple[FootfallSummary, ...]  # one per entrance, then the store total (when there are entrances)
    dwell: tuple[ZoneSummary, ...]
    store: StoreOccupancy | None  # people inside the store, reconciled; None without entrance crossings

    def channel_name(self, channel_id: str) -> str:
        return next((c.name for c in self.channels if c.id == channel_id), channel_id)

    @property
    def entries_from_crossing(self) -> int:
        """Entries whose track had no `tracks` row, so the gender known at crossing time was used."""
        return sum(g.from_crossing for g in self.genders)


def dwell_histogram(zones: Sequence[ZoneDwells]) -> list[HistogramBin]:
    """Every bin of every zone, empty bins included."""
    bins = []
    for zone in zones:
        for start, end, label in DWELL_BINS:
            count = sum(1 for d in zone.dwell_s if d >= start and (end is None or d < end))
            bins.append(HistogramBin(zone.channel_id, zone.zone, label, start, end, count))
    return bins


def footfall_summary(
    channels: Sequence[Channel],
    entrances: Sequence[str],
    hourly: Sequence[HourlyCount],
    genders: Sequence[GenderCount],
    window: Window,
    store: StoreOccupancy | None = None,
) -> list[FootfallSummary]:
    names = {c.id: c.name for c in channels}
    period_s = window.seconds
    rows = []
    for channel in entrances:
        by_gender = {g.gender: g.entries for g in genders if g.channel_id == channel}
        rows.append(
            FootfallSummary(
                channel,
                names.get(channel, channel),
                sum(h.entries for h in hourly if h.channel_id == channel),
                sum(h.exits for h in hourly if h.channel_id == channel),
                *(by_gender.get(g, 0) for g in GENDERS),
                coverage=min(1.0, sum(h.covered_s for h in hourly if h.channel_id == channel) / period_s),
                staff=sum(h.entries_staff for h in hourly if h.channel_id == channel),
            )
        )
    if rows:
        # The store counts every entrance camera's crossings, but a partner camera's duplicate of a crossing once.
        rows.append(
            FootfallSummary(
                "",
                "Store (all entrances)",
                sum(r.entries for r in rows) - (store.duplicate_entries if store else 0),
                sum(r.exits for r in rows) - (store.duplicate_exits if store else 0),
                sum(r.female for r in rows),
                sum(r.male for r in rows),
                sum(r.unknown for r in rows),
                coverage=min(r.coverage for r in rows),
                staff=sum(r.staff for r in rows),
            )
        )
    return rows


def dwell_summary(zones: Sequence[ZoneDwells]) -> list[ZoneSummary]:
    return [
        ZoneSummary(z.channel_id, z.zone, len(z.dwell_s), statistics.fmean(z.dwell_s), statistics.median(z.dwell_s))
        for z in zones
        if z.dwell_s
    ]


def collect(
    conn: psycopg2.extensions.connection, store_id: str, channels: Sequence[Channel], window: Window
) -> ReportData:
    """Every table of the report for the store's `channels` over `window`."""
    channel_ids = [c.id for c in channels]
    entrances, hourly = query.hourly_crossings(conn, channel_ids, window)
    occupancy = query.occupancy(conn, channel_ids, window)
    zones = query.zone_dwells(conn, channel_ids, window)
    genders = query.entry_genders(conn, channel_ids, window)
    store = store_occupancy(conn, store_id, channels, window)
    return ReportData(
        store_id=store_id,
        channels=tuple(channels),
        window=window,
        generated_at=datetime.now().astimezone(window.timezone),
        entrances=tuple(entrances),
        hourly=tuple(hourly),
        occupancy=tuple(occupancy),
        zones=tuple(zones),
        histogram=tuple(dwell_histogram(zones)),
        genders=tuple(genders),
        footfall=tuple(footfall_summary(channels, entrances, hourly, genders, window, store)),
        dwell=tuple(dwell_summary(zones)),
        store=store,
    )


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.4f}" if whole else ""


def coverage_status(hour: HourlyCount) -> str:
    """`full`, `partial` (counts are a lower bound) or `no data` (counts unknown): the CSV's and the page's word."""
    return "no data" if not hour.seen else ("partial" if hour.partial else "full")


def write_csvs(data: ReportData, out_dir: Path) -> dict[str, Path]:
    """The CSV behind each plot and the summary tables; times are local ISO 8601 with their UTC offset.

    Returns:
        The written files by key of `CSV_FILES`.
    """
    tables: dict[str, tuple[list[str], list[list[object]]]] = {
        "hourly": (
            ["hour_start", "channel_id", "channel_name", "in", "out", "in_staff", "out_staff", "customers_in"]
            + ["coverage", "status"],
            [
                [h.hour.isoformat(), h.channel_id, data.channel_name(h.channel_id)]
                # an unseen hour's count is unknown, not 0
                + ([h.entries, h.exits, h.entries_staff, h.exits_staff, h.customers] if h.seen else [""] * 5)
                + [f"{h.coverage:.4f}", coverage_status(h)]
                for h in data.hourly
            ],
        ),
        "occupancy": (
            ["bucket_start", "channel_id", "channel_name", "occupancy_avg", "occupancy_max", "minutes"],
            [
                [b.start.isoformat(), b.channel_id, data.channel_name(b.channel_id), f"{b.occupancy_avg:.2f}"]
                + [b.occupancy_max, b.minutes]
                for b in data.occupancy
            ],
        ),
        "dwell": (
            ["channel_id", "zone", "bin", "bin_start_s", "bin_end_s", "count"],
            [
                [b.channel_id, b.zone, b.label, f"{b.start_s:g}", "" if b.end_s is None else f"{b.end_s:g}", b.count]
                for b in data.histogram
            ],
        ),
        "gender": (
            ["scope", "channel_id", "gender", "entries", "share"],
            [
                ["channel" if s.channel_id else "store", s.channel_id, gender, n, _share(n, s.customers)]
                for s in data.footfall
                for gender, n in zip(GENDERS, (s.female, s.male, s.unknown), strict=True)
            ],
        ),
        "summary_footfall": (
            ["scope", "channel_id", "channel_name", "in", "out", "staff_in", "customers_in", "female", "male"]
            + ["unknown", "unknown_share", "coverage"],
            [
                ["channel" if s.channel_id else "store", s.channel_id, s.name, s.entries, s.exits, s.staff, s.customers]
                + [s.female, s.male, s.unknown, _share(s.unknown, s.customers), f"{s.coverage:.4f}"]
                for s in data.footfall
            ],
        ),
        "summary_dwell": (
            ["channel_id", "zone", "visits", "mean_dwell_s", "median_dwell_s"],
            [[z.channel_id, z.zone, z.visits, f"{z.mean_s:.1f}", f"{z.median_s:.1f}"] for z in data.dwell],
        ),
        "store": (
            ["time", "people_inside"],
            [[t.isoformat(), people] for t, people in (data.store.timeline if data.store else ())],
        ),
        "occupancy_days": (
            ["business_day", "entries", "exits", "partner_duplicates", "exits_clamped", "residual_at_close"]
            + ["drift", "peak_inside"],
            [
                [d.day.isoformat(), d.entries, d.exits, d.duplicates, d.clamped, d.residual, d.drift, d.peak]
                for d in (data.store.days if data.store else ())
            ],
        ),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for key, (header, rows) in tables.items():
        path = out_dir / CSV_FILES[key]
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        written[key] = path
    return written
