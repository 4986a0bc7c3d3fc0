"""One private PostgreSQL cluster and one seeded, migrated database for every report test; the day's report is
made once, by the installed `footfall` command, and read by the data and browser tests."""

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from footfall_worker.storage.migrations import migrate
from tests.report import seed
from tests.support.postgres import PostgresCluster

FOOTFALL = Path(sys.executable).with_name("footfall")  # the console script of the venv running the tests


@dataclass(frozen=True)
class Report:
    out: Path
    completed: subprocess.CompletedProcess[str]

    @property
    def html(self) -> str:
        return (self.out / "report.html").read_text(encoding="utf-8")

    def csv(self, name: str) -> list[dict[str, str]]:
        with (self.out / name).open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))


def footfall_report(dsn: str, out: Path, *args: str) -> Report:
    """`footfall report --dsn DSN --out OUT ARGS` as a subprocess, without a display (matplotlib must not need one)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    completed = subprocess.run(
        [str(FOOTFALL), "report", "--dsn", dsn, "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    return Report(out, completed)


@pytest.fixture(scope="package")
def report_cluster() -> Iterator[PostgresCluster]:
    """The report tests' own PostgreSQL cluster."""
    cluster = PostgresCluster()
    cluster.create()
    try:
        yield cluster
    finally:
        cluster.drop()


@pytest.fixture(scope="package")
def report_dsn(report_cluster: PostgresCluster) -> str:
    """A migrated database holding seed.py's day (and nothing else)."""
    dsn = report_cluster.create_database("report")
    migrate(dsn)
    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        seed.insert_day(conn)
    finally:
        conn.close()
    return dsn


@pytest.fixture(scope="package")
def day_report(report_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The store's report for the seeded day, its time zone taken from the stored channel config."""
    day = seed.DAY.isoformat()
    report = footfall_report(
        report_dsn, tmp_path_factory.mktemp("day"), "--store", seed.STORE, "--from", day, "--to", day
    )
    assert report.completed.returncode == 0, report.completed.stderr
    return report
