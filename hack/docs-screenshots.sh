#!/usr/bin/env bash
# The screenshots in docs/screenshots/ (hack/docs_screenshots.py says how they are made); needs the venv,
# PostgreSQL and Chromium, and Triton (`make triton`) to pixelate people rather than blur the frames.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
hack/install-chromium.sh >/dev/null
exec .venv/bin/python hack/docs_screenshots.py "$@"
