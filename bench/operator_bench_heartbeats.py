"""The operator bench's heartbeat window: every channel's worker heartbeating at once through the worker's own
LiveState (no worker runs; the bench writes what one would), and what the refresher's write cap makes of it."""

import json
import threading
import time
import urllib.request
from typing import Any

import redis
from operator_bench_procs import ControlPlane, Operator
from operator_bench_scale import request_delta

from footfall_contract.heartbeat import LiveSnapshot
from footfall_operator.crd import GROUP, PLURAL, VERSION
from footfall_worker.storage.live_state import LiveState


def _operator_counter(operator: Operator, name: str) -> float:
    """One counter from the operator's own /metrics."""
    url = f"http://127.0.0.1:{operator.health_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f"{name}_total ") or line.startswith(f"{name} "):
                return float(line.split()[-1])
    return 0.0


def heartbeats(
    plane: ControlPlane, operator: Operator, redis_url: str, namespace: str, channel_ids: list[str], seconds: float
) -> dict[str, Any]:
    """Every channel's worker heartbeating at once (the worker's own LiveState, every 2 s, its people count
    moving), as when a chain's workers all come up: the status PATCH rate the API server sees over `seconds`
    (the refresher's bucket caps it), and how long until every CameraChannel says Running."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    states = [LiveState(client, channel_id, ttl_s=30, min_interval_s=0) for channel_id in channel_ids]
    stop = threading.Event()

    def beat() -> None:
        sweep = 0
        while not stop.is_set():
            sweep += 1
            for index, state in enumerate(states):
                snapshot = LiveSnapshot(
                    state="streaming", fps=25.0, people_now=(sweep + index) % 7, last_frame_ts=time.time()
                )
                state.publish(snapshot, force=True)
            stop.wait(2.0)

    def running() -> int:
        raw = plane.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, _preload_content=False, _request_timeout=60
        )
        return sum(1 for item in json.loads(raw.data)["items"] if (item.get("status") or {}).get("phase") == "Running")

    requests_before = plane.apiserver_requests()
    writes_before = _operator_counter(operator, "footfall_operator_status_writes")
    deferred_before = _operator_counter(operator, "footfall_operator_status_writes_deferred")
    began = time.monotonic()
    thread = threading.Thread(target=beat, name="heartbeats", daemon=True)
    thread.start()
    all_running_s = None
    try:
        while time.monotonic() - began < seconds:
            if all_running_s is None and running() == len(channel_ids):
                all_running_s = time.monotonic() - began
            time.sleep(2.0)
        elapsed = time.monotonic() - began
        requests = request_delta(requests_before, plane.apiserver_requests())
        writes = _operator_counter(operator, "footfall_operator_status_writes") - writes_before
        deferred = _operator_counter(operator, "footfall_operator_status_writes_deferred") - deferred_before
    finally:
        stop.set()
        thread.join(10)
        client.close()
    operator.check_alive()
    patches = requests.get("PATCH camerachannels/status", 0)
    return {
        "channels": len(channel_ids),
        "seconds": elapsed,
        "status_patches": patches,
        "status_patches_per_s": patches / elapsed,
        "refresher_writes": writes,
        "deferred": deferred,
        "all_running_s": all_running_s,
        "running_at_end": running(),
    }
