"""glibc's allocator, set for a long-running process that churns multi-megabyte frames across threads.

Measured with `make soak` (4 channels, RSS sampled every 30 s) and `bench/memory_trace.py`: the Python heap
stays flat (tracemalloc: +0.8 MB in 7 min, all frames in flight), while RSS under glibc's defaults kept creeping
(+3 MB over 15 min after warm-up, and 4-9 MB higher) in the workers left at the defaults, next to flat ones
with these settings. Two defaults cause it:

* one malloc arena per thread that ever contended (up to 8 x cores): the reader, processing, gender, writer
  and probe threads each fragment their own heap with freed 2.7 MB frames;
* the dynamic mmap threshold: after the first free of a large mmapped block glibc raises the threshold to its
  size, so every later frame comes from an arena instead of a fresh mapping returned to the OS on free.

Setting them with `mallopt` first thing in `main` (before the pipeline's threads start) does what
`MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576` in the environment would, but needs no wrapper: the
Deployment, `footfall run` and the benches all get it from the worker itself. Elsewhere than glibc (musl,
macOS) it does nothing.
"""

import ctypes
import ctypes.util

# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

ARENA_MAX = 2
MMAP_THRESHOLD_BYTES = 1 << 20  # frames (>= 1 MB) are mapped and unmapped; small objects stay in arenas
TRIM_THRESHOLD_BYTES = 4 << 20  # free heap tops over this go back to the OS


def tune_allocator() -> bool:
    """Apply the settings above; True when glibc took all three."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    settings = (
        (_M_ARENA_MAX, ARENA_MAX),
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
    )
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)
