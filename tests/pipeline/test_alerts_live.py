"""The chart's alert rules on a real Prometheus scraping a real worker: a camera that goes away fires
FootfallCameraDown for its channel once its `for` has passed, and the camera's return resolves it."""

from pathlib import Path

from tests.chart.test_alerts import rendered_rules, write_rules
from tests.pipeline.conftest import Backends
from tests.support.camera_sim import CameraSimulator
from tests.support.footage import STORE_AISLE
from tests.support.paths import footage_path
from tests.support.prometheus import PrometheusServer
from tests.support.worker import WorkerProcess, write_store

CHANNEL = "channel_alerts"


def test_camera_down_fires_and_resolves_on_a_real_prometheus(backends: Backends, tmp_path: Path) -> None:
    # the chart's rules, with the camera-down delay short enough for a test (5 min in the defaults)
    rules = write_rules(rendered_rules("--set", "monitoring.prometheusRule.cameraDownFor=5s"), tmp_path)
    camera = CameraSimulator(footage_path(STORE_AISLE)).start()
    store = write_store(tmp_path / "store.json", {CHANNEL: camera.port})
    try:
        with (
            WorkerProcess.for_store(store, CHANNEL, backends.env()) as worker,
            PrometheusServer(tmp_path, [f"127.0.0.1:{worker.port}"], [rules]) as prometheus,
        ):
            worker.wait_until(lambda s: s["state"] == "streaming", timeout_s=60, what="streaming")
            streaming = 'footfall_stream_state{state="streaming"} == 1'
            prometheus.wait_until(lambda: prometheus.query(streaming), timeout_s=30, what="the worker scraped")
            assert prometheus.alerts("FootfallCameraDown") == []

            camera.stop()
            (alert,) = prometheus.wait_until(
                lambda: prometheus.firing("FootfallCameraDown"), timeout_s=60, what="FootfallCameraDown firing"
            )
            assert alert["labels"]["channel"] == CHANNEL and alert["labels"]["severity"] == "critical"
            assert alert["annotations"]["summary"] == f"Camera of channel {CHANNEL} is down"

            camera.restart()
            worker.wait_until(lambda s: s["state"] == "streaming", timeout_s=60, what="streaming again")
            prometheus.wait_until(
                lambda: not prometheus.alerts("FootfallCameraDown"), timeout_s=30, what="FootfallCameraDown resolved"
            )
            assert worker.terminate() == 0
    finally:
        camera.close()
