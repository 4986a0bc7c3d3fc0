"""The real node (hack/cluster.sh) with Footfall's images, and the store installed on it once per module."""

from collections.abc import Iterator

import pytest

from tests.node.store import StoreOnNode, store_on_node
from tests.support.node import Node


@pytest.fixture(scope="session")
def node() -> Node:
    started = Node().up()
    print(f"\nnode: {started.timings}")
    return started


@pytest.fixture(scope="module")
def store(node: Node) -> Iterator[StoreOnNode]:
    with store_on_node(node) as deployment:
        yield deployment
