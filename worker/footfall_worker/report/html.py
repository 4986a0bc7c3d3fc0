"""The report page: one self-contained HTML file (inline CSS, plots as SVG data URIs, no script, nothing fetched).

The page holds counts and durations only: no image of a person, no box, no track id.
"""

import base64
from collections.abc import Mapping
from datetime import datetime
from html import escape

from footfall_worker.report.csv_export import CSV_FILES, coverage_status
from footfall_worker.report.data import ReportData
from footfall_worker.report.plots import format_duration
from footfall_worker.report.query import HourlyCount

# (key, section id, title, what the plot shows, what "no data" means). The keys match plots' and CSV_FILES'.
SECTIONS = (
    (
        "hourly",
        "hourly-footfall",
        "Hourly footfall per entrance",
        "Line crossings per local hour on each camera with a counting line: entries (in), exits (out), and the "
        "fraction of each hour the camera saw (coverage). A pale hatched bar is an hour the camera saw only part "
        "of: its count is a lower bound; a grey cross an hour it did not see: no count, not zero visitors. The "
        "store total is the sum over its entrance cameras.",
        "no line crossings on this store's cameras in the period",
    ),
    (
        "occupancy",
        "occupancy",
        "Occupancy over the day",
        "People in view of each camera (one panel each, same scale), from the per-minute channel statistics: in "
        "5-minute buckets, the mean of the minute averages (line), shaded up to the highest minute peak. This is "
        "per camera view, not the number of people in the store; a gap means the camera recorded nothing then.",
        "no per-minute channel statistics for this store in the period",
    ),
    (
        "store",
        "store-occupancy",
        "People in the store",
        "Entries minus exits over every entrance camera, reconciled so it never drifts: never below zero (an exit "
        "that finds nobody inside is counted as clamped), reset to zero at closing time (whoever is still counted "
        "inside then is the day's residual), and a person seen by two partner cameras at one door counted once. "
        "The table keeps each day's corrections: a residual or clamped count that grows points at a camera that "
        "misses people.",
        "no line crossings on this store's entrance cameras in the period",
    ),
    (
        "heatmap",
        "heatmap",
        "Where people stand",
        "Where each camera saw people's feet over the period, on a grid over its view: the share of all the time "
        "people were in view that they stood in each cell. Drawn over the channel's picture from `footfall draw` "
        "(people in it pixelated) when the report is given one (--pictures), else over its lines and zones.",
        "no positions recorded on this store's cameras in the period",
    ),
    (
        "dwell",
        "dwell",
        "Dwell time per zone",
        "Completed zone visits (zone_exit) by time spent in the zone; visits still open at the end of the "
        "period are not counted.",
        "no zone visits ended on this store's cameras in the period",
    ),
    (
        "gender",
        "gender-split",
        "Gender split of entries",
        "Customers' entries (line crossings in; staff left out) by the final gender of each tracked person (the "
        "gender known at crossing time when the track is not recorded). Unknown (not decided) is shown as its "
        "own category, never dropped or redistributed.",
        "no entries on this store's cameras in the period",
    ),
)

HOURLY_TABLE_UP_TO = 72  # hours in the page's table; a longer period has them in its CSV only

_CSS = """
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; color: #222; margin: 0 auto; max-width: 1180px;
       padding: 24px 32px; line-height: 1.45; background: #fff; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 0 0 8px; border-bottom: 2px solid #0072B2; padding-bottom: 4px; }
header p { margin: 2px 0; color: #444; }
section { margin: 28px 0; }
img.plot { width: 100%; height: auto; display: block; }
p.note { color: #555; font-size: 14px; margin: 6px 0; }
p.day-line { font-size: 17px; font-weight: bold; margin: 4px 0 10px; }
p.csv { font-size: 13px; color: #555; margin: 4px 0; }
p.no-data { background: #fff4e5; border: 1px solid #f0b46a; color: #7a4a00; padding: 14px 18px; font-size: 16px;
            border-radius: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 5px 10px; text-align: right; }
th { background: #eef4fa; }
td.name, th.name { text-align: left; }
tr.total td { font-weight: bold; background: #f6f6f6; }
td.partial { background: #ececec; color: #777; font-style: italic; }
td.no-data { background: #e0e0e0; color: #777; text-align: center; }
footer { margin-top: 36px; font-size: 12px; color: #666; border-top: 1px solid #ddd; padding-top: 8px; }
"""


def _when(t: datetime) -> str:
    return t.strftime("%a %d %b %Y %H:%M")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _summary(data: ReportData) -> str:
    parts = ['<section id="summary"><h2>Summary</h2>']
    for day in data.days:
        parts.append(f"<p class='day-line'>{escape(day.text)}</p>")
    if data.footfall:
        parts.append(
            "<table><thead><tr><th class='name'>entrance</th><th>in</th><th>out</th><th>staff in</th>"
            "<th>customers in</th><th>female</th><th>male</th><th>unknown</th><th>unknown share</th>"
            "<th>coverage</th></tr></thead><tbody>"
        )
        for row in data.footfall:
            name = escape(row.name if not row.channel_id else f"{row.name} ({row.channel_id})")
            css = " class='total'" if not row.channel_id else ""
            parts.append(
                f"<tr{css}><td class='name'>{name}</td><td>{row.entries}</td><td>{row.exits}</td>"
                f"<td>{row.staff}</td><td>{row.customers}</td><td>{row.female}</td><td>{row.male}</td>"
                f"<td>{row.unknown}</td><td>{_pct(row.unknown, row.customers)}</td><td>{row.coverage:.1%}</td></tr>"
            )
        parts.append(
            "</tbody></table><p class='note'>In and out: line crossings per entrance camera; staff in: those of "
            "people tagged staff by a staff zone (behind the counter, the stock-room door); customers in = in - "
            "staff in; female, male, unknown: customers' entries by final gender; coverage: the fraction of the "
            "period's opening hours the camera saw (the store's: its least-covered entrance), so a count under "
            "100 % is a lower bound. The store row is the sum over its entrance cameras (a person crossing two "
            "entrances' lines counts twice, but partner cameras on one door once).</p>"
        )
    else:
        parts.append("<p class='no-data'>No data: no line crossings on this store's cameras in the period.</p>")
    if data.dwell:
        parts.append(
            "<table><thead><tr><th class='name'>zone</th><th class='name'>camera</th><th>visits</th>"
            "<th>mean dwell</th><th>median dwell</th></tr></thead><tbody>"
        )
        for zone in data.dwell:
            parts.append(
                f"<tr><td class='name'>{escape(zone.zone)}</td>"
                f"<td class='name'>{escape(data.channel_name(zone.channel_id))} ({escape(zone.channel_id)})</td>"
                f"<td>{zone.visits}</td><td>{format_duration(zone.mean_s)}</td>"
                f"<td>{format_duration(zone.median_s)}</td></tr>"
            )
        parts.append("</tbody></table>")
    else:
        parts.append("<p class='no-data'>No data: no zone visits ended in the period.</p>")
    parts.append(
        f"<p class='csv'>Data: <a href='{CSV_FILES['days']}'>{CSV_FILES['days']}</a>, "
        f"<a href='{CSV_FILES['conversion']}'>{CSV_FILES['conversion']}</a> (till transactions over customers per "
        "hour; empty where the till sent nothing), "
        f"<a href='{CSV_FILES['summary_footfall']}'>{CSV_FILES['summary_footfall']}</a>, "
        f"<a href='{CSV_FILES['summary_dwell']}'>{CSV_FILES['summary_dwell']}</a></p></section>"
    )
    return "".join(parts)


def _hourly_table(data: ReportData) -> str:
    """Every hour's counts beside its coverage, per entrance: a partial hour greyed, an unseen one "no data"."""
    if not data.entrances:
        return ""
    if len(data.hourly) > HOURLY_TABLE_UP_TO * len(data.entrances):
        return f"<p class='note'>{HOURLY_TABLE_UP_TO}+ hours: each hour's counts and coverage are in the CSV.</p>"
    rows: dict[datetime, dict[str, HourlyCount]] = {}
    for hour in data.hourly:
        rows.setdefault(hour.start, {})[hour.channel_id] = hour
    head = "".join(f"<th colspan='3'>{escape(data.channel_name(c))} ({escape(c)})</th>" for c in data.entrances)
    parts = [
        "<table class='hourly'><thead><tr><th class='name' rowspan='2'>hour</th>",
        head,
        "</tr><tr>",
        "<th>in</th><th>out</th><th>seen</th>" * len(data.entrances),
        "</tr></thead><tbody>",
    ]
    for by_channel in rows.values():
        local = next(iter(by_channel.values())).hour
        parts.append(f"<tr><td class='name'>{local:%a %d %H:%M %Z}</td>")
        for channel in data.entrances:
            hour = by_channel[channel]
            status = coverage_status(hour)
            if not hour.seen:
                parts.append(f"<td class='no-data' colspan='3'>{status}</td>")
                continue
            css = " class='partial'" if hour.partial else ""
            staff = f" ({hour.entries_staff} staff)" if hour.entries_staff else ""
            parts.append(
                f"<td{css}>{hour.entries}{staff}</td><td{css}>{hour.exits}</td><td{css}>{hour.coverage:.0%}</td>"
            )
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _store_days_table(data: ReportData) -> str:
    """What reconciliation corrected, per business day."""
    store = data.store
    if store is None:
        return ""
    hours = f"open {store.hours.open}-{store.hours.close}" if store.hours else "no opening hours set: reset at midnight"
    pairs = "; ".join(f"{escape(a)} and {escape(b)} counted once" for a, b in store.partners) or "no partner cameras"
    parts = [
        f"<p class='note'>Business days end at closing time ({escape(hours)}); {pairs}.</p>",
        "<table class='store-days'><thead><tr><th class='name'>business day</th><th>in</th><th>out</th>"
        "<th>partner duplicates</th><th>exits clamped</th><th>inside at closing (reset)</th><th>drift</th>"
        "<th>peak inside</th></tr></thead><tbody>",
    ]
    for day in store.days:
        parts.append(
            f"<tr><td class='name'>{day.day:%a %d %b %Y}</td><td>{day.entries}</td><td>{day.exits}</td>"
            f"<td>{day.duplicates}</td><td>{day.clamped}</td><td>{day.residual}</td><td>{day.drift}</td>"
            f"<td>{day.peak}</td></tr>"
        )
    parts.append(
        f"</tbody></table><p class='csv'>Data: <a href='{CSV_FILES['occupancy_days']}'>"
        f"{CSV_FILES['occupancy_days']}</a></p>"
    )
    return "".join(parts)


def render(data: ReportData, plots: Mapping[str, bytes | None]) -> str:
    """The whole page. `plots` maps each SECTIONS key to its SVG, or None for "no data"."""
    window = data.window
    start, end = window.local(window.start), window.local(window.end)
    title = f"Store report: {data.store_id}"
    channels = ", ".join(f"{escape(c.name)} ({escape(c.id)})" for c in data.channels)
    fallback = data.entries_from_crossing
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)} {start:%Y-%m-%d} to {end:%Y-%m-%d}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>",
        f"<p class='period'><strong>Period:</strong> {_when(start)} to {_when(end)} (end excluded)</p>",
        f"<p class='timezone'><strong>Time zone:</strong> {escape(window.timezone.key)} "
        f"({escape(window.timezone_source)}); every time and hour below is local to it.</p>",
        f"<p><strong>Cameras:</strong> {channels}</p></header>",
        _summary(data),
    ]
    for key, section_id, heading, note, empty in SECTIONS:
        parts.append(f'<section id="{section_id}" class="plot-section"><h2>{escape(heading)}</h2>')
        svg = plots.get(key)
        if svg is None:
            parts.append(f"<p class='no-data'>No data: {escape(empty)}.</p>")
        else:
            encoded = base64.b64encode(svg).decode("ascii")
            parts.append(f'<img class="plot" alt="{escape(heading)}" src="data:image/svg+xml;base64,{encoded}">')
        if key == "hourly":
            parts.append(_hourly_table(data))
        if key == "store":
            parts.append(_store_days_table(data))
        if key == "gender" and data.hour_genders:
            parts.append(
                f"<p class='csv'>Per hour, with each hour's coverage: <a href='{CSV_FILES['hourly_gender']}'>"
                f"{CSV_FILES['hourly_gender']}</a></p>"
            )
        if key == "gender" and fallback:
            note += f" {fallback} entries had no recorded track and use the gender known at crossing time."
        parts.append(f"<p class='note'>{escape(note)}</p>")
        parts.append(f"<p class='csv'>Data: <a href='{CSV_FILES[key]}'>{CSV_FILES[key]}</a></p></section>")
    parts.append(
        "<footer>Footfall store report. Built from counts, positions on a coarse grid and durations: no box or "
        "identity of any person is in this page, and a camera picture under a heatmap (--pictures) has its people "
        f"pixelated by footfall draw. Generated {data.generated_at:%Y-%m-%d %H:%M %Z}.</footer></body></html>"
    )
    return "\n".join(parts) + "\n"
