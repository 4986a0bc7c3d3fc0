"""One reconcile of one CameraChannel: validate, gather facts, decide, apply, and compute the status.

The same function serves create, update, resume and the status timer, so whichever runs last leaves the
children and the status right; running it twice changes nothing (the decision compares config hashes).
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from footfall_operator import children, status
from footfall_operator.camera_secret import secret_problem
from footfall_operator.cluster import Cluster
from footfall_operator.crd import CameraChannelSpec, SpecError, parse_spec
from footfall_operator.live import LiveReader
from footfall_operator.round_view import ChildReader
from footfall_operator.settings import OperatorSettings, WorkerDefaults
from footfall_operator.status import Problem, Reason

_CONFLICT = 409
_WRITE_ATTEMPTS = 3


class RetryLater(Exception):
    """A child could not be written for now (it kept changing under us); the status must not claim otherwise."""


def _already_applied(existing: dict[str, Any] | None, manifest: dict[str, Any]) -> bool:
    found = children.Existing.from_object(existing)
    ours = manifest["metadata"]["ownerReferences"][0]["uid"]
    if manifest["kind"] == "PersistentVolumeClaim":
        return found is not None and found.controller_uid == ours
    wanted = children.Existing(
        controller_uid=ours,
        config_hash=manifest["metadata"]["annotations"][children.CONFIG_HASH_ANNOTATION],
        replicas=(manifest.get("spec") or {}).get("replicas"),
    )
    return found == wanted


@dataclass(frozen=True, slots=True, order=True)
class Claim:
    """A CameraChannel claiming a channel id; the oldest claim wins (ties: namespace, then name)."""

    created: str
    namespace: str
    name: str
    store: str = field(default="", compare=False)


def claim_key(spec: Any) -> str | None:
    """The channel id a raw spec claims, None when it names none (the spec is invalid anyway).

    The key is the channel id alone, not (store, channel id): the record (PostgreSQL's `channels` table) and the
    live state (Redis `footfall:{channel}:*`) are keyed by channel id, so two stores' `channel_1` would write
    into each other's rows. Until those keys carry the store, channel ids are unique across the deployment.
    """
    if not isinstance(spec, dict):
        return None
    channel = spec.get("channelId")
    return channel if isinstance(channel, str) else None


def claim_of(metadata: Any, spec: Any) -> Claim:
    store = spec.get("store") if isinstance(spec, dict) else None
    return Claim(
        str(metadata.get("creationTimestamp") or ""),
        metadata["namespace"],
        metadata["name"],
        store if isinstance(store, str) else "",
    )


def claim_problem(spec: CameraChannelSpec, me: Claim, claims: Iterable[Claim]) -> Problem | None:
    """A ChannelClaimed problem when an older CameraChannel runs the same channel id."""
    holder = min([*claims, me])
    if holder == me:
        return None
    who = f"CameraChannel {holder.namespace}/{holder.name}"
    if holder.store == spec.store:
        message = f"store {spec.store!r} channel {spec.channel_id!r} is already run by {who}"
        expected = "a channel no other CameraChannel runs"
    else:
        message = (
            f"channel id {spec.channel_id!r} is already used by {who} of store {holder.store!r}; the record and live "
            "state are keyed by channel id, so ids are unique across stores"
        )
        expected = f"another channelId, e.g. '{spec.store}_{spec.channel_id}'"[:200]
    return Problem(Reason.CHANNEL_CLAIMED, f"spec.channelId: {message}; expected {expected}")


@dataclass
class Reconciler:
    """Holds the clients and settings every reconcile needs; `reconcile` is what the handlers call."""

    cluster: Cluster
    live: LiveReader | None
    settings: OperatorSettings
    defaults: WorkerDefaults
    clock: Callable[[], float] = time.time

    def reconcile(
        self,
        body: dict[str, Any],
        claims: Iterable[Claim],
        logger: logging.Logger | logging.LoggerAdapter,
        reader: ChildReader | None = None,
    ) -> tuple[dict[str, Any], list[children.Action]]:
        """Bring one CameraChannel's children to its spec and return (its status, the actions taken).

        `reader` supplies what the decision is made on (default: a GET each; the refresher passes its round's
        listings). After a write the Deployment is read again by name, so the status describes what was written.

        Raises:
            ApiException: an API call failed (kopf retries the handler; the refresher the next round).
            RetryLater: a child kept changing under our writes; nothing is claimed done.
        """
        metadata = body.get("metadata") or {}
        owner = children.Owner(
            name=metadata["name"],
            namespace=metadata["namespace"],
            uid=metadata["uid"],
            generation=int(metadata.get("generation") or 0),
        )
        reader = reader or self.cluster
        spec, problems = self._check(body, claims, reader)

        desired = children.desired_children(owner, spec, self.defaults) if spec and not problems else None
        name = children.worker_name(owner.name)
        # what a listing lacks is confirmed by name only where a write may follow (round_view.py)
        writes = desired is not None
        config_map = reader.read("ConfigMap", owner.namespace, name, confirm_absent=writes)
        deployment = reader.read("Deployment", owner.namespace, name, confirm_absent=writes)
        journal_claim = None
        if desired is not None and desired.journal_claim is not None:
            journal_claim = reader.read(
                "PersistentVolumeClaim", owner.namespace, children.journal_claim_name(owner.name)
            )
        actions = children.decide(
            desired,
            children.Existing.from_object(config_map),
            children.Existing.from_object(deployment),
            owner,
            journal_claim=children.Existing.from_object(journal_claim),
        )
        existing = {"ConfigMap": config_map, "Deployment": deployment, "PersistentVolumeClaim": journal_claim}
        for action in actions:
            if action.kind == children.ActionKind.CONFLICT:
                problems.append(
                    Problem(
                        Reason.CHILD_CONFLICT,
                        f"metadata.name: {action.target} already exists and is not controlled by this "
                        "CameraChannel; expected no such object (delete it, or rename the CameraChannel)",
                    )
                )
                continue
            self._apply(body, action, existing[action.manifest["kind"]], logger)
        if any(action.kind != children.ActionKind.CONFLICT for action in actions):
            deployment = self.cluster.read("Deployment", owner.namespace, name)

        paused = bool(spec.paused) if spec else False
        live = None
        if self.live is not None and spec is not None and not problems and not paused:
            live = self.live.read(spec.channel_id)
        observed = status.Observed(
            generation=owner.generation,
            paused=paused,
            problems=tuple(problems),
            deployment=deployment,
            live=live,
            previous=dict(body.get("status") or {}),
            stale_after_s=self.settings.live_stale_after_s,
        )
        new_status = status.build_status(observed, self.clock())
        if deployment is not None:
            new_status["deployment"] = name
        if desired is not None:
            new_status["configHash"] = desired.config_hash
        return new_status, actions

    def _check(
        self, body: dict[str, Any], claims: Iterable[Claim], reader: ChildReader
    ) -> tuple[CameraChannelSpec | None, list[Problem]]:
        """The parsed spec (None when invalid) and every reason it cannot run: fields, claim, Secret."""
        metadata, raw_spec = body["metadata"], body.get("spec")
        try:
            spec = parse_spec(raw_spec)
        except SpecError as error:
            return None, [Problem(Reason.FIELD_INVALID, problem) for problem in error.problems]
        problems = [claim_problem(spec, claim_of(metadata, raw_spec), claims)]
        if spec.credentials_secret_ref is not None:
            secret = reader.camera_secret(metadata["namespace"], spec.credentials_secret_ref.name)
            problems.append(secret_problem(spec, metadata["namespace"], secret))
        return spec, [problem for problem in problems if problem is not None]

    def _apply(
        self,
        body: dict[str, Any],
        action: children.Action,
        existing: dict[str, Any] | None,
        logger: logging.Logger | logging.LoggerAdapter,
    ) -> None:
        manifest = action.manifest
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                if existing is None:
                    self.cluster.create(manifest)
                else:
                    self.cluster.replace(manifest, existing)
                break
            except ApiException as error:
                if error.status != _CONFLICT:
                    raise
            # 409: on a replace the object moved since it was read (the deployment controller writes its status
            # right after every change); on a create it appeared meanwhile (a change handler and the refresher
            # reconciling the same channel). Read it again and retry against what is there now.
            existing = self.cluster.read(
                manifest["kind"], manifest["metadata"]["namespace"], manifest["metadata"]["name"]
            )
            if _already_applied(existing, manifest):
                return
            if attempt == _WRITE_ATTEMPTS:
                raise RetryLater(f"{action.target} kept changing under {_WRITE_ATTEMPTS} writes; retrying")
        config_hash = (action.manifest["metadata"].get("annotations") or {}).get(children.CONFIG_HASH_ANNOTATION)
        message = f"{action.kind}d {action.target}" + (f" (config {config_hash})" if config_hash else "")
        logger.info(message, extra={"config_hash": config_hash})
        try:
            self.cluster.post_event(body, reason=f"{str(action.kind).capitalize()}d", message=message)
        except ApiException as error:
            # An event is a courtesy; the child exists either way.
            logger.warning(f"could not post the event {message!r}: {error.status} {error.reason}")
