"""`footfall import-config`: a store config as CameraChannel manifests and one Secret; no cluster, no camera."""

import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from footfall_contract.config.cameras import parse_store_config
from footfall_operator.crd import API_VERSION, KIND, parse_spec
from footfall_operator.import_config import ImportConfigError, build_manifests, channel_resource_name
from footfall_operator.import_config_command import main

KIDSPLAZA = Path(__file__).resolve().parents[2] / "input" / "cameras_config" / "kidsplaza_thanhxuan.json"
# Test values only: distinctive, so finding them anywhere but the Secret is unmistakable.
USERNAME = "import-test-viewer"
PASSWORD = "Imp0rt-t3st:p@ss/w0rd"
CREDENTIALS_ENV = {"FOOTFALL_CAMERA_USERNAME": USERNAME, "FOOTFALL_CAMERA_PASSWORD": PASSWORD}
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def run(argv: list[str], environ: dict[str, str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(argv, environ, stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def store_without_credentials(tmp_path: Path) -> Path:
    config = tmp_path / "store.json"
    config.write_text(
        json.dumps(
            {
                "store_id": "test_store",
                "store_name": "Test store",
                "source_defaults": {"host": "192.0.2.10"},
                "channels": [
                    {"id": "door", "name": "Door", "source": {"channel": 1}},
                    {"id": "aisle", "name": "Aisle", "source": {"port": 8554, "path": "/live/aisle"}},
                ],
            }
        )
    )
    return config


def test_kidsplaza_becomes_four_camera_channels_and_one_secret() -> None:
    code, out, err = run([str(KIDSPLAZA)], CREDENTIALS_ENV)
    assert code == 0, err
    docs = documents(out)
    secrets, channels = of_kind(docs, "Secret"), of_kind(docs, KIND)
    assert len(docs) == 5 and len(secrets) == 1 and len(channels) == 4
    assert docs[0]["kind"] == "Secret", "the Secret comes first so kubectl creates it before its users"

    source_defaults = json.loads(KIDSPLAZA.read_text())["source_defaults"]
    assert [channel["spec"]["source"]["channel"] for channel in channels] == [1, 2, 3, 4]
    for channel in channels:
        assert channel["apiVersion"] == API_VERSION == "footfall.io/v1alpha1"
        assert DNS_1123_LABEL.match(channel["metadata"]["name"]), channel["metadata"]["name"]
        assert "namespace" not in channel["metadata"]
        spec = channel["spec"]
        assert spec["source"]["host"] == source_defaults["host"]
        assert spec["source"]["port"] == source_defaults["port"]
        assert channel["metadata"]["labels"] == {
            "footfall.io/store": "kidsplaza_thanhxuan",
            "footfall.io/channel": spec["channelId"],
        }
        parsed = parse_spec(spec)
        assert parsed.store == "kidsplaza_thanhxuan" and parsed.timezone == "Asia/Ho_Chi_Minh"
    assert channels[0]["metadata"]["name"] == "kidsplaza-thanhxuan-channel-1"
    assert channels[0]["spec"]["displayName"] == "ben_ngoai_cam_phai"
    assert channels[0]["spec"]["storeName"] == "Kids Plaza Thanh Xuân"

    secret = secrets[0]
    assert secret["type"] == "Opaque" and secret["metadata"]["name"] == "kidsplaza-thanhxuan-camera-credentials"
    assert secret["stringData"] == {"username": USERNAME, "password": PASSWORD}
    expected_ref = {"name": secret["metadata"]["name"], "usernameKey": "username", "passwordKey": "password"}
    assert [channel["spec"]["credentialsSecretRef"] for channel in channels] == [expected_ref] * 4


def test_only_the_secret_holds_the_credentials() -> None:
    code, out, err = run([str(KIDSPLAZA)], CREDENTIALS_ENV)
    assert code == 0
    for doc in documents(out):
        if doc["kind"] == "Secret":
            continue
        text = yaml.safe_dump(doc, allow_unicode=True)
        assert PASSWORD not in text and USERNAME not in text, doc["metadata"]["name"]
    assert PASSWORD not in err and USERNAME not in err


def test_missing_credentials_fail_naming_the_variable_and_print_nothing() -> None:
    code, out, err = run([str(KIDSPLAZA)], {"FOOTFALL_CAMERA_USERNAME": USERNAME})
    assert code != 0
    assert out == "", "never a partial set of manifests"
    assert "FOOTFALL_CAMERA_PASSWORD" in err and "--no-secret" in err
    assert USERNAME not in err

    code, out, err = run([str(KIDSPLAZA)], {"FOOTFALL_CAMERA_USERNAME": USERNAME, "FOOTFALL_CAMERA_PASSWORD": ""})
    assert code != 0 and out == "" and "FOOTFALL_CAMERA_PASSWORD" in err


def test_no_secret_emits_only_channels_that_reference_it() -> None:
    code, out, err = run([str(KIDSPLAZA), "--no-secret", "--secret-name", "shop-login"], {})
    assert code == 0, err
    docs = documents(out)
    assert not of_kind(docs, "Secret") and len(docs) == 4
    assert {doc["spec"]["credentialsSecretRef"]["name"] for doc in docs} == {"shop-login"}


def test_namespace_and_secret_name_apply_to_every_manifest() -> None:
    code, out, err = run([str(KIDSPLAZA), "--namespace", "store-hn", "--secret-name", "kp-login"], CREDENTIALS_ENV)
    assert code == 0, err
    docs = documents(out)
    assert {doc["metadata"]["namespace"] for doc in docs} == {"store-hn"}
    assert of_kind(docs, "Secret")[0]["metadata"]["name"] == "kp-login"
    assert {doc["spec"]["credentialsSecretRef"]["name"] for doc in of_kind(docs, KIND)} == {"kp-login"}


def test_camera_host_moves_every_channel_and_keeps_the_rest() -> None:
    code, out, err = run([str(KIDSPLAZA), "--no-secret", "--camera-host", "192.0.2.10"], {})
    assert code == 0, err
    moved = documents(out)
    code, out, err = run([str(KIDSPLAZA), "--no-secret"], {})
    assert code == 0, err
    original = documents(out)
    assert {doc["spec"]["source"]["host"] for doc in moved} == {"192.0.2.10"}
    assert {doc["spec"]["source"]["host"] for doc in original} != {"192.0.2.10"}
    for doc in original:
        doc["spec"]["source"]["host"] = "192.0.2.10"
    assert moved == original


@pytest.mark.parametrize(
    "option",
    [["--namespace", "Store_HN"], ["--secret-name", "Bad_Name"], ["--camera-host", "user:pw@cam"]],
)
def test_invalid_names_are_user_errors(option: list[str]) -> None:
    code, out, err = run([str(KIDSPLAZA), *option], CREDENTIALS_ENV)
    assert code == 2 and out == ""
    assert option[0] in err and "bug" not in err


def test_out_writes_an_owner_only_file(tmp_path: Path) -> None:
    target = tmp_path / "kidsplaza.yaml"
    target.write_text("old")
    target.chmod(0o644)  # an existing, world-readable file is narrowed too
    code, out, err = run([str(KIDSPLAZA), "--out", str(target)], CREDENTIALS_ENV)
    assert code == 0, err
    assert out == "" and PASSWORD not in err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert len(of_kind(documents(target.read_text(encoding="utf-8")), KIND)) == 4

    fresh = tmp_path / "fresh.yaml"
    assert run([str(KIDSPLAZA), "--out", str(fresh)], CREDENTIALS_ENV)[0] == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_a_store_without_credentials_gets_no_secret_and_no_ref(tmp_path: Path) -> None:
    code, out, err = run([str(store_without_credentials(tmp_path))], {})
    assert code == 0, err
    docs = documents(out)
    assert [doc["kind"] for doc in docs] == [KIND, KIND]
    assert all("credentialsSecretRef" not in doc["spec"] for doc in docs)
    assert docs[1]["spec"]["source"] == {"host": "192.0.2.10", "port": 8554, "path": "/live/aisle"}
    assert [doc["metadata"]["name"] for doc in docs] == ["test-store-door", "test-store-aisle"]
    for doc in docs:
        parse_spec(doc["spec"])


def test_a_channel_s_exclusion_masks_become_its_spec_s_exclusion_masks(tmp_path: Path) -> None:
    config = json.loads(store_without_credentials(tmp_path).read_text())
    mask = {"id": "mannequin", "polygon": [[0.1, 0.7], [0.2, 0.7], [0.2, 0.9]]}
    config["channels"][0]["analytics"] = {"exclusion_masks": [mask]}
    (tmp_path / "store.json").write_text(json.dumps(config))
    code, out, err = run([str(tmp_path / "store.json")], {})
    assert code == 0, err
    door = documents(out)[0]["spec"]
    assert door["analytics"]["exclusionMasks"] == [mask]
    analytics = parse_spec(door).analytics
    assert analytics is not None and analytics.exclusion_masks[0].id == "mannequin"


def test_long_names_are_shortened_with_a_hash_and_stay_distinct() -> None:
    store_id = "a_very_long_store_identifier_for_a_large_shopping_mall_branch"
    first = channel_resource_name(store_id, "entrance_camera_number_1")
    second = channel_resource_name(store_id, "entrance_camera_number_2")
    assert first != second
    for name in (first, second):
        assert len(name) <= 63 and DNS_1123_LABEL.match(name), name
    assert first == channel_resource_name(store_id, "entrance_camera_number_1"), "stable across imports"


def test_channels_with_different_logins_are_refused() -> None:
    store = parse_store_config(
        {
            "store_id": "two_logins",
            "store_name": "Two logins",
            "source_defaults": {"host": "192.0.2.10"},
            "channels": [
                {"id": "c1", "name": "one", "source": {"channel": 1}, "credentials": {}},
                {
                    "id": "c2",
                    "name": "two",
                    "source": {"channel": 2},
                    "credentials": {"username_env": "OTHER_USER", "password_env": "OTHER_PASSWORD"},
                },
            ],
        }
    )
    with pytest.raises(ImportConfigError, match="different credential variables"):
        build_manifests(store, CREDENTIALS_ENV)


def test_ids_that_become_the_same_name_are_refused() -> None:
    store = parse_store_config(
        {
            "store_id": "clash",
            "store_name": "Clash",
            "source_defaults": {"host": "192.0.2.10"},
            "channels": [
                {"id": "cam_1", "name": "one", "source": {"channel": 1}},
                {"id": "cam-1", "name": "two", "source": {"channel": 2}},
            ],
        }
    )
    with pytest.raises(ImportConfigError, match="clash-cam-1"):
        build_manifests(store, {})


def test_a_value_over_its_bound_is_reported_by_field_with_the_value_cut(tmp_path: Path) -> None:
    # The store config and the CameraChannel CRD cap a store name alike (128 characters): refused before any
    # manifest is written, and the error shows only the start of the value.
    config = tmp_path / "long.json"
    config.write_text(
        json.dumps(
            {
                "store_id": "long_name",
                "store_name": "x" * 129,
                "source_defaults": {"host": "192.0.2.10"},
                "channels": [{"id": "door", "name": "Door", "source": {"channel": 1}}],
            }
        )
    )
    code, out, err = run([str(config)], {})
    assert code == 2 and out == ""
    assert "store_name: String should have at most 128 characters" in err
    assert "x" * 129 not in err and "(131 characters)" in err


def test_the_footfall_command_runs_import_config() -> None:
    footfall = Path(sys.executable).with_name("footfall")
    # Only what the command needs: the test credentials, not the rest of this process's environment.
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **CREDENTIALS_ENV}
    result = subprocess.run(
        [str(footfall), "import-config", str(KIDSPLAZA), "--namespace", "footfall"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    docs = documents(result.stdout)
    assert [doc["kind"] for doc in docs] == ["Secret", KIND, KIND, KIND, KIND]
    assert docs[0]["stringData"]["password"] == PASSWORD

    missing = subprocess.run(
        [str(footfall), "import-config", str(KIDSPLAZA)],
        env={key: value for key, value in environ.items() if key != "FOOTFALL_CAMERA_PASSWORD"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and missing.stdout == ""
    assert "FOOTFALL_CAMERA_PASSWORD" in missing.stderr
