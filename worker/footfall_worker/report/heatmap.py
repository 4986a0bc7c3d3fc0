"""The report's heatmaps: where people stood on each camera over the period (`channel_heatmap_hour`: feet points on
a coarse grid, every processed frame), drawn over a picture of the view: a `footfall draw` picture of the channel
when the report is given one (people in it pixelated), else the channel's lines and zones on a plain ground."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import psycopg2.extensions
from pydantic import ValidationError

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.geometry.overlay import draw_geometry
from footfall_worker.report.query import Channel, Window

PLAIN_GROUND = (540, 960)  # height, width of the schematic drawn when there is no picture of the view
MAX_BACKGROUND_BYTES = 32 * 2**20


@dataclass(frozen=True, slots=True)
class ChannelHeatmap:
    channel_id: str
    cols: int
    rows: int
    counts: tuple[int, ...]  # row by row from the top left
    frames: int  # processed frames the counts are over

    def grid(self) -> np.ndarray:
        """People per processed frame in each cell, shape (rows, cols)."""
        return np.asarray(self.counts, dtype=np.float64).reshape(self.rows, self.cols) / max(1, self.frames)


def channel_heatmaps(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], window: Window
) -> list[ChannelHeatmap]:
    """Each channel's grid over the period's hours (an hour is in when it starts inside the period), the runs and
    hours added up; a channel whose grid changed shape within the period keeps its most used shape."""
    with conn.cursor() as cur:
        cur.execute(
            """
            WITH hours AS (
                SELECT channel_id, cols, rows, counts, frames FROM channel_heatmap_hour
                WHERE channel_id = ANY(%(channels)s) AND hour >= %(start)s AND hour < %(end)s
            ), cells AS (
                SELECT channel_id, cols, rows, u.i, sum(u.c) AS total
                FROM hours, unnest(counts) WITH ORDINALITY AS u(c, i)
                GROUP BY 1, 2, 3, 4
            ), frames AS (
                SELECT channel_id, cols, rows, sum(frames) AS frames FROM hours GROUP BY 1, 2, 3
            )
            SELECT c.channel_id, c.cols, c.rows, array_agg(c.total ORDER BY c.i), f.frames
            FROM cells c JOIN frames f USING (channel_id, cols, rows)
            GROUP BY c.channel_id, c.cols, c.rows, f.frames
            ORDER BY c.channel_id, f.frames DESC
            """,
            {"channels": list(channel_ids), "start": window.start, "end": window.end},
        )
        found: dict[str, ChannelHeatmap] = {}
        for channel, cols, rows, counts, frames in cur.fetchall():
            if channel not in found:
                found[channel] = ChannelHeatmap(
                    channel, int(cols), int(rows), tuple(int(c) for c in counts), int(frames)
                )
    return list(found.values())


def background(channel: Channel, pictures: Path | None) -> np.ndarray:
    """The picture of the view under a channel's heatmap (BGR): `pictures/<channel id>/geometry.png` or
    `pictures/<channel id>.png` when there is one, else the channel's geometry on a plain ground."""
    if pictures is not None:
        for candidate in (pictures / channel.id / "geometry.png", pictures / f"{channel.id}.png"):
            if candidate.is_file() and candidate.stat().st_size <= MAX_BACKGROUND_BYTES:
                image = cv2.imread(str(candidate), cv2.IMREAD_COLOR)
                if image is not None:
                    return image
    ground = np.full((*PLAIN_GROUND, 3), 236, dtype=np.uint8)
    try:
        analytics = AnalyticsConfig.model_validate(channel.config.get("analytics") or {})
    except (ValidationError, AttributeError):
        return ground
    return draw_geometry(ground, analytics)[0]


def backgrounds(channels: Sequence[Channel], pictures: Path | None) -> Mapping[str, np.ndarray]:
    return {channel.id: background(channel, pictures) for channel in channels}
