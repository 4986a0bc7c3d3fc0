"""Fuzz the journal's reader: `journal_format.scan_segment` over a segment's bytes, and `Journal` reading the
same bytes from disk as a segment an earlier process left behind (after a crash, or on a damaged disk).

A segment is drawn as pieces: intact records of known batches, records with any payload under a valid crc32
(not JSON, not a list, nested past the recursion limit), damaged records (a flipped byte, a torn tail) and
raw garbage. Properties:
* records and damaged stretches tile the segment in order, every record is an intact frame whose payload is
  a JSON list, and a damaged stretch is never followed by another (reading resynchronises on the first intact
  record after it);
* an intact record of a known batch is found wherever no magic precedes it since the last record: at the
  start of garbage, after garbage, after another record;
* every item of a record decodes as a storage record or raises ValueError (`decode_record`, as replay does);
* `Journal` hands back exactly those batches, counts exactly those damaged stretches, and deletes the
  segment once all of it is committed.
"""

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import atheris

from tests.fuzz.targets._hostile import fuzz, value

with atheris.instrument_imports(
    include=[
        "footfall_worker.storage.journal_format",
        "footfall_worker.storage.journal",
        "footfall_worker.storage.records",
    ]
):
    from footfall_worker.storage.journal import Journal
    from footfall_worker.storage.journal_format import HEADER, MAGIC, encode_frame, json_dumps, scan_segment
    from footfall_worker.storage.records import decode_record

# A damaged stretch is logged as a warning: thousands of them a second would bury the fuzzer's own output.
logging.getLogger("footfall.storage").setLevel(logging.ERROR)
# Under $TMPDIR, which test_fuzz.py points at the test's own temporary directory (libFuzzer ends the process with
# exit(), so no cleanup of ours would run).
_DIRECTORY = Path(tempfile.mkdtemp(prefix="footfall-fuzz-journal-"))
_SEGMENT = _DIRECTORY / "segment-000000000001.ffj"


def _batch(fdp: atheris.FuzzedDataProvider) -> list[Any]:
    items = []
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        item = value(fdp)
        try:
            json_dumps(item).encode()
        except ValueError:  # an int too long to print, a lone surrogate: `Journal.append` refuses them
            item = None
        items.append(item)
    return items


def _payload(fdp: atheris.FuzzedDataProvider) -> bytes:
    """Any payload a crc32 vouches for: garbage, JSON that is not a list, or nesting deeper than Python recurses."""
    mode = fdp.ConsumeIntInRange(0, 3)
    if mode == 0:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
    if mode == 1:
        return b"[" * fdp.ConsumeIntInRange(1, 100_000) + fdp.ConsumeBytes(4)
    if mode == 2:
        return _json(fdp)
    return b"[" + b"1" * fdp.ConsumeIntInRange(1, 6000) + b"]"  # past int()'s 4300-digit limit


def _json(fdp: atheris.FuzzedDataProvider) -> bytes:
    item = value(fdp)
    try:
        return json_dumps(item).encode(errors="surrogatepass")
    except ValueError:
        return b"{}"


def _segment(fdp: atheris.FuzzedDataProvider) -> tuple[bytes, list[tuple[int, bytes, list[Any]]]]:
    """The segment and its intact records of known batches, as (offset, frame, items)."""
    data = bytearray()
    known: list[tuple[int, bytes, list[Any]]] = []
    for _ in range(fdp.ConsumeIntInRange(0, 6)):
        kind = fdp.ConsumeIntInRange(0, 5)
        if kind <= 1:
            items = _batch(fdp)
            frame = encode_frame(json_dumps(items).encode())
            known.append((len(data), frame, items))
        elif kind == 2:
            frame = encode_frame(_payload(fdp))
        elif kind == 3:  # a damaged record: a flipped byte, or torn anywhere
            frame = bytearray(encode_frame(json_dumps(_batch(fdp)).encode()))
            if fdp.ConsumeBool():
                frame[fdp.ConsumeIntInRange(0, len(frame) - 1)] ^= 1 << fdp.ConsumeIntInRange(0, 7)
            else:
                del frame[fdp.ConsumeIntInRange(0, len(frame) - 1) :]
            frame = bytes(frame)
        elif kind == 4:  # a header that promises more than there is, or too much
            frame = HEADER.pack(MAGIC, fdp.ConsumeIntInRange(0, 2**32 - 1), fdp.ConsumeIntInRange(0, 2**32 - 1))
        else:
            frame = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 128))
        data += frame
    return bytes(data), known


def _check_scan(
    data: bytes, known: list[tuple[int, bytes, list[Any]]]
) -> tuple[list[tuple[int, int, list[Any]]], list[tuple[int, int]]]:
    records, damaged = scan_segment(data)
    pieces = sorted([(o, e, True) for o, e, _ in records] + [(o, e, False) for o, e in damaged])
    position, previous_damaged = 0, False
    for offset, end, intact in pieces:
        assert offset == position and end > offset, ("records and damage must tile the segment", pieces)
        assert intact or not previous_damaged, ("two damaged stretches in a row: a missed resync", pieces)
        position, previous_damaged = end, not intact
    assert position == len(data), ("the segment is not covered to its end", pieces, len(data))
    for offset, end, items in records:
        payload = data[offset + HEADER.size : end]
        assert data[offset:end] == encode_frame(payload), "a record that is not an intact frame"
        assert isinstance(items, list) and json_dumps(json.loads(payload)) == json_dumps(items)
        for item in items:
            try:
                decode_record(item)  # what replay does with each item: a ValueError is a poison row, set aside
            except ValueError:
                pass
    found = {(o, e): items for o, e, items in records}
    since = 0  # the end of the last record asserted: no magic between it and a known record means it is found
    for offset, frame, items in known:
        end = offset + len(frame)
        if data.find(MAGIC, since, offset) < 0:
            assert (offset, end) in found, ("an intact record was not found", offset, pieces)
            assert json_dumps(found[(offset, end)]) == json_dumps(items)
        if (offset, end) in found:
            since = end
    return records, damaged


def _check_journal(data: bytes, records: list[tuple[int, int, list[Any]]], damaged: int) -> None:
    _SEGMENT.write_bytes(data)
    journal = Journal(_DIRECTORY, fsync=False)
    journal.open()
    assert journal.pending_batches == len(records)
    assert journal.pending_rows == sum(len(items) for _, _, items in records)
    read = []
    while (batch := journal.peek()) is not None:
        read.append((batch.offset, batch.end))
        journal.commit(batch)
    assert read == [(o, e) for o, e, _ in records], (read, records)
    assert journal.damaged_records == damaged
    assert not _SEGMENT.exists(), "a fully committed segment is deleted"
    journal.close()


def _check(segment: bytes, known: list[tuple[int, bytes, list[Any]]]) -> None:
    records, damaged = _check_scan(segment, known)
    _check_journal(segment, records, len(damaged))


def raw(data: bytes) -> None:
    """A segment file's bytes as they are."""
    _check(data, [])


def drawn(fdp: atheris.FuzzedDataProvider) -> None:
    _check(*_segment(fdp))


if __name__ == "__main__":
    fuzz(raw, drawn)
