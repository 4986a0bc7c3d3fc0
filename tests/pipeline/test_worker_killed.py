"""A worker killed without a shutdown (SIGKILL, as the kubelet or the OOM killer does): the channel's next worker
closes the run it left open, as `lost`, at its last sign of life."""

import time
from pathlib import Path

from footfall_worker.storage.runs import LOST, RUN_SEEN_INTERVAL_S
from tests.support.camera_sim import CameraSimulator
from tests.support.footage import STORE_AISLE
from tests.support.paths import footage_path, free_port
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture
from tests.support.redis_server import RedisServer
from tests.support.worker import WorkerProcess, worker_env, write_store


def runs(dsn: str) -> dict[str, tuple]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id::text, channel_id, started_at, last_seen_at, ended_at, exit_reason FROM runs")
        return {row[0]: row[1:] for row in cur.fetchall()}


def run_id_of(worker: WorkerProcess) -> str:
    return next(r["run_id"] for r in worker.log_records() if r.get("msg") == "worker started")


def test_the_next_worker_closes_the_run_of_a_sigkilled_one(
    pg_cluster: PostgresCluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    redis = RedisServer()
    redis.start()
    camera = CameraSimulator(footage_path(STORE_AISLE)).start()
    store = write_store(tmp_path / "s.json", {"channel_k": camera.port, "channel_o": camera.port})
    dsn = pg_cluster.create_database("killed")
    # No Triton answers (a closed port): the worker runs and records its run all the same.
    env = worker_env(dsn, redis.url, f"127.0.0.1:{free_port()}", tmp_path / "journal")
    try:
        with (
            WorkerProcess.for_store(store, "channel_o", env) as other,  # another channel, running throughout
            WorkerProcess.for_store(store, "channel_k", env) as first,
        ):
            first.wait_until(lambda s: s["state"] == "streaming", timeout_s=60, what="streaming")
            deadline = time.monotonic() + RUN_SEEN_INTERVAL_S + 20
            while time.monotonic() < deadline:
                found = runs(dsn).get(run_id_of(first))
                if found is not None and found[2] is not None:  # marked seen at least once
                    break
                time.sleep(0.5)
            killed = run_id_of(first)
            first.process.kill()  # type: ignore[union-attr] - SIGKILL: no shutdown, no RunEnd
            first.process.wait(10)  # type: ignore[union-attr]
            left = runs(dsn)[killed]
            assert left[2] is not None and left[3] is None and left[4] is None, left  # seen, never closed

            with WorkerProcess.for_store(store, "channel_k", env) as second:
                second.wait_until(lambda s: s["state"] == "streaming", timeout_s=60, what="second streaming")
                deadline = time.monotonic() + 20
                while runs(dsn)[killed][3] is None and time.monotonic() < deadline:
                    time.sleep(0.3)
                closed = runs(dsn)
                new = run_id_of(second)
                assert second.terminate() == 0
            other_run = run_id_of(other)
            assert other.terminate() == 0
    finally:
        camera.close()
        redis.close()

    channel, started, seen, ended, reason = closed[killed]
    assert (channel, reason) == ("channel_k", LOST)
    assert ended >= seen and (ended - seen).total_seconds() < RUN_SEEN_INTERVAL_S + 1  # ≈ its last sign of life
    assert closed[new][3] is None and closed[new][4] is None  # the new run is open, not closed by itself
    assert closed[other_run][3] is None and closed[other_run][4] is None  # another channel's run is untouched
    after = runs(dsn)
    assert after[new][4] == after[other_run][4] == "signal" and after[killed][4] == LOST  # SIGTERM: closed cleanly
