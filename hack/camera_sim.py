#!/usr/bin/python3
"""Simulate one IP camera: loop an H.264 or H.265 MP4 over RTSP at the Dahua path /cam/realmonitor, and
optionally a second one as its sub-stream.

Run with Debian's /usr/bin/python3: python3-gi and the GStreamer RTSP server bindings live there, not in the
project's venv (hack/install-gstreamer.sh installs them).

    /usr/bin/python3 hack/camera_sim.py --file input/footage/intel/store-aisle-detection.mp4 --port 8554
    -> stdout: READY rtsp://127.0.0.1:8554/cam/realmonitor
    clients:   rtsp://127.0.0.1:8554/cam/realmonitor?channel=1&subtype=0   (channel is ignored)
    /usr/bin/python3 hack/camera_sim.py --file MAIN.mp4 --sub-file SUB.mp4 --port 8554
    clients:   ...?channel=1&subtype=1 gets SUB.mp4 (without --sub-file: 404, a camera with no sub-stream)

One process serves one camera on one port, so a test can freeze (SIGSTOP) or kill one camera alone; a query
inside a mount path is no way around that (PLAY fails with "460 Only aggregate operation allowed").

Frames go out in real time (the server's sinks sync to the pipeline clock) and the file is never re-encoded.
Credentials: --user/--password, or CAMERA_SIM_USER/CAMERA_SIM_PASSWORD so the password is not visible in ps.
--auth digest offers only HTTP Digest (MD5, realm + nonce, no qop), as Dahua cameras do; basic is the default.
Logs: one JSON object per line on stderr. SIGTERM/SIGINT: clean exit with status 0.
"""

from __future__ import annotations

import argparse
import faulthandler
import ipaddress
import json
import os
import signal
import sys
import time
from typing import Any, NoReturn

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from camera_sim_streams import (  # noqa: E402 - its own require_version calls run first
    SUB_STREAM_SUFFIX,
    StreamFile,
    StreamFileError,
    StreamMounts,
    inspect_stream_file,
)
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402 - require_version runs first

# Must run before RTSPMedia is subclassed: the subclass's vfuncs need the GstMessage GType registered.
Gst.init(None)

DEFAULT_MOUNT = "/cam/realmonitor"
# Bound on waiting for the stream to hold a segment again after a flushing seek (it takes milliseconds).
SEGMENT_WAIT_S = 2.0


def log(event: str, level: str = "info", **fields: Any) -> None:
    record = {"ts": round(time.time(), 3), "level": level, "component": "camera_sim", "event": event, **fields}
    print(json.dumps(record, default=str), file=sys.stderr, flush=True)


def fail(message: str, code: int = 1, **fields: Any) -> NoReturn:
    log("fatal", level="error", message=message, **fields)
    sys.exit(code)


class LoopMedia(GstRtspServer.RTSPMedia):
    """Gapless loop. Plain EOS would make rtpbin send RTCP BYE and clients stop, so the file is played as a
    segment and each SEGMENT_DONE re-seeks to 0 without flushing: running time and RTP timestamps keep
    increasing across the loop, as a camera's would."""

    loops = 0

    def _segment_seek(self, flush: bool) -> bool:
        flags = Gst.SeekFlags.SEGMENT | (Gst.SeekFlags.FLUSH if flush else Gst.SeekFlags.NONE)
        element = self.get_element()
        return bool(element.seek(1.0, Gst.Format.TIME, flags, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1))

    def do_prepared(self) -> None:
        seeked = self._segment_seek(True)
        # The flushing seek clears the payloader's segment until the new one flows through; a PLAY answered in
        # that window makes gst-rtsp-server abort (gst_rtsp_media_get_rates asserts on a stream without a
        # segment). "prepared" is emitted before DESCRIBE is answered, so waiting here closes the window.
        waited_s = self._wait_for_segment(SEGMENT_WAIT_S)
        level = "info" if waited_s is not None else "warning"
        log("media_prepared", level=level, segment_seek=seeked, segment_wait_s=waited_s)

    def _wait_for_segment(self, limit_s: float) -> float | None:
        """Seconds until every payloader's source pad holds a segment again, or None after limit_s."""
        started = time.monotonic()
        pads = [pay.get_static_pad("src") for pay in payloaders(self.get_element())]
        while time.monotonic() - started < limit_s:
            if pads and all(pad.get_sticky_event(Gst.EventType.SEGMENT, 0) is not None for pad in pads):
                return round(time.monotonic() - started, 4)
            time.sleep(0.002)
        return None

    def do_handle_message(self, message: Gst.Message) -> bool:
        if message.type == Gst.MessageType.SEGMENT_DONE:
            LoopMedia.loops += 1
            log("loop", count=LoopMedia.loops, segment_seek=self._segment_seek(False))
            return True
        if message.type == Gst.MessageType.EOS:
            # Only if the segment flag got lost (e.g. a flushing seek by someone else): restart the loop.
            seeked = self._segment_seek(True)
            log("loop_eos", level="warning", segment_seek=seeked, segment_wait_s=self._wait_for_segment(SEGMENT_WAIT_S))
            return True
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            log("media_error", level="error", message=error.message, debug=debug)
        return GstRtspServer.RTSPMedia.do_handle_message(self, message)


def payloaders(bin_: Gst.Element) -> list[Gst.Element]:
    """The launch line's pay0, pay1, … (the streams gst-rtsp-server serves)."""
    found = []
    while (element := bin_.get_by_name(f"pay{len(found)}")) is not None:
        found.append(element)
    return found


def check_host(host: str, allow_non_loopback: bool) -> None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        fail(f"--host must be an IP address, got {host!r}", code=2)
    if not address.is_loopback and not allow_non_loopback:
        fail(f"refusing to listen on non-loopback address {host}; pass --allow-non-loopback to do so", code=2)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", required=True, help="H.264 or H.265 MP4 to loop: the main stream (subtype=0)")
    parser.add_argument(
        "--sub-file", help="H.264 or H.265 MP4 for the sub-stream (subtype=1); without it, subtype=1 is 404"
    )
    parser.add_argument("--port", type=int, default=8554, help="0 picks a free port (printed in READY)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback only by default)")
    parser.add_argument("--allow-non-loopback", action="store_true")
    parser.add_argument("--mount", default=DEFAULT_MOUNT, help=f"path (default {DEFAULT_MOUNT})")
    parser.add_argument("--user", default=os.environ.get("CAMERA_SIM_USER") or None)
    parser.add_argument(
        "--password",
        default=os.environ.get("CAMERA_SIM_PASSWORD") or None,
        help="prefer CAMERA_SIM_PASSWORD: arguments are visible in ps",
    )
    parser.add_argument(
        "--auth",
        choices=("basic", "digest"),
        default="basic",
        help="scheme offered in the 401 when a user is given (default basic; Dahua cameras use digest)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")
    if not args.mount.startswith("/") or "?" in args.mount:
        parser.error("--mount must be a path starting with / and without a query")
    if bool(args.user) != bool(args.password):
        parser.error("give both a user and a password (options or CAMERA_SIM_USER/CAMERA_SIM_PASSWORD), or neither")
    return args


def build_server(args: argparse.Namespace, main: StreamFile, sub: StreamFile | None) -> GstRtspServer.RTSPServer:
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    if args.user:
        server.set_auth(camera_auth(args))
    mounts = StreamMounts()
    server.set_mount_points(mounts)
    streams = [(args.mount, main)] + ([(args.mount + SUB_STREAM_SUFFIX, sub)] if sub else [])
    for mount, stream in streams:
        mounts.add_factory(mount, media_factory(stream, args.user))
    server.connect("client-connected", on_client_connected)
    return server


def camera_auth(args: argparse.Namespace) -> GstRtspServer.RTSPAuth:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", args.user)
    if args.auth == "digest":
        # Only Digest in the 401, so a client that can only do Basic fails as it would on a Dahua camera.
        auth.add_digest(args.user, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.set_realm("footfall-camera-sim")
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    return auth


def media_factory(stream: StreamFile, user: str | None) -> GstRtspServer.RTSPMediaFactory:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(stream.launch_line())
    # Shared: every client sees the same live stream, as with a camera (late joiners start mid-clip).
    factory.set_shared(True)
    factory.set_media_gtype(LoopMedia)
    if user:
        # Without a role the factory refuses everyone; with it, only this user may use the mount.
        role = Gst.Structure.new_empty(user)
        role.set_value("media.factory.access", True)
        role.set_value("media.factory.construct", True)
        factory.add_role_from_structure(role)
    return factory


def on_client_connected(_server: GstRtspServer.RTSPServer, client: GstRtspServer.RTSPClient) -> None:
    connection = client.get_connection()
    peer = connection.get_ip() if connection else None
    log("client_connected", peer=peer)
    client.connect("closed", lambda _client: log("client_closed", peer=peer))


def exit_during_startup(signum: int, _frame: object) -> None:
    # Until GLib's handlers take over below, a SIGTERM/SIGINT still means a clean exit with status 0.
    log("stopping", signal=signal.Signals(signum).name, phase="startup")
    sys.exit(0)


def main(argv: list[str]) -> int:
    started = time.monotonic()
    # A crash inside GStreamer (a signal, not an exception) leaves the Python stack in the log instead of nothing.
    faulthandler.enable()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, exit_during_startup)
    args = parse_args(argv)
    check_host(args.host, args.allow_non_loopback)
    try:
        main_stream = inspect_stream_file(args.file)
        sub_stream = inspect_stream_file(args.sub_file) if args.sub_file else None
    except StreamFileError as error:
        fail(str(error), code=2)
    server = build_server(args, main_stream, sub_stream)

    try:
        # create_source (not attach) so a bind failure raises with its reason, e.g. "Address already in use".
        source = server.create_source(None)
    except GLib.Error as error:
        fail(f"cannot listen on {args.host}:{args.port}: {error.message}")
    source.attach(None)

    loop = GLib.MainLoop()

    def stop(signum: int) -> bool:
        log("stopping", signal=signal.Signals(signum).name)
        loop.quit()
        return GLib.SOURCE_REMOVE

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, stop, signum)

    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"rtsp://{host}:{server.get_bound_port()}{args.mount}"
    log(
        "ready",
        url=url,
        file=args.file,
        auth=args.auth if args.user else None,
        pid=os.getpid(),
        startup_s=round(time.monotonic() - started, 3),
        main=main_stream.describe(),
        sub=sub_stream.describe() if sub_stream else None,
    )
    print(f"READY {url}", flush=True)

    loop.run()
    source.destroy()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
