"""The chart's Grafana dashboard (dashboards/footfall.json, in a ConfigMap when asked): valid JSON, panels that
do not overlap, and every query, like every alert rule, names only metrics the worker and the operator export
(read from their real collectors, so renaming a metric breaks this test, not a store's dashboard)."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from footfall_operator.metrics import metrics_text
from footfall_worker.health.metrics import WorkerMetrics
from tests.chart.test_alerts import rendered_rules
from tests.chart.test_chart import CHART, by_kind, render
from tests.pipeline.test_probes import STATUS

DASHBOARD = CHART / "dashboards" / "footfall.json"
METRIC = re.compile(r"\bfootfall_[a-z_]+\b")


def exported() -> set[str]:
    """Every sample name the worker's and the operator's /metrics carry (counters' _total, histograms' _bucket)."""
    worker = WorkerMetrics("channel_9", lambda: STATUS)
    worker.capture_to_committed.observe(0.1)
    worker.triton_request("person_detector").observe(0.01)
    refresher = SimpleNamespace(
        rounds=1, item_errors=0, status_writes=0, deferred_writes=0, last_round=SimpleNamespace(seconds=0.0)
    )
    texts = [worker.render(), metrics_text(refresher, None)()]  # type: ignore[arg-type]
    return {
        sample.name
        for text in texts
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def queries(dashboard: dict) -> list[str]:
    found = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return found + [variable["query"] for variable in dashboard["templating"]["list"] if variable["type"] == "query"]


def test_the_dashboard_is_grafana_json_with_panels_that_do_not_overlap() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "footfall-store" and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        box = panel["gridPos"]
        assert 0 <= box["x"] and box["x"] + box["w"] <= 24, panel["title"]  # Grafana's grid is 24 wide
        mine = {(x, y) for x in range(box["x"], box["x"] + box["w"]) for y in range(box["y"], box["y"] + box["h"])}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        assert panel["targets"], panel["title"]


def test_every_query_and_rule_names_an_exported_metric() -> None:
    names = exported()
    expressions = queries(json.loads(DASHBOARD.read_text()))
    expressions += [r["expr"] for g in rendered_rules()["spec"]["groups"] for r in g["rules"]]
    used = {name for expr in expressions for name in METRIC.findall(expr)}
    assert len(used) >= 10
    assert used <= names, f"not exported: {sorted(used - names)}"


def test_the_configmap_carries_the_file_only_when_asked(tmp_path: Path) -> None:
    assert not [d for d in by_kind(render(), "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    docs = render("--set", "monitoring.grafanaDashboard.enabled=true")
    (config_map,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"  # what Grafana's sidecar looks for
    assert json.loads(config_map["data"]["footfall.json"]) == json.loads(DASHBOARD.read_text())


def pod_selected(selector: dict, labels: dict[str, str]) -> bool:
    matched = all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        matched = matched and labels.get(expression["key"]) in expression["values"]
    return matched


def test_the_pod_monitors_select_the_pods_and_ports_that_serve_metrics() -> None:
    from tests.chart.test_network_policy import worker_deployment

    assert by_kind(render(), "PodMonitor") == []
    docs = render("--set", "monitoring.podMonitor.enabled=true")
    monitors = {d["metadata"]["name"].rsplit("-", 1)[1]: d["spec"] for d in by_kind(docs, "PodMonitor")}
    pods = {d["metadata"]["name"]: d["spec"]["template"] for d in by_kind(docs, "Deployment")}
    pods["worker"] = worker_deployment(docs)["spec"]["template"]  # built by the operator's own children.py
    scraped: dict[str, set[str]] = {}
    for name, template in pods.items():
        ports = {port["name"] for c in template["spec"]["containers"] for port in c.get("ports", [])}
        for monitor in monitors.values():
            if pod_selected(monitor["selector"], template["metadata"]["labels"]):
                endpoints = {endpoint["port"] for endpoint in monitor["podMetricsEndpoints"]}
                scraped[name] = scraped.get(name, set()) | (endpoints & ports)
    assert {name.rsplit("-", 1)[-1]: ports for name, ports in scraped.items()} == {
        "worker": {"http"},
        "operator": {"health"},
        "triton": {"metrics"},
    }
    assert monitors["workers"]["namespaceSelector"] == {"matchNames": ["footfall"]}
