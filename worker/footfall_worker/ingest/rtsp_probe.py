"""Tell why an RTSP camera could not be opened (one DESCRIBE), and whether it answers at all (one OPTIONS).

OpenCV's FFmpeg backend only says "not opened". After such a failure the worker calls probe_rtsp() to tell a
wrong password from a wrong path, a dead camera, a hung one and a network problem, so the operator sees the
cause instead of a generic error. While it backs off from a camera that went away, the reader calls
ping_rtsp() every few seconds to notice the camera's return. This is not a streaming client: it never sends
SETUP or PLAY.

Only the standard library is used, so the diagnosis works even where the video stack is what is broken.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from urllib.parse import unquote, urlsplit, urlunsplit

from footfall_worker.ingest.rtsp_auth import authorization, offered_schemes, parse_challenges
from footfall_worker.ingest.rtsp_verdict import (
    ProbeOutcome,
    ProbeResult,
    classify_describe,
    connect_failure,
    server_words,
)
from footfall_worker.ingest.rtsp_wire import NotRtsp, Response, parse_head, resolve, standard_reason, strerror

__all__ = ["ProbeOutcome", "ProbeResult", "ping_rtsp", "probe_rtsp"]

DEFAULT_PORT = 554
USER_AGENT = "footfall-probe"
# A camera's DESCRIBE head is well under 1 KiB; anything this big is not an RTSP server.
_MAX_HEAD_BYTES = 64 * 1024
# A 401 body is drained so the connection can carry the retry; a larger one is not worth reading.
_MAX_BODY_BYTES = 64 * 1024


class _Failure(Exception):
    """Ends the probe with a result; raised from deep inside so every path closes the socket on the way out."""

    def __init__(self, result: ProbeResult, *, closed_early: bool = False) -> None:
        super().__init__(result.detail)
        self.result = result
        self.closed_early = closed_early  # the server hung up before answering: worth one new connection


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    host: str
    port: int
    request_url: str  # the URL without userinfo or fragment: what goes on the wire and into the digest
    user: str | None
    password: str | None


def probe_rtsp(url: str, timeout_s: float = 3.0) -> ProbeResult:
    """Send one DESCRIBE (two with an auth challenge) and classify the answer.

    Args:
        url: ``rtsp://[user:pass@]host[:port]/path?query``; userinfo is percent-decoded. Port 554 by default.
        timeout_s: Deadline for the whole probe (name resolution, connect, request, retry with credentials).

    Returns:
        The outcome, the last RTSP status seen and a credential-free one-line detail. Network failures are
        results, never exceptions.

    Raises:
        ValueError: The URL is not rtsp:// or has no host (or an unusable port). The message never contains
            the URL, as it may hold credentials.
    """
    target = _parse_url(url)
    deadline = time.monotonic() + timeout_s
    probe = _Probe(target, deadline, timeout_s)
    try:
        return probe.run()
    except _Failure as failure:
        # A retry that times out still leaves the 401 before it as the last answer.
        return dataclasses.replace(failure.result, status_code=failure.result.status_code or probe.last_status)


def ping_rtsp(url: str, timeout_s: float = 1.0) -> ProbeResult:
    """Send one OPTIONS, without credentials, and say whether an RTSP server answers there at all.

    The cheap "is the camera back?" check: any RTSP status line (200, 401, 404, ...) means the camera's RTSP
    server is up and responding, which a bare TCP connect cannot tell (a hung camera's kernel still accepts).
    No media is prepared and no login is tried (a camera counting failed logins never locks the account), so
    it can run every few seconds.

    Args:
        url: as for probe_rtsp; its credentials are ignored, never sent.
        timeout_s: Deadline for the whole ping, name resolution included.

    Returns:
        OK with the status when an RTSP server answered; otherwise REFUSED, TIMEOUT, UNREACHABLE or
        PROTOCOL_ERROR (something that is not an RTSP server, or a close without an answer), as probe_rtsp.

    Raises:
        ValueError: as probe_rtsp (not rtsp://, no host, bad port); the message never contains the URL.
    """
    target = dataclasses.replace(_parse_url(url), user=None, password=None)
    try:
        return _Probe(target, time.monotonic() + timeout_s, timeout_s).ping()
    except _Failure as failure:
        return failure.result


def _parse_url(url: str) -> _Target:
    # Every message here is fixed text, and "from None" drops urllib's: its errors can quote the password
    # (in "rtsp://user:secret/x" the password parses as a port).
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise ValueError("invalid rtsp:// URL (unparseable host or port)") from None
    if parts.scheme.lower() != "rtsp":
        raise ValueError("not an rtsp:// URL")
    if not hostname:
        raise ValueError("rtsp:// URL has no host")
    host_port = parts.netloc.rpartition("@")[2]
    request_url = urlunsplit(("rtsp", host_port, parts.path or "/", parts.query, ""))
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    if any(ord(char) < 32 or ord(char) == 127 for char in user + password):
        # They would end up inside a quoted Digest header: no way to smuggle extra header lines.
        raise ValueError("rtsp:// URL credentials contain control characters")
    port = port if port is not None else DEFAULT_PORT
    if not user and not password:
        return _Target(hostname, port, request_url, None, None)
    return _Target(hostname, port, request_url, user, password)


class _Probe:
    def __init__(self, target: _Target, deadline: float, timeout_s: float) -> None:
        self.target = target
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.cseq = 0
        self.last_status: int | None = None
        # a server's words quoted in a detail are withheld if they echo one of these
        self._secrets = tuple(secret for secret in (target.user, target.password) if secret)

    def run(self) -> ProbeResult:
        target = self.target
        sock = self._connect()
        try:
            response = self._exchange(sock, None)
            if response.status != 401 or target.user is None:
                return classify_describe(response, None, self._secrets)
            authorization, scheme, offered = self._authorization(response)
            if authorization is None:
                return ProbeResult(
                    ProbeOutcome.UNAUTHORIZED,
                    401,
                    f"401 Unauthorized (no supported auth scheme offered: {server_words(offered, self._secrets)})",
                )
            if response.close:
                sock.close()
                sock = self._connect()
            try:
                retry = self._exchange(sock, authorization)
            except _Failure as failure:
                # Some servers close after a 401 without saying so: one fresh connection, then give up.
                if not failure.closed_early:
                    raise
                sock.close()
                sock = self._connect()
                retry = self._exchange(sock, authorization)
            return classify_describe(retry, scheme, self._secrets)
        finally:
            sock.close()

    def ping(self) -> ProbeResult:
        sock = self._connect()
        try:
            response = self._exchange(sock, None, method="OPTIONS")
        finally:
            sock.close()
        reason = server_words(response.reason, self._secrets, instead=standard_reason(response.status))
        line = f"{response.status} {reason}"
        return ProbeResult(ProbeOutcome.OK, response.status, f"{line.rstrip()}: an RTSP server answers OPTIONS")

    # -- network ---------------------------------------------------------------------------------------------
    def _remaining(self, doing: str) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(ProbeResult(ProbeOutcome.TIMEOUT, None, f"{doing} timed out after {self.timeout_s:g} s"))
        return remaining

    def _where(self) -> str:
        host = f"[{self.target.host}]" if ":" in self.target.host else self.target.host
        return f"{host}:{self.target.port}"

    def _connect(self) -> socket.socket:
        where = self._where()
        try:
            addresses = resolve(self.target.host, self.target.port, self._remaining(f"resolving the host of {where}"))
        except TimeoutError:
            raise _Failure(
                ProbeResult(
                    ProbeOutcome.UNREACHABLE, None, f"cannot resolve host of {where} within {self.timeout_s:g} s"
                )
            ) from None
        except (OSError, UnicodeError):
            raise _Failure(ProbeResult(ProbeOutcome.UNREACHABLE, None, f"cannot resolve host of {where}")) from None
        last_error: OSError | None = None
        # Like socket.create_connection, but all addresses share the one deadline.
        for family, kind, proto, _, address in addresses:
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as error:  # out of descriptors, family not supported: try the next address
                last_error = error
                continue
            try:
                sock.settimeout(self._remaining(f"connecting to {where}"))
                sock.connect(address)
                return sock
            except _Failure:
                sock.close()
                raise
            except OSError as error:
                sock.close()
                last_error = error
        raise _Failure(connect_failure(last_error, where, self.timeout_s))

    def _exchange(self, sock: socket.socket, authorization: str | None, method: str = "DESCRIBE") -> Response:
        self.cseq += 1
        lines = [f"{method} {self.target.request_url} RTSP/1.0", f"CSeq: {self.cseq}"]
        if method == "DESCRIBE":
            lines.append("Accept: application/sdp")
        lines.append(f"User-Agent: {USER_AGENT}")
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        where = self._where()
        try:
            sock.settimeout(self._remaining(f"sending to {where}"))
            sock.sendall(request)
            head, rest = self._read_head(sock)
            try:
                response = parse_head(head)
            except NotRtsp as error:
                raise _Failure(ProbeResult(ProbeOutcome.PROTOCOL_ERROR, None, f"answer is {error}")) from None
            self.last_status = response.status
            if response.status == 401:
                response = self._drain_body(sock, response, rest)
            return response
        except TimeoutError:
            raise _Failure(
                ProbeResult(
                    ProbeOutcome.TIMEOUT,
                    None,
                    f"no answer from {where} within {self.timeout_s:g} s (camera hung or traffic dropped)",
                )
            ) from None
        except OSError as error:
            result = ProbeResult(
                ProbeOutcome.PROTOCOL_ERROR, None, f"connection to {where} failed mid-request: {strerror(error)}"
            )
            raise _Failure(result, closed_early=isinstance(error, ConnectionError)) from None

    def _read_head(self, sock: socket.socket) -> tuple[bytes, bytes]:
        buffer = b""
        while True:
            # Lenient about bare LF line ends: a diagnosis should not fail on a sloppy but working camera.
            match = re.search(rb"\r?\n\r?\n", buffer)
            if match:
                return buffer[: match.start()], buffer[match.end() :]
            if len(buffer) > _MAX_HEAD_BYTES:
                raise _Failure(
                    ProbeResult(ProbeOutcome.PROTOCOL_ERROR, None, "answer head too long: not an RTSP server")
                )
            sock.settimeout(self._remaining(f"waiting for an answer from {self._where()}"))
            chunk = sock.recv(4096)
            if not chunk:
                if not buffer:
                    result = ProbeResult(ProbeOutcome.PROTOCOL_ERROR, None, "connection closed without an answer")
                    raise _Failure(result, closed_early=True)
                # A head cut short may still be enough to read the status line.
                return buffer, b""
            buffer += chunk

    def _drain_body(self, sock: socket.socket, response: Response, rest: bytes) -> Response:
        try:
            length = int((response.values("content-length") or ["0"])[0])
        except ValueError:
            length = -1
        if response.close or length < 0 or length > _MAX_BODY_BYTES:
            return Response(response.status, response.reason, response.headers, close=True)
        while len(rest) < length:
            sock.settimeout(self._remaining(f"reading an answer from {self._where()}"))
            chunk = sock.recv(length - len(rest))
            if not chunk:
                return Response(response.status, response.reason, response.headers, close=True)
            rest += chunk
        return response

    # -- auth ------------------------------------------------------------------------------------------------
    def _authorization(self, response: Response) -> tuple[str | None, str | None, tuple[str, ...]]:
        """Returns (Authorization header value, scheme used, schemes offered)."""
        challenges = parse_challenges(response.values("www-authenticate"))
        user, password = self.target.user or "", self.target.password or ""
        answer = authorization(challenges, user, password, self.target.request_url)
        return (*(answer or (None, None)), offered_schemes(challenges))
