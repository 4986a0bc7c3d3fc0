"""Whether Triton answers the worker's detection, and the log lines of an outage.

While Triton is down the processing loop keeps going round (live state, probes, shutdown all stay prompt): a
frame goes to detection only when Triton answered last time, or when a retry is due (`retry_s` after the last
try) and its readiness check passes; every other frame goes without detection and is counted in
`frames_failed`. A readiness check is bounded by the client's `ready_timeout_s`, a detection request by retries
of `request_timeout_s`, so a blackholed Triton costs a check per retry, not a request per frame.

Logs: a warning when Triton becomes unreachable (its URL and the error), a reminder every `remind_s` while it
stays so (how long, how many frames went without detection), an info line when it answers again.
"""

import logging
from collections.abc import Callable, Mapping

from footfall_contract.config.masking import mask_credentials

log = logging.getLogger("footfall.worker")

ERROR_MAX_CHARS = 300


def _bounded(message: str) -> str:
    # masked before it is cut: a cut could leave half a credential the mask no longer recognises
    masked = mask_credentials(message) or "unknown error"
    return masked if len(masked) <= ERROR_MAX_CHARS else masked[: ERROR_MAX_CHARS - 1] + "…"


class DetectionHealth:
    """Detection's view of Triton, owned by the processing thread (probes read its plain attributes).

    Args:
        url: Triton's address (masked in what is shown).
        check_s: readiness re-check period while Triton answers and no frames come.
        retry_s: how long after a failure the next try (readiness check, then detection) waits.
        remind_s: period of the "still unreachable" warning.
        extra: fields of every log line (the channel).

    Attributes:
        ok: True while detection works, False while Triton fails, None before the first verdict.
        error: why it fails (masked, at most `ERROR_MAX_CHARS`), None while it works.
        frames_failed: frames that went without detection because Triton failed, since the start.
        errors: failed Triton calls (detection requests and readiness checks), since the start.
    """

    def __init__(
        self,
        url: str,
        check_s: float,
        retry_s: float,
        remind_s: float = 30.0,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        self.url = mask_credentials(url)
        self.check_s = check_s
        self.retry_s = retry_s
        self.remind_s = remind_s
        self.ok: bool | None = None
        self.error: str | None = None
        self.frames_failed = 0
        self.errors = 0
        self._extra = dict(extra or {})
        self._last_try = float("-inf")
        self._down_since = 0.0
        self._down_frames = 0  # frames without detection in this outage
        self._reminded = 0.0

    def probe_due(self, now: float) -> bool:
        """Whether a readiness check is due: `check_s` after the last try while Triton answers, else `retry_s`."""
        return now - self._last_try >= (self.check_s if self.ok else self.retry_s)

    def may_detect(self, now: float, check: Callable[[], str | None]) -> bool:
        """Whether this frame goes to detection; False means it goes without (count it with `skipped`).

        Args:
            now: monotonic clock.
            check: Triton's readiness check (None when ready, else why not), called only when Triton is failing
                and a retry is due.
        """
        if self.ok:
            return True
        if not self.probe_due(now):
            return False
        self._last_try = now
        problem = check()
        if problem is None:
            return True  # worth a request; only an answered one says Triton is back
        self.errors += 1
        self._down(problem, now, remind=False)  # the frame's `skipped` reminds, with the frame counted
        return False

    def checked(self, problem: str | None, now: float) -> None:
        """A readiness check's result, None when ready (at start, and while no frames come)."""
        self._last_try = now
        if problem is None:
            self._up(now)
        else:
            self.errors += 1
            self._down(problem, now)

    def answered(self, now: float) -> None:
        """A detection request succeeded."""
        self._last_try = now
        self._up(now)

    def failed(self, error: str, now: float) -> None:
        """A detection request failed: its frame went without detection."""
        self._last_try = now
        self.errors += 1
        self.frames_failed += 1
        self._down_frames += 1
        self._down(error, now)

    def skipped(self, now: float) -> None:
        """A frame went without detection because Triton is failing."""
        self.frames_failed += 1
        self._down_frames += 1
        self._remind(now)

    def _down(self, error: str, now: float, remind: bool = True) -> None:
        self.error = _bounded(error)
        if self.ok is False:
            if remind:
                self._remind(now)
            return
        self.ok = False
        self._down_since = self._reminded = now
        log.warning(
            f"Triton at {self.url} unreachable: {self.error}; frames go without detection until it answers",
            extra={**self._extra, "triton": self.url, "error": self.error},
        )

    def _remind(self, now: float) -> None:
        if self.ok is not False or now - self._reminded < self.remind_s:
            return
        self._reminded = now
        down_s = now - self._down_since
        log.warning(
            f"Triton at {self.url} still unreachable after {down_s:.0f} s: {self._down_frames} frames without "
            "detection so far",
            extra={
                **self._extra,
                "triton": self.url,
                "error": self.error,
                "down_s": round(down_s, 1),
                "frames_failed": self._down_frames,
            },
        )

    def _up(self, now: float) -> None:
        if self.ok is False:
            down_s = now - self._down_since
            log.info(
                f"Triton at {self.url} answers again after {down_s:.0f} s; {self._down_frames} frames went without "
                "detection",
                extra={
                    **self._extra,
                    "triton": self.url,
                    "down_s": round(down_s, 1),
                    "frames_failed": self._down_frames,
                },
            )
        elif self.ok is None:
            log.info("Triton ready", extra={**self._extra, "triton": self.url})
        self.ok = True
        self.error = None
        self._down_frames = 0
