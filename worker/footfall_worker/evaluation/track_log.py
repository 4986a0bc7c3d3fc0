"""`TrackLog`: what a run found, kept for scoring: every processed frame's tracks as MOT rows, every crossing.

A sink like the record's: `footfall process-video --tracks-out` hangs it behind the channel worker and
`footfall eval` behind its own frame loop, so both write the same file for the same clip.
"""

from dataclasses import dataclass, field

from footfall_worker.evaluation.crossings import Crossing
from footfall_worker.evaluation.mot import MotRow
from footfall_worker.events import EventKind
from footfall_worker.pipeline.frame_result import FrameResult


@dataclass
class TrackLog:
    """Collects a run's tracks and crossings.

    Args:
        clock_origin: the wall time the video's position counts from (the processor's `file_wall_start`), so a
            crossing's `t` is its position in the clip in seconds.
    """

    clock_origin: float = 0.0
    rows: list[MotRow] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)

    def take(self, result: FrameResult) -> None:
        frame, tracks = result.frame, result.tracks
        index = frame.seq - 1 if frame is not None else None  # the frame's index from 0, as labels count
        if frame is not None and tracks is not None:
            self.rows += [
                MotRow.from_xyxy(frame.seq, int(track_id), box, float(score))
                for track_id, box, score in zip(
                    tracks.track_id.tolist(), tracks.xyxy.tolist(), tracks.confidence.tolist(), strict=True
                )
            ]
        for event in result.events:
            if event.kind is EventKind.LINE_CROSSING:
                t = round(event.t - self.clock_origin, 6)
                line, direction = str(event.payload["line"]), str(event.payload["direction"])
                self.crossings.append(Crossing(t, direction, line, event.track_id, index))

    def totals(self) -> dict[str, dict[str, int]]:
        """In and out per line, from the crossings (the same figures as the processor's line totals)."""
        totals: dict[str, dict[str, int]] = {}
        for crossing in self.crossings:
            line = totals.setdefault(crossing.line, {"in": 0, "out": 0})
            line[crossing.direction] += 1
        return totals
