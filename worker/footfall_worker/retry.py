"""The one retry schedule: exponential backoff with jitter, reset after success, and a wait that ends early when
the peer is back.

Every part that retries a dependency configures a `Backoff` rather than writing its own doubling: the camera
reader (5 s, 10 s, 20 s, 40 s, capped at 60 s, +/-10 %), PostgreSQL reconnects, the Redis live state, Triton
calls and readiness polls, and the manager's worker restarts. The operator retries through kopf's handler backoff.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays `initial`, `initial*factor`, ... capped at `maximum`, each spread by +/- `jitter` (a fraction).

    Jitter keeps a store's cameras, which all drop when its uplink drops, from reconnecting in lockstep.
    `reset()` after a connection has been stable for a while starts the schedule over.

    Args:
        initial: first delay in seconds (camera default 5 s).
        factor: growth per attempt (2: 5, 10, 20, 40 s).
        maximum: cap (60 s).
        jitter: fraction of each delay to spread uniformly either way (0.1 = +/-10 %); 0 for exact delays.
    """

    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempts: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call advances the schedule."""
        base = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        spread = base * self.jitter
        return max(0.0, base + self.rng.uniform(-spread, spread)) if spread else base

    def reset(self) -> None:
        self.attempts = 0


def wait_for_return(
    stop: threading.Event,
    delay_s: float,
    answers: Callable[[], bool | None],
    interval_s: float,
    *,
    seen_down: bool = False,
) -> bool:
    """Wait out one backoff step, asking `answers()` every `interval_s` whether the peer is back.

    "Back" is an edge: `answers()` true after it was false during this wait (or `seen_down`, when the failure
    that started the wait already saw nothing answer, e.g. a refused connection). A peer that answers
    throughout is not back: its failure is not about reachability (a wrong password or path, a stream that
    drops), so the schedule stands; otherwise every probe would set off a full attempt. Each early end thus
    needs the peer to go away and return, and full attempts never come faster than the peer's own outages.

    Args:
        stop: set to end the wait at once (checked between probes; a probe under way finishes first, within
            its own timeout, which should be short).
        delay_s: the step, from `Backoff.next_delay()`.
        answers: the cheap probe: True (answers), False (does not), None (cannot tell: neither). It must not
            raise and must return within its timeout.
        interval_s: time between probes; no probe runs in the step's last interval (the attempt is due anyway),
            none at all when 0.
        seen_down: the peer is already known not to answer.

    Returns:
        True when the peer came back (attempt now), False when the step ran out or `stop` was set.
    """
    deadline = time.monotonic() + delay_s
    if interval_s <= 0:
        stop.wait(delay_s)
        return False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= interval_s:
            stop.wait(max(0.0, remaining))
            return False
        if stop.wait(interval_s):
            return False
        answered = answers()
        if stop.is_set():
            return False
        if answered is None:
            continue
        if answered and seen_down:
            return True
        seen_down = seen_down or not answered
