"""Per-channel gallery of recently ended tracks in Redis, and the conservative rule that links a new track to one.

Layout (all keys of a channel under `footfall:{channel_id}:reid:`):

* `...:track:{track_id}`: a hash per ended track: `emb` (float32 bytes of the L2-normalised mean embedding),
  `box` (float32 bytes of the last box `x1, y1, x2, y2`), `ended_at` (seconds, the caller's clock), `enc`
  (the encoder name, so embeddings of different descriptors are never compared). Expires after `ttl_s`.
* `...:index`: a sorted set of track ids scored by `ended_at`, trimmed to the newest `max_entries`; it expires
  `ttl_s` after the last write, so an idle channel leaves nothing behind.

Redis is an optimisation here, not a dependency: when it is down or slow every call returns within the socket
timeouts (and, after a failure, immediately for `retry_after_s`), `match` answers None, `remember` counts a
skipped write, and no exception escapes. The counters are in `ReidCache.stats`.
"""

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import redis

# re-exported: `footfall_worker.reid.connect` predates the shared module
from footfall_worker.reid.appearance import mean_embedding
from footfall_worker.storage.redis_window import REDIS_FAILURES, RedisWindow

log = logging.getLogger(__name__)

# Chosen from `bench/reid_eval.py` on the committed clips for `ColorHistogramEncoder` (see its printout): the
# highest different-person similarity measured was 0.987 (two men dressed all in black), so 0.99 links nobody
# wrongly there, at the cost of missing many true returns. A learned ReID model needs its own measurement.
DEFAULT_MIN_SIMILARITY = 0.99
DEFAULT_MIN_MARGIN = 0.02
_MEMBER = re.compile(r"([^:]{1,64}):([0-9]{1,18})")  # `run_id:track_id`, as `member` writes it
_BOX_BYTES = 4 * 4
_NORM_TOLERANCE = 1e-3  # `remember` stores unit vectors in float32
_LOGGED_KEYS_MAX = 1000


@dataclass(frozen=True, slots=True)
class _Candidate:
    track_id: int
    run_id: str
    embedding: np.ndarray
    last_box: np.ndarray
    ended_at_s: float


@dataclass(frozen=True, slots=True)
class ReidMatch:
    """An earlier, ended track that a new track is taken to be.

    Attributes:
        track_id: the earlier track's id.
        run_id: the worker run it belongs to (track ids restart with every run).
        similarity: cosine similarity of the query and the earlier track's gallery embedding.
        runner_up: similarity of the second-best candidate (0 when there was none).
        ended_at_s: when the earlier track ended.
        last_box: float32 (4,) last box of the earlier track.
    """

    track_id: int
    run_id: str
    similarity: float
    runner_up: float
    ended_at_s: float
    last_box: np.ndarray


@dataclass(slots=True)
class ReidStats:
    """Counters for metrics and logs.

    Attributes:
        errors: Redis calls that failed (connection refused, timeout, protocol error).
        skipped_writes: `remember` calls that stored nothing because Redis failed or was being backed off.
        skipped_reads: `match` calls answered None without a lookup for the same reasons.
        stored: entries written.
        links: matches that passed the rule.
        ambiguous: best candidate above the threshold but rejected by the margin.
        malformed: entries skipped because they are not what `remember` writes (wrong sizes, NaN, bad ids).
    """

    errors: int = 0
    skipped_writes: int = 0
    skipped_reads: int = 0
    stored: int = 0
    links: int = 0
    ambiguous: int = 0
    malformed: int = 0


@dataclass
class ReidCache:
    """Gallery of one channel's recently ended tracks, and the linking rule.

    Linking rule (conservative: a wrong link merges two people and undercounts, a missed link only counts one
    person twice, which the footfall numbers tolerate better): the best candidate links only if

    1. its cosine similarity is >= `min_similarity`, AND
    2. it beats the second-best candidate by >= `min_margin` (two similar earlier tracks = ambiguous = no link).

    Only tracks that ended in `[now_s - ttl_s, now_s]` are candidates: pass the new track's first-seen time as
    `now_s`, so a track that was still alive while the new one existed (two different people) cannot match.
    An earlier track links at most once: call `forget` once it is linked.

    Args:
        client: a `redis.Redis` with short socket timeouts and retries off (`connect` makes one); a default
            redis-py client retries with backoff and takes seconds per call while Redis is down.
        channel_id: namespaces the keys; channels never see each other's entries.
        ttl_s: how long an ended track can be linked.
        max_entries: newest entries kept per channel.
        min_similarity, min_margin: the linking rule above.
        retry_after_s: after a Redis failure, calls skip Redis for this long instead of waiting on it again.
        encoder_name: stored with each entry; entries of another encoder are ignored by `match`.
        run_id: this worker run's id. Track ids restart at 1 with every run, so entries are keyed by run and
            id; a person leaving just before a restart can still be linked by the next run.
    """

    client: redis.Redis
    channel_id: str
    ttl_s: float = 600.0
    max_entries: int = 500
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    min_margin: float = DEFAULT_MIN_MARGIN
    retry_after_s: float = 2.0
    encoder_name: str = ""
    run_id: str = "0"
    stats: ReidStats = field(default_factory=ReidStats)
    _redis: RedisWindow = field(init=False, repr=False)
    _malformed_logged: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.ttl_s <= 0 or self.max_entries < 1:
            raise ValueError(f"ttl_s must be > 0 and max_entries >= 1, got {self.ttl_s}, {self.max_entries}")
        if not 0 <= self.min_margin <= 1:
            raise ValueError(f"min_margin must be in [0, 1], got {self.min_margin}")
        # A fixed pause, not a growing one: a missed link costs little, and ReID should resume with Redis.
        retry = self.retry_after_s
        self._redis = RedisWindow(
            self.client, "reid", self.channel_id, backoff_initial_s=retry, backoff_max_s=retry, logger=log
        )

    @property
    def prefix(self) -> str:
        return f"footfall:{self.channel_id}:reid:"

    @property
    def index_key(self) -> str:
        return self.prefix + "index"

    def member(self, track_id: int, run_id: str | None = None) -> str:
        return f"{self.run_id if run_id is None else run_id}:{int(track_id)}"

    def track_key(self, track_id: int, run_id: str | None = None) -> str:
        return f"{self.prefix}track:{self.member(track_id, run_id)}"

    def _track_key_of(self, member: bytes) -> bytes:
        """The hash of an index member as Redis returns it (bytes: a member written by anyone may not be UTF-8)."""
        return self.prefix.encode() + b"track:" + member

    def remember(self, track_id: int, embedding: np.ndarray, ended_at_s: float, last_box: np.ndarray) -> bool:
        """Store an ended track's gallery entry.

        Args:
            track_id: the ended track.
            embedding: (d,) or (k, d) embeddings sampled over the track; the normalised mean of the valid rows
                is stored.
            ended_at_s: when the track ended (the same clock as `match`'s `now_s`).
            last_box: its last box `x1, y1, x2, y2`.

        Returns:
            True when stored; False when there was no valid embedding or Redis failed (counted, never raised).
        """
        gallery = mean_embedding(embedding)
        if gallery is None:
            return False
        client = self._redis.client()
        if client is None:
            self.stats.skipped_writes += 1
            return False
        key = self.track_key(track_id)
        ttl_ms = max(1, int(self.ttl_s * 1000))
        try:
            pipe = client.pipeline(transaction=True)
            pipe.hset(
                key,
                mapping={
                    "emb": gallery.tobytes(),
                    "box": np.asarray(last_box, np.float32).reshape(4).tobytes(),
                    "ended_at": repr(float(ended_at_s)),
                    "enc": self.encoder_name,
                },
            )
            pipe.pexpire(key, ttl_ms)
            pipe.zadd(self.index_key, {self.member(track_id): float(ended_at_s)})
            pipe.zremrangebyscore(self.index_key, "-inf", f"({float(ended_at_s) - self.ttl_s!r}")
            pipe.pexpire(self.index_key, ttl_ms)
            # everything older than the newest max_entries, evicted below (hash and index member together)
            pipe.zrange(self.index_key, 0, -(self.max_entries + 1))
            evicted = pipe.execute()[-1]
            if evicted:
                pipe = client.pipeline(transaction=True)
                pipe.delete(*(self._track_key_of(member) for member in evicted))
                pipe.zrem(self.index_key, *evicted)
                pipe.execute()
        except REDIS_FAILURES as error:
            self._failed("remember", error)
            self.stats.skipped_writes += 1
            return False
        self._redis.succeeded()
        self.stats.stored += 1
        return True

    def match(self, embedding: np.ndarray, now_s: float) -> ReidMatch | None:
        """The earlier track a new track is, if the linking rule accepts one.

        Args:
            embedding: (d,) or (k, d) embeddings of the new track (their normalised mean is the query).
            now_s: the new track's first-seen time, on the clock of `remember`'s `ended_at_s`.

        Returns:
            The match, or None: no valid query, no candidate, below threshold, ambiguous, or Redis failed.
        """
        query = mean_embedding(embedding)
        if query is None:
            return None
        client = self._redis.client()
        if client is None:
            self.stats.skipped_reads += 1
            return None
        try:
            members = client.zrangebyscore(
                self.index_key, float(now_s) - self.ttl_s, float(now_s), start=0, num=self.max_entries
            )
            if not members:
                self._redis.succeeded()
                return None
            pipe = client.pipeline(transaction=False)
            for member in members:
                pipe.hmget(self._track_key_of(member), "emb", "box", "ended_at", "enc")
            rows = pipe.execute()
        except REDIS_FAILURES as error:
            self._failed("match", error)
            self.stats.skipped_reads += 1
            return None
        self._redis.succeeded()
        return self._decide(query, members, rows)

    def forget(self, track_id: int, run_id: str | None = None) -> bool:
        """Remove an entry (after it was linked, so it links at most once). False when Redis failed."""
        client = self._redis.client()
        if client is None:
            return False
        try:
            pipe = client.pipeline(transaction=True)
            pipe.delete(self.track_key(track_id, run_id))
            pipe.zrem(self.index_key, self.member(track_id, run_id))
            pipe.execute()
        except REDIS_FAILURES as error:
            self._failed("forget", error)
            return False
        self._redis.succeeded()
        return True

    def _decide(self, query: np.ndarray, members: list[bytes], rows: list[list[bytes | None]]) -> ReidMatch | None:
        """Apply the linking rule to the fetched candidates."""
        candidates = [
            candidate
            for member, row in zip(members, rows, strict=True)
            if (candidate := self._candidate(member, row, query)) is not None
        ]
        if not candidates:
            return None
        similarities = np.stack([c.embedding for c in candidates]) @ query
        order = np.argsort(similarities)[::-1]
        best = candidates[int(order[0])]
        runner_up = float(similarities[order[1]]) if len(order) > 1 else 0.0
        similarity = float(similarities[order[0]])
        if similarity < self.min_similarity:
            return None
        if similarity - runner_up < self.min_margin:
            self.stats.ambiguous += 1
            return None
        self.stats.links += 1
        return ReidMatch(best.track_id, best.run_id, similarity, runner_up, best.ended_at_s, best.last_box)

    def _candidate(self, member: bytes, row: list[bytes | None], query: np.ndarray) -> "_Candidate | None":
        """One gallery entry, or None when it cannot be compared: expired, another descriptor's, or malformed
        (any pod that reaches Redis can write these keys: a bad entry is counted and skipped, never raised)."""
        emb, box, ended_at, enc = row
        if emb is None or box is None or ended_at is None:
            return None  # expired hash still indexed
        if enc is None or enc != self.encoder_name.encode():
            return None
        try:
            run_id, track_id = _MEMBER.fullmatch(member.decode()).groups()  # type: ignore[union-attr]
            ended_at_s = float(ended_at)
        except (AttributeError, UnicodeDecodeError, ValueError):
            return self._malformed(member, "member or ended_at")
        if len(emb) != query.nbytes or len(box) != _BOX_BYTES or not np.isfinite(ended_at_s):
            return self._malformed(member, "embedding, box or ended_at size")
        vector = np.frombuffer(emb, np.float32)
        last_box = np.frombuffer(box, np.float32).copy()
        with np.errstate(over="ignore", invalid="ignore"):  # any bytes: the norm of garbage may overflow
            norm = float(np.linalg.norm(vector))
        if not (np.isfinite(norm) and abs(norm - 1.0) < _NORM_TOLERANCE and np.isfinite(last_box).all()):
            return self._malformed(member, "embedding not unit length, or a box not finite")
        return _Candidate(int(track_id), run_id, vector, last_box, ended_at_s)

    def _malformed(self, member: bytes, what: str) -> None:
        self.stats.malformed += 1
        key = self.prefix + "track:" + member.decode(errors="replace")
        if len(self._malformed_logged) < _LOGGED_KEYS_MAX and key not in self._malformed_logged:
            self._malformed_logged.add(key)
            log.warning("malformed ReID entry skipped", extra={"key": key[:200], "problem": what})
        return None

    def _failed(self, operation: str, error: Exception) -> None:
        self.stats.errors += 1
        self._redis.failed(operation, error)
