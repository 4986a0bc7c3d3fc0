#!/usr/bin/env bash
# Make input/footage/intel/ from Intel's CC-BY-4.0 sample videos
# (github.com/intel-iot-devkit/sample-videos, commit 57978890).
#
# The outputs are committed, so a fresh clone needs neither the sources nor this script; it documents how they
# were made and re-creates any missing one. Idempotent: an output that exists and passes the checks is kept.
#
#   hack/prepare-footage.sh [--force] [SOURCE_DIR]
#   SOURCE_DIR defaults to $FOOTAGE_SRC, else /work/shared/footage/intel-sample-videos.
#
# Why these settings:
#   - H.264 in MP4: the only thing hack/camera_sim.py serves (no re-encoding at serve time).
#   - yuv420p, even width/height: what every H.264 decoder (and OpenCV) accepts.
#   - crf 18, preset slow: visually lossless; the clips drive face/gender tests.
#   - one keyframe per second (-g = fps) and no B-frames: like an IP camera, so a client joining a running
#     stream gets a picture within a second and frames leave in decode order.
#   - -fps_mode passthrough: every GIF frame kept once (no dup/drop), at the GIF's own rate.
#   - +faststart: moov atom first, the file is readable while streaming it.
set -euo pipefail

force=0
if [[ "${1:-}" == "--force" ]]; then
  force=1
  shift
fi
src="${1:-${FOOTAGE_SRC:-/work/shared/footage/intel-sample-videos}}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo_root/input/footage/intel"

GIFS=(store-aisle-detection face-demographics-walking head-pose-face-detection-female-and-male worker-zone-detection
      people-detection)
MP4S=(one-by-one-person-detection)

"$repo_root/hack/install-gstreamer.sh"  # brings ffmpeg/ffprobe

# probe FILE ENTRY: one ffprobe field of the first video stream.
probe() {
  ffprobe -v error -select_streams v:0 -show_entries "stream=$2" -of default=nokey=1:noprint_wrappers=1 "$1"
}

frame_count() {
  ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets \
    -of default=nokey=1:noprint_wrappers=1 "$1"
}

# check OUTPUT [EXPECTED_FRAMES]: H.264, yuv420p, even dims, and the source's frame count.
check() {
  local file="$1" expected="${2:-}" codec pix width height frames
  [[ -s "$file" ]] || return 1
  codec="$(probe "$file" codec_name)" || return 1
  pix="$(probe "$file" pix_fmt)"
  width="$(probe "$file" width)"
  height="$(probe "$file" height)"
  frames="$(frame_count "$file")"
  [[ "$codec" == h264 && "$pix" == yuv420p ]] || return 1
  (( width % 2 == 0 && height % 2 == 0 )) || return 1
  if [[ -n "$expected" && "$frames" != "$expected" ]]; then
    echo "prepare-footage: $file has $frames frames, source has $expected" >&2
    return 1
  fi
  echo "prepare-footage: ok $(basename "$file"): h264 ${width}x${height} $(probe "$file" r_frame_rate) fps, $frames frames"
}

mkdir -p "$out"
need_src=0
# encode SRC DST: H.264 like an IP camera (yuv420p, even size, every frame kept, a keyframe a second, no
# B-frames so a viewer joining a running stream gets a picture quickly), high quality for face tests.
encode() {
  local fps tmp
  fps="$(probe "$1" r_frame_rate)"
  tmp="$(dirname "$2")/.$(basename "$2").tmp"
  ffmpeg -nostdin -v error -y -i "$1" -map 0:v:0 -an \
    -vf "scale=trunc(iw/2)*2:trunc(ih/2)*2" -pix_fmt yuv420p -fps_mode passthrough \
    -c:v libx264 -preset slow -crf 18 -g "$fps" -bf 0 \
    -map_metadata -1 -movflags +faststart -f mp4 "$tmp"
  mv "$tmp" "$2"
}

for name in "${GIFS[@]}" "${MP4S[@]}"; do
  if [[ $force -eq 1 || ! -s "$out/$name.mp4" ]]; then need_src=1; fi
done
if [[ ! -s "$out/LICENSE" ]]; then need_src=1; fi
if [[ $need_src -eq 1 && ! -d "$src" ]]; then
  echo "prepare-footage: source directory $src not found; clone github.com/intel-iot-devkit/sample-videos" \
       "(commit 57978890) and pass its path" >&2
  exit 1
fi

for name in "${GIFS[@]}"; do
  dst="$out/$name.mp4"
  expected=""
  if [[ -f "$src/$name.gif" ]]; then
    # GIF frame count = the number of frames the MP4 must keep.
    expected="$(frame_count "$src/$name.gif")"
  fi
  if [[ $force -eq 0 ]] && check "$dst" "$expected"; then continue; fi
  encode "$src/$name.gif" "$dst"
  check "$dst" "$expected"
done

for name in "${MP4S[@]}"; do
  dst="$out/$name.mp4"
  if [[ $force -eq 0 ]] && check "$dst"; then continue; fi
  if [[ "$(probe "$src/$name.mp4" codec_name)" == h264 ]] && [[ "$(probe "$src/$name.mp4" pix_fmt)" == yuv420p ]]; then
    install -m 644 "$src/$name.mp4" "$dst"  # already what we need: keep Intel's bits unchanged
  else
    encode "$src/$name.mp4" "$dst"
  fi
  check "$dst" "$(frame_count "$src/$name.mp4")"
done

if [[ $force -eq 1 || ! -s "$out/LICENSE" ]]; then
  cp "$src/LICENSE" "$out/LICENSE"
  chmod 644 "$out/LICENSE"
fi

cat > "$out/ATTRIBUTION.md" <<'MD'
# Intel sample videos

Source: https://github.com/intel-iot-devkit/sample-videos, commit 57978890.
© Intel Corporation. Licensed under the Creative Commons Attribution 4.0 International license (CC-BY-4.0),
see `LICENSE` beside this file.

| file | source file |
| --- | --- |
| `one-by-one-person-detection.mp4` | `one-by-one-person-detection.mp4` (unchanged copy) |
| `store-aisle-detection.mp4` | `store-aisle-detection.gif` |
| `face-demographics-walking.mp4` | `face-demographics-walking.gif` |
| `head-pose-face-detection-female-and-male.mp4` | `head-pose-face-detection-female-and-male.gif` |
| `worker-zone-detection.mp4` | `worker-zone-detection.gif` |
| `people-detection.mp4` | `people-detection.gif` |

GIFs converted to H.264 MP4 by the Footfall project; no other change.
Made with `hack/prepare-footage.sh` (ffmpeg/libx264, crf 18, yuv420p, every frame kept at the GIF's frame rate).
MD
echo "prepare-footage: done, $out"
