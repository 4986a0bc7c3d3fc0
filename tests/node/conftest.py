"""The real node (hack/cluster.sh) with Footfall's images, and the store installed on it once per module."""

from collections.abc import Iterator

import pytest

from tests.node.store import StoreOnNode, store_on_node
from tests.support.node import Node


@pytest.fixture(scope="session")
def node() -> Iterator[Node]:
    """The node, up for the session; stopped after it unless it was running before (`make cluster`), so a test
    run leaves no process behind."""
    was_running = Node.running()
    started = Node().up()
    print(f"\nnode: {started.timings}")
    yield started
    if not was_running:
        started.down()


@pytest.fixture(scope="module")
def store(node: Node) -> Iterator[StoreOnNode]:
    with store_on_node(node) as deployment:
        yield deployment
