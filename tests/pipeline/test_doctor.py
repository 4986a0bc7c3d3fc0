"""`footfall doctor` against the real parts: a Triton, a PostgreSQL, a Redis and simulated cameras on loopback.
Everything reachable reads ok with what it found (the camera's codec, size and rate as it streams them); every
kind of failure is named as such, the run goes on past it, and no password reaches the output."""

import json
from pathlib import Path

import pytest

from footfall_worker.doctor.command import run
from footfall_worker.storage.migrations import load_migrations, migrate
from tests.pipeline.conftest import Backends
from tests.support.camera_sim import CameraSimulator
from tests.support.footage import STORE_AISLE
from tests.support.paths import footage_path, free_port

PASSWORD = "s3cret-Pa55"


def store(path: Path, channels: list[dict]) -> Path:
    document = {
        "store_id": "doctor_store",
        "store_name": "Doctor",
        "source_defaults": {"host": "127.0.0.1"},
        "credentials": {"username_env": "DOCTOR_CAMERA_USER", "password_env": "DOCTOR_CAMERA_PASSWORD"},
        "channels": channels,
    }
    path.write_text(json.dumps(document))
    return path


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, dict], str]:
    code = run([*args, "--json", "--seconds", "2"])
    out = capsys.readouterr().out
    return code, {check["name"]: check for check in json.loads(out)}, out


def test_everything_reachable_reads_ok_with_what_the_camera_streams(
    backends: Backends, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(backends.dsn)
    monkeypatch.setenv("DOCTOR_CAMERA_USER", "admin")
    monkeypatch.setenv("DOCTOR_CAMERA_PASSWORD", PASSWORD)
    with CameraSimulator(footage_path(STORE_AISLE), user="admin", password=PASSWORD) as camera:
        config = store(
            tmp_path / "s.json", [{"id": "aisle", "name": "aisle", "source": {"port": camera.port, "channel": 1}}]
        )
        code, found, out = doctor(
            capsys, "--cameras", str(config), "--triton", backends.triton.url, "--dsn", backends.dsn,
            "--redis", backends.redis.url,
        )  # fmt: skip
    assert code == 0, out
    assert {name: check["status"] for name, check in found.items()} == {
        "machine": "ok",
        "decode": "ok",
        "triton": "ok",
        "postgres": "ok",
        "redis": "ok",
        "camera aisle": "ok",
    }
    assert found["triton"]["data"]["person_detector"] == "READY"
    assert found["postgres"]["data"]["schema"] == max(m.version for m in load_migrations())
    aisle = found["camera aisle"]["data"]
    assert (aisle["codec"].lower(), aisle["size"]) == ("h264", "480x270")  # the clip as the camera sends it
    assert aisle["declared_fps"] > 0 and 0.7 * aisle["declared_fps"] <= aisle["fps"] <= 1.3 * aisle["declared_fps"]
    assert aisle["decode_ms_per_frame"] > 0
    assert PASSWORD not in out


def test_each_failure_is_named_and_the_others_still_run(
    backends: Backends, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTOR_CAMERA_USER", "admin")
    monkeypatch.setenv("DOCTOR_CAMERA_PASSWORD", "wrong-" + PASSWORD)
    dead_port = free_port()
    with CameraSimulator(footage_path(STORE_AISLE), user="admin", password=PASSWORD) as camera:
        config = store(
            tmp_path / "s.json",
            [
                {"id": "wrong_password", "name": "a", "source": {"port": camera.port, "channel": 1}},
                {"id": "wrong_path", "name": "b", "source": {"port": camera.port, "path": "/no/such/stream"}},
                {"id": "dead", "name": "c", "source": {"port": dead_port, "channel": 1}},
            ],
        )
        dsn = backends.dsn.replace("postgres@", f"postgres:{PASSWORD}@").rsplit(":", 1)[0] + f":{free_port()}/x"
        code, found, out = doctor(
            capsys, "--cameras", str(config), "--triton", f"127.0.0.1:{free_port()}", "--dsn", dsn,
            "--redis", f"redis://127.0.0.1:{free_port()}/0",
        )  # fmt: skip
    assert code == 1
    statuses = {name: check["status"] for name, check in found.items()}
    assert statuses == {
        "machine": "ok",
        "decode": "ok",
        "triton": "fail",
        "postgres": "fail",
        "redis": "fail",
        "camera wrong_password": "fail",
        "camera wrong_path": "fail",
        "camera dead": "fail",
    }
    assert found["triton"]["detail"].startswith("cannot reach 127.0.0.1:")
    assert "401" in found["camera wrong_password"]["detail"] or "password" in found["camera wrong_password"]["detail"]
    assert "404" in found["camera wrong_path"]["detail"] or "not found" in found["camera wrong_path"]["detail"]
    assert "refused" in found["camera dead"]["detail"]
    assert PASSWORD not in out


def test_a_missing_credential_variable_is_named_not_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCTOR_CAMERA_USER", raising=False)
    monkeypatch.delenv("DOCTOR_CAMERA_PASSWORD", raising=False)
    config = store(tmp_path / "s.json", [{"id": "door", "name": "door", "source": {"port": free_port(), "channel": 1}}])
    code, found, _ = doctor(capsys, "--cameras", str(config), "--triton", f"127.0.0.1:{free_port()}")
    assert code == 1 and found["camera door"]["status"] == "fail"
    assert "DOCTOR_CAMERA_USER" in found["camera door"]["detail"]
    assert run(["--seconds", "0"]) == 2
