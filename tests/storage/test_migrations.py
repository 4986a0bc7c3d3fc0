"""Schema migrations against a real, private PostgreSQL: idempotent, race-free, tamper-evident."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg2.errors
import pytest

from footfall_worker.storage.migrations import MIGRATIONS_DIR, MigrationError, load_migrations, migrate
from tests.support.paths import REPO_ROOT
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture

EXPECTED_TABLES = {
    "channels",
    "runs",
    "tracks",
    "track_points",
    "events",
    "channel_stats_minute",
    "channel_heatmap_hour",
    "till_deliveries",
    "till_transactions",
    "schema_migrations",
    "footfall_partitioned",
    "channel_stats_quarter",
}


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    return pg_cluster.create_database("mig")


def _tables(dsn: str) -> set[str]:
    with connect(dsn) as conn, conn.cursor() as cur:
        # a partitioned table counts once, not its partitions
        cur.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') AND NOT relispartition"
        )
        return {row[0] for row in cur.fetchall()}


def _recorded(dsn: str) -> list[tuple[int, str, str]]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version, applied_at")
        return [tuple(row) for row in cur.fetchall()]


def test_fresh_database_gets_the_schema_and_each_version_once(dsn: str) -> None:
    applied = migrate(dsn)
    files = load_migrations()
    assert [m.version for m in applied] == [m.version for m in files] and files[0].path.name == "0001_initial.sql"
    assert _tables(dsn) == EXPECTED_TABLES
    assert _recorded(dsn) == [(m.version, m.name, m.checksum) for m in files]


def test_migrating_twice_changes_nothing(dsn: str) -> None:
    migrate(dsn)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, applied_at FROM schema_migrations")
        before = cur.fetchall()
    assert migrate(dsn) == []
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, applied_at FROM schema_migrations")
        assert cur.fetchall() == before
    assert _tables(dsn) == EXPECTED_TABLES


def _with_slow_migration(tmp_path: Path) -> Path:
    """The real migrations plus a slow one that fails if run twice: widens the race window to half a second."""
    directory = tmp_path / "sql"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / "9999_slow.sql").write_text("SELECT pg_sleep(0.5);\nCREATE TABLE slow_marker (id integer);\n")
    return directory


def test_processes_starting_together_apply_each_version_once(dsn: str, tmp_path: Path) -> None:
    directory = _with_slow_migration(tmp_path)
    start_at = time.time() + 2.0  # every process is imported and waiting by then: they really start together
    script = (
        "import sys, time\n"
        "from footfall_worker.storage.migrations import migrate\n"
        f"time.sleep(max(0.0, {start_at!r} - time.time()))\n"
        f"applied = migrate({dsn!r}, directory=__import__('pathlib').Path({str(directory)!r}))\n"
        "print(len(applied))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    applied_counts = sorted(int(out.strip()) for out, _ in results)
    files = load_migrations(directory)
    # One process applied everything; the others waited on the lock and found nothing to do.
    assert applied_counts == [0, 0, 0, len(files)]
    versions = [row[0] for row in _recorded(dsn)]
    assert versions == [m.version for m in files]
    assert _tables(dsn) == EXPECTED_TABLES | {"slow_marker"}


def test_a_changed_applied_migration_is_an_error_naming_the_file(dsn: str, tmp_path: Path) -> None:
    directory = tmp_path / "sql"
    shutil.copytree(MIGRATIONS_DIR, directory)
    migrate(dsn, directory=directory)
    initial = directory / "0001_initial.sql"
    initial.write_text(initial.read_text() + "\nCREATE TABLE sneaky (id integer);\n")
    with pytest.raises(MigrationError, match=r"0001_initial\.sql changed after it was applied"):
        migrate(dsn, directory=directory)
    assert "sneaky" not in _tables(dsn)


def test_a_failing_migration_applies_nothing(dsn: str, tmp_path: Path) -> None:
    directory = tmp_path / "sql"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / "9999_broken.sql").write_text("CREATE TABLE fine (id integer);\nSELECT no_such_function();\n")
    with pytest.raises(Exception, match="no_such_function"):
        migrate(dsn, directory=directory)
    assert _tables(dsn) == set()  # one transaction: not even 0001 or schema_migrations remain


def test_a_migration_behind_a_long_report_gives_up_instead_of_queueing_every_writer(dsn: str, tmp_path: Path) -> None:
    migrate(dsn)
    directory = tmp_path / "sql"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / "9999_alter.sql").write_text("ALTER TABLE tracks ADD COLUMN colour text;\n")
    with connect(dsn) as report:
        report.autocommit = False
        with report.cursor() as cur:  # a long report: its transaction holds ACCESS SHARE on tracks
            cur.execute("SELECT count(*) FROM tracks")
        started = time.monotonic()
        with pytest.raises(psycopg2.errors.LockNotAvailable):
            migrate(dsn, directory=directory, lock_timeout_s=0.3)
        assert time.monotonic() - started < 5
        report.rollback()
    assert [m.version for m in migrate(dsn, directory=directory)] == [9999]  # retried once the lock is free


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_initial.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lower_snake"):
        load_migrations(tmp_path)
    (tmp_path / "1_initial.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="already used"):
        load_migrations(tmp_path)
