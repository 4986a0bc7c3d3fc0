"""The operator's own probes: verdicts as a table, then the real HTTP endpoints over a real check that fails."""

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from footfall_operator.health import LOOP_STALE_S, HealthView, OperatorHealth, liveness, readiness

NOW = 1000.0


def view(**overrides: object) -> HealthView:
    values: dict[str, object] = {
        "now": NOW,
        "started": True,
        "loop_tick": NOW - 1,
        "api_ok": NOW - 2,
        "api_failing_since": None,
        "api_error": None,
        **overrides,
    }
    return HealthView(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "state", "ready", "alive"),
    [
        ("healthy", {}, True, True),
        ("kopf still starting", {"started": False, "loop_tick": None}, False, True),
        ("API never answered", {"api_ok": None, "api_failing_since": NOW - 5, "api_error": "refused"}, False, True),
        # a blip: not ready at once, but no restart for someone else's outage
        ("API down 20 s", {"api_ok": NOW - 20, "api_failing_since": NOW - 18, "api_error": "timed out"}, False, True),
        ("API down 3 min", {"api_ok": NOW - 180, "api_failing_since": NOW - 178, "api_error": "403"}, False, False),
        ("event loop wedged", {"loop_tick": NOW - LOOP_STALE_S - 1}, True, False),
    ],
)
def test_verdicts(case: str, state: dict, ready: bool, alive: bool) -> None:
    current = view(**state)
    assert readiness(current, ready_window_s=15).ok is ready, case
    assert liveness(current, unreachable_restart_s=120).ok is alive, case


def test_a_not_ready_verdict_says_what_the_api_said() -> None:
    verdict = readiness(view(api_ok=None, api_failing_since=NOW - 5, api_error="Forbidden: camerachannels"), 15)
    assert not verdict.ok and "never" in verdict.reasons[0] and "Forbidden" in verdict.reasons[0]


def _get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_endpoints_follow_the_api_check() -> None:
    """A real server on a free port and a check that fails until told otherwise, with a password in its error
    (which the probe must mask)."""
    healthy = threading.Event()

    def check() -> None:
        if not healthy.is_set():
            raise ConnectionError("https://admin:s3cret@10.96.0.1:443 refused")

    health = OperatorHealth(check, port=0, check_interval_s=0.1, ready_window_s=1.0, unreachable_restart_s=0.5)
    health.start()
    try:
        health.mark_started()
        code, body = _get(health.port, "/readyz")
        assert code == 503 and "refused" in body["reasons"][0] and "s3cret" not in json.dumps(body)
        time.sleep(0.8)
        code, body = _get(health.port, "/healthz")
        assert code == 503 and "unreachable" in body["reasons"][-1]
        healthy.set()
        deadline = time.monotonic() + 5
        while _get(health.port, "/readyz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _get(health.port, "/readyz")[0] == 200
        # the loop ticker is not running here: liveness only fails once the loop has been silent LOOP_STALE_S
        assert _get(health.port, "/healthz")[0] == 200
    finally:
        health.stop()
