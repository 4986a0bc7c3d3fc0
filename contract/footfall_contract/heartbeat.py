"""The live state's shape in Redis: the keys, the heartbeat hash's fields and their encoding, and the channel set.

The worker writes it (`footfall_worker.storage.live_state.LiveState`), the operator reads it into each
CameraChannel's status; both import it from here, so neither guesses the other's field names.

Layout:

* `footfall:{channel_id}:live`: a hash, rewritten whole by every `LiveState.publish` and expiring `ttl_s` after
  it, so a channel whose worker died disappears by itself. Fields (all strings; `""` = none): `state`, `fps`,
  `latency_p50_ms`, `latency_p95_ms`, `people_now`, `active_track_ids` (comma list, e.g. `3,7,12`),
  `last_frame_ts`, `heartbeat_ts` (wall clock of the publish), `skip_every`, `last_error_kind`,
  `last_error_message`, every `ChannelCounters` field as an integer (`frames_read`, `frames_skipped`,
  `frames_processed`, `frames_dropped`, `frames_failed`, `reconnects`, `tracks_started`, and the store
  analytics' `entries` and `exits`: people counted in and out since the worker started, summed over the
  channel's lines), `zone_occupancy` (JSON text, e.g. `{"queue": 2}`; `""` when the channel has no zones), and
  detection: `triton_url`, `triton_ok` (`true` while Triton answers, `false` while it fails, `""` before the
  first verdict) and `triton_error` (why it fails, masked, at most 300 characters). `decode_live` reads it
  back as flat typed values.
* `footfall:{channel_id}:events`: a stream of events (`track_started`, `track_ended`, `line_crossing`,
  `zone_enter`, `zone_exit`; the analytics ones carry their payload's fields: line, direction, gender, zone,
  dwell_s), trimmed with
  `XADD MAXLEN ~ events_maxlen` and expiring `events_ttl_s` after the last event.
* `footfall:channels`: the set of channels with a worker, so the operator can list them: every publish adds the
  channel, a clean shutdown removes it (`LiveState.unregister`). A channel is alive while its `live` hash exists:
  a member without one (its worker was killed) counts as gone (`live_channels`), and `prune_channels`, run by
  the operator every round, removes such members (only those, atomically: never one that is publishing).
"""

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import redis

from footfall_contract.config.masking import mask_credentials
from footfall_contract.counters import COUNTER_NAMES, ChannelCounters, flat_dict

CHANNELS_KEY = "footfall:channels"


def live_key(channel_id: str) -> str:
    return f"footfall:{channel_id}:live"


def events_key(channel_id: str) -> str:
    return f"footfall:{channel_id}:events"


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """What a channel is doing right now, as `LiveState.publish` writes it (plain, credential-free values).

    Attributes:
        state: the stream state (`StreamState` value: streaming, stalled, backoff, ...).
        fps: frames decoded per second.
        latency_p50_ms: median frame-to-result latency, None when not measured yet.
        latency_p95_ms: 95th percentile of it, None when not measured yet.
        people_now: people tracked in the current frame.
        active_track_ids: their track ids.
        counters: the channel's counts since the worker started (written as one hash field each).
        last_frame_ts: wall clock of the last decoded frame, None before the first.
        skip_every: every N-th frame is processed.
        last_error_kind: `ErrorKind` value of the last stream error, None when there was none.
        last_error_message: its message (masked again on write, whatever the caller did).
        zone_occupancy: people in each zone now (written as JSON text, `""` when empty: no zones).
        triton_url: the Triton the worker detects with.
        triton_ok: True while detection works, False while Triton fails, None before the first verdict.
        triton_error: why detection fails (masked, cut to 300 characters on write), None while it works.
    """

    state: str
    fps: float = 0.0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    people_now: int = 0
    active_track_ids: tuple[int, ...] = ()
    counters: ChannelCounters = ChannelCounters()
    last_frame_ts: float | None = None
    skip_every: int = 1
    last_error_kind: str | None = None
    last_error_message: str | None = None
    zone_occupancy: dict[str, int] = field(default_factory=dict)
    triton_url: str | None = None
    triton_ok: bool | None = None
    triton_error: str | None = None

    @classmethod
    def from_decoded(cls, decoded: Mapping[str, Any]) -> "LiveSnapshot":
        """The snapshot of `decode_live`'s flat values (`heartbeat_ts` and unknown fields ignored)."""
        known = {f.name for f in fields(cls)}
        counters = ChannelCounters(**{name: decoded[name] for name in COUNTER_NAMES if name in decoded})
        return cls(**{name: value for name, value in decoded.items() if name in known}, counters=counters)


_INT_FIELDS = frozenset({"people_now", "skip_every", *COUNTER_NAMES})
_BOOL_FIELDS = frozenset({"triton_ok"})
_TEXT_LIMITS = {"triton_error": 300}  # applied after masking: a cut must not leave half a credential unmasked
_FLOAT_FIELDS = frozenset({"fps", "latency_p50_ms", "latency_p95_ms", "last_frame_ts", "heartbeat_ts"})
_OPTIONAL_FIELDS = frozenset({f.name for f in fields(LiveSnapshot) if f.default is None} | {"heartbeat_ts"})
_KNOWN_FIELDS = frozenset(
    {f.name for f in fields(LiveSnapshot) if f.name != "counters"} | {"heartbeat_ts", *COUNTER_NAMES}
)
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def encode_live(snapshot: LiveSnapshot, heartbeat_ts: float) -> dict[str, str]:
    encoded: dict[str, str] = {}
    for name, value in {**flat_dict(snapshot), "heartbeat_ts": heartbeat_ts}.items():
        if value is None:
            # every field is always written, so a cleared error or latency never lingers from an older publish
            encoded[name] = ""
        elif name == "active_track_ids":
            encoded[name] = ",".join(str(int(track_id)) for track_id in value)
        elif name == "zone_occupancy":
            encoded[name] = json.dumps({str(k): int(v) for k, v in value.items()}, sort_keys=True) if value else ""
        elif name in _BOOL_FIELDS:
            encoded[name] = "true" if value else "false"
        elif name in _FLOAT_FIELDS:
            encoded[name] = repr(float(value))
        elif name in _INT_FIELDS:
            encoded[name] = str(int(value))
        else:
            encoded[name] = mask_credentials(str(value))[: _TEXT_LIMITS.get(name)]
    return encoded


class MalformedLive(ValueError):
    """A live hash that is not what `encode_live` writes: which field, and what was expected.

    Redis is writable by any pod that reaches it, so a reader treats the hash as hostile input: one bad hash is
    this error (the reader skips that channel and counts it), never a crash of the round that reads them all.
    """

    def __init__(self, field_name: str, expected: str, value: object) -> None:
        shown = mask_credentials(repr(value))[:80]  # masked before it is cut: a cut may split a `user:pass@`
        super().__init__(f"field {field_name!r}: expected {expected}, got {shown}")
        self.field_name = field_name


MAX_LIVE_FIELDS = 64
MAX_LIVE_VALUE_CHARS = 4096
MAX_ACTIVE_TRACK_IDS = 1000
MAX_TEXT_CHARS = 300


def decode_live(raw: Mapping[bytes | str, bytes | str]) -> dict[str, Any]:
    """A `live` hash as Redis returns it, back to flat typed values: `LiveSnapshot`'s fields with the counters'
    fields in place of `counters`, plus `heartbeat_ts`. Unknown fields are skipped (a newer worker's).

    Raises:
        MalformedLive: too many fields, a value too long, not UTF-8, or not of its field's type (ints and finite
            floats where numbers belong, a comma list of at most 1 000 track ids, a JSON object of zone counts).
    """
    if len(raw) > MAX_LIVE_FIELDS:
        raise MalformedLive("*", f"at most {MAX_LIVE_FIELDS} fields", f"{len(raw)} fields")
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        name = _text(key, "field name")
        if name not in _KNOWN_FIELDS:
            continue
        text = _text(value, name)
        if len(text) > MAX_LIVE_VALUE_CHARS:
            raise MalformedLive(name, f"at most {MAX_LIVE_VALUE_CHARS} characters", f"{len(text)} characters")
        decoded[name] = _decode_field(name, text)
    return decoded


def _text(value: bytes | str, name: str) -> str:
    try:
        return value.decode() if isinstance(value, bytes) else value
    except UnicodeDecodeError:
        raise MalformedLive(name, "UTF-8 text", value) from None


def _decode_field(name: str, text: str) -> Any:
    if name == "active_track_ids":
        parts = [part for part in text.split(",") if part]
        if len(parts) > MAX_ACTIVE_TRACK_IDS or not all(_INTEGER.fullmatch(part) for part in parts):
            raise MalformedLive(name, f"a comma list of at most {MAX_ACTIVE_TRACK_IDS} track ids", text)
        return tuple(int(part) for part in parts)
    if name == "zone_occupancy":
        return _zone_counts(text) if text else {}
    if text == "" and name in _OPTIONAL_FIELDS:
        return None
    if name in _BOOL_FIELDS:
        if text not in ("true", "false"):
            raise MalformedLive(name, "true or false", text)
        return text == "true"
    if name in _FLOAT_FIELDS:
        try:
            number = float(text)
        except ValueError:
            raise MalformedLive(name, "a number", text) from None
        if not math.isfinite(number):  # NaN has no JSON form: the status patch would fail
            raise MalformedLive(name, "a finite number", text)
        return number
    if name in _INT_FIELDS:
        if not _INTEGER.fullmatch(text):
            raise MalformedLive(name, "an integer", text)
        return int(text)
    # free text ends up in a CameraChannel's status: masked, printable, short
    return "".join(c if c.isprintable() else " " for c in mask_credentials(text))[:MAX_TEXT_CHARS]


def _zone_counts(text: str) -> dict[str, int]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedLive("zone_occupancy", "a JSON object of zone counts", text) from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and len(k) <= 64 and type(v) is int for k, v in value.items()
    ):
        raise MalformedLive("zone_occupancy", "a JSON object of zone name (<= 64 chars) -> integer", text)
    return value


def list_channels(client: redis.Redis) -> list[str]:
    """The members of `footfall:channels`, sorted: alive ones and, until pruned, killed ones (see `live_channels`)."""
    return sorted(member.decode() if isinstance(member, bytes) else member for member in client.smembers(CHANNELS_KEY))


def live_channels(client: redis.Redis) -> list[str]:
    """The channels whose worker is publishing (a member whose `live` hash expired counts as gone), sorted."""
    members = list_channels(client)
    pipe = client.pipeline(transaction=False)
    for channel_id in members:
        pipe.exists(live_key(channel_id))
    return [channel_id for channel_id, alive in zip(members, pipe.execute(), strict=True) if alive]


# Atomic in Redis: a worker's publish (HSET + PEXPIRE + SADD in one MULTI) lands wholly before or after it, so a
# channel that is publishing is never removed. The key layout is `live_key`'s.
_PRUNE = """
local removed = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if redis.call('EXISTS', 'footfall:' .. member .. ':live') == 0 then
        redis.call('SREM', KEYS[1], member)
        table.insert(removed, member)
    end
end
return removed
"""


def prune_channels(client: redis.Redis) -> list[str]:
    """Remove from `footfall:channels` the members without a `live` hash (workers killed); returns them, sorted."""
    removed = client.eval(_PRUNE, 1, CHANNELS_KEY)
    return sorted(member.decode() if isinstance(member, bytes) else member for member in removed)
