"""status: conditions, phase and live fields from what the operator observed (tables, no cluster)."""

import time

import pytest

from footfall_operator.crd import SpecError, parse_spec
from footfall_operator.status import (
    MAX_CONDITION_MESSAGE,
    LiveReading,
    Observed,
    Problem,
    Reason,
    build_status,
    live_status,
)

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
    snapshot=None, error="Redis unreachable: Error 111 connecting to 127.0.0.1:6379. Connection refused.", read_at=NOW
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


def refreshes(steps: list[dict], previous: dict | None = None) -> list[dict]:
    """Run `build_status` once per step, 10 s apart, each fed the status the step before wrote (as the refresher
    does); a step overrides `observed`'s fields (live, deployment, paused...)."""
    statuses = []
    for i, step in enumerate(steps):
        status = build_status(observed(**{"previous": previous or {}, **step}), NOW + 10 * i)
        statuses.append(status)
        previous = status
    return statuses


def summary(status: dict) -> tuple[str, str, str]:
    """(phase, Degraded status, Degraded reason)."""
    return (status["phase"], *condition(status, "Degraded"))


STREAMING = {"live": heartbeat()}
STALE = {"live": heartbeat(age_s=20)}  # the hash is still there, its heartbeat older than stale_after_s
EXPIRED = {"live": NO_HEARTBEAT}  # the hash's TTL ran out: no snapshot at all
LOST = ("Degraded", "True", "HeartbeatLost")
QUIET = ("Pending", "False", "AsExpected")


@pytest.mark.parametrize(
    ("case", "steps", "expected"),
    [
        # SIGSTOP: the heartbeat ages, the hash expires; it stays lost however many refreshes pass, then recovers
        ("frozen worker", [STREAMING, STALE, STALE, EXPIRED, EXPIRED, EXPIRED, EXPIRED, STREAMING],
         [("Running", "False", "AsExpected"), LOST, LOST, LOST, LOST, LOST, LOST, ("Running", "False", "AsExpected")]),
        ("never ran: created, rolled out, pod Pending",
         [{"live": NO_HEARTBEAT, "deployment": None}, {"live": NO_HEARTBEAT, "deployment": ROLLING},
          EXPIRED, EXPIRED, EXPIRED, STREAMING],
         [QUIET, QUIET, QUIET, QUIET, QUIET, ("Running", "False", "AsExpected")]),
        ("camera down, then the worker froze",
         [STREAMING, {"live": heartbeat(state="backoff")}, STALE, EXPIRED, EXPIRED],
         [("Running", "False", "AsExpected"), ("Degraded", "True", "CameraNotStreaming"), LOST, LOST, LOST]),
        ("Redis down while the heartbeat is lost: kept, not judged",
         [STREAMING, EXPIRED, {"live": REDIS_DOWN}, {"live": REDIS_DOWN}, EXPIRED, STREAMING],
         [("Running", "False", "AsExpected"), LOST, LOST, LOST, LOST, ("Running", "False", "AsExpected")]),
        ("replaced by a rollout: Progressing explains the silence",
         [STREAMING, {"live": heartbeat(age_s=20), "deployment": ROLLING},
          {"live": NO_HEARTBEAT, "deployment": ROLLING}, EXPIRED, EXPIRED, STREAMING],
         [("Running", "False", "AsExpected"), QUIET, QUIET, QUIET, QUIET, ("Running", "False", "AsExpected")]),
        ("paused after the loss, then resumed",
         [STREAMING, EXPIRED, {"paused": True, "live": None}, EXPIRED, EXPIRED],
         [("Running", "False", "AsExpected"), LOST, ("Paused", "False", "AsExpected"), QUIET, QUIET]),
        ("the Deployment failing takes over, and its fix starts afresh",
         [STREAMING, EXPIRED, {"live": NO_HEARTBEAT, "deployment": FAILING}, EXPIRED, EXPIRED],
         [("Running", "False", "AsExpected"), LOST, ("Degraded", "True", "DeploymentFailing"), QUIET, QUIET]),
    ],
)  # fmt: skip
def test_consecutive_refreshes(case, steps, expected):
    assert [summary(status) for status in refreshes(steps)] == expected, case


def test_a_lost_heartbeat_keeps_its_transition_time_and_says_how_old_it_is():
    frozen = refreshes([STREAMING, STALE, EXPIRED, EXPIRED, EXPIRED])
    degraded = [next(c for c in status["conditions"] if c["type"] == "Degraded") for status in frozen[1:]]
    assert {c["lastTransitionTime"] for c in degraded} == {"2023-11-14T22:13:30Z"}  # the refresh that lost it
    assert degraded[0]["message"] == "last worker heartbeat 20 s ago"
    assert "no heartbeat from the worker" in degraded[-1]["message"]
    assert all(condition(status, "Ready") == ("False", "NoHeartbeat") for status in frozen[1:])


def test_an_older_operators_status_saying_heartbeat_lost_stays_lost():
    # what an operator without this fix wrote one refresh after Running, read by this one after an upgrade
    before = build_status(observed(live=heartbeat(age_s=60), previous={"phase": "Running"}), NOW)
    assert summary(before) == LOST
    assert [summary(s) for s in refreshes([EXPIRED, EXPIRED], previous=before)] == [LOST, LOST]


TRITON_DOWN = {
    "triton_ok": False,
    "triton_url": "triton-gpu:8001",
    "triton_error": "Triton at triton-gpu:8001 is unreachable: failed to connect to all addresses",
    "frames_failed": 412,
}


@pytest.mark.parametrize(
    ("case", "live", "phase", "ready", "degraded"),
    [
        ("streaming, Triton failing", heartbeat(**TRITON_DOWN), "Degraded", ("False", "TritonUnavailable"),
         ("True", "TritonUnavailable")),
        ("streaming, Triton answering", heartbeat(triton_ok=True, triton_url="triton:8001", frames_failed=3),
         "Running", ("True", "Streaming"), ("False", "AsExpected")),
        ("a worker that does not report Triton", heartbeat(), "Running", ("True", "Streaming"),
         ("False", "AsExpected")),
        ("before the worker's first verdict", heartbeat(triton_ok=None), "Running", ("True", "Streaming"),
         ("False", "AsExpected")),
        ("camera down too: the camera comes first", heartbeat(state="backoff", **TRITON_DOWN), "Degraded",
         ("False", "CameraNotStreaming"), ("True", "CameraNotStreaming")),
        ("a stale heartbeat says nothing about Triton now", heartbeat(age_s=60, **TRITON_DOWN), "Pending",
         ("False", "NoHeartbeat"), ("False", "AsExpected")),
    ],
)  # fmt: skip
def test_triton_unavailable(case, live, phase, ready, degraded):
    status = build_status(observed(live=live), NOW)
    assert (status["phase"], condition(status, "Ready"), condition(status, "Degraded")) == (phase, ready, degraded)


def test_triton_unavailable_names_the_url_and_the_error():
    status = build_status(observed(live=heartbeat(**TRITON_DOWN)), NOW)
    for kind in ("Ready", "Degraded"):
        (found,) = [c for c in status["conditions"] if c["type"] == kind]
        assert "Triton at triton-gpu:8001" in found["message"], found
        assert "failed to connect to all addresses" in found["message"] and "412 frames" in found["message"], found
    assert status["live"]["state"] == "streaming" and status["live"]["stale"] is False


def test_triton_outage_over_consecutive_refreshes():
    down = {"live": heartbeat(**TRITON_DOWN)}
    triton = ("Degraded", "True", "TritonUnavailable")
    steps = [STREAMING, down, down, {"live": REDIS_DOWN}, down, EXPIRED, EXPIRED, {"live": heartbeat(triton_ok=True)}]
    statuses = refreshes(steps)
    assert [summary(s) for s in statuses] == [
        ("Running", "False", "AsExpected"),
        triton,
        triton,
        triton,  # Redis down: kept, Ready Unknown
        triton,
        LOST,  # the worker then went silent: it had run, so the loss is reported, not hidden as Pending
        LOST,
        ("Running", "False", "AsExpected"),
    ]
    assert condition(statuses[3], "Ready") == ("Unknown", "LiveStateUnavailable")


def test_a_spec_far_over_its_limits_is_a_bounded_condition_not_a_stall():
    """Should an oversize CameraChannel reach the operator (a CRD installed without the schema's bounds), every
    field is still refused by name, the values shown only in part, and the status stays within the CRD's bound."""
    huge = "x" * 1_000_000
    spec = {
        "store": huge,
        "channelId": huge,
        "displayName": huge,
        "description": huge,
        "source": {"host": huge, "path": "/" + huge},
        "analytics": {"lines": [{"id": "l", "points": [[0.5, 0.5]] * 100_000}]},
    }
    started = time.perf_counter()
    with pytest.raises(SpecError) as error:
        parse_spec(spec)
    problems = error.value.problems
    status = build_status(observed(problems=tuple(Problem(Reason.FIELD_INVALID, p) for p in problems), live=None), NOW)
    elapsed_s = time.perf_counter() - started
    (invalid,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    for field in ("spec.store", "spec.channelId", "spec.displayName", "spec.description", "spec.source.host"):
        assert any(p.startswith(f"{field}:") for p in problems), field
    assert all(len(p) < 400 for p in problems)
    assert len(invalid["message"]) <= MAX_CONDITION_MESSAGE
    print(f"\n[hostile] 6 MB spec refused in {elapsed_s * 1000:.0f} ms, condition {len(invalid['message'])} chars")


def test_a_condition_message_over_the_crd_bound_is_cut_not_refused():
    problems = tuple(Problem(Reason.FIELD_INVALID, f"spec.analytics.zones[{i}].id: {'e' * 300}") for i in range(100))
    status = build_status(observed(problems=problems, live=None), NOW)
    (invalid,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    assert len(invalid["message"]) <= MAX_CONDITION_MESSAGE
    assert invalid["message"].startswith("spec.analytics.zones[0].id: ")
    assert invalid["message"].endswith("characters in all)")
