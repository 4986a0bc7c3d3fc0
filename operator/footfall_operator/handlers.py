"""The kopf handlers: thin. Each gathers what kopf hands it and calls `Reconciler.reconcile`.

No delete handler and no finalizer: the children carry owner references, so the garbage collector removes them
with the CameraChannel, and a stopped operator can never block a deletion.
"""

import logging
from typing import Any

import kopf

from footfall_operator.crd import GROUP, PLURAL, VERSION
from footfall_operator.reconcile import Claim, Reconciler, claim_key

# An API error retries the handler after this long (kopf's default is a minute).
RETRY_BACKOFF_S = 5.0


def build_registry(reconciler: Reconciler, status_interval_s: float) -> kopf.OperatorRegistry:
    """A registry with every handler bound to `reconciler`; built per process, so tests get their own."""
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Events come from our explicit kopf.info calls (children created or updated) and from failures; a
        # timer success every few seconds per channel is not news.
        settings.posting.level = logging.WARNING
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.watching.server_timeout = 300

    @kopf.index(GROUP, VERSION, PLURAL, registry=registry)
    def claims(spec: Any, meta: Any, name: str, namespace: str, **_: Any) -> dict[tuple[str, str], Claim]:
        key = claim_key(dict(spec))
        if key is None:
            return {}
        return {key: Claim(str(meta.get("creationTimestamp") or ""), namespace, name)}

    def run(body: kopf.Body, patch: kopf.Patch, claims: kopf.Index, logger: logging.LoggerAdapter) -> None:
        plain = {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}
        key = claim_key(plain["spec"])
        rivals = list(claims.get(key, [])) if key is not None else []
        status, actions = reconciler.reconcile(plain, rivals, logger)
        for action in actions:
            kopf.info(body, reason=str(action.kind).capitalize(), message=f"{action.kind} {action.target}")
        patch.status.update(status)

    @kopf.on.resume(GROUP, VERSION, PLURAL, backoff=RETRY_BACKOFF_S, registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, backoff=RETRY_BACKOFF_S, registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, backoff=RETRY_BACKOFF_S, registry=registry)
    def reconcile_channel(
        body: kopf.Body, patch: kopf.Patch, claims: kopf.Index, logger: logging.LoggerAdapter, **_: Any
    ) -> None:
        run(body, patch, claims, logger)

    # The timer refreshes live fields and re-checks what no watch tells us about: a Secret created later, a
    # rival claim deleted, a Deployment changed behind our back.
    @kopf.timer(GROUP, VERSION, PLURAL, interval=status_interval_s, registry=registry)
    def refresh_channel(
        body: kopf.Body, patch: kopf.Patch, claims: kopf.Index, logger: logging.LoggerAdapter, **_: Any
    ) -> None:
        run(body, patch, claims, logger)

    return registry
