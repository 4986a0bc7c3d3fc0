"""Session fixtures: the real servers the tests talk to, all on 127.0.0.1."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall_worker.inference import TritonConnection
from footfall_worker.settings import TritonSettings
from tests.support.triton import TritonInstance


@pytest.fixture(scope="session")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonInstance]:
    """A real Triton serving models/, private to this test session."""
    instance = TritonInstance(name="triton-test", run_dir=tmp_path_factory.mktemp("triton"))
    instance.start()
    yield instance
    instance.stop()


def triton_settings(url: str, **overrides: object) -> TritonSettings:
    return TritonSettings(_env_file=None, url=url, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def connection(triton: TritonInstance) -> Iterator[TritonConnection]:
    conn = TritonConnection(triton_settings(triton.url))
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
