"""While the reader backs off from a camera that went away: notice its return with a cheap RTSP OPTIONS.

Full reconnects keep the backoff schedule (an open is expensive, and a dead camera should not be hammered);
this only ends a wait early, when the camera answers again after it had stopped answering.
"""

import threading

from footfall_contract.config import RtspUrl
from footfall_worker.ingest.capture import Source
from footfall_worker.ingest.rtsp_probe import ProbeOutcome, ping_rtsp
from footfall_worker.ingest.stream_state import ErrorKind, StreamError
from footfall_worker.retry import wait_for_return

# The return probe (one OPTIONS) never blocks the reader thread longer than this, nor a stop that comes during it.
_PROBE_TIMEOUT_S = 1.0
# Failures a camera's return can end: it stopped answering (or may have). The others (a wrong password or
# path, an undecodable stream, a bad URL or config) come from a camera that answers, or from us: the probe
# cannot tell when they are fixed, so those waits keep the schedule and send no probe.
_PROBED_KINDS = frozenset(
    {
        ErrorKind.REFUSED,
        ErrorKind.TIMEOUT,
        ErrorKind.UNREACHABLE,
        ErrorKind.STREAM_LOST,
        ErrorKind.STALLED,
        ErrorKind.UNKNOWN,
    }
)
# Failures that already saw nothing answer, as a probe would: the first probe that gets an answer ends the wait.
_NOTHING_ANSWERED_KINDS = frozenset({ErrorKind.REFUSED, ErrorKind.UNREACHABLE})


def wait_or_return(
    stop: threading.Event, delay_s: float, source: Source | None, error: StreamError | None, interval_s: float
) -> bool:
    """Wait out one backoff step after `error`, probing `source` every `interval_s` when that can help.

    Returns:
        True when the camera answered again (reconnect now); False when the step ran out or `stop` was set.
    """
    url = _probe_url(source, error, interval_s)
    if url is None:
        stop.wait(delay_s)  # a stop never waits out a backoff
        return False
    return wait_for_return(
        stop,
        delay_s,
        lambda: _camera_answers(url, min(_PROBE_TIMEOUT_S, interval_s)),
        interval_s,
        seen_down=error is not None and error.kind in _NOTHING_ANSWERED_KINDS,
    )


def _probe_url(source: Source | None, error: StreamError | None, interval_s: float) -> str | None:
    """The URL to probe for the camera's return during this wait, or None to wait out the step."""
    if interval_s <= 0 or not isinstance(source, RtspUrl):
        return None  # probing off, or a file, or the source not resolved yet
    if error is None or error.kind not in _PROBED_KINDS:
        return None
    url = source.reveal()
    return url if url[:7].lower() == "rtsp://" else None  # rtsps:// (TLS) is not probed


def _camera_answers(url: str, timeout_s: float) -> bool | None:
    """One OPTIONS: True when an RTSP server answers, False when nothing does, None when it cannot tell."""
    try:
        return ping_rtsp(url, timeout_s).outcome is ProbeOutcome.OK
    except Exception:  # noqa: BLE001 - a probe must never end the reader; the next full attempt decides
        return None
