"""`footfall-worker` end to end as a real process: simulated camera, Triton, PostgreSQL, Redis, all on loopback."""

import json
import threading
import time
from pathlib import Path

import psycopg2.extras

from tests.pipeline.conftest import Backends
from tests.support.camera_sim import CameraSimulator
from tests.support.footage import HEAD_POSE, STORE_AISLE
from tests.support.paths import footage_path
from tests.support.postgres import PostgresCluster, connect
from tests.support.worker import WorkerProcess, write_store

CAMERA_USER, CAMERA_PASSWORD = "admin", "Pa55:w/rd@cam"


def rows(dsn: str, sql: str, *args: object) -> list[dict]:
    with connect(dsn) as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, args)
        return [dict(r) for r in cur.fetchall()]


def last_record(worker: WorkerProcess, msg: str) -> dict:
    found = [r for r in worker.log_records() if r.get("msg") == msg]
    assert found, f"no {msg!r} line in the worker log\n{worker.log_tail()}"
    return found[-1]


def test_one_channel_end_to_end_then_sigterm_closes_the_run_loses_nothing(backends: Backends, tmp_path: Path) -> None:
    camera = CameraSimulator(footage_path(HEAD_POSE), user=CAMERA_USER, password=CAMERA_PASSWORD).start()
    store = json.loads(write_store(tmp_path / "store.json", {"channel_1": camera.port}).read_text())
    store["credentials"] = {"username_env": "CAM_USER", "password_env": "CAM_PASSWORD"}
    (tmp_path / "store.json").write_text(json.dumps(store))
    env = backends.env(CAM_USER=CAMERA_USER, CAM_PASSWORD=CAMERA_PASSWORD)
    try:
        with WorkerProcess.for_store(tmp_path / "store.json", "channel_1", env) as worker:
            # The head-pose clip loops: a woman and a man, faces visible. Two loops give both a decided gender.
            status = worker.wait_until(
                lambda s: s["ready"] and s["frames_processed"] >= 120 and s["tracks_started"] >= 2,
                timeout_s=90,
                what="two tracks over 120 frames",
            )
            assert status["state"] == "streaming" and status["frames_failed"] == 0
            assert worker.get("/healthz")[0] == 200 and worker.get("/readyz")[0] == 200
            code, metrics = worker.get("/metrics")
            assert code == 200 and 'footfall_frames_processed_total{channel="channel_1"}' in metrics
            live = backends.redis.client().hgetall("footfall:channel_1:live")
            assert live[b"state"] == b"streaming" and float(live[b"fps"]) > 0
            run_id = last_record(worker, "worker started")["run_id"]

            assert worker.terminate(timeout_s=25) == 0
        stopped = last_record(worker, "stopped")
        assert stopped["exit_reason"] == "signal" and stopped["clean"] and stopped["writer_complete"]
    finally:
        camera.close()

    (run,) = rows(backends.dsn, "SELECT * FROM runs WHERE id = %s", run_id)
    assert run["ended_at"] is not None and run["exit_reason"] == "signal" and run["channel_id"] == "channel_1"
    assert run["frames_processed"] == stopped["frames_processed"] >= 120
    tracks = rows(backends.dsn, "SELECT * FROM tracks WHERE run_id = %s ORDER BY track_id", run_id)
    assert len(tracks) == stopped["tracks_started"]  # every track that started is in the record
    assert all(t["channel_id"] == "channel_1" and t["last_seen"] >= t["first_seen"] for t in tracks)
    assert {"female", "male"} <= {t["gender"] for t in tracks}, tracks
    events = rows(backends.dsn, "SELECT kind, count(*) AS n FROM events WHERE run_id = %s GROUP BY kind", run_id)
    # Every track ended at shutdown: one started and one ended event each.
    assert {e["kind"]: e["n"] for e in events} == {"track_started": len(tracks), "track_ended": len(tracks)}
    points = rows(backends.dsn, "SELECT count(*) AS n FROM track_points WHERE run_id = %s", run_id)
    assert points[0]["n"] >= len(tracks)
    assert rows(backends.dsn, "SELECT count(*) AS n FROM channel_stats_minute")[0]["n"] >= 1

    live = backends.redis.client().hgetall("footfall:channel_1:live")
    assert live[b"state"] == b"stopped" and live[b"people_now"] == b"0"
    stream = backends.redis.client().xrange("footfall:channel_1:events")
    assert sum(1 for _, e in stream if e[b"type"] == b"track_ended") == len(tracks)

    # The camera password appears nowhere: not in the log, the record or the live state.
    secret = CAMERA_PASSWORD.encode()
    assert secret not in worker.log_path.read_bytes()
    channel_rows = json.dumps(rows(backends.dsn, "SELECT * FROM channels"), default=str)
    assert CAMERA_PASSWORD not in channel_rows and "127.0.0.1" in channel_rows
    assert all(secret not in value for value in backends.redis.client().hgetall("footfall:channel_1:live").values())


def test_a_camera_outage_keeps_liveness_while_readiness_follows_the_stream(backends: Backends, tmp_path: Path) -> None:
    camera = CameraSimulator(footage_path(STORE_AISLE)).start()
    store = write_store(tmp_path / "store.json", {"channel_2": camera.port})
    healthz: list[int] = []
    polling = threading.Event()
    try:
        with WorkerProcess.for_store(store, "channel_2", backends.env()) as worker:
            worker.wait_until(lambda s: s["ready"], timeout_s=60, what="ready")

            def poll_liveness() -> None:
                while not polling.is_set():
                    healthz.append(worker.get("/healthz")[0])
                    time.sleep(0.1)

            poller = threading.Thread(target=poll_liveness, daemon=True)
            poller.start()
            camera.stop()
            down = worker.wait_until(lambda s: not s["ready"], timeout_s=20, what="not ready after the camera died")
            assert down["state"] != "streaming" or down["not_ready_reasons"]
            assert worker.get("/readyz")[0] == 503
            time.sleep(4)  # a few backoff rounds: the pod must not be killed for a camera outage
            camera.start()
            back = worker.wait_until(lambda s: s["ready"] and s["reconnects"] >= 1, timeout_s=30, what="ready again")
            assert back["state"] == "streaming"
            polling.set()
            poller.join()
            assert worker.terminate() == 0
    finally:
        polling.set()
        camera.close()
    assert len(healthz) > 20 and set(healthz) == {200}, healthz


def test_a_postgresql_outage_is_ridden_out_through_the_journal(
    backends: Backends,
    pg_cluster: PostgresCluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    camera = CameraSimulator(footage_path(HEAD_POSE)).start()
    store = write_store(tmp_path / "store.json", {"channel_4": camera.port})
    env = backends.env(FOOTFALL_STORAGE_BACKOFF_INITIAL_S="0.2", FOOTFALL_STORAGE_BACKOFF_MAX_S="1")
    try:
        with WorkerProcess.for_store(store, "channel_4", env) as worker:
            worker.wait_until(lambda s: s["ready"] and s["tracks_started"] >= 1, timeout_s=60, what="tracking")
            run_id = last_record(worker, "worker started")["run_id"]
            pg_cluster.stop()
            try:
                outage_from = time.time()
                down = worker.wait_until(lambda s: not s["writer_db_up"], timeout_s=30, what="writer sees the outage")
                assert down["ready"] and down["live"]  # rows go to the journal: still producing, nothing lost
                time.sleep(4)
                outage_to = time.time()
                assert worker.status()["writer_written_rows"] == down["writer_written_rows"]
            finally:
                pg_cluster.start()
            worker.wait_until(lambda s: s["writer_db_up"], timeout_s=30, what="writer reconnected")
            assert worker.terminate() == 0
        stopped = last_record(worker, "stopped")
        assert stopped["writer_complete"], worker.log_tail()
    finally:
        camera.close()
    (run,) = rows(backends.dsn, "SELECT * FROM runs WHERE id = %s", run_id)
    assert run["ended_at"] is not None and run["frames_processed"] == stopped["frames_processed"]
    # The boxes sampled while PostgreSQL was down reached it afterwards.
    during = rows(
        backends.dsn,
        "SELECT count(*) AS n FROM track_points WHERE run_id = %s AND t BETWEEN to_timestamp(%s) AND to_timestamp(%s)",
        run_id,
        outage_from + 0.5,
        outage_to - 0.5,
    )
    assert during[0]["n"] >= 4, during
