"""How long our parsers of hostile text take on 1 MB built to make them slow: credential masking (every log
line, error and status message goes through it) and the live-hash decoder (any pod may write Redis).

    .venv/bin/python bench/hostile_input_bench.py          # also in `make bench`

Printed, never asserted. The masker this replaced took 0.68 s on 32 KB of `:a` repeated (quadratic); a linear
one takes milliseconds per megabyte on every shape below.
"""

import statistics
import sys
import time
from collections.abc import Callable

from footfall_contract.config import mask_credentials
from footfall_contract.heartbeat import MalformedLive, decode_live

MB = 1_000_000
SHAPES: dict[str, Callable[[int], str]] = {
    "colons, no @": lambda n: ":a" * (n // 2),
    "user:pass@ repeated": lambda n: "a:b@" * (n // 4),
    "@ only": lambda n: "@" * n,
    "letters, no ://": lambda n: "a" * n,
    "scheme:// repeated": lambda n: "a://" * (n // 4),
    "scheme://@ repeated": lambda n: "a://@" * (n // 5),
    "digits then ://": lambda n: "1" * (n - 6) + "://a@b",
    "?pass= repeated": lambda n: "?pass=" * (n // 6),
    "urls with secrets": lambda n: "rtsp://x:y@h?pwd=z&" * (n // 19),
    "control characters": lambda n: "\x00\x1b:\r\n@\t" * (n // 7),
}


def best_of(runs: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    print("credential masking, 1 MB of hostile input (best of 3):")
    results = {}
    for name, build in SHAPES.items():
        text = build(MB)
        results[name] = best_of(3, lambda text=text: mask_credentials(text))
        print(f"  {name:<22} {results[name] * 1000:8.1f} ms")
    print(f"  worst {max(results.values()) * 1000:.1f} ms, median {statistics.median(results.values()) * 1000:.1f} ms")
    hashes = {
        "zone JSON nested 1 MB": {"state": "ok", "zone_occupancy": "[" * MB},
        "track ids 1 MB": {"state": "ok", "active_track_ids": "1," * (MB // 2)},
        "10 000 unknown fields": {f"f{i}": "x" for i in range(10_000)},
    }
    print("live-hash decoding of hostile hashes (rejected or skipped, best of 3):")
    for name, fields in hashes.items():

        def decode(fields: dict[str, str] = fields) -> None:
            try:
                decode_live(fields)
            except MalformedLive:
                pass

        print(f"  {name:<22} {best_of(3, decode) * 1000:8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
