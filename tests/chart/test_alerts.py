"""The chart's alerts (templates/prometheusrule.yaml): rendered by the real helm, checked and unit-tested by the
real promtool (Debian's prometheus package, hack/install-prometheus.sh): each alert fires once its condition
has held for its `for`, resolves when it stops, and names the channel (tests/chart/alerts_test.yaml)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.test_chart import CHART, RELEASE, by_kind, helm, render

HERE = Path(__file__).resolve().parent
ENABLED = ("--set", "monitoring.prometheusRule.enabled=true")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool missing: run hack/install-prometheus.sh (make test does)")
    return found


def rendered_rules(*values: str) -> dict:
    (rule,) = by_kind(render(*ENABLED, *values), "PrometheusRule")
    return rule


def write_rules(rule: dict, folder: Path) -> Path:
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


def test_no_rule_unless_asked() -> None:
    assert by_kind(render(), "PrometheusRule") == []


def test_the_rules_are_valid_prometheus_rules(tmp_path: Path) -> None:
    rule = rendered_rules("--set", "monitoring.prometheusRule.labels.release=kube-prometheus-stack")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"  # what a ruleSelector matches
    done = subprocess.run(
        [promtool(), "check", "rules", str(write_rules(rule, tmp_path))], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert names == {
        "FootfallCameraDown",
        "FootfallFpsLow",
        "FootfallLatencyHigh",
        "FootfallDatabaseDown",
        "FootfallJournalBacklogGrowing",
        "FootfallCoverageLow",
        "FootfallRowsQuarantined",
        "FootfallRowsLost",
        "FootfallOperatorErrors",
    }


def test_alerts_fire_and_resolve(tmp_path: Path) -> None:
    write_rules(rendered_rules(), tmp_path)
    shutil.copy(HERE / "alerts_test.yaml", tmp_path / "alerts_test.yaml")
    done = subprocess.run(
        [promtool(), "test", "rules", str(tmp_path / "alerts_test.yaml")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_thresholds_come_from_the_values(tmp_path: Path) -> None:
    rule = rendered_rules(
        "--set", "monitoring.prometheusRule.minFps=15", "--set", "monitoring.prometheusRule.cameraDownFor=2m"
    )
    rules = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert rules["FootfallFpsLow"]["expr"].startswith("footfall_fps_processed < 15 ")
    assert rules["FootfallCameraDown"]["for"] == "2m"
    assert "for 2m" in rules["FootfallCameraDown"]["annotations"]["description"]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("monitoring.prometheusRule.cameraDownFor=soon", "cameraDownFor"),
        ("monitoring.prometheusRule.minFps=-1", "minFps"),
    ],
)
def test_bad_thresholds_are_refused_naming_the_value(value: str, field: str) -> None:
    done = helm("template", RELEASE, str(CHART), *ENABLED, "--set", value, check=False)
    assert done.returncode != 0 and field in done.stderr, done.stderr
