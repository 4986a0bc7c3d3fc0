#!/usr/bin/env bash
# Install what hack/camera_sim.py needs: Debian's GStreamer RTSP server + its Python bindings, and ffmpeg
# (hack/prepare-footage.sh). Idempotent and fast when everything is present: no `apt-get update` then.
set -euo pipefail

PACKAGES=(
  ffmpeg
  gir1.2-gst-rtsp-server-1.0
  python3-gi
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg-query exits 0 for removed-but-configured packages too, so the status text must be checked.
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-gstreamer: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
