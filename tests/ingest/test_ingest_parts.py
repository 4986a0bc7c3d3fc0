"""The reader's pure parts: backoff schedule, the drop-oldest hand-off, frame skipping, rates, transitions."""

import random
import threading
import time

import pytest

from footfall_worker.ingest.handoff import LatestItems
from footfall_worker.ingest.skipping import FrameSkipper
from footfall_worker.ingest.stream_state import ALLOWED_TRANSITIONS, RateMeter, StreamState
from footfall_worker.retry import Backoff


def test_backoff_follows_the_camera_schedule_and_resets() -> None:
    backoff = Backoff(initial=5, factor=2, maximum=60, jitter=0)
    assert [backoff.next_delay() for _ in range(7)] == [5, 10, 20, 40, 60, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 5


def test_backoff_jitter_stays_within_its_fraction_and_varies() -> None:
    backoff = Backoff(initial=10, factor=1, maximum=10, jitter=0.1, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(200)]
    assert all(9.0 <= d <= 11.0 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100  # cameras of one store do not retry in lockstep


def test_handoff_drops_the_oldest_and_counts_it() -> None:
    items: LatestItems[int] = LatestItems(capacity=2)
    for value in range(5):
        items.put(value)
    assert items.dropped == 3 and items.put_count == 5
    assert [items.get(0), items.get(0), items.get(0)] == [3, 4, None]


def test_blocking_put_waits_for_room_and_close_wakes_everyone() -> None:
    items: LatestItems[int] = LatestItems(capacity=1)
    items.put(1)
    assert items.put(2, block=True, timeout=0.05) is False  # full: timed out, nothing lost
    assert items.dropped == 0
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(items.put(3, block=True, timeout=5)))
    waiter.start()
    time.sleep(0.05)
    assert items.get(0) == 1
    waiter.join(2)
    assert results == [True] and items.get(0) == 3
    getter_result: list[object] = []
    getter = threading.Thread(target=lambda: getter_result.append(items.get(timeout=5)))
    getter.start()
    items.close()
    getter.join(2)
    assert getter_result == [None] and not getter.is_alive()


def test_skipper_takes_every_nth() -> None:
    skipper = FrameSkipper(every=3)
    assert [skipper.should_process() for _ in range(7)] == [True, False, False, True, False, False, True]


def test_adaptive_skipper_rises_on_overflow_and_falls_when_calm() -> None:
    skipper = FrameSkipper(every=1, adaptive=True, max_every=4, window=5, calm_windows=2)
    drops = 0
    for _ in range(4 * 5):  # four windows, each with drops
        drops += 1
        skipper.handed_off(drops)
    assert skipper.current == 4  # capped at max_every
    for _ in range(2 * 5 * 3):  # three calm double-windows
        skipper.handed_off(drops)
    assert skipper.current == 1
    with pytest.raises(ValueError, match="every"):
        FrameSkipper(every=0)


def test_rate_meter_measures_a_steady_rate() -> None:
    meter = RateMeter(window_s=2.0)
    for i in range(41):
        meter.tick(100.0 + i * 0.05)  # 20 per second
    assert meter.rate(102.0) == pytest.approx(20.0, rel=0.01)
    assert meter.rate(110.0) == 0.0  # nothing in the window any more


def test_stopped_is_terminal_and_every_state_can_stop() -> None:
    assert ALLOWED_TRANSITIONS[StreamState.STOPPED] == frozenset()
    assert all(
        StreamState.STOPPED in allowed
        for state, allowed in ALLOWED_TRANSITIONS.items()
        if state is not StreamState.STOPPED
    )
    assert StreamState.CONNECTING not in ALLOWED_TRANSITIONS[StreamState.STREAMING]  # a lost stream backs off first


def test_backlog_counts_only_what_waits_behind_a_busy_consumer() -> None:
    items: LatestItems[int] = LatestItems(2)
    items.put(1)
    assert items.backlog == 1  # nobody is ready for it: a busy consumer's backlog
    assert items.get(timeout=0) == 1 and items.backlog == 0
    got: list[int | None] = []
    consumer = threading.Thread(target=lambda: got.append(items.get(timeout=5)))
    consumer.start()
    time.sleep(0.2)  # the consumer is blocked in get(): ready
    items.put(2)
    assert items.backlog == 0  # it is the ready consumer's, whether or not its thread has woken yet
    consumer.join(5)
    assert got == [2]
    items.put(3)
    assert items.backlog == 1
