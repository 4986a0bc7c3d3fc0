"""Leader election on a coordination.k8s.io/v1 Lease: two operator replicas, one active.

client-go's semantics (leaderelection.LeaseLock), which is what `kubectl get lease` readers and other operators
expect: the holder renews every `retry_period_s` (2 s); a candidate takes the Lease once the record it last saw
has not changed for the record's `leaseDurationSeconds` (15 s), timed on its own clock (never by comparing its
clock with the holder's `renewTime`, so skew between nodes does not matter); every write is an update guarded by
the resourceVersion, so two candidates cannot both win. A leader that has not renewed for `renew_deadline_s`
(10 s), or finds another holder, has lost: it exits at once and Kubernetes restarts it as a standby. The 5 s
between the two is the margin in which the old leader stops before anybody else may start. A leader that stops
cleanly (SIGTERM) releases the Lease (no holder, duration 1 s), so a rollout hands over in a second, not 15.

Why a Lease and not kopf's peering: peering needs a KopfPeering custom resource of its own in the chart, every
replica keeps watching every CameraChannel (the standby's watches and memory cost the same as the leader's),
a paused replica still runs in the same process as a resumed one (an exit is the simplest proof that a deposed
leader writes nothing more), and its liveness window is 60 s by default. A Lease is a built-in kind, readable by
anyone (`kubectl get lease`: the holder is the active pod's name), and the standby here blocks before `kopf.run`,
so it holds no watches at all: a GET of the Lease every 2 s (and its probe's API check, as on the leader).
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("footfall.operator.leader")
_NOT_FOUND = 404
_CONFLICT = 409  # also "already exists" on a create


@dataclass(frozen=True, slots=True)
class LeaseConfig:
    """Where the Lease is, who this replica is, and client-go's three durations (seconds)."""

    namespace: str
    name: str
    identity: str
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    @property
    def request_timeout_s(self) -> float:
        # One attempt must end well inside the renew deadline, so a hung call cannot outlive the leadership.
        return max(0.5, min(5.0, self.renew_deadline_s / 2))


def _micro_time(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One replica's side of the Lease: `acquire` blocks until it leads, `keep_renewing` holds it, `release`
    hands it back.

    Args:
        api_client: the operator's API client (its own credentials; RBAC: get, create, update on leases).
        config: the Lease and the timings.
        clock: monotonic seconds (the expiry of a record seen is timed on it).
        wall: wall-clock seconds (what is written into the record's times).
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        config: LeaseConfig,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._api = kubernetes.client.CoordinationV1Api(api_client)
        self.config = config
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._observed: dict[str, Any] | None = None  # the Lease's spec as last read
        self._observed_at = 0.0
        self._last_renewed = 0.0
        self._leading = False
        self.holder: str | None = None  # as last seen, for the probes and metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        with self._lock:
            return self._leading

    def standby_reason(self) -> str | None:
        """None while leading; else who holds the Lease (what /status and /readyz report)."""
        with self._lock:
            if self._leading:
                return None
            holder = self.holder or "nobody yet"
        return f"standby: Lease {self.config.namespace}/{self.config.name} is held by {holder}"

    def _read(self) -> dict[str, Any] | None:
        try:
            raw = self._api.read_namespaced_lease(
                self.config.name, self.config.namespace, _preload_content=False,
                _request_timeout=self.config.request_timeout_s,
            )  # fmt: skip
        except ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise
        return json.loads(raw.data)

    def _record(self, old: dict[str, Any] | None) -> dict[str, Any]:
        now = _micro_time(self._wall())
        old = old or {}
        same_holder = old.get("holderIdentity") == self.config.identity
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": max(1, round(self.config.lease_duration_s)),
            "acquireTime": old.get("acquireTime") if same_holder and old.get("acquireTime") else now,
            "renewTime": now,
            "leaseTransitions": int(old.get("leaseTransitions") or 0) + (0 if same_holder else 1),
        }

    def try_acquire_or_renew(self) -> bool:
        """One attempt (client-go's tryAcquireOrRenew): True when this replica holds the Lease afterwards."""
        timeout = self.config.request_timeout_s
        lease = self._read()
        now = self._clock()
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.config.name, "namespace": self.config.namespace},
                "spec": {**self._record(None), "leaseTransitions": 0},
            }
            try:
                self._api.create_namespaced_lease(self.config.namespace, body, _request_timeout=timeout)
            except ApiException as error:
                if error.status == _CONFLICT:
                    return False  # another candidate created it first; its record is read next attempt
                raise
            return self._won(body["spec"], now)
        spec = lease.get("spec") or {}
        if spec != self._observed:
            self._observed, self._observed_at = spec, now
        holder = spec.get("holderIdentity") or ""
        with self._lock:
            self.holder = holder or None
        duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration_s)
        if holder and holder != self.config.identity and now < self._observed_at + duration:
            return False
        record = self._record(spec)
        lease["spec"] = record
        try:
            self._api.replace_namespaced_lease(self.config.name, self.config.namespace, lease, _request_timeout=timeout)
        except ApiException as error:
            if error.status == _CONFLICT:
                return False  # someone wrote it since our read; they win this round
            raise
        return self._won(record, now)

    def _won(self, record: dict[str, Any], now: float) -> bool:
        with self._lock:
            first = not self._leading
            self._leading, self.holder = True, self.config.identity
            self._observed, self._observed_at, self._last_renewed = record, now, now
        if first:
            log.info(
                f"leading: holds Lease {self.config.namespace}/{self.config.name}",
                extra={"identity": self.config.identity, "lease_transitions": record.get("leaseTransitions")},
            )
        return True

    def _attempt(self) -> bool:
        try:
            return self.try_acquire_or_renew()
        except Exception as error:  # noqa: BLE001 - an unreachable API server is one failed attempt, not a crash
            log.warning(f"Lease attempt failed: {type(error).__name__}: {str(error)[:300]}")
            return False

    def acquire(self, stop: threading.Event) -> bool:
        """Block until this replica leads (True) or `stop` is set (False), trying every `retry_period_s`."""
        reported: str | None = None
        while not stop.is_set():
            if self._attempt():
                return True
            holder = self.holder
            if holder != reported:
                reported = holder
                log.info(
                    f"standing by: Lease {self.config.namespace}/{self.config.name} is held by {holder or 'nobody'}",
                    extra={"identity": self.config.identity, "holder": holder},
                )
            stop.wait(self.config.retry_period_s)
        return False

    def keep_renewing(self, on_lost: Callable[[str], None]) -> None:
        """Renew every `retry_period_s` on a thread; `on_lost(reason)` once the Lease is lost (it should exit)."""

        def run() -> None:
            while not self._stop.wait(self.config.retry_period_s):
                renewed = self._attempt()
                if self._stop.is_set():
                    return
                with self._lock:
                    if renewed:
                        continue
                    overdue = self._clock() - self._last_renewed
                    taken = self.holder not in (None, self.config.identity)
                if taken or overdue > self.config.renew_deadline_s:
                    with self._lock:
                        self._leading = False
                    reason = f"held by {self.holder}" if taken else f"not renewed for {overdue:.1f} s"
                    on_lost(f"lost Lease {self.config.namespace}/{self.config.name}: {reason}")
                    return

        self._thread = threading.Thread(target=run, name="footfall-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and, if still leading, hand the Lease back: no holder and a 1 s duration, so a standby
        takes it at its next attempt rather than after the full lease duration."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.config.request_timeout_s + 1)
        if not self.leading:
            return
        try:
            lease = self._read()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.config.identity:
                return
            lease["spec"] = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1,
                             "renewTime": _micro_time(self._wall())}  # fmt: skip
            self._api.replace_namespaced_lease(
                self.config.name, self.config.namespace, lease, _request_timeout=self.config.request_timeout_s
            )
            log.info(f"released Lease {self.config.namespace}/{self.config.name}")
        except Exception as error:  # noqa: BLE001 - the Lease then expires on its own
            log.warning(f"could not release the Lease ({type(error).__name__}); it expires on its own")
        finally:
            with self._lock:
                self._leading = False
