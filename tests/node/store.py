"""The store's deployment on the test node, as a user sets it up: a database and a Redis database for the record and
the live state, four simulated cameras with a login, `helm install --wait` of the chart on its defaults (only the
connection URLs given), the camera Secret and the store's example CameraChannels pointed at the cameras.

Pods reach this machine's PostgreSQL and Redis through the node's forwarders at GATEWAY; the cameras listen on
GATEWAY themselves. Nothing here talks to any other address.
"""

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg2
import redis
import yaml

from footfall_operator.camera_secret import CAMERA_SECRET_LABEL
from tests.support.camera_sim import CameraSimulator
from tests.support.node import GATEWAY, Node
from tests.support.paths import REPO_ROOT, footage_path

T = TypeVar("T")

NAMESPACE = "footfall"
RELEASE = "footfall"
CHART = REPO_ROOT / "charts" / "footfall"
EXAMPLES = CHART / "examples" / "kidsplaza_thanhxuan.yaml"
SECRET = "kidsplaza-thanhxuan-camera-credentials"
REDIS_DB = 11
# channel -> the clip its camera plays; channel_4 (the door, with the counting line) plays the clip whose
# visitors walk in and out across that line (tests/pipeline/test_store_analytics_footage.py)
CLIPS = {
    "channel_1": "store-aisle-detection.mp4",
    "channel_2": "face-demographics-walking.mp4",
    "channel_3": "head-pose-face-detection-female-and-male.mp4",
    "channel_4": "one-by-one-person-detection.mp4",
}


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, interval_s: float = 0.5) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as error:  # noqa: BLE001 - a failing probe is a not-yet, shown if it never passes
            last = error
        else:
            if last:
                return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last seen: {last!r}")


@dataclass
class StoreOnNode:
    node: Node
    database: str = field(default_factory=lambda: f"footfall_node_{os.getpid()}")
    camera_password: str = field(default_factory=lambda: f"pw-{secrets.token_hex(8)}")
    cameras: dict[str, CameraSimulator] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    # -- what pods are given --------------------------------------------------------------------------------------
    @property
    def database_url_for_pods(self) -> str:
        return f"postgresql://postgres@{GATEWAY}:5432/{self.database}"

    @property
    def redis_url_for_pods(self) -> str:
        return f"redis://{GATEWAY}:6379/{REDIS_DB}"

    # -- host-side views of the record and the live state ---------------------------------------------------------
    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(psycopg2.connect(host="127.0.0.1", user="postgres", dbname=self.database)) as conn:
            with conn.cursor() as cursor:
                cursor.execute(query, args)
                return cursor.fetchall() if cursor.description else []

    def redis(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=2, decode_responses=True)

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        with contextlib.closing(psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.database}"')
                cursor.execute(f'CREATE DATABASE "{self.database}"')
        self.redis().flushdb()
        for channel, clip in sorted(CLIPS.items()):
            camera = CameraSimulator(footage_path(clip), host=GATEWAY, user="admin", password=self.camera_password)
            self.cameras[channel] = camera.start()
        self.node.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", timeout_s=300)

    def install(self) -> None:
        started = time.monotonic()
        camera_ports = ",".join(str(camera.port) for camera in self.cameras.values())
        self.node.helm(
            "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--create-namespace",
            "--wait", "--timeout", "300s", "--set", "connections.create=true",
            "--set", f"connections.databaseUrl={self.database_url_for_pods}",
            "--set", f"connections.redisUrl={self.redis_url_for_pods}",
            # the simulated cameras listen on free ports, not RTSP's 554: the one value a store's admin sets too
            "--set", f"networkPolicy.egress.cameras.ports={{{camera_ports}}}",
        )  # fmt: skip
        self.timings["helm install --wait"] = round(time.monotonic() - started, 1)

    def channel_manifests(self) -> list[dict[str, Any]]:
        """The chart's example CameraChannels, each pointed at its simulated camera (as a store's admin edits
        the host to the address the cluster reaches the cameras by)."""
        docs = [doc for doc in yaml.safe_load_all(EXAMPLES.read_text()) if doc]
        for doc in docs:
            camera = self.cameras[doc["spec"]["channelId"]]
            doc["spec"]["source"]["host"] = GATEWAY
            doc["spec"]["source"]["port"] = camera.port
        return docs

    def apply_channels(self) -> None:
        self.node.kubectl(
            "create", "secret", "generic", SECRET, "-n", NAMESPACE,
            "--from-literal=username=admin", f"--from-literal=password={self.camera_password}",
        )  # fmt: skip
        self.node.kubectl("label", "secret", SECRET, "-n", NAMESPACE, f"{CAMERA_SECRET_LABEL}=true")
        self.node.kubectl("apply", "-n", NAMESPACE, "-f", "-", input_text=yaml.safe_dump_all(self.channel_manifests()))

    def close(self) -> None:
        self.node.helm("uninstall", RELEASE, "-n", NAMESPACE, check=False)
        self.node.kubectl(
            "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", check=False, timeout_s=300
        )
        for camera in self.cameras.values():
            camera.close()
        with contextlib.suppress(psycopg2.Error):
            with contextlib.closing(psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")) as conn:
                conn.autocommit = True
                with conn.cursor() as cursor:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    # -- the objects a user looks at ------------------------------------------------------------------------------
    @staticmethod
    def resource_name(channel: str) -> str:
        return f"kidsplaza-thanhxuan-{channel.replace('_', '-')}"

    def worker_selector(self, channel: str) -> str:
        return f"footfall.io/channel={channel}"

    def worker_pods(self, channel: str) -> list[dict[str, Any]]:
        return self.node.pods(NAMESPACE, self.worker_selector(channel))

    def worker_pod(self, channel: str) -> dict[str, Any]:
        pods = self.worker_pods(channel)
        assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
        return pods[0]

    def status(self, channel: str) -> dict[str, Any]:
        found = self.node.channel(NAMESPACE, self.resource_name(channel))
        return (found or {}).get("status") or {}

    def condition(self, channel: str, kind: str) -> dict[str, Any]:
        for condition in self.status(channel).get("conditions") or []:
            if condition["type"] == kind:
                return condition
        return {}

    def live(self, channel: str) -> dict[str, str]:
        return self.redis().hgetall(f"footfall:{channel}:live")


@contextlib.contextmanager
def store_on_node(node: Node) -> Iterator[StoreOnNode]:
    store = StoreOnNode(node)
    try:
        store.prepare()
        yield store
    finally:
        store.close()
