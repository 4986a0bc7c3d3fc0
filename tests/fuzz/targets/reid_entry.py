"""Fuzz the ReID gallery's reading of Redis entries (`ReidCache.match` over what `hmget` returns), which any pod
that reaches Redis can write.

A fake Redis answers `match` with drawn entries: intact ones, entries with exactly one defect (an embedding or
box of the wrong size, NaN or not unit length, an `ended_at` that is no finite number, an index member that is
not `run:track`), expired or another encoder's entries, and free bytes. Properties:
* nothing escapes `match`; a match, when there is one, has a finite similarity at or above the threshold and
  ahead of the runner-up by the margin, a finite box, and the identity of an entry that was fetched;
* each entry with a defect is counted as malformed exactly once, an intact, expired or foreign one never;
* an intact entry whose embedding is the query's links when nothing else can compete with it.
"""

import json
import logging
import math
import re
from typing import Any

import atheris
import numpy as np
import redis

from tests.fuzz.targets._hostile import as_text, fuzz, pick, text

with atheris.instrument_imports(include=["footfall_worker.reid.cache"]):
    from footfall_worker.reid.cache import ReidCache

# A malformed entry is logged as a warning (once per key): thousands a second would bury the fuzzer's output.
logging.getLogger("footfall_worker.reid.cache").setLevel(logging.ERROR)

ENCODER = "hist"
_DEFECTS = ("emb size", "box size", "emb nan", "emb not unit", "box inf", "ended_at", "member")


class _Pipeline:
    def __init__(self, rows: list[list[bytes | None]]) -> None:
        self._rows = rows

    def hmget(self, *args: Any) -> None:
        pass

    def execute(self) -> list[list[bytes | None]]:
        return self._rows


class FakeRedis(redis.Redis):
    """Answers the two reads `match` makes with the drawn index members and hash rows (no connection)."""

    members: list[bytes] = []
    rows: list[list[bytes | None]] = []

    def zrangebyscore(self, *args: Any, **kwargs: Any) -> list[bytes]:  # type: ignore[override]
        return self.members

    def pipeline(self, *args: Any, **kwargs: Any) -> _Pipeline:  # type: ignore[override]
        return _Pipeline(self.rows)


def _unit(fdp: atheris.FuzzedDataProvider, dim: int) -> np.ndarray:
    vector = np.array([fdp.ConsumeFloatInRange(-1.0, 1.0) for _ in range(dim)], np.float32)
    norm = float(np.linalg.norm(vector))
    if not norm > 1e-3:
        vector = np.eye(dim, dtype=np.float32)[0]
        norm = 1.0
    return (vector / norm).astype(np.float32)


def _entry(fdp: atheris.FuzzedDataProvider, emb: np.ndarray) -> tuple[bytes, list[bytes | None]]:
    run_id = "".join(c for c in text(fdp, 16) if c != ":")[:64] or "r"
    member = f"{run_id}:{fdp.ConsumeIntInRange(0, 10**18 - 1)}".encode("utf-8", "replace")
    box = np.array([fdp.ConsumeFloatInRange(-1e4, 1e4) for _ in range(4)], np.float32)
    ended_at = repr(fdp.ConsumeFloatInRange(0.0, 1e9)).encode()
    return member, [emb.tobytes(), box.tobytes(), ended_at, ENCODER.encode()]


def _with_defect(fdp: atheris.FuzzedDataProvider, defect: str, member: bytes, row: list[Any]) -> bytes:
    if defect == "emb size":
        row[0] = row[0][: fdp.ConsumeIntInRange(0, len(row[0]) - 1)] if fdp.ConsumeBool() else row[0] + b"\0\0\0\0"
    elif defect == "box size":
        row[1] = row[1][:-4] if fdp.ConsumeBool() else row[1] + fdp.ConsumeBytes(4) + b"\0"
    elif defect == "emb nan":
        emb = np.frombuffer(row[0], np.float32).copy()
        emb[fdp.ConsumeIntInRange(0, len(emb) - 1)] = pick(fdp, [np.nan, np.inf, -np.inf])
        row[0] = emb.tobytes()
    elif defect == "emb not unit":
        row[0] = (np.frombuffer(row[0], np.float32) * pick(fdp, [0.0, 0.5, 1.01, 3e38])).astype(np.float32).tobytes()
    elif defect == "box inf":
        box = np.frombuffer(row[1], np.float32).copy()
        box[fdp.ConsumeIntInRange(0, 3)] = pick(fdp, [np.nan, np.inf])
        row[1] = box.tobytes()
    elif defect == "ended_at":
        row[2] = pick(
            fdp, [b"nan", b"inf", b"-inf", b"1e999", b"", b"1_0x", b"\xff", text(fdp).encode("utf-8", "replace") + b"x"]
        )
    else:
        member = pick(
            fdp, [b"", b"r", b"r:", b":1", b"a:b:1", b"r:" + b"9" * 19, b"x" * 65 + b":1", b"\xff:1", b"r:1\n"]
        )
    return member


def _identity(member: bytes) -> tuple[str, int] | None:
    """(run id, track id) of an index member written as `remember` writes them, None for any other."""
    try:
        found = re.fullmatch(r"([^:]{1,64}):([0-9]{1,18})", member.decode())
    except UnicodeDecodeError:
        return None
    return (found[1], int(found[2])) if found else None


def _match(query: np.ndarray, members: list[bytes], rows: list[list[bytes | None]]) -> tuple[ReidCache, Any]:
    """`match` over the entries, and the properties every answer has."""
    cache = ReidCache(FakeRedis(), "cam", encoder_name=ENCODER, run_id="run")
    FakeRedis.members, FakeRedis.rows = members, rows
    result = cache.match(query, now_s=1e9)
    assert cache.stats.malformed <= len(rows), cache.stats
    if result is not None:
        # an entry is accepted as unit length within 1e-3, so the cosine can exceed 1 by as much
        assert math.isfinite(result.similarity) and cache.min_similarity <= result.similarity <= 1.001 + 1e-6, result
        assert result.similarity - result.runner_up >= cache.min_margin, result
        assert result.last_box.shape == (4,) and np.isfinite(result.last_box).all(), result
        assert math.isfinite(result.ended_at_s), result
        assert (result.run_id, result.track_id) in map(_identity, members), (result, members)
    return cache, result


def _as_bytes(value: Any) -> bytes | None:
    """A JSON value as a hash field: null is a missing field, a list of numbers float32 bytes, a string its
    UTF-8 (\\udcXX escapes standing for bytes that are not UTF-8)."""
    if value is None:
        return None
    if isinstance(value, list):
        return np.asarray(value, np.float64).astype(np.float32).tobytes()
    return str(value).encode("utf-8", "surrogateescape")


def raw(data: bytes) -> None:
    """`{"query": [...], "entries": [{"member", "emb", "box", "ended_at", "enc"}, ...]}` as JSON."""
    try:
        document = json.loads(as_text(data))
        query = np.asarray(document["query"], np.float32)
        if query.ndim != 1 or not 1 <= len(query) <= 64:
            return  # the caller's own embedding, not Redis data: always one vector
        entries = [
            (_as_bytes(e["member"]), [_as_bytes(e.get(k)) for k in ("emb", "box", "ended_at", "enc")])
            for e in document["entries"]
        ]
    except (ValueError, RecursionError, TypeError, KeyError, OverflowError, UnicodeEncodeError):
        return  # not a document of this shape: nothing Redis could answer
    members = [member if member is not None else b"" for member, _ in entries]
    _match(query, members, [row for _, row in entries])


def drawn(fdp: atheris.FuzzedDataProvider) -> None:
    dim = pick(fdp, [4, 8, 16])
    query = _unit(fdp, dim)
    members: list[bytes] = []
    rows: list[list[bytes | None]] = []
    defects = twins = 0  # twins: intact entries with the query's own embedding
    free = False  # entries that may be intact and compete with a twin: other embeddings, raw bytes
    for _ in range(fdp.ConsumeIntInRange(0, 8)):
        kind = fdp.ConsumeIntInRange(0, 11)
        member, row = _entry(fdp, query if kind == 0 else _unit(fdp, dim))
        twins += kind == 0
        if kind == 1:
            free = True
        elif 2 <= kind < 2 + len(_DEFECTS):
            member = _with_defect(fdp, _DEFECTS[kind - 2], member, row)
            defects += 1
        elif kind == 9:
            row[fdp.ConsumeIntInRange(0, 2)] = None  # the hash expired, its index member not yet
        elif kind == 10:
            row[3] = pick(fdp, [None, b"other", b""])
        elif kind == 11:
            free = True
            member = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 24))
            row = [
                fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4 * dim + 1)) if fdp.ConsumeBool() else None for _ in range(4)
            ]
        members.append(member)
        rows.append(row)
    cache, result = _match(query, members, rows)
    if not free:
        assert cache.stats.malformed == defects, (cache.stats, defects)
        assert result is not None or twins != 1, "an intact entry equal to the query, with no rival, did not link"


if __name__ == "__main__":
    fuzz(raw, drawn)
