"""children: the worker's ConfigMap and Deployment built from a spec, and the create/update/conflict table."""

import json
import os

import pytest

from footfall_contract.config import load_store_config
from footfall_contract.config.cameras import parse_store_config
from footfall_operator.children import (
    CONFIG_HASH_ANNOTATION,
    ActionKind,
    Existing,
    Owner,
    decide,
    desired_children,
    worker_name,
)
from footfall_operator.crd import parse_spec
from footfall_operator.settings import WorkerDefaults
from footfall_worker.settings import Settings

OWNER = Owner(name="kidsplaza-channel-1", namespace="store", uid="uid-1", generation=3)
DEFAULTS = WorkerDefaults(image="registry.local/footfall:1.2.3", triton_url="triton.footfall:8001")


def spec(**overrides: object):
    raw = {
        "store": "kidsplaza_thanhxuan",
        "storeName": "Kids Plaza",
        "timezone": "Asia/Ho_Chi_Minh",
        "channelId": "channel_1",
        "displayName": "ben_ngoai_cam_phai",
        "source": {"host": "10.1.2.3", "port": 554, "channel": 1, "subtype": 0},
        "credentialsSecretRef": {"name": "kidsplaza-cameras", "usernameKey": "user", "passwordKey": "pass"},
    }
    raw.update(overrides)
    return parse_spec(raw)


def container(children):
    return children.deployment["spec"]["template"]["spec"]["containers"][0]


def env_of(children) -> dict[str, object]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container(children)["env"]}


def test_children_are_controlled_by_the_camera_channel_and_labelled():
    children = desired_children(OWNER, spec(), DEFAULTS)
    for manifest in (children.config_map, children.deployment):
        (ref,) = manifest["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": "footfall.io/v1alpha1",
            "kind": "CameraChannel",
            "name": OWNER.name,
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
        labels = manifest["metadata"]["labels"]
        assert labels["footfall.io/channel"] == "channel_1"
        assert labels["footfall.io/store"] == "kidsplaza_thanhxuan"
        assert labels["app.kubernetes.io/managed-by"] == "footfall-operator"
        assert manifest["metadata"]["namespace"] == "store"
    selector = children.deployment["spec"]["selector"]["matchLabels"]
    template_labels = children.deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= template_labels.items()


def test_the_config_map_is_a_store_config_the_worker_accepts_without_credentials():
    children = desired_children(OWNER, spec(), DEFAULTS)
    store = parse_store_config(json.loads(children.config_map["data"]["channel.json"]))
    (channel,) = store.channels
    assert (store.store_id, store.timezone, channel.id) == ("kidsplaza_thanhxuan", "Asia/Ho_Chi_Minh", "channel_1")
    assert channel.source.host == "10.1.2.3" and channel.source.channel == 1
    # the worker reads the login from the files of the Secret the Deployment mounts
    assert channel.credentials is not None and channel.credentials.directory == "/var/run/secrets/footfall/camera"


def test_credentials_reach_the_pod_only_as_the_secrets_two_keys_mounted_read_only():
    children = desired_children(OWNER, spec(), DEFAULTS)
    pod = children.deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "camera-credentials"]
    assert volume["secret"] == {
        "secretName": "kidsplaza-cameras",
        "items": [{"key": "user", "path": "username"}, {"key": "pass", "path": "password"}],
        "defaultMode": 0o440,
    }
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "camera-credentials"]
    assert mount == {"name": "camera-credentials", "mountPath": "/var/run/secrets/footfall/camera", "readOnly": True}
    # never in env (env dumps, /proc/PID/environ)
    assert not any(name.endswith(("USERNAME", "PASSWORD")) for name in env_of(children))
    no_login = desired_children(OWNER, spec(credentialsSecretRef=None), DEFAULTS)
    assert "camera-credentials" not in json.dumps(no_login.deployment)
    assert "credentials" not in no_login.config_map["data"]["channel.json"]


def test_worker_env_follows_the_spec_and_the_operator_defaults():
    env = env_of(desired_children(OWNER, spec(), DEFAULTS))
    assert env["FOOTFALL_CHANNEL"] == "channel_1"
    assert env["FOOTFALL_CAMERAS"] == "/etc/footfall/channel.json"
    assert env["FOOTFALL_TRITON_URL"] == "triton.footfall:8001"
    assert env["FOOTFALL_READER_ON_DEMAND"] == "true" and env["FOOTFALL_READER_ADAPTIVE_SKIP"] == "false"
    assert "FOOTFALL_TRITON_DETECTOR_INPUT_SIZE" not in env
    tuned = spec(
        processing={"everyNFrames": 3, "adaptive": True, "detectorInputSize": 640}, triton={"url": "gpu-triton:8001"}
    )
    env = env_of(desired_children(OWNER, tuned, DEFAULTS))
    assert env["FOOTFALL_READER_PROCESS_EVERY"] == "3"
    assert env["FOOTFALL_READER_ADAPTIVE_SKIP"] == "true" and env["FOOTFALL_READER_ON_DEMAND"] == "false"
    assert env["FOOTFALL_TRITON_DETECTOR_INPUT_SIZE"] == "640"
    assert env["FOOTFALL_TRITON_URL"] == "gpu-triton:8001"


def test_the_worker_container_has_probes_resources_and_a_locked_down_security_context():
    children = desired_children(OWNER, spec(resources={"limits": {"memory": "2Gi"}}), DEFAULTS)
    worker = container(children)
    assert worker["image"] == "registry.local/footfall:1.2.3"
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert worker["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert worker["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert worker["resources"] == {"requests": {"cpu": "250m", "memory": "384Mi"}, "limits": {"memory": "2Gi"}}
    security = worker["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["capabilities"] == {"drop": ["ALL"]} and security["allowPrivilegeEscalation"] is False
    pod = children.deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] > DEFAULTS.shutdown_deadline_s
    assert children.deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert worker["envFrom"] == [{"secretRef": {"name": "footfall-connections"}}]
    assert "imagePullSecrets" not in pod
    private = WorkerDefaults(image_pull_secrets="registry-a, registry-b")
    pulled = desired_children(OWNER, spec(), private).deployment["spec"]["template"]["spec"]
    assert pulled["imagePullSecrets"] == [{"name": "registry-a"}, {"name": "registry-b"}]


def test_paused_means_zero_replicas_with_the_same_config_hash():
    running = desired_children(OWNER, spec(), DEFAULTS)
    paused = desired_children(OWNER, spec(paused=True), DEFAULTS)
    assert running.deployment["spec"]["replicas"] == 1
    assert paused.deployment["spec"]["replicas"] == 0
    assert paused.config_hash == running.config_hash


@pytest.mark.parametrize(
    "change",
    [
        {"source": {"host": "10.1.2.4", "channel": 1}},
        {"displayName": "renamed"},
        {"processing": {"everyNFrames": 2}},
        {"credentialsSecretRef": {"name": "other-secret"}},
        {"resources": {"requests": {"cpu": "1"}}},
        {"timezone": "UTC"},
    ],
)
def test_any_change_that_reaches_the_worker_changes_the_config_hash(change: dict):
    before = desired_children(OWNER, spec(), DEFAULTS)
    after = desired_children(OWNER, spec(**change), DEFAULTS)
    assert after.config_hash != before.config_hash
    template = after.deployment["spec"]["template"]["metadata"]["annotations"]
    assert template[CONFIG_HASH_ANNOTATION] == after.config_hash


def test_the_config_hash_is_stable_across_builds_and_generations():
    first = desired_children(OWNER, spec(), DEFAULTS)
    again = desired_children(Owner(OWNER.name, OWNER.namespace, OWNER.uid, generation=9), spec(), DEFAULTS)
    assert first.config_hash == again.config_hash


@pytest.mark.parametrize(
    ("name", "expected_length"),
    [("channel-1", len("channel-1-worker")), ("x" * 200, 63), ("a." * 40 + "b", 63)],
)
def test_worker_names_stay_valid_label_values(name: str, expected_length: int):
    child = worker_name(name)
    assert len(child) == expected_length
    assert child.endswith("-worker") and child[0].isalnum()
    assert worker_name(name) == child  # deterministic: a restarted operator finds its children


def _existing(uid: str | None = "uid-1", config_hash: str | None = None, replicas: int | None = 1) -> Existing:
    return Existing(controller_uid=uid, config_hash=config_hash, replicas=replicas)


WANTED = desired_children(OWNER, spec(), DEFAULTS)
PAUSED = desired_children(OWNER, spec(paused=True), DEFAULTS)
SAME = WANTED.config_hash


@pytest.mark.parametrize(
    ("case", "desired", "config_map", "deployment", "expected"),
    [
        ("invalid spec, nothing there", None, None, None, []),
        ("invalid spec keeps the last valid worker", None, _existing(replicas=None), _existing(), []),
        ("new channel", WANTED, None, None, [("create", "ConfigMap"), ("create", "Deployment")]),  # claim: below
        ("config map lost", WANTED, None, _existing(config_hash=SAME), [("create", "ConfigMap")]),
        ("up to date", WANTED, _existing(config_hash=SAME, replicas=None), _existing(config_hash=SAME), []),
        (
            "spec changed",
            WANTED,
            _existing(config_hash="old", replicas=None),
            _existing(config_hash="old"),
            [("update", "ConfigMap"), ("update", "Deployment")],
        ),
        (
            "paused",
            PAUSED,
            _existing(config_hash=SAME, replicas=None),
            _existing(config_hash=SAME, replicas=1),
            [("update", "Deployment")],
        ),
        (
            "scaled by hand",
            WANTED,
            _existing(config_hash=SAME, replicas=None),
            _existing(config_hash=SAME, replicas=3),
            [("update", "Deployment")],
        ),
        (
            "someone else's deployment",
            WANTED,
            _existing(config_hash=SAME, replicas=None),
            _existing(uid="other", config_hash=SAME),
            [("conflict", "Deployment")],
        ),
        (
            "unowned config map",
            WANTED,
            _existing(uid=None),
            None,
            [("conflict", "ConfigMap")],
        ),
    ],
)
def test_decide(case: str, desired, config_map, deployment, expected):
    """With the journal claim in place (ours): the ConfigMap and Deployment rules."""
    actions = decide(desired, config_map, deployment, OWNER, journal_claim=OUR_CLAIM)
    assert [(str(action.kind), action.manifest["kind"]) for action in actions] == expected, case


OUR_CLAIM = _existing(replicas=None)
CLAIMLESS = desired_children(OWNER, spec(), DEFAULTS.model_copy(update={"journal_persistence": False}))


@pytest.mark.parametrize(
    ("case", "desired", "claim", "expected"),
    [
        (
            "new channel: the claim first",
            WANTED,
            None,
            [("create", "PersistentVolumeClaim"), ("create", "ConfigMap"), ("create", "Deployment")],
        ),
        # a claim's spec is immutable and holds rows not yet committed: a spec change never touches it
        (
            "spec changed",
            WANTED,
            _existing(config_hash="old", replicas=None),
            [("update", "ConfigMap"), ("update", "Deployment")],
        ),
        (
            "someone else's claim",
            WANTED,
            _existing(uid="other", replicas=None),
            [("conflict", "PersistentVolumeClaim")],
        ),
        ("persistence off: no claim", CLAIMLESS, None, [("create", "ConfigMap"), ("create", "Deployment")]),
    ],
)
def test_decide_the_journal_claim(case: str, desired, claim, expected):
    existing = None if case.startswith(("new", "persistence")) else _existing(config_hash="old", replicas=None)
    deployment = None if existing is None else _existing(config_hash="old")
    actions = decide(desired, existing, deployment, OWNER, journal_claim=claim)
    assert [(str(action.kind), action.manifest["kind"]) for action in actions] == expected, case


def test_the_journal_lives_on_the_claim_or_an_empty_dir():
    claim = WANTED.journal_claim
    assert claim is not None and claim["metadata"]["name"] == "kidsplaza-channel-1-worker-journal"
    assert claim["metadata"]["ownerReferences"][0]["uid"] == OWNER.uid  # collected with the CameraChannel
    assert claim["spec"]["resources"]["requests"]["storage"] == DEFAULTS.journal_size_limit
    assert "storageClassName" not in claim["spec"]  # the cluster's default class
    volumes = {v["name"]: v for v in WANTED.deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["journal"] == {"name": "journal", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    classed = desired_children(OWNER, spec(), DEFAULTS.model_copy(update={"journal_storage_class": "fast-local"}))
    assert classed.journal_claim["spec"]["storageClassName"] == "fast-local"
    volumes = {v["name"]: v for v in CLAIMLESS.deployment["spec"]["template"]["spec"]["volumes"]}
    assert (
        CLAIMLESS.journal_claim is None and volumes["journal"]["emptyDir"]["sizeLimit"] == DEFAULTS.journal_size_limit
    )


def test_existing_reads_controller_hash_and_replicas_from_an_api_object():
    obj = {
        "metadata": {
            "annotations": {CONFIG_HASH_ANNOTATION: "abc"},
            "ownerReferences": [
                {"uid": "not-controller", "controller": False},
                {"uid": "uid-1", "controller": True},
            ],
        },
        "spec": {"replicas": 0},
    }
    assert Existing.from_object(obj) == Existing(controller_uid="uid-1", config_hash="abc", replicas=0)
    assert Existing.from_object(None) is None
    assert Existing.from_object({"metadata": {}}) == Existing(None, None, None)
    assert ActionKind.CREATE == "create"


def test_the_worker_reads_every_variable_the_deployment_sets(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """The contract between the operator and the worker: the env names the Deployment sets are the ones the
    worker's settings read, with the values the spec asked for (a renamed setting fails here, not in a pod)."""
    tuned = spec(processing={"everyNFrames": 2, "adaptive": True, "detectorInputSize": 640})
    children = desired_children(OWNER, tuned, DEFAULTS)
    config_file = tmp_path / "channel.json"
    config_file.write_text(children.config_map["data"]["channel.json"])
    for name in [variable for variable in os.environ if variable.startswith("FOOTFALL_")]:
        monkeypatch.delenv(name)
    for item in container(children)["env"]:
        value = item.get("value", "from-secret")
        monkeypatch.setenv(item["name"], str(config_file) if item["name"] == "FOOTFALL_CAMERAS" else value)
    settings = Settings.from_env()
    assert (settings.worker.cameras, settings.worker.channel) == (str(config_file), "channel_1")
    assert settings.worker.http_port == DEFAULTS.http_port
    assert settings.worker.journal_dir == "/var/lib/footfall/journal"
    assert settings.worker.shutdown_deadline_s == DEFAULTS.shutdown_deadline_s
    assert settings.triton.url == "triton.footfall:8001"
    assert settings.triton.detector_input_size == 640
    assert (settings.reader.process_every, settings.reader.adaptive_skip, settings.reader.on_demand) == (2, True, False)
    credentials = load_store_config(config_file).channel("channel_1").credentials
    assert credentials is not None and credentials.directory is not None
    mount = tmp_path / "secret"  # the mounted volume's two files, as the Deployment's items name them
    mount.mkdir()
    for item in next(v for v in children.deployment["spec"]["template"]["spec"]["volumes"] if "secret" in v)["secret"][
        "items"
    ]:
        (mount / item["path"]).write_text(f"from-{item['key']}")
    resolved = credentials.model_copy(update={"directory": str(mount)}).resolve()
    assert (resolved.username, resolved.password.get_secret_value()) == ("from-user", "from-pass")


def test_counting_geometry_reaches_the_worker_config():
    geometry = {
        "lines": [{"id": "entrance", "points": [[0.1, 0.6], [0.9, 0.6]], "inSide": "right"}],
        "zones": [{"id": "queue", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}],
        "exclusionMasks": [{"id": "mannequin", "polygon": [[0.6, 0.7], [0.7, 0.7], [0.7, 0.9]]}],
    }
    children = desired_children(OWNER, spec(analytics=geometry), DEFAULTS)
    store = parse_store_config(json.loads(children.config_map["data"]["channel.json"]))
    analytics = store.channels[0].analytics
    assert analytics is not None and analytics.lines[0].in_side == "right" and analytics.zones[0].id == "queue"
    assert [(mask.id, mask.polygon[0]) for mask in analytics.exclusion_masks] == [("mannequin", [0.6, 0.7])]
    assert children.config_hash != desired_children(OWNER, spec(), DEFAULTS).config_hash


def test_the_journal_cap_is_nine_tenths_of_its_volume():
    children = desired_children(OWNER, spec(), DEFAULTS.model_copy(update={"journal_size_limit": "2Gi"}))
    assert env_of(children)["FOOTFALL_STORAGE_JOURNAL_MAX_BYTES"] == str(2 * 2**30 * 9 // 10)
    assert children.journal_claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
