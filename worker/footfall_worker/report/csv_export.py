"""The CSV behind every plot and table of the report: one file each, local times in ISO 8601 with their UTC offset,
an unseen hour's counts empty (unknown, never 0)."""

import csv
from pathlib import Path

from footfall_worker.report.data import ReportData
from footfall_worker.report.query import GENDERS, HourlyCount

CSV_FILES = {
    "hourly": "hourly_footfall.csv",
    "occupancy": "occupancy.csv",
    "dwell": "dwell_histogram.csv",
    "gender": "gender_split.csv",
    "summary_footfall": "summary_footfall.csv",
    "summary_dwell": "summary_dwell.csv",
    "store": "store_occupancy.csv",
    "occupancy_days": "occupancy_days.csv",
    "hourly_gender": "hourly_gender.csv",
    "days": "daily_summary.csv",
    "heatmap": "heatmap.csv",
    "conversion": "hourly_conversion.csv",
}


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
        "hourly_gender": (
            ["hour_start", "female", "male", "unknown", "customers", "women_share", "coverage"],
            [
                [g.hour.isoformat(), g.female, g.male, g.unknown, g.female + g.male + g.unknown]
                + [_share(g.female, g.female + g.male), f"{g.coverage:.4f}"]
                for g in data.hour_genders
            ],
        ),
        "conversion": (
            ["hour_start", "customers", "transactions", "conversion", "coverage"],
            [
                [c.hour.isoformat(), c.customers, "" if c.transactions is None else c.transactions]
                + ["" if c.conversion is None else f"{c.conversion:.4f}", f"{c.coverage:.4f}"]
                for c in data.conversion
            ],
        ),
        "days": (
            ["day", "visitors", "women_share", "busiest_hour_start", "busiest_visitors", "coverage", "conversion"]
            + ["previous_day_visitors", "previous_week_visitors", "down", "summary"],
            [
                [d.day.isoformat(), d.visitors, "" if d.women_share is None else f"{d.women_share:.4f}"]
                + ["" if d.busiest is None else d.busiest.isoformat(), d.busiest_visitors, f"{d.coverage:.4f}"]
                + ["" if d.conversion is None else f"{d.conversion:.4f}"]
                + ["" if d.previous_day is None else d.previous_day[0]]
                + ["" if d.previous_week is None else d.previous_week[0]]
                + ["; ".join(f"{x.channel_id}={x.minutes:.0f}" for x in d.down), d.text]
                for d in data.days
            ],
        ),
        "heatmap": (
            ["channel_id", "col", "row", "x0", "y0", "x1", "y1", "person_frames", "people_per_frame"],
            [
                [h.channel_id, col, row, f"{col / h.cols:.4f}", f"{row / h.rows:.4f}", f"{(col + 1) / h.cols:.4f}"]
                + [f"{(row + 1) / h.rows:.4f}", h.counts[row * h.cols + col], f"{h.grid()[row, col]:.5f}"]
                for h in data.heatmaps
                for row in range(h.rows)
                for col in range(h.cols)
            ],
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
