"""`make chaos`: four channels on simulated cameras while their dependencies fail, then the count: nothing lost.

Faults, spread over `--minutes` (15 by default): every camera killed and restarted in turn (`--camera-kills`,
20), PostgreSQL stopped 60 s, PostgreSQL SIGSTOPped 60 s (a hung server), Redis stopped 60 s, Triton stopped
30 s (durations scale with `--scale` for a quick run). A poller reads every worker's /status twice a second.
At the end the workers get SIGTERM and the script prints, per channel: frames read and processed, rows produced
(the worker's own tally in `runs.rows_produced`) vs rows committed (counted in the tables), rows quarantined,
and per fault: seconds until the channels recovered against the bound the design gives, and the other
channels' FPS during a camera's fault. Not in CI (it takes the machine for its duration); run by hand.

Real parts only: a private PostgreSQL cluster and redis-server (tests/support), the Triton of `make triton`
(stopped and restarted with hack/triton.sh), camera simulators on the demo clips, `footfall-worker` processes.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402

from bench.pipeline_bench import CLIPS, FOOTAGE, status_of, write_store  # noqa: E402
from tests.support.camera_sim import CameraSimulator  # noqa: E402
from tests.support.paths import free_port  # noqa: E402
from tests.support.postgres import PostgresCluster  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

# The bounds the design gives (seconds from the fault's end until the channel works again).
BOUNDS_S = {
    "camera": 8.0,  # the reader's return probe notices a camera within ~2 s, plus an open
    "postgres_stop": 35.0,  # the writer's backoff cap (30 s) plus a connect
    "postgres_hang": 35.0,  # the same, once the hung connection was given up on (15 s) during the fault
    "redis": 12.0,  # the live state's backoff cap (10 s) plus a publish
    "triton": 40.0,  # Triton's own start (~10 s on this box, more when cold) plus the worker's re-check (5 s)
}


@dataclass
class Fault:
    kind: str
    target: str  # a channel, or "all"
    start: float
    end: float = 0.0
    recovered_s: dict[str, float | None] = field(default_factory=dict)
    others_fps: float | None = None


class Poller(threading.Thread):
    def __init__(self, ports: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.ports = ports
        self.timeline: list[tuple[float, str, dict]] = []
        self.last: dict[str, dict] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name, port in self.ports.items():
                status = status_of(port)
                if status is not None:
                    self.timeline.append((time.monotonic(), name, status))
                    self.last[name] = status
            self.stop.wait(0.5)


def healthy(status: dict, kind: str) -> bool:
    if kind in ("postgres_stop", "postgres_hang"):
        return bool(status.get("writer_db_up")) and status.get("writer_journal_rows", 1) == 0
    return status.get("state") == "streaming" and bool(status.get("ready"))


def recovery(poller: Poller, fault: Fault, channels: list[str], until: float) -> None:
    """Seconds after the fault's end until each channel is healthy again and makes progress (for Redis: until
    its live-state updates stop being skipped), looking no further than `until` (the next fault)."""
    for name in channels if fault.target == "all" else [fault.target]:
        after = [(t, s) for t, n, s in poller.timeline if n == name and fault.end <= t <= until]
        base = next((s for _, s in after), {})
        found = None
        if fault.kind == "redis":
            skips = [(t, s.get("live_skipped", 0)) for t, s in after]
            grew = [t for (t, n), (_, m) in zip(skips, skips[1:], strict=False) if m > n]
            found = round((grew[-1] if grew else fault.end) - fault.end + 0.5, 1) if skips else None
        else:
            for t, s in after:
                if healthy(s, fault.kind) and s.get("frames_processed", 0) > base.get("frames_processed", 0):
                    found = round(t - fault.end, 1)
                    break
        fault.recovered_s[name] = found


def others_fps(poller: Poller, fault: Fault, channels: list[str]) -> float | None:
    """Mean processed FPS of the channels not hit, over the fault."""
    rates = []
    for name in channels:
        if name == fault.target:
            continue
        inside = [(t, s) for t, n, s in poller.timeline if n == name and fault.start <= t <= fault.end]
        if len(inside) >= 2:
            (t0, s0), (t1, s1) = inside[0], inside[-1]
            rates.append((s1.get("frames_processed", 0) - s0.get("frames_processed", 0)) / max(1e-6, t1 - t0))
    return round(statistics.fmean(rates), 1) if rates else None


def counted(dsn: str) -> dict[str, dict[str, object]]:
    """Per channel: the runs' own tally of rows produced, and the rows of those runs in the tables."""
    out: dict[str, dict[str, object]] = {}
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id::text, channel_id, rows_produced, exit_reason FROM runs ORDER BY started_at")
        for run_id, channel, produced, reason in cur.fetchall():
            entry = out.setdefault(channel, {"produced": {}, "committed": {}, "runs": [], "untallied": 0})
            entry["runs"].append(reason)  # type: ignore[union-attr]
            cur.execute(
                "SELECT (SELECT count(*) FROM tracks WHERE run_id = %(r)s),"
                " (SELECT count(*) FROM track_points WHERE run_id = %(r)s),"
                " (SELECT count(*) FROM events WHERE run_id = %(r)s)",
                {"r": run_id},
            )
            tracks, points, events = cur.fetchone()
            if produced is None:
                entry["untallied"] += 1  # type: ignore[operator]
                continue
            for table, n in (("tracks", tracks), ("track_points", points), ("events", events)):
                entry["produced"][table] = entry["produced"].get(table, 0) + int(produced.get(table, 0))  # type: ignore[union-attr]
                entry["committed"][table] = entry["committed"].get(table, 0) + int(n)  # type: ignore[union-attr]
    return out


def triton(action: str) -> None:
    subprocess.run([str(REPO / "hack" / "triton.sh"), action], check=True, capture_output=True, timeout=180)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--camera-kills", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0, help="fault durations times this (0.25: a quick run)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"footfall-chaos-{os.getpid()}"
    work.mkdir(parents=True)
    pg, redis = PostgresCluster(), RedisServer()
    pg.create()
    redis.start()
    dsn = pg.create_database("chaos")
    channels = [f"chaos_{i + 1}" for i in range(4)]
    cameras = {name: CameraSimulator(FOOTAGE / CLIPS[i]).start() for i, name in enumerate(channels)}
    store = write_store(work / "store.json", "chaos", {name: camera.port for name, camera in cameras.items()})
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_")},
        "FOOTFALL_DATABASE_URL": dsn,
        "FOOTFALL_REDIS_URL": redis.url,
        "FOOTFALL_JOURNAL_DIR": str(work / "journal"),
        "FOOTFALL_SUMMARY_INTERVAL_S": "60",
    }
    ports = {name: free_port() for name in channels}
    workers = {
        name: subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "footfall_worker", "--cameras", str(store), "--channel", name]
            + ["--http-port", str(ports[name])],
            env=env,
            stdout=open(work / f"{name}.log", "wb"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        for name in channels
    }
    poller = Poller(ports)
    poller.start()
    faults: list[Fault] = []
    total_s = args.minutes * 60
    started = time.monotonic()

    def at(offset_s: float) -> None:
        time.sleep(max(0.0, started + offset_s - time.monotonic()))

    kills = args.camera_kills
    schedule: list[tuple[float, str]] = [(total_s * k / (kills + 1), "camera") for k in range(1, kills + 1)]
    schedule += [(total_s * 0.12, "postgres_stop"), (total_s * 0.35, "postgres_hang"), (total_s * 0.58, "redis")]
    schedule += [(total_s * 0.78, "triton")]
    schedule.sort()
    duration = {"postgres_stop": 60, "postgres_hang": 60, "redis": 60, "triton": 30, "camera": 5}
    try:
        at(30)  # warm
        kills_done = 0
        quiet_until = 0.0  # a fault's bound after it ends, so its recovery is seen before the next fault
        for offset, kind in schedule:
            at(max(30 + offset, quiet_until - started))
            target = channels[kills_done % 4] if kind == "camera" else "all"
            kills_done += kind == "camera"
            fault = Fault(kind, target, time.monotonic())
            print(f"[chaos] {time.monotonic() - started:6.0f} s  {kind} {target}", flush=True)
            hold_s = duration[kind] * (1.0 if kind == "camera" else args.scale)
            if kind == "camera":
                cameras[target].stop(hard=True)
                time.sleep(hold_s)
                cameras[target].start()
            elif kind == "postgres_stop":
                pg.stop()
                time.sleep(hold_s)
                pg.start()
            elif kind == "postgres_hang":
                pids = pg.freeze()
                time.sleep(hold_s)
                pg.thaw(pids)
            elif kind == "redis":
                redis.stop()
                time.sleep(hold_s)
                redis.start()
            elif kind == "triton":
                triton("stop")
                time.sleep(hold_s)
                triton("start")
            fault.end = time.monotonic()
            quiet_until = fault.end + BOUNDS_S[kind]
            faults.append(fault)
        at(max(30 + total_s, quiet_until - started) + 30)
    finally:
        poller.stop.set()
        for process in workers.values():
            process.send_signal(signal.SIGTERM)
        for process in workers.values():
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        for camera in cameras.values():
            camera.close()
    for index, fault in enumerate(faults):
        until = faults[index + 1].start if index + 1 < len(faults) else time.monotonic()
        recovery(poller, fault, channels, until)
        fault.others_fps = others_fps(poller, fault, channels) if fault.kind == "camera" else None
    rows = counted(dsn)
    report(channels, poller, rows, faults)
    if args.json_out:
        args.json_out.write_text(json.dumps({"rows": rows, "faults": [f.__dict__ for f in faults]}, indent=2))
    redis.close()
    pg.drop()
    lossless = all(r["produced"] == r["committed"] and not r["untallied"] for r in rows.values())
    return 0 if lossless and len(rows) == len(channels) else 1


def report(channels: list[str], poller: Poller, rows: dict, faults: list[Fault]) -> None:
    print("\n channel     frames read  processed   rows produced -> committed (tracks/points/events)  quarantined")
    for name in channels:
        last = poller.last.get(name, {})
        entry = rows.get(name, {"produced": {}, "committed": {}, "untallied": 0})
        produced, committed = entry["produced"], entry["committed"]
        mark = "=" if produced == committed and not entry["untallied"] else "MISMATCH"
        print(
            f" {name:10s} {last.get('frames_read', 0):12d} {last.get('frames_processed', 0):10d}   "
            f"{'/'.join(str(produced.get(t, 0)) for t in ('tracks', 'track_points', 'events')):>16s} {mark} "
            f"{'/'.join(str(committed.get(t, 0)) for t in ('tracks', 'track_points', 'events')):<16s}"
            f"{'':12s}{last.get('writer_rejected_rows', 0):6d}"
        )
    print("\n fault           target     held s  recovered after s (per channel)        bound s  others' fps")
    for fault in faults:
        recovered = ", ".join("-" if v is None else f"{v:.1f}" for v in fault.recovered_s.values())
        worst = [v for v in fault.recovered_s.values()]
        within = all(v is not None and v <= BOUNDS_S[fault.kind] for v in worst)
        others = "-" if fault.others_fps is None else f"{fault.others_fps:.1f}"
        print(
            f" {fault.kind:15s} {fault.target:10s} {fault.end - fault.start:6.0f}  {recovered:38s} "
            f"{BOUNDS_S[fault.kind]:5.0f} {'ok' if within else 'OVER':4s} {others:>8s}"
        )


if __name__ == "__main__":
    sys.exit(main())
