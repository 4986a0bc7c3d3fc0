"""What hack/camera_sim.py serves: MP4 files checked at start, their RTSP pipelines, and a Dahua camera's two
streams on one path.

A Dahua camera serves its main stream and its sub-stream at the same path, told apart by the query:
`/cam/realmonitor?channel=1&subtype=0` (main) and `...&subtype=1` (sub). gst-rtsp-server matches mount points on
the path alone, so `StreamMounts` folds `subtype=1` into the path (`/cam/realmonitor/sub`) before matching; a
camera without a sub-stream answers 404 there, as a camera with its sub-stream switched off does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstPbutils", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstPbutils, GstRtspServer  # noqa: E402 - require_version runs first

# Before any subclass of a GStreamer type: its vfuncs need the library's types registered.
Gst.init(None)

SUB_STREAM_SUFFIX = "/sub"
# Video caps -> the GStreamer names of its parser and RTP payloader ("h264" -> h264parse, rtph264pay).
CODECS = {"video/x-h264": "h264", "video/x-h265": "h265"}


class StreamFileError(ValueError):
    """A file the simulator cannot serve; the message says what it is and what was expected."""


@dataclass(frozen=True, slots=True)
class StreamFile:
    path: str
    codec: str  # "h264" or "h265"
    width: int
    height: int
    fps: float | None
    duration_s: float

    def describe(self) -> dict[str, object]:
        return {
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "duration_s": self.duration_s,
        }

    def launch_line(self) -> str:
        """The RTSP media pipeline: the file's own bitstream, never re-encoded."""
        location = self.path.replace("\\", "\\\\").replace('"', '\\"')
        # config-interval=-1: parameter sets with every keyframe, so a client joining a running stream decodes.
        return (
            f'( filesrc location="{location}" ! qtdemux ! {self.codec}parse config-interval=-1 '
            f"! rtp{self.codec}pay name=pay0 pt=96 config-interval=-1 )"
        )


def inspect_stream_file(path: str) -> StreamFile:
    """Fail at start rather than at a client's first PLAY: only H.264 or H.265 in MP4 can be served.

    Raises:
        StreamFileError: no such file, unreadable, or another container or codec.
    """
    if not os.path.isfile(path):
        raise StreamFileError(f"no such file: {path}")
    try:
        info = GstPbutils.Discoverer.new(10 * Gst.SECOND).discover_uri(Gst.filename_to_uri(path))
    except GLib.Error as error:
        raise StreamFileError(f"cannot read {path}: {error.message}") from error
    container = info.get_stream_info()
    container_caps = container.get_caps().to_string() if container and container.get_caps() else ""
    videos = info.get_video_streams()
    if not videos:
        raise StreamFileError(f"{path} has no video stream")
    video = videos[0]
    video_caps = video.get_caps().to_string()
    codec = CODECS.get(video_caps.split(",")[0])
    if not container_caps.startswith("video/quicktime") or codec is None:
        raise StreamFileError(
            f"{path} must be H.264 or H.265 in MP4 (hack/prepare-footage.sh, hack/camera-streams.sh make them); "
            f"it is {video_caps.split(',')[0]} in {container_caps.split(',')[0] or 'an unknown container'}"
        )
    fps_n, fps_d = video.get_framerate_num(), video.get_framerate_denom()
    return StreamFile(
        path,
        codec,
        video.get_width(),
        video.get_height(),
        round(fps_n / fps_d, 3) if fps_d else None,
        round(info.get_duration() / Gst.SECOND, 3),
    )


def is_sub_stream(query: str | None) -> bool:
    """Whether a request's query asks for the sub-stream. The query of a per-stream control URL carries the
    control after a slash (`channel=1&subtype=1/stream=0`): only what is before it is parameters."""
    parameters = parse_qs((query or "").split("/", 1)[0])
    return parameters.get("subtype", ["0"])[-1] == "1"


class StreamMounts(GstRtspServer.RTSPMountPoints):
    """Mount points that route `subtype=1` to the mount path + SUB_STREAM_SUFFIX."""

    def do_make_path(self, url: object) -> str:
        path: str = url.abspath  # type: ignore[attr-defined] - a GstRtsp.RTSPUrl
        query: str | None = url.query  # type: ignore[attr-defined]
        control = ""
        if query and "/" in query:  # a per-stream control URL: keep its control part on the path
            control = "/" + query.split("/", 1)[1]
        return path + (SUB_STREAM_SUFFIX if is_sub_stream(query) else "") + control
