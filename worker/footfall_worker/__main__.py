"""`footfall-worker`: one channel, configured by the environment.

FOOTFALL_CAMERAS (store config JSON) and FOOTFALL_CHANNEL (channel id) choose the stream; FOOTFALL_TRITON_*
the inference server. Until the full pipeline lands (ingest, tracking, storage), the worker runs the
per-frame detection and gender loop of `footfall detect` and prints its counts.
"""

import os
import sys

from footfall_worker.cli import main as cli_main


def main() -> int:
    cameras = os.environ.get("FOOTFALL_CAMERAS")
    channel = os.environ.get("FOOTFALL_CHANNEL")
    if not cameras or not channel:
        print(
            "footfall-worker: set FOOTFALL_CAMERAS (store config JSON) and FOOTFALL_CHANNEL (channel id)",
            file=sys.stderr,
        )
        return 2
    return cli_main(["detect", "--cameras", cameras, "--channel", channel, "--json"])


if __name__ == "__main__":
    sys.exit(main())
