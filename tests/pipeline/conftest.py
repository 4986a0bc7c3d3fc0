"""Fixtures of the worker tests: a private PostgreSQL database and Redis server next to the session's Triton."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.postgres import PostgresCluster, pg_cluster  # noqa: F401 - pg_cluster is a fixture
from tests.support.redis_server import RedisServer
from tests.support.triton import TritonInstance
from tests.support.worker import worker_env


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@dataclass(frozen=True)
class Backends:
    dsn: str
    redis: RedisServer
    triton: TritonInstance
    journal_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return worker_env(self.dsn, self.redis.url, self.triton.url, self.journal_dir, **extra)


@pytest.fixture
def backends(
    pg_cluster: PostgresCluster,  # noqa: F811
    redis_server: RedisServer,
    triton: TritonInstance,
    tmp_path: Path,
) -> Backends:
    """A fresh database per test (the worker migrates it), the module's Redis, the session's Triton."""
    return Backends(pg_cluster.create_database("worker"), redis_server, triton, tmp_path / "journal")
