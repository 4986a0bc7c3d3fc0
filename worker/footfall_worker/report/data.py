"""The report's tables: collected by `query`, derived here (histogram, summaries), written as the CSVs behind
every plot. Pure except `collect`, which reads the database (the CSVs are `csv_export.py`)."""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions

from footfall_worker.report import query
from footfall_worker.report.conversion import HourConversion, hourly_conversion, till_hours
from footfall_worker.report.daily import (
    DayLine,
    HourGenders,
    day_lines,
    hourly_genders,
    opening_coverage,
    opening_seen,
)
from footfall_worker.report.heatmap import ChannelHeatmap, channel_heatmaps
from footfall_worker.report.query import GENDERS, Channel, GenderCount, HourlyCount, OccupancyBucket, Window, ZoneDwells
from footfall_worker.report.store_occupancy import StoreOccupancy, store_hours, store_occupancy

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
    customers' entries by final gender, and the fraction of the period's opening hours the channel saw (the
    store's: its least-covered entrance)."""

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
    hour_genders: tuple[HourGenders, ...] = ()  # the store's customers per hour by gender, with coverage
    days: tuple[DayLine, ...] = ()  # a summary line per local day
    heatmaps: tuple[ChannelHeatmap, ...] = ()  # where people stood, per channel
    conversion: tuple[HourConversion, ...] = ()  # till transactions over customers, per hour

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
    coverage: Mapping[str, float],
    store: StoreOccupancy | None = None,
) -> list[FootfallSummary]:
    names = {c.id: c.name for c in channels}
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
                coverage=coverage.get(channel, 0.0),
                staff=sum(h.entries_staff for h in hourly if h.channel_id == channel),
            )
        )
    if rows:
        # The store counts every entrance camera's crossings, but a partner camera's duplicate of a crossing once.
        rows.append(
            FootfallSummary(
                "",
                "Store (all entrances)",
                sum(r.entries for r in rows) - (len(store.duplicate_entries) if store else 0),
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
    """Every table of the report for the store's `channels` over `window` (in the caller's transaction)."""
    with conn.cursor() as cur:
        # Over the partitioned history each query's estimate passes PostgreSQL's JIT threshold, and compiling costs
        # more than the query: one store's 30 days over the 100-store chain, crossings per hour 319 ms with JIT,
        # 46 ms without (bench/report_scale_bench.py). For this transaction only.
        cur.execute("SET LOCAL jit = off")
    channel_ids = [c.id for c in channels]
    entrances, hourly = query.hourly_crossings(conn, channel_ids, window)
    occupancy = query.occupancy(conn, channel_ids, window)
    zones = query.zone_dwells(conn, channel_ids, window)
    genders = query.entry_genders(conn, channel_ids, window)
    hours = store_hours(store_id, channels)
    store = store_occupancy(conn, channels, window, hours)
    hour_genders = hourly_genders(conn, hourly, window)
    partner_entries = store.duplicate_entries if store else ()
    till = till_hours(conn, store_id, window)
    seen = opening_seen(conn, channel_ids, window, hours)
    coverage = opening_coverage(seen, entrances, window, hours)
    days = day_lines(conn, channels, hourly, hour_genders, partner_entries, hours, window, seen, till)
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
        footfall=tuple(footfall_summary(channels, entrances, hourly, genders, coverage, store)),
        dwell=tuple(dwell_summary(zones)),
        store=store,
        hour_genders=tuple(hour_genders),
        days=tuple(days),
        heatmaps=tuple(channel_heatmaps(conn, channel_ids, window)),
        conversion=tuple(hourly_conversion(hour_genders, till)) if till else (),
    )
