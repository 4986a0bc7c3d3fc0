"""`footfall doctor`: checks this machine, Triton, PostgreSQL, Redis and every camera of a store config, and says
what it found in one line each (or JSON). Exit 0 when nothing failed, 1 when something did, 2 for bad flags.

footfall doctor --cameras input/cameras_config/kidsplaza_thanhxuan.json
footfall doctor --triton 127.0.0.1:8001 --dsn postgresql://postgres@127.0.0.1/test --json

Each address defaults to what a worker would use: FOOTFALL_TRITON_URL, FOOTFALL_DATABASE_URL, FOOTFALL_REDIS_URL
and FOOTFALL_CAMERAS (camera credentials from the variables or Secret files the store config names).
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from footfall_contract.config import ConfigError, load_store_config
from footfall_worker.doctor import checks
from footfall_worker.doctor.checks import Check

REPO_CLIP = Path(__file__).resolve().parents[3] / "input" / "footage" / "intel" / "store-aisle-detection.mp4"
MODELS = ("person_detector", "gender_classifier")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footfall doctor", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env = os.environ.get
    parser.add_argument("--cameras", default=env("FOOTFALL_CAMERAS"), help="store config JSON: check every camera")
    parser.add_argument("--triton", default=env("FOOTFALL_TRITON_URL") or "127.0.0.1:8001", help="gRPC host:port")
    parser.add_argument("--dsn", default=env("FOOTFALL_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default=env("FOOTFALL_REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--clip", type=Path, default=REPO_CLIP, help="a video to time decoding on (default: bundled)")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to read each camera's stream")
    parser.add_argument("--json", action="store_true", help="one JSON list of the checks")
    return parser


def run_checks(args: argparse.Namespace) -> list[Check]:
    found = [
        checks.guarded("machine", checks.machine),
        checks.guarded("decode", lambda: checks.decode(args.clip)),
        checks.guarded("triton", lambda: checks.triton(args.triton, MODELS)),
        checks.guarded("postgres", lambda: checks.postgres(args.dsn)),
        checks.guarded("redis", lambda: checks.redis_server(args.redis)),
    ]
    if args.cameras:
        try:
            store = load_store_config(args.cameras)
        except ConfigError as error:
            return [*found, Check("cameras", "fail", str(error))]
        for channel in store.channels:
            found.append(checks.guarded(f"camera {channel.id}", lambda c=channel: checks.camera(c, args.seconds)))
    else:
        found.append(Check("cameras", "skip", "no store config (give --cameras or set FOOTFALL_CAMERAS)"))
    return found


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.seconds <= 0 or args.seconds > 60:
        print(f"footfall doctor: error: --seconds {args.seconds:g}: expected 0 < seconds <= 60", file=sys.stderr)
        return 2
    found = run_checks(args)
    if args.json:
        print(json.dumps([asdict(c) for c in found], indent=2, default=str))
    else:
        width = max(len(c.name) for c in found)
        for check in found:
            print(f"{check.status:<5} {check.name:<{width}}  {check.detail}")
    return 1 if any(c.status == "fail" for c in found) else 0
