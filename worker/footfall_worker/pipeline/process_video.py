"""`footfall process-video FILE`: the channel pipeline over a video file, every frame, as fast as it goes.

The video-file baseline: the same worker as a live channel (detection on Triton, ByteTrack, gender, record,
live state), but the reader waits for processing instead of dropping frames and the tracker runs on the
video's clock, so the result does not depend on how fast this machine is. `--analytics FILE.json` (an
`AnalyticsConfig`: counting lines and zones) counts the file like a channel with that geometry.
"""

import argparse
import json
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from footfall_contract.config import ConfigError
from footfall_contract.config.cameras import format_validation_error, read_json_file
from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.evaluation.mot import write_mot
from footfall_worker.evaluation.track_log import TrackLog
from footfall_worker.log_setup import setup_logging
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.channel_worker import ChannelWorker, RunSummary
from footfall_worker.pipeline.runner import exit_code, run_until_stopped
from footfall_worker.settings import Settings


def file_settings(every: int = 1, record: bool = True, gender: bool = True, http_port: int = 0) -> Settings:
    """Settings for exhaustive file processing (everything else from the environment as usual)."""
    base = Settings.from_env(http_port=http_port, gender=gender, **({} if record else {"database_url": ""}))
    reader = base.reader.model_copy(
        update={"replay_realtime": False, "replay_exhaustive": True, "replay_loop": False, "process_every": every}
    )
    return Settings(base.worker, reader, base.triton, base.tracker, base.gender, base.storage)


def load_analytics(path: str | Path) -> AnalyticsConfig:
    """Read an `AnalyticsConfig` JSON file (lines and zones in relative coordinates).

    Raises:
        ConfigError: unreadable file, malformed JSON or invalid fields (named).
    """
    data = read_json_file(path, "analytics config")
    try:
        return AnalyticsConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, str(path))) from None


def process_video(args: argparse.Namespace) -> int:
    analytics = load_analytics(args.analytics) if args.analytics else None
    spec = ChannelSpec.from_file(Path(args.file), args.channel, analytics=analytics)
    setup_logging(args.log_level, channel=spec.channel_id)
    settings = file_settings(args.every, record=not args.no_record, gender=not args.no_gender)
    track_log = TrackLog()
    worker = ChannelWorker(spec, settings, extra_sinks=[track_log] if args.tracks_out else [])
    # The log's clock starts where the processor's file clock does: crossings at their position in the video.
    track_log.clock_origin = worker.processor.clock_origin
    summary = run_until_stopped(worker)
    if args.tracks_out:
        write_mot(args.tracks_out, track_log.rows)
    print(json.dumps(summary_document(worker, summary)) if args.json else summary_text(worker, summary))
    return exit_code(summary)


def summary_document(worker: ChannelWorker, summary: RunSummary) -> dict[str, object]:
    status = worker.status()
    p50, p95, p99 = (status.latency_p50_ms, status.latency_p95_ms, status.latency_p99_ms)
    return {
        "channel": worker.channel_id,
        "run_id": summary.run_id,
        "exit_reason": summary.exit_reason,
        "frames_read": summary.counters.frames_read,
        "frames_processed": summary.counters.frames_processed,
        "frames_failed": summary.counters.frames_failed,
        "fps": summary.mean_fps,
        "tracks": summary.counters.tracks_started,
        "genders": worker.processor.tally.genders,
        "latency_ms": {"p50": p50, "p95": p95, "p99": p99},
        "recorded": worker.writer is not None,
        "writer_complete": summary.writer_complete,
        "entries": summary.counters.entries,
        "exits": summary.counters.exits,
        "lines": worker.processor.analytics.totals() if worker.processor.analytics is not None else {},
    }


def summary_text(worker: ChannelWorker, summary: RunSummary) -> str:
    counts = summary.counters
    genders = Counter(worker.processor.tally.genders)
    counted = f", {counts.entries} in and {counts.exits} out" if worker.processor.analytics is not None else ""
    return (
        f"{worker.spec.source_masked}: {counts.frames_processed}/{counts.frames_read} frames processed at "
        f"{summary.mean_fps:.1f} fps, {counts.tracks_started} people tracked (female {genders['female']}, "
        f"male {genders['male']}, unknown {genders['unknown']}){counted}, run {summary.run_id} "
        f"({'recorded' if worker.writer is not None else 'not recorded'})"
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("process-video", help="the whole pipeline over a video file, every frame")
    parser.add_argument("file", help="video file")
    parser.add_argument("--channel", help="channel id for the record (default: file-<name>)")
    parser.add_argument("--every", type=int, default=1, help="process every N-th frame")
    parser.add_argument("--no-record", action="store_true", help="do not write to PostgreSQL")
    parser.add_argument("--no-gender", action="store_true")
    parser.add_argument("--analytics", metavar="FILE.json", help="counting lines and zones (AnalyticsConfig JSON)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--tracks-out", type=Path, metavar="FILE.txt", help="write every processed frame's tracks as MOT rows"
    )
    parser.add_argument("--log-level", default="WARNING")
    parser.set_defaults(handler=process_video)
