"""The till webhook on loopback with a real PostgreSQL: a signed delivery is recorded; a replay, a stale or
forged signature, another store's delivery and a malformed body change nothing and say why; a database that is
away answers 503 so the till retries, and nothing is half-written."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall_worker.storage.migrations import migrate
from footfall_worker.till.delivery import MAX_BODY_BYTES
from footfall_worker.till.server import PATH, TillServer
from footfall_worker.till.signature import sign
from tests.support.paths import free_port
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture

STORE, OTHER = "kidsplaza_thanhxuan", "other_store"
SECRET, OTHER_SECRET = b"till-secret-of-thanh-xuan-0123456789", b"till-secret-of-another-store-98765"


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    dsn = pg_cluster.create_database("till")
    migrate(dsn)
    return dsn


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    (directory / STORE).write_bytes(SECRET + b"\n")  # a Secret key file may end in a newline
    (directory / OTHER).write_bytes(OTHER_SECRET)
    (directory / "weak_store").write_bytes(b"short")
    return directory


@pytest.fixture
def server(dsn: str, secrets: Path) -> Iterator[TillServer]:
    till = TillServer("127.0.0.1", 0, dsn, secrets).start()
    yield till
    till.stop()


def delivery(delivery_id: str, store: str = STORE, **hours: int) -> bytes:
    rows = [{"hour": hour.replace("_", ":"), "transactions": n} for hour, n in hours.items()]
    return json.dumps({"id": delivery_id, "store": store, "hours": rows}).encode()


def post(
    server: TillServer,
    body: bytes,
    *,
    store: str = STORE,
    secret: bytes = SECRET,
    at: float | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:
    timestamp = int(time.time() if at is None else at)
    sent = {"X-Footfall-Store": store, "X-Footfall-Timestamp": str(timestamp)}
    sent["X-Footfall-Signature"] = sign(secret, timestamp, body)
    sent.update(headers or {})
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{PATH}", data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def till_rows(dsn: str) -> list[tuple]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT store_id, extract(epoch FROM hour)::bigint, transactions, delivery_id FROM till_transactions"
        )
        return sorted(cur.fetchall())


NINE, TEN = "2026-12-07T09_00_00+07_00", "2026-12-07T10_00_00+07_00"
NINE_S, TEN_S = 1796608800, 1796612400  # the same hours in unix seconds


def test_a_signed_delivery_is_recorded_once_and_a_later_one_corrects_it(server: TillServer, dsn: str) -> None:
    body = delivery("d-1", **{NINE: 12, TEN: 30})
    assert post(server, body) == (200, {"recorded": 2})
    assert till_rows(dsn) == [(STORE, NINE_S, 12, "d-1"), (STORE, TEN_S, 30, "d-1")]
    # the same delivery again, re-signed by a retrying till or replayed by someone else: nothing changes
    assert post(server, body) == (200, {"duplicate": True, "recorded": 0})
    assert post(server, delivery("d-1", **{TEN: 999})) == (200, {"duplicate": True, "recorded": 0})
    assert post(server, delivery("d-2", **{TEN: 31})) == (200, {"recorded": 1})
    assert till_rows(dsn) == [(STORE, NINE_S, 12, "d-1"), (STORE, TEN_S, 31, "d-2")]


@pytest.mark.parametrize(
    ("how", "code", "says"),
    [
        ({"at": time.time() - 600}, 401, "outside 300 s"),
        ({"at": time.time() + 600}, 401, "outside 300 s"),
        ({"secret": OTHER_SECRET}, 401, "does not match"),
        ({"store": "no_such_store"}, 401, "signature refused"),
        ({"store": "weak_store", "secret": b"short"}, 401, "signature refused"),
        ({"headers": {"X-Footfall-Signature": ""}}, 401, "expected the X-Footfall-Timestamp"),
        ({"headers": {"X-Footfall-Timestamp": "soon"}}, 401, "expected unix seconds"),
        ({"store": OTHER, "secret": OTHER_SECRET}, 403, "not the signing store"),
    ],
)
def test_what_is_not_the_stores_till_is_refused_and_says_why(
    server: TillServer, dsn: str, how: dict, code: int, says: str
) -> None:
    status, answer = post(server, delivery("d-1", **{NINE: 12}), **how)
    assert status == code and says in answer["error"], answer
    assert till_rows(dsn) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "(body)"),
        (delivery("d-1", **{"2026-12-07T09_00_00": 1}), "hours.0.hour: Value error, expected a time with its UTC"),
        (delivery("d-1", **{"2026-12-07T09_30_00+07_00": 1}), "expected the start of an hour"),
        (delivery("d-1", **{NINE: -1}), "hours.0.transactions"),
        (delivery("d 1", **{NINE: 1}), "id:"),
        (json.dumps({"id": "d-1", "store": STORE, "hours": []}).encode(), "hours:"),
    ],
)
def test_a_body_that_is_not_a_delivery_is_422_naming_the_field(
    server: TillServer, dsn: str, body: bytes, says: str
) -> None:
    status, answer = post(server, body)
    assert status == 422 and says in answer["error"], answer
    assert till_rows(dsn) == []


def test_a_huge_body_is_refused_before_it_is_read(server: TillServer) -> None:
    status, answer = post(server, b" " * (MAX_BODY_BYTES + 1))
    assert status == 413 and str(MAX_BODY_BYTES) in answer["error"]


def test_with_the_database_away_the_till_is_told_to_retry_and_nothing_is_recorded(secrets: Path) -> None:
    till = TillServer("127.0.0.1", 0, f"postgresql://postgres@127.0.0.1:{free_port()}/none", secrets).start()
    try:
        status, answer = post(till, delivery("d-1", **{NINE: 12}))
    finally:
        till.stop()
    assert status == 503 and "retry" in answer["error"]
