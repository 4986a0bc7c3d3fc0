"""The probe server: verdicts as 200/503, Prometheus text that parses, /status as JSON, a failing probe as 500."""

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from footfall_contract.counters import COUNTER_NAMES, ChannelCounters
from footfall_contract.probes import ProbeServer, Verdict
from footfall_worker.health.metrics import WorkerMetrics, WorkerStatus

STATUS = WorkerStatus(
    channel="channel_9",
    state="streaming",
    fps_read=25.0,
    fps_processed=24.5,
    latency_p50_ms=40.0,
    latency_p95_ms=80.0,
    latency_p99_ms=120.0,
    people_now=2,
    active_tracks=3,
    counters=ChannelCounters(
        frames_read=1000,
        frames_processed=990,
        frames_dropped=4,
        frames_failed=6,
        reconnects=1,
        tracks_started=7,
        entries=14,
        exits=9,
    ),
    skip_every=1,
    triton_errors=6,
    handoff_depth=1,
    gender_queue=0,
    gender_dropped=0,
    gender_failed=0,
    writer_buffered_rows=12,
    writer_journal_rows=0,
    writer_written_rows=345,
    writer_dropped_rows=0,
    writer_rejected_rows=2,
    writer_transient_errors=5,
    writer_db_up=True,
    live_skipped=0,
    reid_malformed=0,
    live=True,
    ready=False,
    not_ready_reasons=("Triton not answering",),
    uptime_s=60.0,
    zone_occupancy={"checkout_queue": 3},
    stream_fallback=True,
    covered_s=58.5,
    store_id="kidsplaza_thanhxuan",
    store_people_inside=11,
    stage_wall_s={"detect": 12.5, "track": 0.25},
    stage_cpu_s={"detect": 2.0, "track": 0.25},
)


Served = tuple[ProbeServer, WorkerMetrics, dict[str, Verdict]]


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def served() -> Iterator[Served]:
    verdicts = {"live": Verdict(True, ()), "ready": Verdict(False, ("stream backoff",))}
    metrics = WorkerMetrics("channel_9", lambda: STATUS)
    server = ProbeServer(
        "127.0.0.1",
        0,
        "channel_9",
        liveness=lambda: verdicts["live"],
        readiness=lambda: verdicts["ready"],
        metrics=metrics.render,
        status=lambda: replace(STATUS).as_dict() if verdicts["live"].ok else 1 / 0,  # type: ignore[return-value]
    ).start()
    yield server, metrics, verdicts
    server.stop()


def test_verdicts_answer_200_or_503_with_their_reasons(served: Served) -> None:
    server, _, verdicts = served
    assert get(server.port, "/healthz") == (200, b'{"ok": true, "reasons": [], "degraded": []}')
    code, body = get(server.port, "/readyz")
    assert code == 503 and json.loads(body) == {"ok": False, "reasons": ["stream backoff"], "degraded": []}
    verdicts["live"] = Verdict(False, ("processing loop stuck for 40 s (limit 30 s)",))
    assert get(server.port, "/healthz")[0] == 503
    assert get(server.port, "/status")[0] == 500  # a failing handler answers, the server lives on
    assert get(server.port, "/readyz")[0] == 503
    assert get(server.port, "/nope")[0] == 404


def test_metrics_parse_and_carry_the_status_and_the_histograms(served: Served) -> None:
    server, metrics, _ = served
    metrics.capture_to_buffered.observe(0.12)
    metrics.capture_to_buffered.observe(0.03)
    metrics.triton_request("person_detector").observe(0.02)
    code, body = get(server.port, "/metrics")
    assert code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    channel = (("channel", "channel_9"),)
    assert samples[("footfall_frames_processed_total", channel)] == 990
    assert samples[("footfall_frames_dropped_total", channel)] == 4
    assert samples[("footfall_fps_processed", channel)] == 24.5
    assert samples[("footfall_ready", channel)] == 0 and samples[("footfall_live", channel)] == 1
    assert samples[("footfall_stream_state", (("channel", "channel_9"), ("state", "streaming")))] == 1
    assert samples[("footfall_stream_state", (("channel", "channel_9"), ("state", "backoff")))] == 0
    assert samples[("footfall_capture_to_buffered_seconds_count", channel)] == 2
    assert samples[("footfall_capture_to_buffered_seconds_bucket", (("channel", "channel_9"), ("le", "0.05")))] == 1
    triton = (("channel", "channel_9"), ("model", "person_detector"))
    assert samples[("footfall_triton_request_seconds_count", triton)] == 1
    assert samples[("footfall_entries_total", channel)] == 14 and samples[("footfall_exits_total", channel)] == 9
    assert samples[("footfall_zone_occupancy", (("channel", "channel_9"), ("zone", "checkout_queue")))] == 3
    assert samples[("footfall_stream_fallback", channel)] == 1
    detect = (("channel", "channel_9"), ("stage", "detect"))
    assert samples[("footfall_stage_wall_seconds_total", detect)] == 12.5
    assert samples[("footfall_stage_cpu_seconds_total", detect)] == 2.0


def test_status_is_the_worker_status_as_json(served: Served) -> None:
    server, _, _ = served
    code, body = get(server.port, "/status")
    document = json.loads(body)
    assert code == 200 and document["channel"] == "channel_9" and document["people_now"] == 2
    assert document["not_ready_reasons"] == ["Triton not answering"]
    assert (document["entries"], document["exits"], document["zone_occupancy"]) == (14, 9, {"checkout_queue": 3})
    assert document["stream_fallback"] is True and document["stage_wall_s"] == {"detect": 12.5, "track": 0.25}
    assert {name: document[name] for name in COUNTER_NAMES} == STATUS.counters.as_dict()  # flat, every counter


def test_every_channel_counter_is_a_prometheus_counter(served: Served) -> None:
    server, _, _ = served
    body = get(server.port, "/metrics")[1].decode()
    samples = {s.name: s.value for family in text_string_to_metric_families(body) for s in family.samples}
    assert {name: samples.get(f"footfall_{name}_total") for name in COUNTER_NAMES} == STATUS.counters.as_dict()


@pytest.fixture
def limited() -> Iterator[ProbeServer]:
    ok = Verdict(True, ())
    server = ProbeServer(
        "127.0.0.1", 0, "channel_9", liveness=lambda: ok, readiness=lambda: ok, metrics=lambda: b"",
        status=dict, request_timeout_s=2.0, max_connections=4,
    ).start()  # fmt: skip
    yield server
    server.stop()


def test_a_silent_client_is_dropped_after_the_request_timeout(limited: ProbeServer) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=5) as silent:
        silent.sendall(b"GET /healthz HTTP/1.1\r\n")  # and never the end of its headers
        started = time.monotonic()
        assert silent.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 4.5
    assert get(limited.port, "/healthz")[0] == 200


def test_an_oversized_request_is_cut_off_and_the_server_answers_the_next(limited: ProbeServer) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=5) as greedy:
        try:
            greedy.sendall(b"GET /healthz HTTP/1.0\r\n" + b"X-Junk: " + b"a" * 1_000_000 + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what a bound looks like from the client
        with contextlib.suppress(ConnectionResetError):
            greedy.recv(1024)
    assert get(limited.port, "/healthz")[0] == 200


def test_connections_over_the_cap_are_refused_and_counted_and_threads_stay_bounded(limited: ProbeServer) -> None:
    threads_before = threading.active_count()
    holders = [socket.create_connection(("127.0.0.1", limited.port), timeout=5) for _ in range(12)]
    try:
        wait_for = time.monotonic() + 3
        while limited.refused < 8 and time.monotonic() < wait_for:
            time.sleep(0.02)
        assert limited.refused == 8
        assert threading.active_count() <= threads_before + 4
    finally:
        for holder in holders:
            holder.close()
    deadline = time.monotonic() + 5  # the slots free as the holders go
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if get(limited.port, "/healthz")[0] == 200:
                return
        time.sleep(0.1)
    raise AssertionError("the probe server did not serve again after the held connections closed")
