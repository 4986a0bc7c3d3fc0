"""Tell why an RTSP camera could not be opened (one DESCRIBE), and whether it answers at all (one OPTIONS).

OpenCV's FFmpeg backend only says "not opened". After such a failure the worker calls probe_rtsp() to tell a
wrong password from a wrong path, a dead camera, a hung one and a network problem, so the operator sees the
cause instead of a generic error. While it backs off from a camera that went away, the reader calls
ping_rtsp() every few seconds to notice the camera's return. This is not a streaming client: it never sends
SETUP or PLAY.

Only the standard library is used, so the diagnosis works even where the video stack is what is broken.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import errno
import hashlib
import ipaddress
import os
import re
import socket
import threading
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["ProbeOutcome", "ProbeResult", "ping_rtsp", "probe_rtsp"]

DEFAULT_PORT = 554
USER_AGENT = "footfall-probe"
# A camera's DESCRIBE head is well under 1 KiB; anything this big is not an RTSP server.
_MAX_HEAD_BYTES = 64 * 1024
# A 401 body is drained so the connection can carry the retry; a larger one is not worth reading.
_MAX_BODY_BYTES = 64 * 1024
_MAX_SERVER_CHARS = 60  # of a reason phrase or scheme list quoted in a detail

# RTSP's own codes (RFC 2326 section 7.1.1) that HTTP does not have.
_RTSP_REASONS = {454: "Session Not Found", 455: "Method Not Valid in This State", 461: "Unsupported Transport"}
_NOT_FOUND_CODES = frozenset({404, 410, 454, 455})
_UNREACHABLE_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}
)

_STATUS_LINE = re.compile(rb"RTSP/(\d)\.(\d) +(\d{3})(?: +([^\r\n]*))?")
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_AUTH_PARAM = re.compile(rf'[\s,]*(?P<key>{_TOKEN})\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s,]*)')
_AUTH_SCHEME = re.compile(rf"[\s,]*(?P<scheme>{_TOKEN})(?=[\s,]|$)")


class ProbeOutcome(enum.StrEnum):
    """Why an RTSP open failed (or that it did not fail at the RTSP level)."""

    OK = "ok"  # DESCRIBE answered 200 (so an open failure is a decode/codec problem)
    UNAUTHORIZED = "unauthorized"  # 401 (with or without credentials given) or 403
    NOT_FOUND = "not_found"  # 404 / 454 session not found / 455 / etc: the path is wrong
    REFUSED = "refused"  # TCP connection refused
    TIMEOUT = "timeout"  # connect or answer timed out (a frozen or blackholed camera)
    UNREACHABLE = "unreachable"  # DNS failure, no route, network unreachable
    PROTOCOL_ERROR = "protocol_error"  # answered, but not RTSP / unparseable / other status


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the probe found.

    Attributes:
        outcome: The diagnosis.
        status_code: The RTSP status of the last answer, if any.
        detail: One human line; never contains credentials.
    """

    outcome: ProbeOutcome
    status_code: int | None
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]  # (lower-cased name, value), in order: WWW-Authenticate may repeat
    close: bool  # the server will close, or the body was too big to drain: a retry needs a new connection

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


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

    def run(self) -> ProbeResult:
        target = self.target
        sock = self._connect()
        try:
            response = self._exchange(sock, None)
            if response.status != 401 or target.user is None:
                return self._classify(response, auth_used=None)
            authorization, scheme, offered = self._authorization(response)
            if authorization is None:
                return ProbeResult(
                    ProbeOutcome.UNAUTHORIZED,
                    401,
                    f"401 Unauthorized (no supported auth scheme offered: {self._server_words(offered)})",
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
            return self._classify(retry, auth_used=scheme)
        finally:
            sock.close()

    def ping(self) -> ProbeResult:
        sock = self._connect()
        try:
            response = self._exchange(sock, None, method="OPTIONS")
        finally:
            sock.close()
        line = f"{response.status} {self._server_words(response.reason, instead=_standard_reason(response.status))}"
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
            addresses = _resolve(self.target.host, self.target.port, self._remaining(f"resolving the host of {where}"))
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
        raise _Failure(_connect_failure(last_error, where, self.timeout_s))

    def _exchange(self, sock: socket.socket, authorization: str | None, method: str = "DESCRIBE") -> _Response:
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
            response = _parse_head(head)
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
                ProbeOutcome.PROTOCOL_ERROR, None, f"connection to {where} failed mid-request: {_strerror(error)}"
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

    def _drain_body(self, sock: socket.socket, response: _Response, rest: bytes) -> _Response:
        try:
            length = int((response.values("content-length") or ["0"])[0])
        except ValueError:
            length = -1
        if response.close or length < 0 or length > _MAX_BODY_BYTES:
            return _Response(response.status, response.reason, response.headers, close=True)
        while len(rest) < length:
            sock.settimeout(self._remaining(f"reading an answer from {self._where()}"))
            chunk = sock.recv(length - len(rest))
            if not chunk:
                return _Response(response.status, response.reason, response.headers, close=True)
            rest += chunk
        return response

    # -- auth ------------------------------------------------------------------------------------------------
    def _authorization(self, response: _Response) -> tuple[str | None, str | None, tuple[str, ...]]:
        """Returns (Authorization header value, scheme used, schemes offered)."""
        challenges = _parse_challenges(response.values("www-authenticate"))
        offered = tuple(dict.fromkeys(scheme for scheme, _ in challenges))
        user, password = self.target.user or "", self.target.password or ""
        # Digest first: it does not send the password, and a camera offering both accepts either.
        for scheme, params in challenges:
            if scheme == "digest" and _digest_usable(params):
                return _digest_authorization(params, user, password, self.target.request_url), "digest", offered
        for scheme, _ in challenges:
            if scheme == "basic":
                token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
                return f"Basic {token}", "basic", offered
        return None, None, offered

    # -- verdict ---------------------------------------------------------------------------------------------
    def _server_words(self, words: tuple[str, ...] | str, instead: str = "[withheld]") -> str:
        """Server-sent text made fit for the detail line. The rest of a detail is fixed text, host and port,
        but a server could echo what it was sent, so its words give way to `instead` if they hold a credential."""
        text = words if isinstance(words, str) else ", ".join(word[:20] for word in words) or "no scheme"
        text = "".join(char for char in text if char.isprintable())[:_MAX_SERVER_CHARS].strip()
        secrets = [secret for secret in (self.target.user, self.target.password) if secret]
        return instead if any(secret in text for secret in secrets) else text

    def _classify(self, response: _Response, auth_used: str | None) -> ProbeResult:
        status = response.status
        line = f"{status} {self._server_words(response.reason, instead=_standard_reason(status))}".rstrip()
        if status == 200:
            how = f" ({auth_used} auth)" if auth_used else ""
            return ProbeResult(ProbeOutcome.OK, status, f"{line}{how}: DESCRIBE answered, the stream is served")
        if status == 401:
            if auth_used is not None:
                return ProbeResult(
                    ProbeOutcome.UNAUTHORIZED, status, f"{line} ({auth_used} auth, credentials rejected)"
                )
            schemes = (scheme for scheme, _ in _parse_challenges(response.values("www-authenticate")))
            offered = self._server_words(tuple(dict.fromkeys(schemes)))
            return ProbeResult(
                ProbeOutcome.UNAUTHORIZED,
                status,
                f"{line} (credentials required, none given; camera offers {offered})",
            )
        if status == 403:
            why = f"{auth_used} auth, access denied to this user" if auth_used else "access denied"
            return ProbeResult(ProbeOutcome.UNAUTHORIZED, status, f"{line} ({why})")
        if status in _NOT_FOUND_CODES:
            return ProbeResult(ProbeOutcome.NOT_FOUND, status, f"{line} (no stream at this path)")
        return ProbeResult(ProbeOutcome.PROTOCOL_ERROR, status, f"{line} (unexpected answer to DESCRIBE)")


def _standard_reason(status: int) -> str:
    # Our own words for a code, so a reason phrase that had to be dropped still leaves a readable line.
    if status in _RTSP_REASONS:
        return _RTSP_REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "[withheld]"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve(host: str, port: int, timeout_s: float) -> list[tuple[Any, ...]]:
    """getaddrinfo within `timeout_s` (TimeoutError after it): an IP address at once, a name on a helper thread.

    libc's resolver cannot be cancelled; one still busy at the deadline finishes on its daemon thread, within
    the resolver's own timeouts, and its answer is dropped.
    """
    if _is_ip(host):
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    answer: list[list[tuple[Any, ...]] | Exception] = []

    def resolve() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as error:  # noqa: BLE001 - raised again on the caller's thread
            answer.append(error)

    resolver = threading.Thread(target=resolve, name="rtsp-probe-resolve", daemon=True)
    resolver.start()
    resolver.join(timeout_s)
    if not answer:
        raise TimeoutError
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def _strerror(error: OSError) -> str:
    # Never str(error): it may carry a filename or address; strerror is the OS's fixed text.
    return error.strerror or type(error).__name__


def _connect_failure(error: OSError | None, where: str, timeout_s: float) -> ProbeResult:
    if isinstance(error, ConnectionRefusedError):
        return ProbeResult(ProbeOutcome.REFUSED, None, f"connection to {where} refused (nothing listens there)")
    if isinstance(error, TimeoutError):
        return ProbeResult(
            ProbeOutcome.TIMEOUT, None, f"connecting to {where} timed out after {timeout_s:g} s (no answer to SYN)"
        )
    if error is not None and error.errno in _UNREACHABLE_ERRNOS:
        return ProbeResult(ProbeOutcome.UNREACHABLE, None, f"{where} unreachable: {_strerror(error)}")
    reason = _strerror(error) if error is not None else "no address"
    return ProbeResult(ProbeOutcome.UNREACHABLE, None, f"cannot connect to {where}: {reason}")


def _parse_head(head: bytes) -> _Response:
    first, _, rest = head.partition(b"\n")
    match = _STATUS_LINE.fullmatch(first.rstrip(b"\r"))
    if match is None:
        what = "HTTP, not RTSP" if first.startswith(b"HTTP/") else "not an RTSP status line"
        raise _Failure(ProbeResult(ProbeOutcome.PROTOCOL_ERROR, None, f"answer is {what}"))
    headers: list[tuple[str, str]] = []
    for raw in rest.split(b"\n"):
        name, colon, value = raw.decode("latin-1").partition(":")
        if colon:
            headers.append((name.strip().lower(), value.strip()))
    close = any("close" in value.lower() for name, value in headers if name == "connection")
    reason = (match.group(4) or b"").decode("latin-1")
    return _Response(int(match.group(3)), reason, headers, close)


def _parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """WWW-Authenticate values -> [(scheme, params)]; one value may hold several comma-separated challenges."""
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        position = 0
        params: dict[str, str] | None = None
        while position < len(value):
            param = _AUTH_PARAM.match(value, position)
            if param is not None and params is not None:
                raw = param.group("value")
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[param.group("key").lower()] = raw
                position = param.end()
                continue
            scheme = _AUTH_SCHEME.match(value, position)
            if scheme is None:
                break  # garbage: keep what parsed so far
            params = {}
            challenges.append((scheme.group("scheme").lower(), params))
            position = scheme.end()
    return challenges


def _digest_usable(params: dict[str, str]) -> bool:
    algorithm = params.get("algorithm", "MD5").upper()
    qops = _qops(params)
    return "realm" in params and "nonce" in params and algorithm in {"MD5", "MD5-SESS"} and (not qops or "auth" in qops)


def _qops(params: dict[str, str]) -> set[str]:
    return {qop.strip().lower() for qop in params.get("qop", "").split(",") if qop.strip()}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _digest_authorization(params: dict[str, str], user: str, password: str, uri: str) -> str:
    """RFC 2617 Digest response for DESCRIBE; qop=auth only when offered (Dahua cameras usually offer none)."""
    realm, nonce = params["realm"], params["nonce"]
    algorithm = params.get("algorithm")
    cnonce = os.urandom(8).hex()
    ha1 = _md5(f"{user}:{realm}:{password}")
    if algorithm is not None and algorithm.upper() == "MD5-SESS":
        ha1 = _md5(f"{ha1}:{nonce}:{cnonce}")
    ha2 = _md5(f"DESCRIBE:{uri}")
    fields = [
        f"username={_quote(user)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
    ]
    if "auth" in _qops(params):
        nc = "00000001"  # one request per nonce, so always the first use
        response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        fields += [f"response={_quote(response)}", "qop=auth", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
    else:
        fields.append(f"response={_quote(_md5(f'{ha1}:{nonce}:{ha2}'))}")
    if algorithm is not None:
        fields.append(f"algorithm={algorithm}")
    if "opaque" in params:
        fields.append(f"opaque={_quote(params['opaque'])}")
    return "Digest " + ", ".join(fields)
