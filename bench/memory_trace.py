"""A worker under tracemalloc, for finding where a soak's RSS goes (`pipeline_bench.py --trace-memory`).

    python bench/memory_trace.py OUT_FILE INTERVAL_S -- <footfall-worker arguments>

Runs `footfall_worker.main` in this process with tracemalloc on (frames 12 deep); every INTERVAL_S it appends to
OUT_FILE the Python heap traced, the process RSS, and the 15 call sites whose traced size grew most since the
first snapshot (taken after one interval, past start-up). RSS growing while the traced heap stays flat points
below Python: native buffers (FFmpeg, gRPC, OpenCV) or the allocator's fragmentation. Slow (2-3x the allocation
cost): a diagnostic, never how the bench measures speed.
"""

import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TOP = 15
FILTERS = (
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, "<unknown>"),
)


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


def report_loop(out: Path, interval_s: float) -> None:
    time.sleep(interval_s)
    baseline = tracemalloc.take_snapshot().filter_traces(FILTERS)
    started = time.monotonic()
    with out.open("a") as sink:
        sink.write(f"# baseline: traced {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MB, rss {rss_mb():.1f} MB\n")
        while True:
            time.sleep(interval_s)
            snapshot = tracemalloc.take_snapshot().filter_traces(FILTERS)
            traced = tracemalloc.get_traced_memory()[0] / 2**20
            elapsed = time.monotonic() - started
            sink.write(f"\n## +{elapsed:.0f} s: traced {traced:.1f} MB, rss {rss_mb():.1f} MB\n")
            for stat in snapshot.compare_to(baseline, "traceback")[:TOP]:
                where = " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in stat.traceback[:6])
                sink.write(f"{stat.size_diff / 1024:+9.0f} KiB {stat.count_diff:+7d} blocks  {where}\n")
            sink.flush()


def main() -> int:
    out, interval_s, separator, *worker_args = sys.argv[1:]
    if separator != "--":
        print(__doc__, file=sys.stderr)
        return 2
    tracemalloc.start(12)
    threading.Thread(target=report_loop, args=(Path(out), float(interval_s)), daemon=True).start()
    from footfall_worker.__main__ import main as worker_main

    return worker_main(worker_args)


if __name__ == "__main__":
    sys.exit(main())
