"""The report's hourly footfall plot: entries, exits and coverage per local hour and entrance camera."""

import math
from datetime import datetime

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from footfall_worker.report.data import ReportData
from footfall_worker.report.plot_style import STYLE, WIDTH_IN, channel_colour, channel_label, svg
from footfall_worker.report.query import MIN_COVERAGE, HourlyCount

BARS_UP_TO = 72  # grouped bars up to 3 days, steps beyond (bars would be slivers)


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
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, 9.0), layout="constrained")
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
        return svg(fig)


def _hourly_counts(
    ax: Axes, data: ReportData, hours: list[datetime], counts: dict[tuple[datetime, str], HourlyCount], attr: str
) -> None:
    n = len(data.entrances)
    width = 0.8 / n
    for i, channel in enumerate(data.entrances):
        rows = [counts[(hour, channel)] for hour in hours]
        colour = channel_colour(data, channel)
        if len(hours) <= BARS_UP_TO:
            offsets = [v - 0.4 + width * (i + 0.5) for v in range(len(hours))]
            values = [getattr(r, attr) if r.seen else 0 for r in rows]
            bars = ax.bar(offsets, values, width, color=colour, label=channel_label(data, channel))
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
            ax.step(list(range(len(hours))), values, where="mid", color=colour, label=channel_label(data, channel))
    ax.margins(y=0.12)


def _hourly_coverage(
    ax: Axes, data: ReportData, hours: list[datetime], counts: dict[tuple[datetime, str], HourlyCount]
) -> None:
    for channel in data.entrances:
        coverage = [counts[(hour, channel)].coverage for hour in hours]
        ax.step(list(range(len(hours))), coverage, where="mid", color=channel_colour(data, channel), linewidth=1.6)
    ax.axhline(MIN_COVERAGE, color="#555555", linestyle="--", linewidth=1.0)
    ax.set_title("Coverage (fraction of the hour each camera saw)", loc="left")
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("seen")
