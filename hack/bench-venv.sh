#!/usr/bin/env bash
# The bench venv ($FOOTFALL_CACHE/bench-venv) for bench/tracker_bench.py: footfall with its [test] extra
# (onnxruntime for the detector, motmetrics), plus Roboflow's `trackers` as the ByteTrack peer. Kept out of .venv
# because trackers and supervision declare the GUI `opencv-python`, which would overwrite our headless `cv2`: they
# go in with --no-deps from the pinned hack/requirements-bench.txt. Redone only when that file, pyproject.toml or
# this script change. Prints the venv's python on stdout.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

VENV=${FOOTFALL_BENCH_VENV:-$FOOTFALL_CACHE/bench-venv}
REQUIREMENTS=$FOOTFALL_ROOT/hack/requirements-bench.txt
stamp="$VENV/.footfall-bench"
want=$(cat "$REQUIREMENTS" "$FOOTFALL_ROOT/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)

if ! { [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; }; then
  rm -f "$stamp"  # a failed run below must not leave the old stamp claiming a good venv
  python=$(python311)
  "$python" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; "$python" -m venv "$VENV"; }
  say "installing footfall and the tracker peer into $VENV"
  pip=("$VENV/bin/pip" install -q --disable-pip-version-check)
  "${pip[@]}" -e "${FOOTFALL_ROOT}[test]" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  "${pip[@]}" --no-deps -r "$REQUIREMENTS" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  # A GUI OpenCV wheel beside the headless one shares the cv2 directory; whichever went in last wins.
  if "$VENV/bin/pip" show -q opencv-python >/dev/null 2>&1; then die "opencv-python got into $VENV"; fi
  "$VENV/bin/python" - <<'PY' || die "the bench venv does not import trackers with a headless cv2"
import re

import cv2
from trackers import ByteTrackTracker  # noqa: F401

gui = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.M)
assert gui is not None and gui.group(1) == "NONE", f"cv2 has a GUI backend: {gui and gui.group(1)}"
PY
  echo "$want" > "$stamp"
fi
echo "$VENV/bin/python"
