"""The real control plane the operator's cluster tests share: etcd + kube-apiserver + kube-controller-manager
started by hack/kube.sh on 127.0.0.1 (one for the whole package: starting one costs seconds), a private real Redis
for the workers' live state, and the operator as its own `footfall-operator` process per test."""

import itertools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall_operator.crd import GROUP, PLURAL
from tests.operator.channels import CAMERA_PASSWORD, CAMERA_USER
from tests.support.kube import VENV_BIN, KubeCluster, OperatorProcess
from tests.support.redis_server import RedisServer

_namespaces = itertools.count(1)


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    instance = KubeCluster(name="kube-test", run_dir=tmp_path_factory.mktemp("kube"))
    instance.start()
    crd = subprocess.run([str(VENV_BIN / "footfall-operator"), "crd"], capture_output=True, text=True, check=True)
    instance.kubectl("apply", "-f", "-", input_text=crd.stdout)
    instance.kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}", "--timeout=60s")
    yield instance
    instance.stop()


@pytest.fixture(scope="package")
def live_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def operator(cluster: KubeCluster, live_redis: RedisServer, tmp_path: Path) -> Iterator[OperatorProcess]:
    process = OperatorProcess(cluster, tmp_path / "operator.log", redis_url=live_redis.url)
    process.start()
    yield process
    if process.alive:
        process.stop()
    log = process.log_text()
    assert CAMERA_PASSWORD not in log and CAMERA_USER not in log
    # structured: one JSON object a line, the CameraChannel named on every line about one
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all(
        "object" in line for line in lines if "CameraChannel" in line["message"] or "Deployment/" in line["message"]
    )


@pytest.fixture
def namespace(cluster: KubeCluster) -> str:
    name = f"store-{next(_namespaces)}"
    cluster.create_namespace(name)
    return name
