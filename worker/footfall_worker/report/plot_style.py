"""What every report plot shares: the matplotlib style, the colours (a channel's is the same in every plot), the
SVG output."""

import io

import matplotlib
from matplotlib.figure import Figure

from footfall_worker.report.data import ReportData

matplotlib.use("Agg")  # never a display; savefig(format="svg") picks the SVG canvas itself

STYLE = {
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
CHANNEL_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
GENDER_COLOURS = {"female": "#CC79A7", "male": "#0072B2", "unknown": "#9A9A9A"}
WIDTH_IN = 11.0


def format_duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def svg(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def channel_colour(data: ReportData, channel_id: str) -> str:
    """The channel's colour, the same in every plot (by its place among the store's channels)."""
    ids = [c.id for c in data.channels]
    index = ids.index(channel_id) if channel_id in ids else len(ids)
    return CHANNEL_COLOURS[index % len(CHANNEL_COLOURS)]


def channel_label(data: ReportData, channel_id: str) -> str:
    name = data.channel_name(channel_id)
    return channel_id if name == channel_id else f"{name} ({channel_id})"
