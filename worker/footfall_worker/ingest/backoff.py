"""Exponential backoff with jitter, reset after a stable period."""

import random
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
