#!/usr/bin/env bash
# Debian's headless-capable Chromium, for tests/report: it renders `footfall report`'s HTML to a screenshot and
# dumps its DOM. Idempotent and fast when it is installed (no `apt-get update` then).
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

# fonts-dejavu-core: the page's sans-serif text has a font even on a minimal image.
apt_install chromium fonts-dejavu-core
command -v chromium >/dev/null || die "chromium is not on PATH after installing it"
