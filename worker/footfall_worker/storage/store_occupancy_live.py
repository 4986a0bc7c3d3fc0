"""The store's people inside now, in Redis: every entrance worker of the store adds its crossings to one count, by
the rules of the record's reconciliation (`analytics.store_occupancy`): never below zero (an exit that finds
nobody inside is `clamped`), reset when the business day ends (at closing time), and a crossing its partner
camera made in the same direction within the pair's window counted once.

One Lua script does each step atomically, so two workers crossing at once never lose an update. The first step
in a new business day (a crossing, or the workers' periodic `tick` once closing time has passed) closes the
previous day and hands its totals back: the worker that closed it records them (`occupancy_day` event), so
each day's corrections are in PostgreSQL exactly once. Redis is a window (`redis_window.py`): while it is down
nothing here blocks or raises; those crossings are missing from the live count (counted in `skipped`) and the
reset at closing puts it right.

The keys of a store live under `footfall:store:{store_id}:`; the script names a partner's key itself (a
single Redis, not a cluster).
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from footfall_contract.config.geometry import PartnerChannel
from footfall_contract.config.store_hours import BusinessDay
from footfall_worker.storage.redis_window import REDIS_FAILURES, ClientSource, RedisWindow

log = logging.getLogger("footfall.store")

KEY_TTL_S = 3 * 86_400  # a store's keys outlive a closed weekend
_FIELDS = ("entries", "exits", "duplicates", "clamped", "inside", "peak")

# KEYS: the store's count (hash), its partner map (hash).
# ARGV: business day, op (in | out | tick), t, channel, partner ("" for none), window_s, member, ttl_s, prefix.
# Returns {status, inside, closed...}: status 1 counted, 2 a partner's duplicate, 3 a crossing of a day already
# closed (ignored), 0 a tick; `closed` the previous day's hash (field, value, ...) when this call closed it.
_SCRIPT = """
local count, partners = KEYS[1], KEYS[2]
local day, op, t, channel = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local partner, window, member, ttl, prefix = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9]
local current = redis.call('HGET', count, 'day')
if current and current > day then
  return {3, redis.call('HGET', count, 'inside'), {}}
end
local closed = {}
if current ~= day then
  if current then closed = redis.call('HGETALL', count) end
  redis.call('DEL', count)
  redis.call('HSET', count, 'day', day, 'inside', 0, 'entries', 0, 'exits', 0, 'duplicates', 0, 'clamped', 0,
             'peak', 0)
end
redis.call('EXPIRE', count, ttl)
if partner ~= '' then
  redis.call('HSET', partners, channel, partner .. '|' .. window, partner, channel .. '|' .. window)
  redis.call('EXPIRE', partners, ttl)
end
if op == 'tick' then
  return {0, redis.call('HGET', count, 'inside'), closed}
end
local pair = redis.call('HGET', partners, channel)
if pair then
  local sep = string.find(pair, '|', 1, true)
  local theirs = prefix .. 'recent:' .. string.sub(pair, 1, sep - 1) .. ':' .. op
  local w = tonumber(string.sub(pair, sep + 1))
  local match = redis.call('ZRANGEBYSCORE', theirs, t - w, t + w, 'LIMIT', 0, 1)
  if #match > 0 then
    redis.call('ZREM', theirs, match[1])
    redis.call('HINCRBY', count, 'duplicates', 1)
    return {2, redis.call('HGET', count, 'inside'), closed}
  end
end
local mine = prefix .. 'recent:' .. channel .. ':' .. op
redis.call('ZADD', mine, t, member)
redis.call('ZREMRANGEBYSCORE', mine, '-inf', t - 60)
redis.call('EXPIRE', mine, 120)
local inside = tonumber(redis.call('HGET', count, 'inside'))
if op == 'in' then
  inside = redis.call('HINCRBY', count, 'inside', 1)
  redis.call('HINCRBY', count, 'entries', 1)
  if inside > tonumber(redis.call('HGET', count, 'peak')) then redis.call('HSET', count, 'peak', inside) end
else
  redis.call('HINCRBY', count, 'exits', 1)
  if inside > 0 then inside = redis.call('HINCRBY', count, 'inside', -1)
  else redis.call('HINCRBY', count, 'clamped', 1) end
end
return {1, inside, closed}
"""


@dataclass(frozen=True, slots=True)
class ClosedDay:
    """A business day of the store as the live count ended it."""

    day: date
    entries: int
    exits: int
    duplicates: int
    clamped: int
    residual: int  # people still counted inside at closing, reset to 0
    peak: int

    def payload(self, store_id: str) -> dict[str, object]:
        """The `occupancy_day` event's payload (`store_occupancy_days` reads it)."""
        return {
            "store": store_id,
            "day": self.day.isoformat(),
            "entries": self.entries,
            "exits": self.exits,
            "duplicates": self.duplicates,
            "clamped": self.clamped,
            "residual": self.residual,
            "peak": self.peak,
        }


@dataclass(slots=True)
class LiveStoreStats:
    counted: int = 0
    duplicates: int = 0
    late: int = 0  # crossings of a business day the count had already closed
    skipped: int = 0  # steps not taken: Redis down or backed off
    malformed: int = 0  # a closed day's totals not what the script writes (logged)


class LiveStoreOccupancy:
    """One worker's share of its store's live count (meant for the channel's processing thread).

    Args:
        client: a Redis client with short timeouts, or a factory of them (see `RedisWindow`).
        store_id: the store; channel_id: this worker's channel.
        days: the store's business day of an instant (`business_day` with its zone and opening hours).
        partner: the camera watching the same door as this one, if any.
    """

    def __init__(
        self,
        client: ClientSource,
        store_id: str,
        channel_id: str,
        days: Callable[[datetime], BusinessDay],
        partner: PartnerChannel | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = RedisWindow(client, "store occupancy", channel_id, monotonic=monotonic, logger=log)
        self.store_id = store_id
        self.channel_id = channel_id
        self._days = days
        self._partner = partner
        self._prefix = f"footfall:store:{store_id}:"
        self.inside: int | None = None  # the store's people inside as of the last step that reached Redis
        self.stats = LiveStoreStats()

    @property
    def key(self) -> str:
        return self._prefix + "occupancy"

    def crossing(self, t: float, direction: str) -> ClosedDay | None:
        """Count a crossing ("in" or "out") at wall time `t`; the previous business day when this closed it."""
        return self._step(t, direction)

    def tick(self, t: float) -> ClosedDay | None:
        """Close the business day once it has ended, though nobody crossed since (called every few seconds)."""
        return self._step(t, "tick")

    def _step(self, t: float, op: str) -> ClosedDay | None:
        client = self._redis.client()
        if client is None:
            self.stats.skipped += op != "tick"
            return None
        day = self._days(datetime.fromtimestamp(t, UTC)).day
        partner = self._partner
        args = [day.isoformat(), op, repr(float(t)), self.channel_id, partner.channel if partner else ""]
        args += [repr(partner.window_s) if partner else "0", uuid.uuid4().hex, KEY_TTL_S, self._prefix]
        try:
            status, inside, closed = client.eval(_SCRIPT, 2, self.key, self._prefix + "partners", *args)
        except REDIS_FAILURES as error:
            self.stats.skipped += op != "tick"
            self._redis.failed(op, error)
            return None
        self._redis.succeeded()
        self.inside = int(inside)
        self.stats.counted += status == 1
        self.stats.duplicates += status == 2
        self.stats.late += status == 3
        return self._closed_day(closed) if closed else None

    def _closed_day(self, flat: list[bytes]) -> ClosedDay | None:
        values = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat) - 1, 2)}
        try:
            counts = {name: int(values[name]) for name in _FIELDS}
            return ClosedDay(
                date.fromisoformat(values["day"]),
                counts["entries"],
                counts["exits"],
                counts["duplicates"],
                counts["clamped"],
                counts["inside"],
                counts["peak"],
            )
        except (KeyError, ValueError):
            self.stats.malformed += 1
            log.warning("a closed store day is not what the script writes", extra={"store": self.store_id})
            return None

    def close(self) -> None:
        self._redis.close()
