"""Every fuzz target (`targets/`), run by libFuzzer for a bounded number of inputs from its committed seed corpus.

Each target runs in its own process, as libFuzzer needs: a crash ends the process with the failing input
written out. New inputs worth keeping go to the test's temporary directory (libFuzzer writes to the FIRST
corpus directory, so the committed corpus is only read), and so do crash artifacts. `FOOTFALL_FUZZ_RUNS`
overrides the number of inputs of every target (longer runs find more); `FOOTFALL_FUZZ_SEED` picks another
seed than the fixed one `make test` replays.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

FUZZ_DIR = Path(__file__).resolve().parent
REPO_ROOT = FUZZ_DIR.parents[1]
CORPUS = FUZZ_DIR / "corpus"
# name -> (inputs per `make test`, the longest input libFuzzer makes). The counts keep each target around 10 s
# on a 2-core machine; max_len leaves room for the longest seed.
TARGETS = {
    "crd_spec": (4_000, 8192),
    "journal": (3_000, 8192),
    "live_hash": (30_000, 8192),
    "masking": (15_000, 8192),
    "reid_entry": (5_000, 4096),
    "rtsp_url": (60_000, 1024),
    "store_config": (3_000, 8192),
    "till_delivery": (20_000, 8192),
}
DEFAULT_SEED = "18"
_DONE = re.compile(r"^Done (\d+) runs in (\d+) second", re.MULTILINE)
_OUTPUT_TAIL = 6000
_CRASH_SHOWN = 600


def _crash_report(name: str, artifacts: Path) -> str:
    shown = []
    for path in sorted(artifacts.iterdir()):
        data = path.read_bytes()
        more = f"... ({len(data)} bytes)" if len(data) > _CRASH_SHOWN else ""
        # a structured input (NUL first) reads as bytes only: rerunning it shows the values it drew
        rerun = f".venv/bin/python -m tests.fuzz.targets.{name} {path}"
        shown.append(f"{path}: {data[:_CRASH_SHOWN]!r}{more}\nrerun it, from the repo root: {rerun}")
    return "\n".join(shown) or "(no crash input written)"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target(name: str, tmp_path: Path) -> None:
    runs, max_len = TARGETS[name]
    override = os.environ.get("FOOTFALL_FUZZ_RUNS")
    runs = int(override) if override else runs
    new_units, artifacts = tmp_path / "new_units", tmp_path / "artifacts"
    new_units.mkdir()
    artifacts.mkdir()
    command = [
        sys.executable,
        "-m",
        f"tests.fuzz.targets.{name}",
        f"-runs={runs}",
        f"-max_len={max_len}",
        "-timeout=10",  # seconds for one input: a hang is a failure, not a stuck test run
        "-rss_limit_mb=2048",
        f"-artifact_prefix={artifacts}/",
        # a fixed seed: `make test` replays the same inputs, so CI is red only for a change of ours (longer runs
        # with FOOTFALL_FUZZ_RUNS and another seed are how new inputs are explored)
        f"-seed={os.environ.get('FOOTFALL_FUZZ_SEED', DEFAULT_SEED)}",
        str(new_units),
        str(CORPUS / name),
    ]
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    # TMPDIR: the targets' scratch files (a journal segment, a config file) land in the test's directory
    env = {**os.environ, "PYTHONPATH": pythonpath, "TMPDIR": str(tmp_path)}
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in order: the traceback sits next to libFuzzer's crash report
        text=True,
        errors="replace",
        timeout=None if override else 600,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout
    assert result.returncode == 0, (
        f"fuzz target {name} failed (exit {result.returncode}) after {elapsed:.1f} s\n"
        f"--- fuzzer output (tail) ---\n{output[-_OUTPUT_TAIL:]}\n"
        f"--- crash input ---\n{_crash_report(name, artifacts)}"
    )
    done = _DONE.search(output)
    assert done is not None, f"fuzz target {name}: no 'Done N runs' line\n{output[-_OUTPUT_TAIL:]}"
    new = len(list(new_units.iterdir()))
    print(f"\nfuzz {name}: {done[1]} runs in {elapsed:.1f} s, {new} new corpus units (not kept)")
