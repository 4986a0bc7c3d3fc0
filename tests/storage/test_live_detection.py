"""The live hash's detection fields (`triton_url`, `triton_ok`, `triton_error`, `frames_failed`) in a real Redis,
and the worker's view of a Triton outage that produces them."""

import logging
import uuid
from collections.abc import Iterator

import pytest
import redis

from footfall_contract.counters import ChannelCounters
from footfall_contract.heartbeat import LiveSnapshot
from footfall_worker.health.detection import ERROR_MAX_CHARS, DetectionHealth
from footfall_worker.storage.live_state import LiveState
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    server = RedisServer()
    server.start()
    conn = server.client(timeout_s=1.0)
    yield conn
    conn.close()
    server.close()


def test_detection_fields_round_trip_typed_masked_and_bounded(client: redis.Redis) -> None:
    live = LiveState(client, f"test-det-{uuid.uuid4().hex[:8]}")
    error = "Triton at grpc://svc:t0ken@triton:8001 does not answer: " + "x" * 1000
    live.publish(
        LiveSnapshot(
            state="streaming",
            triton_url="triton:8001",
            triton_ok=False,
            triton_error=error,
            counters=ChannelCounters(frames_failed=9),
        )
    )
    raw = client.hgetall(live.live_key)
    assert raw[b"triton_ok"] == b"false" and raw[b"frames_failed"] == b"9"
    state = live.read()
    assert state is not None
    assert (state["triton_url"], state["triton_ok"], state["frames_failed"]) == ("triton:8001", False, 9)
    assert state["triton_error"].startswith("Triton at grpc://***@triton:8001 does not answer: xxx")
    assert len(state["triton_error"]) == 300 and "t0ken" not in state["triton_error"]

    live.publish(LiveSnapshot(state="streaming", triton_url="triton:8001", triton_ok=True), force=True)
    state = live.read()
    assert state is not None and state["triton_ok"] is True and state["triton_error"] is None

    live.publish(LiveSnapshot(state="connecting"), force=True)  # before the worker's first verdict
    state = live.read()
    assert state is not None and state["triton_ok"] is None and state["frames_failed"] == 0


def test_an_outage_warns_once_reminds_at_its_period_and_says_when_triton_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = DetectionHealth("triton:8001", check_s=5, retry_s=1, remind_s=30, extra={"channel": "c"})
    refused = "Triton at triton:8001 does not answer: Connection refused"
    caplog.set_level(logging.INFO, logger="footfall.worker")
    health.checked(refused, now=0.0)  # the check at start
    assert health.ok is False and health.error == refused and health.errors == 1
    checks = []
    for tick in range(1, 901):  # 90 s of a 10 fps camera
        now = tick / 10
        if health.may_detect(now, lambda: checks.append(now) or refused):  # noqa: B023 - called at once
            pytest.fail("a frame went to detection while the readiness check failed")
        health.skipped(now)
    assert health.frames_failed == 900 and 85 <= len(checks) <= 91  # one check per retry_s, not per frame
    assert health.errors == 1 + len(checks)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[0] == (
        "WARNING",
        f"Triton at triton:8001 unreachable: {refused}; frames go without detection until it answers",
    )
    reminders = [message for level, message in lines if "still unreachable" in message]
    assert reminders == [
        "Triton at triton:8001 still unreachable after 30 s: 300 frames without detection so far",
        "Triton at triton:8001 still unreachable after 60 s: 600 frames without detection so far",
        "Triton at triton:8001 still unreachable after 90 s: 900 frames without detection so far",
    ]
    assert health.may_detect(91.0, lambda: None)  # ready again: worth a request
    assert health.ok is False  # ...but only an answered request says so
    health.answered(91.0)
    assert health.ok is True and health.error is None and health.frames_failed == 900
    assert caplog.records[-1].levelname == "INFO"
    assert caplog.records[-1].getMessage() == (
        "Triton at triton:8001 answers again after 91 s; 900 frames went without detection"
    )
    assert len(caplog.records) == len(lines) + 1


def test_a_long_error_is_masked_before_it_is_cut() -> None:
    health = DetectionHealth("triton:8001", check_s=5, retry_s=1)
    health.failed("x" * (ERROR_MAX_CHARS - 20) + " grpc://user:secretpassword@host:8001/ refused", now=0.0)
    assert health.error is not None and len(health.error) <= ERROR_MAX_CHARS
    assert "secret" not in health.error and health.frames_failed == 1 and health.errors == 1
