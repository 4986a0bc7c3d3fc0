"""The one way a channel's `FrameProcessor` is made, for a camera, `process-video` and `footfall eval` alike.

`footfall eval` and `footfall process-video` must count a clip the same way, or there is no single truth to test
against: both build their processor here, from the same settings, and differ only in where frames come from
(the eval decodes the clip in its own loop; the worker's reader thread hands frames over) and where results go.
"""

from collections.abc import Callable

from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.detections import Detections
from footfall_worker.inference import TritonConnection
from footfall_worker.ingest.frames import Frame
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.frame_processor import FrameProcessor
from footfall_worker.pipeline.recorder import TrackRecorder
from footfall_worker.reid.appearance import AppearanceEncoder, ColorHistogramEncoder
from footfall_worker.reid.learned_encoder import TritonAppearanceEncoder
from footfall_worker.reid.linker import TrackLinker
from footfall_worker.settings import Settings, TrackerSettings
from footfall_worker.tracking.byte_tracker import ByteTracker

Detect = Callable[[Frame], Detections]

# Least similarity to re-find a lost track, per encoder (each has its own scale: colour histograms of two
# people in dark clothes are alike, 0.985 at most between the committed clips' visitors against 0.998 for one
# person; the learned embedder's 0.876 against 0.98: tests/reid, bench/reid_eval.py).
MIN_SIMILARITY = {"histogram": 0.98, "learned": 0.93}


def appearance_encoder(settings: TrackerSettings, connection: TritonConnection | None) -> AppearanceEncoder | None:
    """The tracker's appearance encoder, or None when appearance is off.

    Raises:
        ValueError: the learned encoder is asked for without a Triton connection.
    """
    if settings.appearance == "histogram":
        return ColorHistogramEncoder()
    if settings.appearance == "learned":
        if connection is None:
            raise ValueError("tracker appearance 'learned' needs Triton (the appearance_embedder model)")
        return TritonAppearanceEncoder(connection)
    return None


def make_tracker(settings: TrackerSettings) -> ByteTracker:
    default = MIN_SIMILARITY.get(settings.appearance, 1.0)
    return ByteTracker(settings, min_similarity=settings.appearance_min_similarity or default)


def make_processor(
    spec: ChannelSpec,
    settings: Settings,
    run_id: str,
    detect: Detect,
    *,
    gender: TrackGender | None = None,
    linker: TrackLinker | None = None,
    file_wall_start: float | None = None,
    connection: TritonConnection | None = None,
) -> FrameProcessor:
    """A fresh processor for one run of `spec`'s channel.

    Args:
        spec: the channel (its counting geometry and masks come from here).
        settings: the tracker's settings come from here.
        run_id: the run the rows belong to.
        detect: the frame's people.
        gender: gender per track; None: off.
        linker: ReID of new tracks against the channel's gallery; None: off.
        file_wall_start: wall time the video's position counts from (a file), None for a camera.
        connection: Triton, for the learned appearance encoder.
    """
    gender = gender or TrackGender.off()
    return FrameProcessor(
        detect,
        make_tracker(settings.tracker),
        TrackRecorder(run_id, gender),
        gender,
        linker=linker,
        file_wall_start=file_wall_start,
        analytics=spec.analytics,
        appearance=appearance_encoder(settings.tracker, connection),
    )
