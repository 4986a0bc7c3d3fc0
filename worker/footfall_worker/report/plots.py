"""The report's plots as SVG (bytes), drawn with matplotlib's object API (no pyplot, no display, no global figure
state). Each function returns None when there is nothing to draw; the page then says "no data". The hourly
footfall plot is `hourly_plot.py`; what they share, `plot_style.py`."""

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

import matplotlib
import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from footfall_worker.report.data import DWELL_BINS, ReportData
from footfall_worker.report.hourly_plot import hourly_footfall
from footfall_worker.report.plot_style import (
    GENDER_COLOURS,
    STYLE,
    WIDTH_IN,
    channel_colour,
    channel_label,
    format_duration,
    svg,
)
from footfall_worker.report.query import GENDERS, OCCUPANCY_BUCKET_S

__all__ = [
    "dwell_histogram",
    "format_duration",
    "gender_split",
    "heatmaps",
    "hourly_footfall",
    "occupancy",
    "store_occupancy",
]


def occupancy(data: ReportData) -> bytes | None:
    """People in view, one panel per camera (same scales): the 5-minute mean of the minute averages as a line,
    shaded up to the 5-minute peak; a gap where the camera recorded no statistics."""
    if not data.occupancy:
        return None
    tz = data.window.timezone
    step = timedelta(seconds=OCCUPANCY_BUCKET_S)
    channels = list(dict.fromkeys(b.channel_id for b in data.occupancy))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, 1.2 + 2.1 * len(channels)), layout="constrained")
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
            colour = channel_colour(data, channel)
            ax.fill_between(times, means, peaks, color=colour, alpha=0.18, linewidth=0, label="peak (5 min)")
            ax.plot(times, means, color=colour, linewidth=2.0, label="mean")
            ax.set_title(channel_label(data, channel), loc="left", fontsize=11)
            ax.legend(loc="upper right", ncols=2, fontsize=9)
        _time_axis(axes[-1], data)
        # Headroom above the highest peak for the legends; integer people.
        axes[-1].set_ylim(0, max(1, max(b.occupancy_max for b in data.occupancy)) * 1.3)
        axes[-1].yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        axes[-1].set_xlabel(f"local time ({tz.key}), 5-minute buckets")
        fig.supylabel("people in view of the camera", fontsize=11)
        return svg(fig)


def store_occupancy(data: ReportData) -> bytes | None:
    """People inside the store: entries minus exits over every entrance, reconciled (never below zero, reset to
    zero at closing time, partner cameras counted once), with a dotted line at each closing time."""
    store = data.store
    if store is None:
        return None
    end = data.window.local(data.window.end)
    times = [t for t, _ in store.timeline] + [end]
    people = [p for _, p in store.timeline] + [store.timeline[-1][1]]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, 3.8), layout="constrained")
        ax = fig.subplots()
        ax.fill_between(times, people, step="post", color="#0072B2", alpha=0.15, linewidth=0)
        ax.step(times, people, where="post", color="#0072B2", linewidth=1.8, label="people inside")
        for i, reset in enumerate(store.resets):
            ax.axvline(reset, color="#555555", linestyle=":", linewidth=1.2, label="closing: reset" if not i else None)
        _time_axis(ax, data)
        ax.set_ylim(0, max(1, max(people)) * 1.25)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
        ax.set_ylabel("people inside")
        ax.set_xlabel(f"local time ({data.window.timezone.key})")
        ax.legend(loc="upper right", ncols=2, fontsize=9)
        return svg(fig)


def _time_axis(ax: Axes, data: ReportData) -> None:
    """Local times across the period: round ticks, midnight as its date."""
    tz = data.window.timezone
    locator = mdates.AutoDateLocator(tz=tz, maxticks=16)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=tz, show_offset=False)
    formatter.zero_formats = ["", "%Y", "%b", "%d %b", "%H:%M", "%H:%M"]  # midnight as "07 May", not "May-07"
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(data.window.local(data.window.start), data.window.local(data.window.end))


def heatmaps(data: ReportData, pictures: Mapping[str, np.ndarray]) -> bytes | None:
    """Where people stood, one panel per camera: the share of the period's person-frames in each cell, over the
    picture of the view (cells nobody stood in are left clear)."""
    shown = [h for h in data.heatmaps if h.frames and sum(h.counts)]
    if not shown:
        return None
    columns = min(2, len(shown))
    rows = math.ceil(len(shown) / columns)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, 0.2 + 3.3 * rows * (2 / columns)), layout="constrained")
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for ax in axes[len(shown) :]:
            ax.set_axis_off()
        for ax, heat in zip(axes, shown, strict=False):
            picture = pictures[heat.channel_id]
            height, width = picture.shape[:2]
            ax.imshow(picture[:, :, ::-1], extent=(0, width, height, 0))
            share = heat.grid() / heat.grid().sum()
            masked = np.ma.masked_where(share <= 0, share)
            image = ax.imshow(masked, extent=(0, width, height, 0), cmap="inferno", alpha=0.6, interpolation="nearest")
            fig.colorbar(image, ax=ax, shrink=0.8, format=PercentFormatter(1.0, decimals=1), label="share of time")
            ax.set_title(channel_label(data, heat.channel_id), loc="left", fontsize=11)
            ax.set_axis_off()
        return svg(fig)


def dwell_histogram(data: ReportData) -> bytes | None:
    """Visits per dwell-time bin, one bar per zone in each bin."""
    if not data.zones:
        return None
    labels = [label for _, _, label in DWELL_BINS]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, 4.8), layout="constrained")
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
        return svg(fig)


def gender_split(data: ReportData) -> bytes | None:
    """Share of customers' entries (staff's left out) by final gender per entrance and for the store; unknown is
    its own (grey) segment."""
    rows = list(reversed(data.footfall))  # the store total at the top
    if not rows:
        return None
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, 1.6 + 0.75 * len(rows)), layout="constrained")
        ax: Axes = fig.subplots()
        y = range(len(rows))
        left = [0.0] * len(rows)
        for gender in GENDERS:
            counts = [getattr(r, gender) for r in rows]
            shares = [100 * n / r.customers if r.customers else 0.0 for n, r in zip(counts, rows, strict=True)]
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
            if not row.customers:
                ax.text(1, i, "no customers", va="center", fontsize=10, color="#555555")
        names = [
            f"{channel_label(data, r.channel_id) if r.channel_id else r.name}\n{r.customers} customers" for r in rows
        ]
        ax.set_yticks(list(y), names)
        ax.set_xlim(0, 100)
        ax.xaxis.set_major_formatter(PercentFormatter())
        ax.set_xlabel("share of customers' entries (final gender of each track; unknown = not decided)")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, title="final gender: store customers")
        ax.get_yticklabels()[0].set_fontweight("bold")  # the store total
        return svg(fig)
