"""Fuzz `footfall_contract.heartbeat.decode_live`: a channel's live hash as the operator reads it from Redis,
which any pod on the network can write.

Properties:
* only `MalformedLive` escapes, its message bounded and free of a password planted in any value;
* what is decoded has the promised types and bounds: known fields only, finite floats, integers of at most 19
  digits, at most 1 000 track ids, zone counts by names of at most 64 characters, and free text that is
  printable, at most 300 characters and free of the planted password;
* a hash `encode_live` wrote decodes to the snapshot it was written from.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import atheris

from tests.fuzz.targets._hostile import as_text, fuzz, pick, text
from tests.fuzz.targets._secrets import leaked, planted

with atheris.instrument_imports(include=["footfall_contract.heartbeat", "footfall_contract.config.masking"]):
    from footfall_contract.counters import COUNTER_NAMES, ChannelCounters
    from footfall_contract.heartbeat import LiveSnapshot, MalformedLive, decode_live, encode_live

_FLOATS = ("fps", "latency_p50_ms", "latency_p95_ms", "last_frame_ts", "heartbeat_ts")
_INTS = ("people_now", "skip_every", *COUNTER_NAMES)
_KNOWN = frozenset({f.name for f in fields(LiveSnapshot)} - {"counters"} | {"heartbeat_ts", *COUNTER_NAMES})
_NAMES = sorted(_KNOWN) + ["unknown_field", ""]
_MAX_MESSAGE_CHARS = 400  # the field name, what was expected and at most 80 characters of the value, masked


def _raw_value(fdp: atheris.FuzzedDataProvider, name: str) -> str | bytes:
    """A value as it may sit in the hash: a plausible one for its field, hostile text, or bytes (not UTF-8)."""
    mode = fdp.ConsumeIntInRange(0, 6)
    if mode == 0:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 32))
    if mode == 1:
        return text(fdp)
    if mode == 2 and name == "active_track_ids":
        return ",".join(str(fdp.ConsumeInt(8)) for _ in range(fdp.ConsumeIntInRange(0, 1100)))
    if mode == 2 and name == "zone_occupancy":
        return "{" + ",".join(f'"{text(fdp, 8)}": {fdp.ConsumeInt(4)}' for _ in range(3)) + "}"
    if mode == 3:
        return pick(fdp, ["", "nan", "inf", "-1e400", "1e308", "0x10", "1_000", "12345678901234567890", "true"])
    if mode == 4:
        return repr(fdp.ConsumeFloat()) if name in _FLOATS else str(fdp.ConsumeInt(9))
    return text(fdp) if fdp.ConsumeBool() else text(fdp).encode("utf-8", "surrogatepass")


def _check_decoded(decoded: dict[str, Any], secret: str | None, elsewhere: str) -> None:
    assert set(decoded) <= _KNOWN, set(decoded) - _KNOWN
    for name, value in decoded.items():
        if name in _FLOATS:
            assert value is None or (type(value) is float and math.isfinite(value)), (name, value)
        elif name in _INTS:
            assert type(value) is int and abs(value) < 10**19, (name, value)
        elif name == "active_track_ids":
            assert type(value) is tuple and len(value) <= 1000 and all(type(v) is int for v in value)
        elif name == "zone_occupancy":
            assert all(type(k) is str and len(k) <= 64 and type(v) is int for k, v in value.items()), value
        elif name == "triton_ok":
            assert value in (None, True, False), value
        else:
            assert value is None or (type(value) is str and value.isprintable() and len(value) <= 300), (name, value)
            if secret is not None and value is not None:
                assert not leaked(secret, value, elsewhere), f"password {secret!r} decoded in {name}: {value!r}"


def _round_trip(fdp: atheris.FuzzedDataProvider) -> None:
    """A snapshot of plain values survives encode_live -> decode_live unchanged."""
    snapshot = LiveSnapshot(
        state=pick(fdp, ["streaming", "stalled", "backoff", "stopped"]),
        fps=fdp.ConsumeRegularFloat(),
        latency_p50_ms=pick(fdp, [None, fdp.ConsumeRegularFloat()]),
        people_now=fdp.ConsumeIntInRange(0, 10_000),
        active_track_ids=tuple(fdp.ConsumeIntInRange(0, 2**62) for _ in range(fdp.ConsumeIntInRange(0, 50))),
        counters=ChannelCounters(frames_read=fdp.ConsumeIntInRange(0, 2**62), entries=fdp.ConsumeIntInRange(0, 9)),
        last_frame_ts=pick(fdp, [None, fdp.ConsumeRegularFloat()]),
        skip_every=fdp.ConsumeIntInRange(1, 30),
        zone_occupancy={f"zone_{i}": fdp.ConsumeIntInRange(0, 99) for i in range(fdp.ConsumeIntInRange(0, 4))},
        triton_ok=pick(fdp, [None, True, False]),
    )
    heartbeat = fdp.ConsumeRegularFloat()
    decoded = decode_live(encode_live(snapshot, heartbeat))
    assert decoded.pop("heartbeat_ts") == heartbeat
    assert LiveSnapshot.from_decoded(decoded) == snapshot, (decoded, snapshot)


def _check(raw: Mapping[str | bytes, str | bytes], secret: str | None = None, elsewhere: str = "") -> None:
    try:
        decoded = decode_live(raw)
    except MalformedLive as error:
        message = str(error)
        assert len(message) <= _MAX_MESSAGE_CHARS, message[:500]
        if secret is not None:
            assert not leaked(secret, message, elsewhere), f"password {secret!r} shown in {message!r}"
        return
    _check_decoded(decoded, secret, elsewhere)


def raw(data: bytes) -> None:
    """A hash as a JSON object (HGETALL's field -> value), values of other types as their JSON text."""
    try:
        document = json.loads(as_text(data))
        if not isinstance(document, dict):
            return
        hash_ = {key: v if isinstance(v, str) else json.dumps(v) for key, v in document.items()}
    except (ValueError, RecursionError):
        return  # not JSON this harness can hold as a hash
    _check(hash_)


def drawn(fdp: atheris.FuzzedDataProvider) -> None:
    if fdp.ConsumeIntInRange(0, 3) == 0:
        _round_trip(fdp)
        return
    hash_: dict[str | bytes, str | bytes] = {}
    for _ in range(fdp.ConsumeIntInRange(0, 70)):
        name = pick(fdp, _NAMES)
        hash_[name if fdp.ConsumeBool() else name.encode()] = _raw_value(fdp, name)
    if not fdp.ConsumeBool():
        _check(hash_)
        return
    # a prefix of any length, so the password may sit where a message cuts the value (at 80 characters)
    text_with_secret, secret = planted(fdp)
    name = pick(fdp, _NAMES)
    hash_.pop(name, None)
    hash_.pop(name.encode(), None)
    elsewhere = "\x00".join(str(v) for v in hash_.values())
    hash_[name] = "x" * fdp.ConsumeIntInRange(0, 90) + text_with_secret
    _check(hash_, secret, elsewhere)


if __name__ == "__main__":
    fuzz(raw, drawn)
