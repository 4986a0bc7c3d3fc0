"""The plans of the report's own queries at scale: `collect` runs once with a cursor that records each statement
and its time, then the slowest are EXPLAIN ANALYZEd in the same settings (JIT off, as `collect` sets) and printed
as their planning and execution times and their scans, alike scans of a table's partitions counted together."""

import re
import time
from collections import Counter
from typing import Any

import psycopg2
import psycopg2.extensions

from footfall_worker.report import query
from footfall_worker.report.data import collect
from footfall_worker.report.query import Window


class _RecordingCursor(psycopg2.extensions.cursor):
    statements: list[tuple[float, str, Any]] = []

    def execute(self, sql: str, vars: Any = None) -> None:  # noqa: A002 - psycopg2's own parameter name
        began = time.perf_counter()
        super().execute(sql, vars)
        _RecordingCursor.statements.append((time.perf_counter() - began, sql, vars))


def _generic(scan: str) -> str:
    """A scan line with its partition's day or month cut (events_p20261130 -> events_p[day])."""
    scan = re.sub(r"\s+\(.*$", "", scan.strip().removeprefix("->").strip())
    scan = re.sub(r" (\w+_\d+|[a-z]{1,2})$", "", scan)  # the alias (events_12, tr_3, e)
    scan = re.sub(r"_p\d{8}", "_p[day]", scan)
    return re.sub(r"_p\d{6}", "_p[month]", scan)


def _summary(sql: str) -> str:
    words = " ".join(sql.split())
    found = re.search(r"^\s*FROM (\w+)", sql, re.MULTILINE)  # the queries' own FROM opens a line
    return f"{words[:60]}... FROM {found.group(1) if found else '?'}"


def slowest_plans(dsn: str, store: str, period: Window, count: int = 3) -> list[str]:
    """Lines: the report's `count` slowest statements over `period`, each with its plan's times and scans."""
    _RecordingCursor.statements = []
    conn = psycopg2.connect(dsn, cursor_factory=_RecordingCursor)
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    out = []
    try:
        collect(conn, store, query.store_channels(conn, store), period)
        recorded = sorted(_RecordingCursor.statements, key=lambda s: s[0], reverse=True)
        with conn.cursor(cursor_factory=psycopg2.extensions.cursor) as cur:
            for took, sql, params in recorded[:count]:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, params)
                lines = [row[0] for row in cur.fetchall()]
                scans = Counter(_generic(line) for line in lines if " Scan " in line)
                times = [line.strip() for line in lines if line.startswith(("Planning Time", "Execution Time"))]
                out.append(f"{took * 1000:.0f} ms: {_summary(sql)}")
                out.append(f"  {'; '.join(times)}")
                out.append("  " + "; ".join(f"{n} x {scan}" for scan, n in sorted(scans.items())))
    finally:
        conn.rollback()
        conn.close()
    return out
