"""The journal's record format: one batch as `magic | length | crc32 | payload`, and how a segment's bytes are
read back despite a torn tail or a damaged record.

    magic b"FFJ1" | payload length (u32 big-endian) | crc32(payload) (u32 big-endian) | payload

The payload is the batch as compact UTF-8 JSON (a list of encoded records). Parsing is bounded: a length above
`MAX_PAYLOAD_BYTES` is damage, not a batch, and a damaged stretch costs only itself (reading resynchronises on
the next intact record).
"""

import json
import struct
import zlib
from typing import Any

MAGIC = b"FFJ1"
HEADER = struct.Struct(">4sII")  # magic, payload length, crc32 of the payload
MAX_PAYLOAD_BYTES = 256 * 1024 * 1024  # a length above this is damage, not a batch


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (e.g. in event payloads) as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: Any) -> str:
    """Compact JSON, numpy-tolerant.

    Raises:
        TypeError: a value JSON cannot hold.
    """
    return json.dumps(value, default=_plain, separators=(",", ":"), ensure_ascii=False)


def encode_frame(payload: bytes) -> bytes:
    """Header + payload of one journal record."""
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _decode_at(data: bytes, offset: int) -> tuple[list[Any], int] | None:
    """The intact record starting at `offset` (items, end offset), or None if there is none there."""
    if len(data) - offset < HEADER.size:
        return None
    magic, length, crc = HEADER.unpack_from(data, offset)
    start = offset + HEADER.size
    if magic != MAGIC or length > MAX_PAYLOAD_BYTES or start + length > len(data):
        return None
    payload = data[start : start + length]
    if zlib.crc32(payload) != crc:
        return None
    try:
        items = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python recurses is damage too
        return None
    if not isinstance(items, list):
        return None
    return items, start + length


def scan_segment(data: bytes) -> tuple[list[tuple[int, int, list[Any]]], list[tuple[int, int]]]:
    """Every intact record of a segment and every damaged stretch between them.

    Args:
        data: the segment's bytes.

    Returns:
        (records as (offset, end, items), damaged stretches as (offset, end)). A damaged stretch at the end is a
        torn tail; one in the middle is skipped by searching for the next magic that starts an intact record.
    """
    records: list[tuple[int, int, list[Any]]] = []
    damaged: list[tuple[int, int]] = []
    offset = 0
    while offset < len(data):
        decoded = _decode_at(data, offset)
        if decoded is not None:
            items, end = decoded
            records.append((offset, end, items))
            offset = end
            continue
        resume = offset + 1
        while True:
            resume = data.find(MAGIC, resume)
            if resume < 0 or _decode_at(data, resume) is not None:
                break
            resume += 1
        end = len(data) if resume < 0 else resume
        damaged.append((offset, end))
        offset = end
    return records, damaged
