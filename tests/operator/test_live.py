"""The operator's live reader and the refresher's pruning of `footfall:channels`, against a real redis-server."""

import time
import uuid
from collections.abc import Iterator

import pytest

from footfall_contract.heartbeat import LiveSnapshot, list_channels
from footfall_operator.live import LiveReader
from footfall_operator.reconcile import Reconciler
from footfall_operator.refresher import Refresher
from footfall_operator.settings import OperatorSettings, WorkerDefaults
from footfall_worker.storage.live_state import LiveState
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as instance:
        yield instance


def refresher_with(reader: LiveReader | None) -> Refresher:
    # Pruning needs only the reconciler's live reader: no cluster is listed, so none is given.
    settings = OperatorSettings(_env_file=None)  # type: ignore[call-arg]
    reconciler = Reconciler(cluster=None, live=reader, settings=settings, defaults=WorkerDefaults(_env_file=None))  # type: ignore[arg-type,call-arg]
    return Refresher(reconciler, cluster=None, namespaces=[], interval_s=10)  # type: ignore[arg-type]


def test_the_refresher_prunes_channels_whose_worker_was_killed_and_keeps_live_ones(server: RedisServer) -> None:
    server.start()
    client = server.client()
    killed = LiveState(client, f"killed-{uuid.uuid4().hex[:6]}", ttl_s=1)
    alive = LiveState(client, f"alive-{uuid.uuid4().hex[:6]}", ttl_s=30)
    killed.publish(LiveSnapshot(state="streaming"))
    alive.publish(LiveSnapshot(state="streaming"))
    deadline = time.monotonic() + 3
    while client.exists(killed.live_key) and time.monotonic() < deadline:
        time.sleep(0.05)
    reader = LiveReader(server.url)
    try:
        assert reader.read(killed.channel_id).snapshot is None  # read as "no heartbeat", not as Redis down
        assert refresher_with(reader).prune_live_channels() == [killed.channel_id]
        members = list_channels(client)
        assert killed.channel_id not in members and alive.channel_id in members
        assert reader.read(alive.channel_id).snapshot is not None
        assert refresher_with(None).prune_live_channels() == []  # no Redis URL: nothing to prune
    finally:
        reader.close()


def test_pruning_with_redis_down_prunes_nothing_and_raises_nothing(server: RedisServer) -> None:
    server.start()
    reader = LiveReader(server.url, timeout_s=0.25)
    server.stop()
    try:
        assert reader.prune_channels() == []
    finally:
        server.start()
        reader.close()
