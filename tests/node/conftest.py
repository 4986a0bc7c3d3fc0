"""The real node (hack/cluster.sh) with Footfall's images, and the store installed on it once per module."""

from collections.abc import Iterator

import pytest

from tests.node.store import NAMESPACE, StoreOnNode, store_on_node
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed scenario carries what a user would look at next: pods, events, the workers' last log lines."""
    outcome = yield
    report = outcome.get_result()
    node = item.funcargs.get("node") if hasattr(item, "funcargs") else None
    store = item.funcargs.get("installed") or item.funcargs.get("store") if hasattr(item, "funcargs") else None
    if report.when != "call" or not report.failed or store is None:
        return
    node = store.node if node is None else node
    sections = [
        ("pods", node.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide", check=False).stdout),
        ("camerachannels", node.kubectl("get", "camch", "-n", NAMESPACE, check=False).stdout),
    ]
    # the conditions and the cameras first: the report is read from its top, and they name the trouble
    for channel in sorted(store.cameras):
        conditions = store.status(channel).get("conditions") or []
        shown = "\n".join(f"{c['type']}={c['status']} {c.get('reason')}: {c.get('message')}" for c in conditions)
        sections.append((f"conditions {channel}", shown))
    for channel, camera in sorted(store.cameras.items()):
        sections.append((f"camera {channel}", camera.log_tail(12)))
    events = node.kubectl("get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp", check=False).stdout
    sections.append(("events", events[-6000:]))
    for pod in node.all_pods(NAMESPACE, "app.kubernetes.io/part-of=footfall"):
        name = pod["metadata"]["name"]
        sections.append((f"logs {name}", _telling_lines(node.logs(NAMESPACE, name))))
    report.sections.extend((f"node: {title}", text) for title, text in sections)


def _telling_lines(log: str, keep: int = 15) -> str:
    """A worker logs a summary every few seconds: its last one, after the last lines that are not summaries."""
    lines = log.splitlines()
    summaries = [line for line in lines if '"msg": "summary"' in line]
    others = [line for line in lines if '"msg": "summary"' not in line]
    return "\n".join(others[-keep:] + summaries[-1:])[-4000:]
