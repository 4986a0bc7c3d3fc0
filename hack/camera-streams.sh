#!/usr/bin/env bash
# Make the streams a store's IP cameras send, from our footage, once (cached): what the camera simulator serves
# when a test or bench needs a real camera's load rather than a small sample clip.
#
#   hack/camera-streams.sh            -> prints the directory; re-encodes only what is missing or wrong
#   hack/camera-streams.sh --force
#
# ${FOOTFALL_CACHE:-~/.cache/footfall}/camera-streams/:
#   main-1080p25-h264.mp4   1920x1080, 25 fps, H.264, 4 Mbit/s   a Dahua 2 MP main stream (subtype=0)
#   main-4mp25-h265.mp4     2560x1440, 25 fps, H.265, 6 Mbit/s   a 4 MP main stream, as most are shipped now
#   sub-d1-h264.mp4         704x576,   25 fps, H.264, 1 Mbit/s   the D1 sub-stream (subtype=1) of the same camera
#
# Like a camera's encoder: a keyframe every 2 s (GOP 50, no scene-cut keyframes), no B-frames, constant bitrate
# with a one-second buffer (VBV), yuv420p. The picture is input/footage/intel/one-by-one-person-detection.mp4
# (CC-BY-4.0, Intel; 768x432 at 10 fps) upscaled and repeated to 25 fps: the pixels are softer than a real
# 4 MP camera's, but what costs CPU (decoding that many macroblocks at that bitrate) is the real thing. The
# sub-stream is anamorphic (16:9 squeezed into 704x576), as a D1 sub-stream is. The same 20 s in each, so a
# main stream and its sub-stream show the same people at the same moment.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force=0
[[ "${1:-}" == "--force" ]] && force=1
source_clip="$FOOTFALL_ROOT/input/footage/intel/one-by-one-person-detection.mp4"
out="$FOOTFALL_CACHE/camera-streams"
seconds=20
fps=25
gop=$((2 * fps))

"$FOOTFALL_ROOT/hack/install-gstreamer.sh" >&2  # brings ffmpeg/ffprobe
[[ -s "$source_clip" ]] || die "source clip $source_clip is missing"
mkdir -p "$out"

# check FILE CODEC WIDTH HEIGHT: the stream is what its name promises (a half-written file fails here).
check() {
  local fields
  fields=$(ffprobe -v error -select_streams v:0 -count_packets \
    -show_entries stream=codec_name,width,height,r_frame_rate,pix_fmt,nb_read_packets -of csv=p=0 "$1" 2>/dev/null) || return 1
  [[ "$fields" == "$2,$3,$4,yuv420p,$fps/1,$((seconds * fps))" ]]
}

# make NAME CODEC WIDTH HEIGHT ENCODER_ARGS...
make_stream() {
  local name=$1 codec=$2 width=$3 height=$4; shift 4
  local dst="$out/$name" tmp="$out/.$name.tmp"
  if [[ $force -eq 0 ]] && check "$dst" "$codec" "$width" "$height"; then return 0; fi
  say "encoding $name (${width}x${height} $codec, once)"
  ffmpeg -nostdin -v error -y -t "$seconds" -i "$source_clip" -an -map_metadata -1 \
    -vf "fps=$fps,scale=$width:$height:flags=bicubic,setsar=1" -pix_fmt yuv420p "$@" \
    -movflags +faststart -f mp4 "$tmp"
  mv "$tmp" "$dst"
  check "$dst" "$codec" "$width" "$height" || die "$dst is not ${width}x${height} $codec at $fps fps"
}

x264_camera=(-c:v libx264 -preset veryfast -g "$gop" -keyint_min "$gop" -sc_threshold 0 -bf 0)
make_stream main-1080p25-h264.mp4 h264 1920 1080 "${x264_camera[@]}" -b:v 4M -maxrate 4M -bufsize 4M
make_stream sub-d1-h264.mp4 h264 704 576 "${x264_camera[@]}" -b:v 1M -maxrate 1M -bufsize 1M
# hvc1: the MP4 sample entry players and qtdemux expect for HEVC with parameter sets in the stream.
make_stream main-4mp25-h265.mp4 hevc 2560 1440 -c:v libx265 -preset ultrafast -tag:v hvc1 \
  -x265-params "keyint=$gop:min-keyint=$gop:scenecut=0:bframes=0:bitrate=6000:vbv-maxrate=6000:vbv-bufsize=6000:repeat-headers=1:log-level=error"

echo "$out"
