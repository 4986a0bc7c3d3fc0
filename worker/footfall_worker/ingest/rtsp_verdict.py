"""What an RTSP probe found: the outcome, and how a camera's answer or a failed connection becomes one.

Details are fixed text plus host and port; a server's own words are kept short and printable, and dropped if
they echo a credential.
"""

import dataclasses
import enum
import errno

from footfall_worker.ingest.rtsp_auth import offered_schemes, parse_challenges
from footfall_worker.ingest.rtsp_wire import Response, standard_reason, strerror

_MAX_SERVER_CHARS = 60  # of a reason phrase or scheme list quoted in a detail
_NOT_FOUND_CODES = frozenset({404, 410, 454, 455})
_UNREACHABLE_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}
)


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


def server_words(words: tuple[str, ...] | str, secrets: tuple[str, ...], instead: str = "[withheld]") -> str:
    """Server-sent text made fit for the detail line. The rest of a detail is fixed text, host and port, but a
    server could echo what it was sent, so its words give way to `instead` if they hold one of `secrets`."""
    text = words if isinstance(words, str) else ", ".join(word[:20] for word in words) or "no scheme"
    text = "".join(char for char in text if char.isprintable())[:_MAX_SERVER_CHARS].strip()
    return instead if any(secret and secret in text for secret in secrets) else text


def classify_describe(response: Response, auth_used: str | None, secrets: tuple[str, ...]) -> ProbeResult:
    """The verdict on a camera's answer to DESCRIBE (`auth_used`: the scheme the probe answered with, if any)."""
    status = response.status
    line = f"{status} {server_words(response.reason, secrets, instead=standard_reason(status))}".rstrip()
    if status == 200:
        how = f" ({auth_used} auth)" if auth_used else ""
        return ProbeResult(ProbeOutcome.OK, status, f"{line}{how}: DESCRIBE answered, the stream is served")
    if status == 401:
        if auth_used is not None:
            return ProbeResult(ProbeOutcome.UNAUTHORIZED, status, f"{line} ({auth_used} auth, credentials rejected)")
        offered = server_words(offered_schemes(parse_challenges(response.values("www-authenticate"))), secrets)
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


def connect_failure(error: OSError | None, where: str, timeout_s: float) -> ProbeResult:
    if isinstance(error, ConnectionRefusedError):
        return ProbeResult(ProbeOutcome.REFUSED, None, f"connection to {where} refused (nothing listens there)")
    if isinstance(error, TimeoutError):
        return ProbeResult(
            ProbeOutcome.TIMEOUT, None, f"connecting to {where} timed out after {timeout_s:g} s (no answer to SYN)"
        )
    if error is not None and error.errno in _UNREACHABLE_ERRNOS:
        return ProbeResult(ProbeOutcome.UNREACHABLE, None, f"{where} unreachable: {strerror(error)}")
    reason = strerror(error) if error is not None else "no address"
    return ProbeResult(ProbeOutcome.UNREACHABLE, None, f"cannot connect to {where}: {reason}")
