"""The kopf handlers: thin. Each gathers what kopf hands it and calls `Reconciler.reconcile`.

No delete handler, no timer and no daemon, so kopf puts no finalizer on a CameraChannel: the children carry owner
references, the garbage collector removes them with it, and a stopped operator can never block a deletion.

No resume handler either: a CameraChannel changed while the operator was down differs from the digest kopf keeps
(bookkeeping.py), so kopf calls the update handler for it; one never handled gets the create handler. What is
left, re-checking the unchanged ones after a start, is the refresher's first round, which it runs at once and
which lists each kind of child once: a resume handler did it with three GETs and a status PATCH per channel (an
operator restarted with 1 000 channels present made 7 068 requests in its first 51 s, 1 051 of them PATCHes).
"""

import asyncio
import logging
from typing import Any

import kopf

from footfall_operator.bookkeeping import HandledDigestStorage
from footfall_operator.crd import GROUP, PLURAL, VERSION
from footfall_operator.health import OperatorHealth
from footfall_operator.reconcile import Claim, Reconciler, RetryLater, claim_key, claim_of
from footfall_operator.refresher import Refresher

# An API error retries the handler after this long (kopf's default is a minute).
RETRY_BACKOFF_S = 5.0


def build_registry(
    reconciler: Reconciler, refresher: Refresher | None, health: OperatorHealth | None = None
) -> kopf.OperatorRegistry:
    """A registry with every handler bound to `reconciler`; built per process, so tests get their own.

    `refresher` (live status and re-checks, see `refresher.py`) runs from startup to cleanup; `health` (the
    probes) learns when kopf has started and gets a ticker on kopf's event loop.
    """
    registry = kopf.OperatorRegistry()
    background: list[asyncio.Task[None]] = []

    # A registry of our own has none of kopf's default handlers, the login included. The client library's
    # in-cluster config: the API server at KUBERNETES_SERVICE_HOST/PORT, which the kubelet sets in every pod
    # (kopf's login_with_service_account dials kubernetes.default.svc, which needs a cluster DNS); else KUBECONFIG.
    @kopf.on.login(id="login", registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(id="configure", registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Events come from the reconciler (children created or updated) and from failures; kopf's own
        # "handler succeeded" after every change is not news.
        settings.posting.level = logging.WARNING
        # What kopf last handled: a digest in the status (bookkeeping.py says why not the default annotation);
        # handler progress beside it, so nothing kopf writes counts against the annotations' 256 KB.
        settings.persistence.diffbase_storage = HandledDigestStorage()
        settings.persistence.progress_storage = kopf.StatusProgressStorage(name="kopf")
        settings.watching.server_timeout = 300
        # No watching of CRDs and namespaces: the resource and the namespaces are known up front, and scanning
        # would need cluster-wide list/watch on both (least privilege for a namespaced install).
        settings.scanning.disabled = True
        if refresher is not None:
            refresher.start()

    @kopf.on.startup(id="health", registry=registry)
    async def start_health(**_: Any) -> None:
        if health is not None:
            background.append(asyncio.get_running_loop().create_task(health.tick_forever()))
            health.mark_started()

    @kopf.on.cleanup(id="stop-refresher", registry=registry)
    def stop_refresher(**_: Any) -> None:
        if refresher is not None:
            refresher.stop()

    @kopf.index(GROUP, VERSION, PLURAL, id="claims", registry=registry)
    def claims(spec: Any, meta: Any, **_: Any) -> dict[str, Claim]:
        key = claim_key(dict(spec))
        return {} if key is None else {key: claim_of(dict(meta), dict(spec))}

    @kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile", backoff=RETRY_BACKOFF_S, registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", backoff=RETRY_BACKOFF_S, registry=registry)
    def reconcile_channel(
        body: kopf.Body, patch: kopf.Patch, claims: kopf.Index, logger: logging.LoggerAdapter, **_: Any
    ) -> None:
        plain = {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}
        key = claim_key(plain["spec"])
        try:
            status, _ = reconciler.reconcile(plain, list(claims.get(key, [])) if key is not None else [], logger)
        except RetryLater as error:
            raise kopf.TemporaryError(str(error), delay=1) from None
        patch.status.update(status)

    return registry
