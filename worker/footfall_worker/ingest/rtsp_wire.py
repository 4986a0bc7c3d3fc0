"""The RTSP probe's wire: an answer's head parsed, name resolution within a deadline, OS errors in fixed words."""

import dataclasses
import ipaddress
import re
import socket
import threading
from http import HTTPStatus
from typing import Any

# RTSP's own codes (RFC 2326 section 7.1.1) that HTTP does not have.
_RTSP_REASONS = {454: "Session Not Found", 455: "Method Not Valid in This State", 461: "Unsupported Transport"}
_STATUS_LINE = re.compile(rb"RTSP/(\d)\.(\d) +(\d{3})(?: +([^\r\n]*))?")


class NotRtsp(ValueError):
    """The answer's first line is not an RTSP status line; the message says what it is instead."""


@dataclasses.dataclass(frozen=True, slots=True)
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]  # (lower-cased name, value), in order: WWW-Authenticate may repeat
    close: bool  # the server will close, or the body was too big to drain: a retry needs a new connection

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


def parse_head(head: bytes) -> Response:
    """An answer's head (status line and headers, without the blank line). Raises NotRtsp."""
    first, _, rest = head.partition(b"\n")
    match = _STATUS_LINE.fullmatch(first.rstrip(b"\r"))
    if match is None:
        raise NotRtsp("HTTP, not RTSP" if first.startswith(b"HTTP/") else "not an RTSP status line")
    headers: list[tuple[str, str]] = []
    for raw in rest.split(b"\n"):
        name, colon, value = raw.decode("latin-1").partition(":")
        if colon:
            headers.append((name.strip().lower(), value.strip()))
    close = any("close" in value.lower() for name, value in headers if name == "connection")
    reason = (match.group(4) or b"").decode("latin-1")
    return Response(int(match.group(3)), reason, headers, close)


def standard_reason(status: int) -> str:
    # Our own words for a code, so a reason phrase that had to be dropped still leaves a readable line.
    if status in _RTSP_REASONS:
        return _RTSP_REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "[withheld]"


def resolve(host: str, port: int, timeout_s: float) -> list[tuple[Any, ...]]:
    """getaddrinfo within `timeout_s` (TimeoutError after it): an IP address at once, a name on a helper thread.

    libc's resolver cannot be cancelled; one still busy at the deadline finishes on its daemon thread, within
    the resolver's own timeouts, and its answer is dropped.
    """
    if _is_ip(host):
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    answer: list[list[tuple[Any, ...]] | Exception] = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as error:  # noqa: BLE001 - raised again on the caller's thread
            answer.append(error)

    resolver = threading.Thread(target=lookup, name="rtsp-probe-resolve", daemon=True)
    resolver.start()
    resolver.join(timeout_s)
    if not answer:
        raise TimeoutError
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def strerror(error: OSError) -> str:
    # Never str(error): it may carry a filename or address; strerror is the OS's fixed text.
    return error.strerror or type(error).__name__


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
