"""status: conditions, phase and live fields from what the operator observed (tables, no cluster)."""

import pytest

from footfall_operator.status import LiveReading, Observed, Problem, Reason, build_status, live_status

NOW = 1_700_000_000.0


def heartbeat(state: str = "streaming", age_s: float = 1.0, **fields: object) -> LiveReading:
    snapshot = {
        "state": state,
        "fps": 29.97,
        "people_now": 2,
        "reconnects": 1,
        "last_frame_ts": NOW - age_s,
        "heartbeat_ts": NOW - age_s,
        **fields,
    }
    return LiveReading(snapshot=snapshot, error=None, read_at=NOW)


REDIS_DOWN = LiveReading(
    snapshot=None, error="Error 111 connecting to 127.0.0.1:6379. Connection refused.", read_at=NOW
)
NO_HEARTBEAT = LiveReading(snapshot=None, error=None, read_at=NOW)
ROLLED_OUT = {
    "metadata": {"generation": 2},
    "spec": {"replicas": 1},
    "status": {"observedGeneration": 2, "updatedReplicas": 1},
}
ROLLING = {"metadata": {"generation": 3}, "spec": {"replicas": 1}, "status": {"observedGeneration": 2}}
FAILING = {
    **ROLLED_OUT,
    "status": {
        **ROLLED_OUT["status"],
        "conditions": [{"type": "ReplicaFailure", "status": "True", "message": "pods forbidden: quota"}],
    },
}
BAD_PORT = Problem(Reason.FIELD_INVALID, "spec.source.port: Input should be less than or equal to 65535 (got 0)")


def observed(**overrides: object) -> Observed:
    base = {
        "generation": 4,
        "paused": False,
        "problems": (),
        "deployment": ROLLED_OUT,
        "live": heartbeat(),
        "previous": {},
    }
    base.update(overrides)
    return Observed(**base)


def condition(status: dict, kind: str) -> tuple[str, str]:
    (found,) = [c for c in status["conditions"] if c["type"] == kind]
    return found["status"], found["reason"]


@pytest.mark.parametrize(
    ("case", "overrides", "phase", "ready", "degraded", "progressing", "invalid"),
    [
        ("streaming", {}, "Running", ("True", "Streaming"), "False", "False", "False"),
        ("no heartbeat yet", {"live": NO_HEARTBEAT, "deployment": None}, "Pending", ("False", "NoHeartbeat"),
         "False", "True", "False"),
        ("rolling out", {"live": NO_HEARTBEAT, "deployment": ROLLING}, "Pending", ("False", "NoHeartbeat"),
         "False", "True", "False"),
        ("camera in backoff", {"live": heartbeat(state="backoff")}, "Degraded", ("False", "CameraNotStreaming"),
         "True", "False", "False"),
        ("heartbeat too old", {"live": heartbeat(age_s=60)}, "Pending", ("False", "NoHeartbeat"), "False", "False",
         "False"),
        ("heartbeat lost after running", {"live": heartbeat(age_s=60), "previous": {"phase": "Running"}},
         "Degraded", ("False", "NoHeartbeat"), "True", "False", "False"),
        ("redis down before any heartbeat", {"live": REDIS_DOWN}, "Pending", ("Unknown", "LiveStateUnavailable"),
         "False", "False", "False"),
        ("redis down while running", {"live": REDIS_DOWN, "previous": {"phase": "Running"}}, "Running",
         ("Unknown", "LiveStateUnavailable"), "False", "False", "False"),
        ("deployment failing", {"deployment": FAILING, "live": NO_HEARTBEAT}, "Degraded", ("False", "NoHeartbeat"),
         "True", "False", "False"),
        ("paused", {"paused": True, "live": None}, "Paused", ("False", "Paused"), "False", "False", "False"),
        ("invalid", {"problems": (BAD_PORT,), "live": None, "deployment": None}, "Invalid",
         ("False", "InvalidSpec"), "False", "False", "True"),
        ("invalid wins over paused", {"problems": (BAD_PORT,), "paused": True, "live": None}, "Invalid",
         ("False", "InvalidSpec"), "False", "False", "True"),
    ],
)  # fmt: skip
def test_phase_and_conditions(case, overrides, phase, ready, degraded, progressing, invalid):
    status = build_status(observed(**overrides), NOW)
    assert status["phase"] == phase, case
    assert condition(status, "Ready") == ready, case
    assert condition(status, "Degraded")[0] == degraded, case
    assert condition(status, "Progressing")[0] == progressing, case
    assert condition(status, "InvalidSpec")[0] == invalid, case
    assert status["observedGeneration"] == 4
    assert all(c["observedGeneration"] == 4 for c in status["conditions"])


def test_invalid_spec_names_every_problem_and_its_field():
    missing_secret = Problem(Reason.SECRET_NOT_FOUND, "spec.credentialsSecretRef.name: Secret 'x' not found")
    status = build_status(observed(problems=(BAD_PORT, missing_secret), live=None), NOW)
    (invalid,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    assert "spec.source.port" in invalid["message"] and "spec.credentialsSecretRef.name" in invalid["message"]
    assert invalid["reason"] in {"FieldInvalid", "SecretNotFound"}


def test_live_fields_are_copied_and_rounded_from_a_fresh_heartbeat():
    live = live_status(heartbeat(age_s=2.0), previous=None, stale_after_s=15)
    assert live["fps"] == 30.0 and live["peopleNow"] == 2 and live["reconnects"] == 1
    assert live["stale"] is False and live["state"] == "streaming"
    assert live["lastFrameTime"] == "2023-11-14T22:13:18Z"
    assert live["readTime"] == "2023-11-14T22:13:20Z"


def test_redis_down_keeps_the_last_values_and_says_they_are_stale():
    fresh = live_status(heartbeat(), previous=None, stale_after_s=15)
    stale = live_status(REDIS_DOWN, previous=fresh, stale_after_s=15)
    assert stale["fps"] == fresh["fps"] and stale["peopleNow"] == fresh["peopleNow"]
    assert stale["stale"] is True and stale["staleReason"].startswith("Redis unreachable")
    recovered = live_status(heartbeat(people_now=5), previous=stale, stale_after_s=15)
    assert recovered["stale"] is False and recovered["peopleNow"] == 5 and recovered["staleReason"] is None


def test_last_transition_time_moves_only_when_a_condition_flips():
    first = build_status(observed(live=NO_HEARTBEAT), NOW)
    same = build_status(observed(live=NO_HEARTBEAT, previous=first), NOW + 60)
    flipped = build_status(observed(previous=same), NOW + 120)

    def since(status: dict, kind: str) -> str:
        return next(c["lastTransitionTime"] for c in status["conditions"] if c["type"] == kind)

    assert since(same, "Ready") == since(first, "Ready") == "2023-11-14T22:13:20Z"
    assert since(flipped, "Ready") == "2023-11-14T22:15:20Z"
    assert since(flipped, "InvalidSpec") == since(first, "InvalidSpec")


def test_a_refresh_writes_only_when_something_but_the_read_time_changed():
    from footfall_operator.refresher import changed

    first = build_status(observed(live=NO_HEARTBEAT), NOW)
    later = LiveReading(snapshot=None, error=None, read_at=NOW + 10)
    again = build_status(observed(previous=first, live=later), NOW + 10)
    assert first["live"]["readTime"] != again["live"]["readTime"]
    assert not changed(first, again)
    moved = build_status(observed(previous=first, live=heartbeat(people_now=7)), NOW + 20)
    assert changed(first, moved)
    assert changed({}, first)  # a new channel's first status is always written


def test_store_counters_reach_the_status_when_the_worker_counts():
    live = live_status(heartbeat(entries=12, exits=9, zone_occupancy='{"queue": 3}'), previous=None, stale_after_s=15)
    assert (live["entries"], live["exits"], live["zoneOccupancy"]) == (12, 9, {"queue": 3})
    plain = live_status(heartbeat(), previous=None, stale_after_s=15)  # a worker without lines or zones
    assert plain["entries"] is None and plain["zoneOccupancy"] is None
