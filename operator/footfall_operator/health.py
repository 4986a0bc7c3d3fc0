"""The operator's probes: `/healthz` (liveness) and `/readyz` (readiness), served on one port.

kopf's own liveness endpoint answers 200 as long as its event loop runs, also while every API call fails; an
operator that cannot reach the API server then looks healthy and never gets a readiness probe either. Here the
verdicts come from what the operator actually manages to do:

* ready: kopf has started and the API server answered the operator's own kind of request (a list of
  CameraChannels, with its own credentials) within the last `ready_window_s`;
* alive: kopf's event loop still ticks, and the API server has not been unreachable for longer than
  `unreachable_restart_s`. A short outage (an apiserver restart, a network blip) only makes the operator NotReady;
  a long one restarts it, which also renews a connection or a token that went bad inside the process.

A standby replica (leader election, `leader.py`) never starts kopf. It is ready as long as the API server answers
(it could take over), and says "standby: ... held by <pod>" in /status and `footfall_operator_leader` 0: a
not-ready standby would keep a two-replica Deployment from ever being Available, so `helm --wait` and
`kubectl rollout status` would never finish.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from footfall_contract.config import mask_credentials
from footfall_contract.probes import ProbeServer, Verdict

log = logging.getLogger("footfall.operator.health")

LOOP_TICK_S = 2.0
# The loop ticks every LOOP_TICK_S; this many missed ticks is a wedged (or dead) event loop.
LOOP_STALE_S = 30.0
_MAX_ERROR = 300


@dataclass(frozen=True, slots=True)
class HealthView:
    """What the verdicts need, at one instant (monotonic seconds; None = never)."""

    now: float
    started: bool
    loop_tick: float | None
    api_ok: float | None
    api_failing_since: float | None
    api_error: str | None
    standby: str | None = None  # why this replica is not the active one (leader election), None when it is


def readiness(view: HealthView, ready_window_s: float) -> Verdict:
    reasons = []
    if not view.started and view.standby is None:
        reasons.append("kopf is starting")
    if view.api_ok is None or view.now - view.api_ok > ready_window_s:
        since = "never" if view.api_ok is None else f"{view.now - view.api_ok:.0f} s ago"
        reasons.append(f"API server last answered {since}: {view.api_error or 'no answer yet'}")
    return Verdict(not reasons, tuple(reasons))


def liveness(view: HealthView, unreachable_restart_s: float) -> Verdict:
    reasons = []
    if view.started and (view.loop_tick is None or view.now - view.loop_tick > LOOP_STALE_S):
        reasons.append("kopf's event loop stopped ticking")
    if view.api_failing_since is not None and view.now - view.api_failing_since > unreachable_restart_s:
        reasons.append(
            f"API server unreachable for {view.now - view.api_failing_since:.0f} s "
            f"(limit {unreachable_restart_s:.0f} s): {view.api_error}"
        )
    return Verdict(not reasons, tuple(reasons))


class OperatorHealth:
    """Checks the API every `check_interval_s` on a thread of its own, and serves the verdicts.

    Args:
        check_access: one cheap, authorised API request; raises on any failure (it must carry its own timeout).
        port: where /healthz, /readyz and /metrics listen (0.0.0.0; 0 picks a free port, see `port`).
        metrics: the Prometheus text `/metrics` serves.
    """

    def __init__(
        self,
        check_access: Callable[[], None],
        port: int,
        check_interval_s: float = 5.0,
        ready_window_s: float = 15.0,
        unreachable_restart_s: float = 120.0,
        metrics: Callable[[], bytes] = lambda: b"",
        standby: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._check_access = check_access
        self._standby = standby
        self._interval_s = check_interval_s
        self._ready_window_s = ready_window_s
        self._unreachable_restart_s = unreachable_restart_s
        self._lock = threading.Lock()
        self._started = False
        self._loop_tick: float | None = None
        self._api_ok: float | None = None
        self._api_failing_since: float | None = None
        self._api_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="footfall-api-health", daemon=True)
        self._server = ProbeServer(
            "0.0.0.0",
            port,
            "operator",
            liveness=lambda: liveness(self.view(), self._unreachable_restart_s),
            readiness=lambda: readiness(self.view(), self._ready_window_s),
            metrics=metrics,
            status=lambda: {
                "ready": readiness(self.view(), self._ready_window_s).as_dict(),
                "live": liveness(self.view(), self._unreachable_restart_s).as_dict(),
                "role": self._standby() or "active",
            },
        )

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> "OperatorHealth":
        self._server.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.stop()

    def mark_started(self) -> None:
        with self._lock:
            self._started = True
            self._loop_tick = time.monotonic()

    async def tick_forever(self) -> None:
        """Runs on kopf's event loop: each tick proves the loop still turns."""
        while True:
            with self._lock:
                self._loop_tick = time.monotonic()
            await asyncio.sleep(LOOP_TICK_S)

    def view(self) -> HealthView:
        with self._lock:
            return HealthView(
                time.monotonic(),
                self._started,
                self._loop_tick,
                self._api_ok,
                self._api_failing_since,
                self._api_error,
                self._standby(),
            )

    def check_once(self) -> None:
        try:
            self._check_access()
        except Exception as error:  # noqa: BLE001 - any failure to reach the API is a verdict, not a crash
            message = mask_credentials(f"{type(error).__name__}: {error}")[:_MAX_ERROR]
            with self._lock:
                first = self._api_failing_since is None
                if first:
                    self._api_failing_since = time.monotonic()
                self._api_error = message
            if first:
                log.warning(f"API server unreachable: {message}")
            return
        with self._lock:
            recovered = self._api_failing_since is not None
            self._api_ok = time.monotonic()
            self._api_failing_since = None
            self._api_error = None
        if recovered:
            log.info("API server answering again")

    def _run(self) -> None:
        while True:
            self.check_once()
            if self._stop.wait(self._interval_s):
                return
