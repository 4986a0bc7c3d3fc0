"""probe_rtsp against real servers on 127.0.0.1: the GStreamer camera simulator, and scripted sockets for what a
simulator cannot be (silent, garbage, slow, a Digest challenge with qop). Nothing is mocked or skipped."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest

from footfall_worker.ingest.rtsp_probe import ProbeOutcome, ProbeResult, probe_rtsp
from tests.support.camera_sim import CameraSimulator
from tests.support.paths import footage_path, free_port

pytestmark = pytest.mark.camera

CLIP = footage_path("store-aisle-detection.mp4")
USER = "probe-user"
PASSWORD = "Pr0be:s3cret/@%"
QUERY = "?channel=1&subtype=0"


def with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("rtsp://", f"rtsp://{quote(user, safe='')}:{quote(password, safe='')}@", 1)


def assert_no_credentials(result: ProbeResult, *secrets: str) -> None:
    text = repr(result)
    for secret in (USER, PASSWORD, quote(PASSWORD, safe=""), *secrets):
        assert secret not in text, f"credential in {text}"


@pytest.fixture(scope="module")
def open_cam() -> Iterator[CameraSimulator]:
    with CameraSimulator(CLIP) as cam:
        yield cam


@pytest.fixture(scope="module", params=["basic", "digest"])
def auth_cam(request: pytest.FixtureRequest) -> Iterator[CameraSimulator]:
    with CameraSimulator(CLIP, user=USER, password=PASSWORD, auth=request.param) as cam:
        yield cam


# -- the simulator ---------------------------------------------------------------------------------------------
def test_open_camera_is_ok(open_cam: CameraSimulator) -> None:
    result = probe_rtsp(open_cam.url + QUERY)
    assert result.outcome is ProbeOutcome.OK, result
    assert result.status_code == 200
    assert result.outcome == "ok"  # a StrEnum: logs and JSON get the plain word


def test_right_credentials_are_ok(auth_cam: CameraSimulator) -> None:
    result = probe_rtsp(auth_cam.url + QUERY)
    assert result == ProbeResult(ProbeOutcome.OK, 200, result.detail)
    assert f"{auth_cam.auth} auth" in result.detail
    assert_no_credentials(result)


def test_no_credentials_are_unauthorized(auth_cam: CameraSimulator) -> None:
    result = probe_rtsp(auth_cam.url_without_credentials)
    assert (result.outcome, result.status_code) == (ProbeOutcome.UNAUTHORIZED, 401), result
    assert "credentials required" in result.detail
    assert result.detail.endswith(f"camera offers {auth_cam.auth})")  # the scheme it wants, and only that


def test_wrong_credentials_are_rejected(auth_cam: CameraSimulator) -> None:
    # ("a", "1"): secrets that occur in the detail's own words must not garble or hide it.
    for user, password in ((USER, "wrong-pass"), ("wrong-user", PASSWORD), ("a", "1")):
        began = time.monotonic()
        result = probe_rtsp(with_credentials(auth_cam.url_without_credentials, user, password) + QUERY)
        assert (result.outcome, result.status_code) == (ProbeOutcome.UNAUTHORIZED, 401), result
        assert result.detail == f"401 Unauthorized ({auth_cam.auth} auth, credentials rejected)"
        assert_no_credentials(result, "wrong-pass", "wrong-user")
        assert time.monotonic() - began < 1, "a 401 is an answer, not a timeout"


def test_wrong_path_is_not_found(open_cam: CameraSimulator, auth_cam: CameraSimulator) -> None:
    # GStreamer looks the mount up before checking credentials: an unknown path is 404 even without them.
    for cam in (open_cam, auth_cam):
        for url in (cam.url.replace("/cam/realmonitor", "/cam/nope"), f"rtsp://127.0.0.1:{cam.port}/"):
            result = probe_rtsp(url)
            assert (result.outcome, result.status_code) == (ProbeOutcome.NOT_FOUND, 404), (url, result)
            assert_no_credentials(result)


def test_frozen_camera_times_out() -> None:
    with CameraSimulator(CLIP) as cam:
        cam.freeze()  # the kernel still completes the handshake from its backlog; nobody answers
        began = time.monotonic()
        result = probe_rtsp(cam.url, timeout_s=1.0)
        elapsed = time.monotonic() - began
        assert (result.outcome, result.status_code) == (ProbeOutcome.TIMEOUT, None), result
        assert 0.9 < elapsed < 1.5, elapsed
        cam.resume()
        assert probe_rtsp(cam.url).outcome is ProbeOutcome.OK


def test_nothing_listening_is_refused() -> None:
    began = time.monotonic()
    result = probe_rtsp(f"rtsp://127.0.0.1:{free_port()}/cam/realmonitor")
    assert (result.outcome, result.status_code) == (ProbeOutcome.REFUSED, None), result
    assert time.monotonic() - began < 0.5


# -- scripted servers --------------------------------------------------------------------------------------------
class ScriptedServer:
    """A TCP listener on 127.0.0.1 whose connections are handled, one after another, by handler(connection)."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                try:
                    self.handler(connection)
                except OSError:
                    pass  # the probe hung up: its business
                except BaseException as error:  # an assert in a handler must fail the test, not vanish
                    self.errors.append(error)

    def url(self, path: str = "/cam/realmonitor") -> str:
        return f"rtsp://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()
        if self.errors:
            raise self.errors[0]


def read_request(connection: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        assert chunk, "probe closed before finishing its request"
        data += chunk
    return data.decode()


def answer(reply: bytes) -> Callable[[socket.socket], None]:
    def handler(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(reply)

    return handler


def test_silent_listener_times_out() -> None:
    # listen() without accept(): the kernel accepts the connection, the request goes into a buffer, no answer.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        began = time.monotonic()
        result = probe_rtsp(f"rtsp://127.0.0.1:{listener.getsockname()[1]}/x", timeout_s=0.5)
    assert (result.outcome, result.status_code) == (ProbeOutcome.TIMEOUT, None), result
    assert 0.4 < time.monotonic() - began < 1.0


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"\x00\xff\x13\x37 not rtsp at all \xfe\r\n\r\n",
        b"RTSP/1.0 abc Broken\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.2\r\n",  # a banner and close: no blank line ever comes
        b"",  # accept, read, close without a word
        b"RTSP/1.0 200 OK\r\n" + b"X-Filler: " + b"y" * 70_000 + b"\r\n\r\n",  # endless head
    ],
    ids=["http", "binary", "bad-status", "banner", "silent-close", "huge-head"],
)
def test_garbage_is_protocol_error(reply: bytes) -> None:
    with ScriptedServer(answer(reply)) as server:
        began = time.monotonic()
        result = probe_rtsp(server.url())
    assert (result.outcome, result.status_code) == (ProbeOutcome.PROTOCOL_ERROR, None), result
    assert time.monotonic() - began < 1.0


def test_other_status_is_protocol_error_and_not_found_codes() -> None:
    for code, reason, outcome in (
        (500, "Internal Server Error", ProbeOutcome.PROTOCOL_ERROR),
        (302, "Moved Temporarily", ProbeOutcome.PROTOCOL_ERROR),
        (454, "Session Not Found", ProbeOutcome.NOT_FOUND),
        (403, "Forbidden", ProbeOutcome.UNAUTHORIZED),
    ):
        with ScriptedServer(answer(f"RTSP/1.0 {code} {reason}\r\nCSeq: 1\r\n\r\n".encode())) as server:
            result = probe_rtsp(server.url())
        assert (result.outcome, result.status_code) == (outcome, code), result
        assert result.detail.startswith(f"{code} {reason}")


def test_answer_in_slow_pieces_is_read_whole() -> None:
    def dribble(connection: socket.socket) -> None:
        request = read_request(connection)
        assert request.startswith("DESCRIBE rtsp://127.0.0.1:")
        assert "\r\nCSeq: 1\r\n" in request and "\r\nAccept: application/sdp\r\n" in request
        assert "\r\nUser-Agent: footfall-probe\r\n" in request
        for piece in (b"RTS", b"P/1.0 200", b" OK\r\nCSeq: 1\r", b"\n", b"\r\n"):
            connection.sendall(piece)
            time.sleep(0.05)

    with ScriptedServer(dribble) as server:
        result = probe_rtsp(server.url())
    assert (result.outcome, result.status_code) == (ProbeOutcome.OK, 200), result


def digest_server(user: str, password: str, seen: list[str]) -> Callable[[socket.socket], None]:
    """Offers Basic and Digest (qop=auth, opaque), checks the Digest answer with its own arithmetic (RFC 2617),
    and keeps the connection for the retry, as a camera does."""
    realm, nonce, opaque = "Login to 4K0123PAZ", "dcd98b7102dd2f0e", "5ccc069c403ebaf9"

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    def handler(connection: socket.socket) -> None:
        request = read_request(connection)
        connection.sendall(
            b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n"
            + f'WWW-Authenticate: Basic realm="{realm}"\r\n'.encode()
            + f'WWW-Authenticate: Digest realm="{realm}", nonce="{nonce}", qop="auth,auth-int", '
            f'opaque="{opaque}", algorithm=MD5\r\n'.encode()
            + b"Content-Length: 5\r\n\r\n"
        )
        time.sleep(0.05)  # the body in a later packet: the probe must read it off before its retry's answer
        connection.sendall(b"nope\n")
        request = read_request(connection)
        seen.append(request)
        header = re.search(r"\r\nAuthorization: Digest (.*)\r\n", request)
        assert header, request
        fields = {key: quoted or bare for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[1])}
        assert (fields["realm"], fields["nonce"], fields["opaque"], fields["qop"]) == (realm, nonce, opaque, "auth")
        assert request.startswith(f"DESCRIBE {fields['uri']} RTSP/1.0\r\n") and "CSeq: 2" in request
        ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"DESCRIBE:{fields['uri']}")
        expected = md5(f"{ha1}:{nonce}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
        ok = fields["username"] == user and fields["response"] == expected
        connection.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n" if ok else b"RTSP/1.0 401 Unauthorized\r\n\r\n")

    return handler


def test_digest_with_qop_and_opaque_is_preferred_over_basic() -> None:
    seen: list[str] = []
    with ScriptedServer(digest_server(USER, PASSWORD, seen)) as server:
        right = probe_rtsp(with_credentials(server.url(), USER, PASSWORD) + QUERY)
        wrong = probe_rtsp(with_credentials(server.url(), USER, "not-it"))
    assert (right.outcome, right.status_code) == (ProbeOutcome.OK, 200), right
    assert (wrong.outcome, wrong.status_code) == (ProbeOutcome.UNAUTHORIZED, 401), wrong
    assert "digest auth" in right.detail and "digest auth" in wrong.detail
    assert f'uri="{server.url()}{QUERY}"' in seen[0], "the digest covers the URL as sent, without userinfo"
    assert all(PASSWORD not in request and "not-it" not in request for request in seen)
    assert_no_credentials(right)
    assert_no_credentials(wrong, "not-it")


def test_retry_goes_on_a_new_connection_when_the_server_hangs_up_after_401() -> None:
    def hang_up(connection: socket.socket) -> None:
        request = read_request(connection)
        if "\r\nAuthorization: Basic " in request:
            connection.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n")
        else:  # and close, without a "Connection: close" to warn the client
            connection.sendall(b'RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm="x"\r\n\r\n')

    with ScriptedServer(hang_up) as server:
        result = probe_rtsp(with_credentials(server.url(), USER, PASSWORD))
    assert (result.outcome, result.status_code) == (ProbeOutcome.OK, 200), result


def test_retry_without_answer_times_out_and_keeps_the_401() -> None:
    def challenge_then_hang(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(b'RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\n\r\n')
        read_request(connection)
        time.sleep(0.8)

    with ScriptedServer(challenge_then_hang) as server:
        began = time.monotonic()
        result = probe_rtsp(with_credentials(server.url(), USER, PASSWORD), timeout_s=0.5)
        elapsed = time.monotonic() - began
    assert (result.outcome, result.status_code) == (ProbeOutcome.TIMEOUT, 401), result
    assert 0.4 < elapsed < 0.7, "one deadline for the whole probe"
    assert_no_credentials(result)


def test_server_echoing_credentials_does_not_leak_them() -> None:
    def echo(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(b'RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\n\r\n')
        read_request(connection)
        connection.sendall(f"RTSP/1.0 401 Bad {PASSWORD} for {USER}\r\n\r\n".encode())

    with ScriptedServer(echo) as server:
        result = probe_rtsp(with_credentials(server.url(), USER, PASSWORD))
    assert (result.outcome, result.status_code) == (ProbeOutcome.UNAUTHORIZED, 401), result
    assert result.detail == "401 Unauthorized (basic auth, credentials rejected)"  # its words, not the server's
    assert_no_credentials(result)


# -- URLs ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    ["http://x", "rtsp://", "rtsp:///cam", "", "x", f"http://{USER}:{PASSWORD}@cam/", f"rtsp://{USER}:{PASSWORD}/cam"],
)
def test_unusable_url_raises_value_error_without_credentials(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        probe_rtsp(url)
    text = "".join(traceback.format_exception(caught.value))
    assert PASSWORD not in text and USER not in text, text


def test_default_port_is_554() -> None:
    # Nothing listens on 554 here (no root); "refused" proves the probe went there, without leaving loopback.
    result = probe_rtsp("rtsp://127.0.0.1/cam/realmonitor")
    assert result.outcome is ProbeOutcome.REFUSED, result
    assert "127.0.0.1:554" in result.detail
