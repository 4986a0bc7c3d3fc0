"""Which frames to hand to processing: every N-th, with N adapting to how well processing keeps up."""

from dataclasses import dataclass, field


@dataclass
class FrameSkipper:
    """Decide per frame whether to hand it off; in adaptive mode tune N from hand-off overflows.

    Every `window` handed-off frames the skipper looks at how many the hand-off dropped meanwhile: any drop
    means processing is slower than what we hand it, so N rises by one (up to `max_every`). After
    `calm_windows` windows in a row without drops N falls by one (down to the configured `every`). Rising
    fast and falling slowly keeps N from flapping around the rate processing can sustain.

    Args:
        every: process every N-th frame (1 = all); the floor in adaptive mode.
        adaptive: tune N from overflows.
        max_every: ceiling for N in adaptive mode.
        window: handed-off frames per decision.
        calm_windows: drop-free windows before N falls.
    """

    every: int = 1
    adaptive: bool = False
    max_every: int = 8
    window: int = 10
    calm_windows: int = 3
    current: int = field(init=False)
    _counter: int = field(default=0, init=False)
    _handed_in_window: int = field(default=0, init=False)
    _drops_at_window_start: int = field(default=0, init=False)
    _calm: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.every < 1 or self.max_every < self.every:
            raise ValueError(f"every: expected 1 <= every <= max_every, got every={self.every}, max={self.max_every}")
        self.current = self.every

    def should_process(self) -> bool:
        """Call once per frame read; True for the frames to decode fully and hand off."""
        take = self._counter % self.current == 0
        self._counter += 1
        return take

    def handed_off(self, total_drops: int) -> None:
        """Call after each hand-off with the hand-off's running drop count."""
        if not self.adaptive:
            return
        self._handed_in_window += 1
        if self._handed_in_window < self.window:
            return
        dropped = total_drops - self._drops_at_window_start
        self._handed_in_window = 0
        self._drops_at_window_start = total_drops
        if dropped > 0:
            self._calm = 0
            if self.current < self.max_every:
                self.current += 1
                self._counter = 0
        else:
            self._calm += 1
            if self._calm >= self.calm_windows and self.current > self.every:
                self.current -= 1
                self._calm = 0
                self._counter = 0
