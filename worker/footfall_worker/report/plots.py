"""The report's four plots as SVG (bytes), drawn with matplotlib's object API (no pyplot, no display, no global
figure state). Each function returns None when there is nothing to draw; the page then says "no data"."""

import io
import math
from datetime import datetime, timedelta

import matplotlib
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from footfall_worker.report.data import DWELL_BINS, ReportData
from footfall_worker.report.query import GENDERS, MIN_COVERAGE, OCCUPANCY_BUCKET_S, HourlyCount

matplotlib.use("Agg")  # never a display; savefig(format="svg") picks the SVG canvas itself

_STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same text on every machine
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.35,
    "legend.frameon": False,
    "svg.hashsalt": "footfall-report",  # stable element ids: the same data gives the same SVG
}
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
_CHANNEL_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
GENDER_COLOURS = {"female": "#CC79A7", "male": "#0072B2", "unknown": "#9A9A9A"}
_WIDTH_IN = 11.0
_BARS_UP_TO = 72  # hourly: grouped bars up to 3 days, steps beyond (bars would be slivers)


def format_duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _svg(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _colour(data: ReportData, channel_id: str) -> str:
    """The channel's colour, the same in every plot (by its place among the store's channels)."""
    ids = [c.id for c in data.channels]
    index = ids.index(channel_id) if channel_id in ids else len(ids)
    return _CHANNEL_COLOURS[index % len(_CHANNEL_COLOURS)]


def _label(data: ReportData, channel_id: str) -> str:
    name = data.channel_name(channel_id)
    return channel_id if name == channel_id else f"{name} ({channel_id})"


def hourly_footfall(data: ReportData) -> bytes | None:
    """Entries, exits and coverage per local hour, one bar per entrance channel in each hour. An hour its camera
    saw only part of has a pale hatched bar (a lower bound); one it did not see has a grey cross and no bar:
    unknown, not zero."""
    if not data.entrances:
        return None
    hours = list(dict.fromkeys(h.start for h in data.hourly))  # instants: the repeated autumn hour is two
    local = {h.start: h.hour for h in data.hourly}
    counts = {(h.start, h.channel_id): h for h in data.hourly}
    one_day = len({local[h].date() for h in hours}) == 1
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(_WIDTH_IN, 9.0), layout="constrained")
        axes = fig.subplots(3, 1, sharex=True, height_ratios=(3, 3, 1.6))
        for ax, attr, title in ((axes[0], "entries", "Entries (in)"), (axes[1], "exits", "Exits (out)")):
            _hourly_counts(ax, data, hours, counts, attr)
            ax.set_title(title, loc="left")
            ax.set_ylabel("people per hour")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _hourly_coverage(axes[2], data, hours, counts)
        for ax in axes:
            ax.grid(axis="x", visible=False)
            ax.margins(x=0.01)
        # At most ~24 labels, on round hours (every 1, 2, 3, ... hours) or, for long periods, on midnights.
        stride = next((s for s in (1, 2, 3, 4, 6, 12, 24, 48, 72, 168) if len(hours) / s <= 24), 336)
        if stride < 24:
            ticks = [i for i, h in enumerate(hours) if local[h].hour % stride == 0]
        else:
            ticks = [i for i, h in enumerate(hours) if local[h].hour == 0][:: stride // 24]
        ticks = ticks or [0]
        pattern = "%H:00" if one_day else ("%a %d %H:00" if stride < 24 else "%a %d %b")
        labels = [local[hours[t]].strftime(pattern) for t in ticks]
        # the repeated hour of an autumn DST change: the same wall-clock label twice, told apart by the zone's name
        labels = [
            f"{label} {local[hours[t]]:%Z}" if labels.count(label) > 1 else label
            for t, label in zip(ticks, labels, strict=True)
        ]
        if one_day:
            axes[2].set_xticks(ticks, labels)
            axes[2].tick_params(axis="x", labelsize=9)
        else:
            axes[2].set_xticks(ticks, labels, rotation=40, ha="right", rotation_mode="anchor")
        axes[2].set_xlabel(f"hour starting, local time ({data.window.timezone.key})")
        handles, _ = axes[0].get_legend_handles_labels()
        handles += [
            Patch(facecolor="#9A9A9A", alpha=0.45, hatch="///", label=f"hour seen < {MIN_COVERAGE:.0%} (lower bound)"),
            Line2D([], [], color="#9A9A9A", marker="x", linestyle="none", label="hour not seen (no count)"),
        ]
        # Above the plot, right-aligned: never over a bar.
        axes[0].legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3)
        return _svg(fig)


def _hourly_counts(
    ax: Axes, data: ReportData, hours: list[datetime], counts: dict[tuple[datetime, str], HourlyCount], attr: str
) -> None:
    n = len(data.entrances)
    width = 0.8 / n
    for i, channel in enumerate(data.entrances):
        rows = [counts[(hour, channel)] for hour in hours]
        colour = _colour(data, channel)
        if len(hours) <= _BARS_UP_TO:
            offsets = [v - 0.4 + width * (i + 0.5) for v in range(len(hours))]
            values = [getattr(r, attr) if r.seen else 0 for r in rows]
            bars = ax.bar(offsets, values, width, color=colour, label=_label(data, channel))
            for bar, row in zip(bars, rows, strict=True):
                if row.partial:
                    bar.set_alpha(0.45)
                    bar.set_hatch("///")
            if len(hours) <= 24 * 2:
                ax.bar_label(bars, labels=[str(v) if v else "" for v in values], fontsize=8, padding=1)
            unseen = [o for o, r in zip(offsets, rows, strict=True) if not r.seen]
            ax.plot(unseen, [0] * len(unseen), "x", color="#9A9A9A", markersize=5, clip_on=False)
        else:  # an unseen hour breaks the line: no count, not zero
            values = [getattr(r, attr) if r.seen else math.nan for r in rows]
            ax.step(list(range(len(hours))), values, where="mid", color=colour, label=_label(data, channel))
    ax.margins(y=0.12)


def _hourly_coverage(
    ax: Axes, data: ReportData, hours: list[datetime], counts: dict[tuple[datetime, str], HourlyCount]
) -> None:
    for channel in data.entrances:
        coverage = [counts[(hour, channel)].coverage for hour in hours]
        ax.step(list(range(len(hours))), coverage, where="mid", color=_colour(data, channel), linewidth=1.6)
    ax.axhline(MIN_COVERAGE, color="#555555", linestyle="--", linewidth=1.0)
    ax.set_title("Coverage (fraction of the hour each camera saw)", loc="left")
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("seen")


def occupancy(data: ReportData) -> bytes | None:
    """People in view, one panel per camera (same scales): the 5-minute mean of the minute averages as a line,
    shaded up to the 5-minute peak; a gap where the camera recorded no statistics."""
    if not data.occupancy:
        return None
    tz = data.window.timezone
    step = timedelta(seconds=OCCUPANCY_BUCKET_S)
    channels = list(dict.fromkeys(b.channel_id for b in data.occupancy))
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(_WIDTH_IN, 1.2 + 2.1 * len(channels)), layout="constrained")
        axes = fig.subplots(len(channels), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        for ax, channel in zip(axes, channels, strict=True):
            times: list[datetime] = []
            means: list[float] = []
            peaks: list[float] = []
            for bucket in (b for b in data.occupancy if b.channel_id == channel):
                if times and bucket.start - times[-1] > step:  # a gap: no stats (worker down), not zero people
                    times.append(times[-1] + step)
                    means.append(math.nan)
                    peaks.append(math.nan)
                times.append(bucket.start)
                means.append(bucket.occupancy_avg)
                peaks.append(bucket.occupancy_max)
            colour = _colour(data, channel)
            ax.fill_between(times, means, peaks, color=colour, alpha=0.18, linewidth=0, label="peak (5 min)")
            ax.plot(times, means, color=colour, linewidth=2.0, label="mean")
            ax.set_title(_label(data, channel), loc="left", fontsize=11)
            ax.legend(loc="upper right", ncols=2, fontsize=9)
        locator = mdates.AutoDateLocator(tz=tz, maxticks=16)
        axes[-1].xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(locator, tz=tz, show_offset=False)
        formatter.zero_formats = ["", "%Y", "%b", "%d %b", "%H:%M", "%H:%M"]  # midnight as "07 May", not "May-07"
        axes[-1].xaxis.set_major_formatter(formatter)
        axes[-1].set_xlim(data.window.local(data.window.start), data.window.local(data.window.end))
        # Headroom above the highest peak for the legends; integer people.
        axes[-1].set_ylim(0, max(1, max(b.occupancy_max for b in data.occupancy)) * 1.3)
        axes[-1].yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        axes[-1].set_xlabel(f"local time ({tz.key}), 5-minute buckets")
        fig.supylabel("people in view of the camera", fontsize=11)
        return _svg(fig)


def dwell_histogram(data: ReportData) -> bytes | None:
    """Visits per dwell-time bin, one bar per zone in each bin."""
    if not data.zones:
        return None
    labels = [label for _, _, label in DWELL_BINS]
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(_WIDTH_IN, 4.8), layout="constrained")
        ax = fig.subplots()
        width = 0.8 / len(data.zones)
        zone_colours = ("#009E73", "#D55E00", "#56B4E9", "#E69F00", "#0072B2", "#CC79A7", "#000000")
        for i, zone in enumerate(data.zones):
            bins = [b for b in data.histogram if (b.channel_id, b.zone) == (zone.channel_id, zone.zone)]
            values = [b.count for b in bins]
            offsets = [v - 0.4 + width * (i + 0.5) for v in range(len(labels))]
            mean = sum(zone.dwell_s) / len(zone.dwell_s)
            label = (
                f"{zone.zone} on {data.channel_name(zone.channel_id)}: "
                f"{len(zone.dwell_s)} visits, mean {format_duration(mean)}"
            )
            bars = ax.bar(offsets, values, width, color=zone_colours[i % len(zone_colours)], label=label)
            ax.bar_label(bars, labels=[str(v) if v else "" for v in values], fontsize=9, padding=1)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel("time in zone (zone_exit dwell)")
        ax.set_ylabel("visits")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="x", visible=False)
        ax.margins(y=0.15)
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2 if len(data.zones) > 3 else 1)  # never on a bar
        return _svg(fig)


def gender_split(data: ReportData) -> bytes | None:
    """Share of entries by final gender per entrance and for the store; unknown is its own (grey) segment."""
    rows = list(reversed(data.footfall))  # the store total at the top
    if not rows:
        return None
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(_WIDTH_IN, 1.6 + 0.75 * len(rows)), layout="constrained")
        ax: Axes = fig.subplots()
        y = range(len(rows))
        left = [0.0] * len(rows)
        for gender in GENDERS:
            counts = [getattr(r, gender) for r in rows]
            shares = [100 * n / r.entries if r.entries else 0.0 for n, r in zip(counts, rows, strict=True)]
            store_total = getattr(data.footfall[-1], gender)  # the last row is the store (the sum of the entrances)
            bars = ax.barh(
                y,
                shares,
                0.6,
                left=left,
                color=GENDER_COLOURS[gender],
                label=f"{gender}: {store_total}",
                edgecolor="white",
            )
            text_colour = "black" if gender == "unknown" else "white"
            ax.bar_label(
                bars,
                labels=[f"{n} ({s:.0f}%)" if s >= 7 else "" for n, s in zip(counts, shares, strict=True)],
                label_type="center",
                color=text_colour,
                fontsize=10,
                fontweight="bold",
            )
            left = [a + b for a, b in zip(left, shares, strict=True)]
        for i, row in enumerate(rows):
            if not row.entries:
                ax.text(1, i, "no entries", va="center", fontsize=10, color="#555555")
        names = [f"{_label(data, r.channel_id) if r.channel_id else r.name}\n{r.entries} entries" for r in rows]
        ax.set_yticks(list(y), names)
        ax.set_xlim(0, 100)
        ax.xaxis.set_major_formatter(PercentFormatter())
        ax.set_xlabel("share of entries (final gender of each track; unknown = not decided)")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, title="final gender: store entries")
        ax.get_yticklabels()[0].set_fontweight("bold")  # the store total
        return _svg(fig)
