"""`footfall retention` as an operator (or the chart's CronJob) runs it, against a real, private PostgreSQL: a dry
run drops nothing and says what it would, a run drops the expired partitions and counts their rows, bad input and
an unreachable database are named, the password never printed."""

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from footfall_worker.storage.migrations import migrate
from footfall_worker.storage.partitions import ensure_partitions
from footfall_worker.storage.records import EventRow, RunStart, new_run_id
from footfall_worker.storage.sql_mapping import execute_records
from tests.support.kube import VENV_BIN
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture


def retention(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "footfall"), "retention", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    """A history of 50 days, an event a day."""
    dsn = pg_cluster.create_database("ret")
    migrate(dsn)
    now = datetime.now(UTC)
    with connect(dsn) as conn:
        ensure_partitions(conn, now - timedelta(days=50), ahead=timedelta(days=51))
        with conn.cursor() as cur:
            cur.execute("INSERT INTO channels (id, store_id, name, source_masked) VALUES ('channel_1', 's', 'n', 'x')")
            run_id = new_run_id()
            records = [RunStart(run_id, (now - timedelta(days=50)).timestamp())]
            records += [EventRow.new(run_id, (now - timedelta(days=d)).timestamp(), "x") for d in range(50)]
            execute_records(cur, "channel_1", records)
        conn.commit()
    return dsn


def events(dsn: str) -> int:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM events")
        return int(cur.fetchone()[0])


def lines(done: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_dry_run_says_what_would_go_and_drops_nothing(dsn: str) -> None:
    done = retention("--raw-days", "30", "--dry-run", "--dsn", dsn)
    assert done.returncode == 0, done.stderr
    out = lines(done)
    would = [line for line in out if line.get("action") == "would drop"]
    assert would and all(line["partition"].rsplit("_p", 1)[0] in {"tracks", "track_points", "events"} for line in would)
    assert out[-1]["dry_run"] is True and out[-1]["rows_dropped"] >= 19  # days 31..49 ended 30 days ago
    assert events(dsn) == 50


def test_a_run_drops_the_expired_days_and_counts_their_rows(dsn: str) -> None:
    done = retention("--raw-days", "30", "--dsn", dsn)
    assert done.returncode == 0, done.stderr
    summary = lines(done)[-1]
    assert summary["summary"] == "done" and summary["rollup_days"] is None
    assert events(dsn) == 50 - summary["rows_dropped"]
    assert 30 <= events(dsn) <= 31  # the day 30 days ago is kept until its last second is past the retention
    again = lines(retention("--raw-days", "30", "--dsn", dsn))[-1]
    assert (again["dropped"], again["rows_dropped"]) == (0, 0)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "--raw-days (or FOOTFALL_RETENTION_RAW_DAYS) is required"),
        (["--raw-days", "0"], "raw_days: Input should be greater than or equal to 1"),
        (["--raw-days", "30", "--rollup-days", "forever"], "rollup_days: Input should be a valid integer"),
    ],
)
def test_bad_input_is_named(args: list[str], says: str) -> None:
    done = retention(*args, "--dsn", "postgresql://nobody@127.0.0.1:1/x", env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and says in done.stderr


def test_an_unreachable_database_is_named_without_its_password() -> None:
    done = retention("--raw-days", "30", "--dsn", "postgresql://footfall:s3cret@127.0.0.1:1/x")
    assert done.returncode == 1 and "cannot connect" in done.stderr and "s3cret" not in done.stderr + done.stdout
