"""The operator against a REAL control plane (conftest.py: etcd + kube-apiserver + kube-controller-manager with
garbage collection, ReplicaSets, Pods), a real `footfall-operator` process, real kubectl, and a private real Redis
for the workers' live state. There is no kubelet, so Pods stay Pending: the workers' heartbeats are written with
the worker's own `LiveState` class, as a running worker would."""

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from footfall_contract.counters import ChannelCounters
from footfall_contract.heartbeat import LiveSnapshot, live_key
from footfall_operator.camera_secret import CAMERA_SECRET_LABEL
from footfall_operator.children import CONFIG_HASH_ANNOTATION, worker_name
from footfall_operator.crd import GROUP, PLURAL, VERSION
from footfall_worker.storage.live_state import LiveState
from tests.operator.channels import (
    CAMERA_PASSWORD,
    CAMERA_USER,
    apply,
    camera_channel,
    channel,
    condition,
    deployment,
    secret_manifest,
    wait_condition,
)
from tests.support.kube import VENV_BIN, KubeCluster, OperatorProcess, wait_until
from tests.support.paths import REPO_ROOT
from tests.support.redis_server import RedisServer

STORE_CONFIG = REPO_ROOT / "input" / "cameras_config" / "kidsplaza_thanhxuan.json"


def assert_no_credentials(cluster: KubeCluster, namespace: str) -> None:
    """Nothing the operator writes holds the camera login: CR status, ConfigMaps, Deployments, ReplicaSets, Pods,
    events. (A CR's spec holds what its author wrote; a spec with a login in it is refused, see below.)"""
    channels = json.loads(cluster.kubectl("get", f"{PLURAL}.{GROUP}", "-n", namespace, "-o", "json").stdout)
    texts = {"status": json.dumps([item.get("status") for item in channels["items"]])}
    for kind in ["configmaps", "deployments", "replicasets", "pods", "events"]:
        texts[kind] = cluster.kubectl("get", kind, "-n", namespace, "-o", "json").stdout
    for kind, text in texts.items():
        assert CAMERA_PASSWORD not in text, kind
        assert CAMERA_USER not in text, kind


def test_the_store_config_becomes_four_owned_workers_fed_from_the_secret(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str
):
    env = {**os.environ, "FOOTFALL_CAMERA_USERNAME": CAMERA_USER, "FOOTFALL_CAMERA_PASSWORD": CAMERA_PASSWORD}
    manifests = subprocess.run(
        [str(VENV_BIN / "footfall"), "import-config", str(STORE_CONFIG), "--namespace", namespace],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cluster.kubectl("apply", "-f", "-", input_text=manifests)
    documents = [doc for doc in yaml.safe_load_all(manifests) if doc]
    channels = [doc for doc in documents if doc["kind"] == "CameraChannel"]
    (secret,) = [doc for doc in documents if doc["kind"] == "Secret"]
    assert len(channels) == 4

    for manifest in channels:
        name = manifest["metadata"]["name"]
        found = wait_until(f"{name}'s Deployment", lambda name=name: deployment(cluster, namespace, name))
        owner = camera_channel(cluster, namespace, name)
        (ref,) = found["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "CameraChannel",
            name,
            owner["metadata"]["uid"],
            True,
        )
        pod = found["spec"]["template"]["spec"]
        (worker,) = pod["containers"]
        env_of = {item["name"]: item for item in worker["env"]}
        (credentials,) = [v for v in pod["volumes"] if v["name"] == "camera-credentials"]
        assert credentials["secret"]["secretName"] == secret["metadata"]["name"]
        assert env_of["FOOTFALL_CHANNEL"]["value"] == manifest["spec"]["channelId"]
        assert worker["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert found["spec"]["replicas"] == 1
        config_map = cluster.core.read_namespaced_config_map(worker_name(name), namespace)
        assert json.loads(config_map.data["channel.json"])["channels"][0]["source"]["channel"] == int(
            manifest["spec"]["source"]["channel"]
        )
        status = wait_until(
            f"{name}'s status",
            lambda name=name: (camera_channel(cluster, namespace, name).get("status") or {}).get("phase"),
        )
        assert status == "Pending"  # no kubelet here: no worker heartbeat
        assert camera_channel(cluster, namespace, name)["status"]["observedGeneration"] == 1

    # the controller manager turns each Deployment into a ReplicaSet and a (Pending) Pod
    wait_until("4 worker pods", lambda: len(cluster.core.list_namespaced_pod(namespace).items) == 4, 60)
    assert_no_credentials(cluster, namespace)
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.liveness_port}/healthz", timeout=5) as response:
        assert response.status == 200  # kopf's liveness endpoint, for the operator pod's probe
    listing = cluster.kubectl("get", "camch", "-n", namespace).stdout
    assert {"PHASE", "FPS", "PEOPLE", "RECONNECTS", "AGE"} <= set(listing.split("\n")[0].split())


def test_a_spec_change_rolls_the_worker_and_observed_generation_follows(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str
):
    apply(cluster, channel("door", namespace))
    first = wait_until("door's Deployment", lambda: deployment(cluster, namespace, "door"))
    first_hash = first["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]

    cluster.kubectl(
        "patch", "camch", "door", "-n", namespace, "--type=merge",
        "-p", json.dumps({"spec": {"processing": {"everyNFrames": 3}, "source": {"port": 8555}}}),
    )  # fmt: skip

    def rolled() -> dict[str, Any] | None:
        found = deployment(cluster, namespace, "door")
        annotations = found["spec"]["template"]["metadata"]["annotations"] if found else {}
        return found if annotations.get(CONFIG_HASH_ANNOTATION) != first_hash else None

    second = rolled_deployment = wait_until("the new config hash", rolled)
    env_of = {item["name"]: item.get("value") for item in second["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env_of["FOOTFALL_READER_PROCESS_EVERY"] == "3"
    config = cluster.core.read_namespaced_config_map(worker_name("door"), namespace).data["channel.json"]
    assert json.loads(config)["channels"][0]["source"]["port"] == 8555
    assert rolled_deployment["metadata"]["uid"] == first["metadata"]["uid"]  # updated, not replaced
    wait_until(
        "observedGeneration 2",
        lambda: camera_channel(cluster, namespace, "door").get("status", {}).get("observedGeneration") == 2,
    )
    assert camera_channel(cluster, namespace, "door")["metadata"]["generation"] == 2


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"source": {"host": "127.0.0.1", "port": 70000, "channel": 1}}, "spec.source.port"),
        ({"processing": {"detectorInputSize": 500}}, "spec.processing.detectorInputSize"),
        ({"channelId": "Channel One"}, "spec.channelId"),
        ({"paused": "yes"}, "spec.paused"),
    ],
)
def test_the_api_server_rejects_what_the_schema_forbids(cluster: KubeCluster, namespace: str, spec, field):
    done = apply(cluster, channel("bad", namespace, **spec), check=False)
    assert done.returncode != 0
    assert field in done.stderr
    assert not cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]


def test_an_invalid_spec_is_a_condition_not_a_crash_and_fixing_it_recovers(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str
):
    misspelt = channel("typo", namespace, source={"host": "127.0.0.1", "channel": 1, "colour": "red"})
    credentials_in_host = channel("leaky", namespace, source={"host": f"admin:{CAMERA_PASSWORD}@cam", "channel": 1})
    apply(cluster, misspelt, credentials_in_host)
    invalid = wait_condition(cluster, namespace, "typo", "InvalidSpec", "True")
    assert "spec.source.colour" in invalid["message"] and invalid["reason"] == "FieldInvalid"
    leaky = wait_condition(cluster, namespace, "leaky", "InvalidSpec", "True")
    assert "spec.source.host" in leaky["message"] and CAMERA_PASSWORD not in json.dumps(leaky)
    assert camera_channel(cluster, namespace, "typo")["status"]["phase"] == "Invalid"
    assert deployment(cluster, namespace, "typo") is None and deployment(cluster, namespace, "leaky") is None

    fixed = channel("typo", namespace)
    cluster.kubectl("replace", "-f", "-", input_text=yaml.safe_dump(fixed))
    wait_condition(cluster, namespace, "typo", "InvalidSpec", "False")
    assert wait_until("typo's Deployment", lambda: deployment(cluster, namespace, "typo"))
    assert operator.alive
    assert_no_credentials(cluster, namespace)


def test_a_missing_secret_is_a_condition_and_creating_it_recovers(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str
):
    apply(cluster, channel("entrance", namespace, credentialsSecretRef={"name": "cameras"}))
    missing = wait_condition(cluster, namespace, "entrance", "InvalidSpec", "True")
    assert missing["reason"] == "SecretNotFound" and "spec.credentialsSecretRef.name" in missing["message"]
    assert deployment(cluster, namespace, "entrance") is None

    apply(cluster, {**secret_manifest(namespace), "stringData": {"username": CAMERA_USER}})
    no_key = wait_until(
        "SecretKeyMissing",
        lambda: (
            (c := condition(camera_channel(cluster, namespace, "entrance"), "InvalidSpec"))
            and c["reason"] == "SecretKeyMissing"
            and c
        ),
    )
    assert "spec.credentialsSecretRef.passwordKey" in no_key["message"]

    apply(cluster, secret_manifest(namespace))  # the timer re-checks: no watch on Secrets is needed
    wait_condition(cluster, namespace, "entrance", "InvalidSpec", "False")
    found = wait_until("entrance's Deployment", lambda: deployment(cluster, namespace, "entrance"))
    (credentials,) = [v for v in found["spec"]["template"]["spec"]["volumes"] if v["name"] == "camera-credentials"]
    assert credentials["secret"]["secretName"] == "cameras"
    assert_no_credentials(cluster, namespace)


def test_a_foreign_secret_is_never_used_and_a_bad_password_is_a_condition(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str
):
    """A CameraChannel's author may name any Secret: only one opted in as camera credentials is used, and the
    status says nothing of what a foreign one holds. A password with a newline is a condition, not a crash loop."""
    foreign = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "billing-db", "namespace": namespace},
        "stringData": {"username": "billing", "password": "billing-db-password", "api-token": "t0ken"},
    }
    apply(cluster, foreign)
    apply(cluster, channel("borrower-cam", namespace, credentialsSecretRef={"name": "billing-db"}))
    refused = wait_condition(cluster, namespace, "borrower-cam", "InvalidSpec", "True")
    assert refused["reason"] == "SecretNotFound" and CAMERA_SECRET_LABEL in refused["message"]
    apply(cluster, channel("prober-cam", namespace, credentialsSecretRef={"name": "no-such-secret"}))
    absent = wait_condition(cluster, namespace, "prober-cam", "InvalidSpec", "True")
    assert absent["message"].replace("no-such-secret", "billing-db") == refused["message"]  # existence not told
    assert deployment(cluster, namespace, "borrower-cam") is None
    text = json.dumps(camera_channel(cluster, namespace, "borrower-cam"))
    assert "api-token" not in text and "billing-db-password" not in text

    apply(cluster, {**secret_manifest(namespace, "newline"), "stringData": {"username": "u", "password": "pw\n"}})
    apply(cluster, channel("newline-login", namespace, credentialsSecretRef={"name": "newline"}))
    bad = wait_condition(cluster, namespace, "newline-login", "InvalidSpec", "True")
    assert bad["reason"] == "SecretValueInvalid"
    assert (
        bad["message"].startswith("spec.credentialsSecretRef.passwordKey: ") and "U+000A at the end" in bad["message"]
    )
    assert deployment(cluster, namespace, "newline-login") is None
    apply(cluster, secret_manifest(namespace, "newline"))  # fixed: the next round runs it
    wait_condition(cluster, namespace, "newline-login", "InvalidSpec", "False")
    wait_until("newline-login's Deployment", lambda: deployment(cluster, namespace, "newline-login"))
    assert operator.alive


def test_two_channels_claiming_one_channel_id_the_younger_is_refused_until_the_older_goes(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str
):
    apply(cluster, channel("first", namespace, channelId="checkout"))
    wait_until("first's Deployment", lambda: deployment(cluster, namespace, "first"))
    apply(cluster, channel("second", namespace, channelId="checkout"))
    claimed = wait_condition(cluster, namespace, "second", "InvalidSpec", "True")
    assert claimed["reason"] == "ChannelClaimed" and f"{namespace}/first" in claimed["message"]
    assert deployment(cluster, namespace, "second") is None

    elsewhere = f"{namespace}-other-store"
    cluster.create_namespace(elsewhere)
    apply(cluster, channel("third", elsewhere, channelId="checkout", store="otherstore"))
    across_stores = wait_condition(cluster, elsewhere, "third", "InvalidSpec", "True")
    assert "store 'teststore'" in across_stores["message"] and "otherstore_checkout" in across_stores["message"]

    cluster.kubectl("delete", "camch", "first", "-n", namespace)
    wait_condition(cluster, namespace, "second", "InvalidSpec", "False")
    assert wait_until("second's Deployment", lambda: deployment(cluster, namespace, "second"))
    assert deployment(cluster, elsewhere, "third") is None  # second (older than third) holds the id now


def test_deleting_a_channel_collects_its_deployment_replicaset_pods_and_config_map(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str
):
    apply(cluster, channel("gone", namespace))
    wait_until("gone's pod", lambda: cluster.core.list_namespaced_pod(namespace).items, 60)
    assert cluster.apps.list_namespaced_replica_set(namespace).items

    cluster.kubectl("delete", "camch", "gone", "-n", namespace, "--wait=true", "--timeout=30s")

    def collected() -> bool:
        return not (
            cluster.apps.list_namespaced_deployment(namespace).items
            or cluster.apps.list_namespaced_replica_set(namespace).items
            or cluster.core.list_namespaced_pod(namespace).items
            or [cm for cm in cluster.core.list_namespaced_config_map(namespace).items if "worker" in cm.metadata.name]
        )

    wait_until("garbage collection of the children", collected, 60)


def test_deletion_does_not_wait_for_a_stopped_operator(cluster: KubeCluster, operator: OperatorProcess, namespace: str):
    apply(cluster, channel("orphan", namespace))
    wait_until("orphan's Deployment", lambda: deployment(cluster, namespace, "orphan"))
    operator.stop()
    cluster.kubectl("delete", "camch", "orphan", "-n", namespace, "--wait=true", "--timeout=20s")
    wait_until("orphan's Deployment collected", lambda: deployment(cluster, namespace, "orphan") is None, 60)


def test_a_restarted_operator_creates_no_duplicate_children(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str, tmp_path: Path, live_redis: RedisServer
):
    apply(cluster, channel("steady-a", namespace), channel("steady-b", namespace, channelId="steady_b2"))
    before = {
        name: wait_until(f"{name}'s Deployment", lambda name=name: deployment(cluster, namespace, name))
        for name in ("steady-a", "steady-b")
    }
    operator.stop()
    again = OperatorProcess(cluster, tmp_path / "operator-again.log", redis_url=live_redis.url)
    again.start()
    try:
        # the new process is at work: a child deleted behind its back comes back
        cluster.core.delete_namespaced_config_map(worker_name("steady-a"), namespace)
        wait_until(
            "the ConfigMap re-created",
            lambda: (
                cluster.core.list_namespaced_config_map(namespace, label_selector="footfall.io/store").items
                and len(cluster.core.list_namespaced_config_map(namespace, label_selector="footfall.io/store").items)
                == 2
            ),
        )
        deployments = cluster.apps.list_namespaced_deployment(namespace).items
        assert sorted(d.metadata.name for d in deployments) == sorted(worker_name(n) for n in before)
        for name, old in before.items():
            now = deployment(cluster, namespace, name)
            assert now["metadata"]["uid"] == old["metadata"]["uid"]
            assert now["metadata"]["generation"] == old["metadata"]["generation"]  # not even updated
    finally:
        assert again.stop() == 0


def printed_columns(table: str) -> dict[str, str]:
    """`kubectl get`'s one-row table as {column: value}, by the header's positions (empty cells are blank)."""
    header, row = table.splitlines()[:2]
    starts = [index for index, char in enumerate(header) if char != " " and (index == 0 or header[index - 1] == " ")]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return {header[a:b].strip(): row[a:b].strip() for a, b in bounds}


def publish_heartbeat(redis: RedisServer, channel_id: str, **fields: Any) -> None:
    live = LiveState(redis.client(), channel_id, ttl_s=30)
    defaults = {"state": "streaming", "fps": 24.96, "people_now": 3, "counters": ChannelCounters(reconnects=2)}
    live.publish(LiveSnapshot(**{**defaults, **fields}))


def test_status_shows_the_workers_live_state_and_survives_a_redis_outage(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str, live_redis: RedisServer
):
    apply(cluster, channel("live-cam", namespace))
    publish_heartbeat(live_redis, "live_cam")
    wait_condition(cluster, namespace, "live-cam", "Ready", "True")
    status = camera_channel(cluster, namespace, "live-cam")["status"]
    assert status["phase"] == "Running"
    assert (status["live"]["fps"], status["live"]["peopleNow"], status["live"]["reconnects"]) == (25.0, 3, 2)
    columns = printed_columns(cluster.kubectl("get", "camch", "live-cam", "-n", namespace).stdout)
    assert (columns["PHASE"], columns["FPS"], columns["PEOPLE"], columns["RECONNECTS"]) == ("Running", "25", "3", "2")

    live_redis.stop()
    try:
        stale = wait_until(
            "live fields marked stale",
            lambda: (live := camera_channel(cluster, namespace, "live-cam")["status"]["live"])["stale"] and live,
        )
        assert stale["staleReason"].startswith("Redis unreachable")
        assert stale["fps"] == 25.0  # the last known value, said to be stale
        assert operator.alive
    finally:
        live_redis.start()
    publish_heartbeat(live_redis, "live_cam", state="backoff", people_now=0)
    degraded = wait_condition(cluster, namespace, "live-cam", "Degraded", "True")
    assert degraded["reason"] == "CameraNotStreaming"
    assert camera_channel(cluster, namespace, "live-cam")["status"]["live"]["stale"] is False


MALFORMED_HASHES = {
    "not_a_number": {"state": "streaming", "fps": "fast"},
    "nan": {"state": "streaming", "fps": "nan", "heartbeat_ts": "nan"},
    "bad_zones": {"state": "streaming", "zone_occupancy": "[" * 5000},
    "not_utf8": {"state": b"\xff\xfe", "fps": "1.0"},
    "huge": {"state": "x" * 100_000},
}


def test_malformed_live_hashes_are_skipped_and_counted_and_the_round_goes_on(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str, live_redis: RedisServer
):
    """Anyone on the network may write Redis: a hash no worker wrote names itself in that channel's status, and
    every other channel's status still follows its worker."""
    client = live_redis.client()
    for name, fields in MALFORMED_HASHES.items():
        client.delete(live_key(name))
        client.hset(live_key(name), mapping=fields)
        client.expire(live_key(name), 60)
    apply(
        cluster, *(channel(name.replace("_", "-"), namespace) for name in MALFORMED_HASHES), channel("good", namespace)
    )
    publish_heartbeat(live_redis, "good")
    wait_condition(cluster, namespace, "good", "Ready", "True")
    for name in MALFORMED_HASHES:
        unknown = wait_condition(cluster, namespace, name.replace("_", "-"), "Ready", "Unknown")
        assert unknown["reason"] == "LiveStateUnavailable"
        assert unknown["message"].startswith("malformed live state in Redis (field"), unknown["message"]
        assert len(unknown["message"]) < 300
    publish_heartbeat(live_redis, "good", people_now=7)
    wait_until(
        "the good channel's next heartbeat",
        lambda: camera_channel(cluster, namespace, "good")["status"]["live"]["peopleNow"] == 7,
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.liveness_port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    malformed = re.search(r"^footfall_operator_malformed_live_hashes_total (\S+)$", metrics, re.MULTILINE)
    assert malformed and float(malformed[1]) >= len(MALFORMED_HASHES), metrics
    keys = [json.loads(line).get("key") for line in operator.log_text().splitlines() if line.startswith("{")]
    for name in MALFORMED_HASHES:  # logged once per key, not once a round
        assert keys.count(live_key(name)) == 1, name
    assert operator.alive


def test_pausing_scales_the_worker_to_zero_and_back(cluster: KubeCluster, operator: OperatorProcess, namespace: str):
    apply(cluster, channel("nap", namespace))
    wait_until("nap's Deployment", lambda: deployment(cluster, namespace, "nap"))
    cluster.kubectl("patch", "camch", "nap", "-n", namespace, "--type=merge", "-p", '{"spec":{"paused":true}}')
    wait_until("0 replicas", lambda: deployment(cluster, namespace, "nap")["spec"]["replicas"] == 0)
    wait_until("phase Paused", lambda: camera_channel(cluster, namespace, "nap")["status"]["phase"] == "Paused")
    cluster.kubectl("patch", "camch", "nap", "-n", namespace, "--type=merge", "-p", '{"spec":{"paused":false}}')
    wait_until("1 replica", lambda: deployment(cluster, namespace, "nap")["spec"]["replicas"] == 1)


def test_invalid_operator_settings_exit_2_naming_the_setting(cluster: KubeCluster):
    done = subprocess.run(
        [str(VENV_BIN / "footfall-operator")],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "FOOTFALL_OPERATOR_STATUS_INTERVAL_S": "-1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "status_interval_s" in done.stderr and "greater than 0" in done.stderr


def test_a_foreign_object_under_the_childs_name_is_never_taken_over(
    cluster: KubeCluster, operator: OperatorProcess, namespace: str
):
    foreign = {"metadata": {"name": worker_name("squatted"), "labels": {"owner": "someone-else"}}, "data": {"x": "1"}}
    cluster.core.create_namespaced_config_map(namespace, foreign)
    apply(cluster, channel("squatted", namespace))
    conflict = wait_condition(cluster, namespace, "squatted", "InvalidSpec", "True")
    assert conflict["reason"] == "ChildConflict" and f"ConfigMap/{worker_name('squatted')}" in conflict["message"]
    assert deployment(cluster, namespace, "squatted") is None  # half a set of children is worse than none
    assert cluster.core.read_namespaced_config_map(worker_name("squatted"), namespace).data == {"x": "1"}

    cluster.core.delete_namespaced_config_map(worker_name("squatted"), namespace)
    wait_condition(cluster, namespace, "squatted", "InvalidSpec", "False")
    assert wait_until("squatted's Deployment", lambda: deployment(cluster, namespace, "squatted"))
