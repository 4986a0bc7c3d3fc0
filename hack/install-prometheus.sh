#!/usr/bin/env bash
# Install promtool and prometheus from Debian's `prometheus` package (tests/chart/test_alerts.py: `promtool
# check rules` and `promtool test rules` on the chart's alerts). Only the binaries are used: the package's own
# service is not started (no systemd here; tests run their own server on a port they choose). Idempotent and
# fast when installed: no `apt-get update` then.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
echo "install-prometheus: installing prometheus (promtool) from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null
