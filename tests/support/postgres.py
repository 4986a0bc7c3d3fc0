"""A private PostgreSQL cluster for a test session: tests may stop and start it without disturbing anyone.

Debian's `postgresql-common` tools create a throw-away cluster (`pg_createcluster`) of the newest installed major
version on a free loopback port with trust authentication, owned by the `postgres` system user. The tools need
root: as root they run directly, otherwise through `sudo -n` (passwordless sudo for pg_createcluster,
pg_ctlcluster and pg_dropcluster). Without either, `create()` fails loudly; it never skips.

Clusters are named `footfall_test_<pid>_<random>`; `drop_stale()` removes those whose test process is gone
(a session killed before its teardown). The `pg_cluster` fixture gives a test module its own cluster; moved into
`tests/conftest.py` with session scope it would be created once per session instead.
"""

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

from tests.support.paths import free_port

_PREFIX = "footfall_test"
_NAME = re.compile(rf"^{_PREFIX}_(?P<pid>\d+)_[0-9a-f]+$")


def _as_root(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return args
    if shutil.which("sudo") is None:
        raise RuntimeError(f"{args[0]} needs root and sudo is not installed; run the storage tests as root")
    return ["sudo", "-n", *args]


def _run(args: list[str], timeout: float = 120) -> str:
    done = subprocess.run(_as_root(args), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return done.stdout


def postgres_version() -> str:
    """The newest PostgreSQL major version with Debian cluster configuration (e.g. "15")."""
    root = Path("/etc/postgresql")
    versions = sorted((p.name for p in root.iterdir() if p.is_dir()), key=float) if root.is_dir() else []
    if not versions or shutil.which("pg_createcluster") is None:
        raise RuntimeError("PostgreSQL (Debian postgresql + postgresql-common) is not installed: run `make services`")
    return versions[-1]


class PostgresCluster:
    """One private cluster on 127.0.0.1:`port`, superuser `postgres`, no password."""

    def __init__(self) -> None:
        self.version = postgres_version()
        self.name = f"{_PREFIX}_{os.getpid()}_{secrets.token_hex(3)}"
        self.port = free_port()
        self._created = False

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        """Create and start the cluster.

        It listens on Debian's default `localhost` (loopback only). Durability is relaxed (fsync off): a test
        cluster's data is thrown away, and a stop is a clean shutdown that writes everything anyway.
        """
        drop_stale()
        _run(
            [
                "pg_createcluster",
                self.version,
                self.name,
                "-p",
                str(self.port),
                "-o",
                "fsync=off",
                "-o",
                "full_page_writes=off",
                "-o",
                "max_connections=200",
                "--",
                "--auth=trust",
            ]
        )
        self._created = True
        try:
            self.start()
        except BaseException:
            self.drop()
            raise

    def start(self) -> None:
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "start"])
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: clients are disconnected at once, like a database restart in production)."""
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "stop", "-m", mode])

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        data_dir = Path(f"/var/lib/postgresql/{self.version}/{self.name}")
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                # The parent pid is the second field after the parenthesised command name.
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> list[int]:
        """SIGSTOP the whole server: alive to the kernel (connections are accepted, data is ACKed), silent to its
        clients, as a server stuck on a dead disk or swapped out. Returns the stopped pids for `thaw`."""
        pids = self.server_pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    def thaw(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def drop(self) -> None:
        if self._created:
            _run(["pg_dropcluster", "--stop", self.version, self.name])
            self._created = False

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg2.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster {self.name} on port {self.port} not ready: {exc}") from exc
                time.sleep(0.1)

    def create_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its DSN."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = psycopg2.connect(self.dsn(), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.dsn(name)


def drop_stale() -> None:
    """Drop test clusters left by sessions that died before their teardown."""
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False).stdout
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        match = _NAME.match(fields[1])
        if match is None:
            continue
        pid = int(match["pid"])
        try:
            os.kill(pid, 0)
            continue  # still running: another session's cluster
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        subprocess.run(_as_root(["pg_dropcluster", "--stop", fields[0], fields[1]]), capture_output=True, check=False)


@contextlib.contextmanager
def connect(dsn: str) -> Iterator[psycopg2.extensions.connection]:
    """An autocommit connection for assertions, closed on exit (psycopg2's own `with` only ends a transaction)."""
    conn = psycopg2.connect(dsn, connect_timeout=5)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A private cluster for the module (tests that stop it restart it in `finally`)."""
    cluster = PostgresCluster()
    cluster.create()
    try:
        yield cluster
    finally:
        cluster.drop()
