"""`footfall`: the local command line.

footfall detect --cameras config/demo_store.json --channel channel_1 [--duration 30]
footfall detect --source input/footage/intel/one-by-one-person-detection.mp4
footfall config --cameras input/cameras_config/kidsplaza_thanhxuan.json
footfall process-video input/footage/intel/one-by-one-person-detection.mp4
footfall run --cameras config/demo_store.json
footfall import-config input/cameras_config/kidsplaza_thanhxuan.json | kubectl apply -f -
footfall report --store kidsplaza_thanhxuan --from 2024-05-06 --to 2024-05-06 --out reports/2024-05-06
"""

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from footfall_contract.config import ConfigError, load_store_config
from footfall_worker.frame_analysis import FrameAnalysis, analyse_frame
from footfall_worker.inference import GenderClassifier, InferenceError, PersonDetector, TritonConnection
from footfall_worker.ingest.capture import Source, SourceError, as_source
from footfall_worker.ingest.rtsp_reader import CameraReader
from footfall_worker.log_setup import setup_logging
from footfall_worker.settings import ReaderSettings, TritonSettings

log = logging.getLogger("footfall.cli")


def _source(args: argparse.Namespace) -> tuple[str, Source]:
    if args.source:
        source = as_source(args.source)
        return (source.stem if isinstance(source, Path) else "camera"), source
    if not (args.cameras and args.channel):
        raise ConfigError("give --source FILE, or --cameras STORE_JSON with --channel ID")
    channel = load_store_config(args.cameras).channel(args.channel)
    return channel.id, channel.url()


def detect(args: argparse.Namespace) -> int:
    """Detect people and their gender frame by frame through Triton; print one line per frame."""
    channel_id, source = _source(args)
    setup_logging(args.log_level, channel=channel_id)
    connection = TritonConnection(TritonSettings())
    connection.wait_until_ready(
        [connection.settings.detector_model, connection.settings.gender_model], args.ready_timeout
    )
    detector = PersonDetector(connection)
    classifier = None if args.no_gender else GenderClassifier(connection)
    # A file is read as fast as processing goes, every frame; a camera newest-first, dropping what is late.
    reader_settings = ReaderSettings(process_every=args.every, replay_realtime=False, replay_exhaustive=True)
    reader = CameraReader(channel_id, source, reader_settings).start()
    log.info("reading", extra={"source": str(source), "triton": connection.url})
    deadline = time.monotonic() + args.duration if args.duration > 0 else float("inf")
    processed = 0
    try:
        while time.monotonic() < deadline and not (args.max_frames and processed >= args.max_frames):
            frame = reader.get(timeout=0.5)
            if frame is None:
                if not reader.running:
                    break
                continue
            analysis = analyse_frame(frame.image, detector, classifier, args.min_score)
            print(_frame_line(channel_id, frame.seq - 1, analysis, args), flush=True)
            processed += 1
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()
        detector.close()
        connection.close()
    log.info("done", extra={"frames_processed": processed, "frames_dropped": reader.snapshot().dropped})
    return 0


def _frame_line(channel_id: str, index: int, analysis: FrameAnalysis, args: argparse.Namespace) -> str:
    counts = analysis.gender_counts(args.min_gender_confidence)
    row = {
        "channel": channel_id,
        "frame": index,
        "people": len(analysis.people),
        **counts,
        "detect_ms": round(analysis.detect_ms, 1),
        "gender_ms": round(analysis.gender_ms, 1),
    }
    if args.json:
        return json.dumps(row)
    return (
        f"{channel_id} frame {index:6d}  people {row['people']:2d}  female {counts['female']}  male {counts['male']}  "
        f"unknown {counts['unknown']}  detect {row['detect_ms']:6.1f} ms  gender {row['gender_ms']:6.1f} ms"
    )


def evaluate(args: argparse.Namespace) -> int:
    """The channel's processing over a clip: MOT results to a file, scores when ground truth is given."""
    from footfall_worker.evaluation.runner import run_eval
    from footfall_worker.pipeline.channel import ChannelSpec
    from footfall_worker.pipeline.process_video import file_settings, load_analytics
    from footfall_worker.pipeline.processing import make_processor

    setup_logging(args.log_level, channel="eval")
    analytics = load_analytics(args.analytics) if args.analytics else None
    spec = ChannelSpec.from_file(args.clip, "eval", analytics=analytics)
    # process-video's settings and processor: the two commands count a clip the same way (a test holds them to it)
    settings = file_settings(args.every, record=False, gender=False)
    connection = TritonConnection(settings.triton)
    connection.wait_until_ready([settings.triton.detector_model], args.ready_timeout)
    detector = PersonDetector(connection)
    processor = make_processor(
        spec,
        settings,
        "eval",
        lambda frame: detector.detect_one(frame.image),
        file_wall_start=0.0,
        connection=connection,
    )
    try:
        log, scores = run_eval(args.clip, args.gt, args.out, processor, every=args.every)
    finally:
        detector.close()
        connection.close()
    ids = {row.track_id for row in log.rows}
    print(f"{args.clip}: {len(log.rows)} tracked boxes, {len(ids)} identities -> {args.out}")
    if analytics is not None:
        lines = ", ".join(f"{line} {n['in']} in {n['out']} out" for line, n in sorted(log.totals().items()))
        print(f"crossings: {lines or 'none'}")
    if scores is not None:
        print(
            f"MOTA {scores.mota:.3f}  IDF1 {scores.idf1:.3f}  HOTA {scores.hota:.3f}  "
            f"ID switches {scores.id_switches}  FP {scores.false_positives}  misses {scores.misses}  (gt {args.gt})"
        )
    return 0


def show_config(args: argparse.Namespace) -> int:
    """Print the store's channels with masked URLs (credentials resolved only to check they are set)."""
    store = load_store_config(args.cameras)
    for channel in store.channels:
        try:
            url = str(channel.url())
        except ConfigError as error:
            url = f"<{error}>"
        print(f"{store.store_id}/{channel.id}  {channel.name:24s} {url}")
    return 0


def import_config(args: argparse.Namespace) -> int:
    """A store config as CameraChannel manifests and their Secret (see footfall_operator.import_config_command)."""
    # Imported here: only this command needs the operator package and PyYAML.
    from footfall_operator.import_config_command import main as import_config_main

    return import_config_main(args.argv, os.environ, sys.stdout)


def report(args: argparse.Namespace) -> int:
    """A store's HTML report with the CSV behind each plot (see footfall_worker.report)."""
    # Imported here: only this command needs matplotlib.
    from footfall_worker.report import run

    return run(args.argv)


def doctor(args: argparse.Namespace) -> int:
    """What this machine, Triton, PostgreSQL, Redis and each camera can do (see footfall_worker.doctor)."""
    from footfall_worker.doctor.command import run

    return run(args.argv)


def draw(args: argparse.Namespace) -> int:
    """A channel's lines, zones and masks over a frame of its camera (see footfall_worker.geometry)."""
    from footfall_worker.geometry.command import run

    return run(args.argv)


def till_webhook(args: argparse.Namespace) -> int:
    """The endpoint a store's till posts its transactions to (see footfall_worker.till)."""
    from footfall_worker.till.server import run

    return run(args.argv)


def retention(args: argparse.Namespace) -> int:
    """The history's partitions kept ahead and its retention applied (see footfall_worker.storage.partitions)."""
    from footfall_worker.storage.retention_command import run

    return run(args.argv)


def _add_passthrough(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    handler: Callable[[argparse.Namespace], int],
    help_text: str,
) -> None:
    """A subcommand whose options its own module's parser defines: every argument passes through untouched (no
    prefix chars, so `--out` and `-h` are not parsed here), and the module is imported only when it runs."""
    parser = commands.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footfall", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    detect_parser = commands.add_parser("detect", help="people counts per frame through Triton")
    detect_parser.add_argument("--cameras", type=Path, help="store config JSON")
    detect_parser.add_argument("--channel", help="channel id in the store config")
    detect_parser.add_argument("--source", help="a video file or an rtsp:// URL instead of a store channel")
    detect_parser.add_argument("--duration", type=float, default=0, help="seconds to run; 0 = until the end or Ctrl+C")
    detect_parser.add_argument("--max-frames", type=int, default=0, help="stop after this many processed frames")
    detect_parser.add_argument("--every", type=int, default=1, help="process every N-th frame")
    detect_parser.add_argument("--min-score", type=float, default=0.5, help="person score to count")
    detect_parser.add_argument("--min-gender-confidence", type=float, default=0.7)
    detect_parser.add_argument("--no-gender", action="store_true")
    detect_parser.add_argument("--json", action="store_true", help="one JSON object per frame")
    detect_parser.add_argument("--ready-timeout", type=float, default=60, help="seconds to wait for Triton")
    detect_parser.add_argument("--log-level", default="INFO")
    detect_parser.set_defaults(handler=detect)

    eval_parser = commands.add_parser("eval", help="track a clip, write MOT results, score against ground truth")
    eval_parser.add_argument("--clip", type=Path, required=True, help="video file or MOTChallenge sequence folder")
    eval_parser.add_argument("--gt", type=Path, help="MOTChallenge gt.txt")
    eval_parser.add_argument("--out", type=Path, required=True, help="MOT results file to write")
    eval_parser.add_argument("--every", type=int, default=1, help="process every N-th frame (only those are scored)")
    eval_parser.add_argument("--analytics", metavar="FILE.json", help="counting lines and zones (AnalyticsConfig JSON)")
    eval_parser.add_argument("--ready-timeout", type=float, default=60, help="seconds to wait for Triton")
    eval_parser.add_argument("--log-level", default="INFO")
    eval_parser.set_defaults(handler=evaluate)

    config_parser = commands.add_parser("config", help="show a store config with masked URLs")
    config_parser.add_argument("--cameras", type=Path, required=True)
    config_parser.set_defaults(handler=show_config)

    _add_passthrough(
        commands,
        "import-config",
        import_config,
        "a store config as CameraChannel manifests and their Secret (see `footfall import-config -h`)",
    )
    _add_passthrough(
        commands,
        "report",
        report,
        "a store's HTML report: hourly footfall, occupancy, dwell, gender split (see `footfall report -h`)",
    )

    _add_passthrough(
        commands,
        "doctor",
        doctor,
        "check this machine, Triton, PostgreSQL, Redis and every camera (see `footfall doctor -h`)",
    )

    _add_passthrough(
        commands,
        "draw",
        draw,
        "a channel's lines, zones and masks over a frame of its camera (see `footfall draw -h`)",
    )

    _add_passthrough(
        commands,
        "retention",
        retention,
        "partitions created ahead, history past its retention dropped (see `footfall retention -h`)",
    )

    _add_passthrough(
        commands,
        "till-webhook",
        till_webhook,
        "the signed endpoint a store's till posts its transactions to (see `footfall till-webhook -h`)",
    )

    from footfall_worker.pipeline.process_video import add_parser as add_process_video_parser

    add_process_video_parser(commands)

    from footfall_worker.manager.run_command import add_run_parser

    add_run_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ConfigError, SourceError, InferenceError) as error:
        print(f"footfall: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
