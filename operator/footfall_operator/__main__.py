"""`footfall-operator`: run the kopf operator for CameraChannels, or print the CRD it serves.

    footfall-operator            # run (settings from FOOTFALL_OPERATOR_* and FOOTFALL_WORKER_*)
    footfall-operator crd        # the CustomResourceDefinition as YAML, for `kubectl apply -f -`

With FOOTFALL_OPERATOR_LEADER_ELECTION_NAMESPACE set, replicas elect one active operator on a Lease (leader.py):
the others stand by before kopf starts, and the active one exits when it loses the Lease.

Exit codes: 0 stopped by a signal, 2 invalid settings, 3 lost the Lease (restart to stand by again).
"""

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import kopf
import kubernetes
import yaml
from pydantic import ValidationError

from footfall_contract.config.cameras import format_validation_error
from footfall_operator.cluster import Cluster, load_api_client
from footfall_operator.crd_manifest import crd_manifest
from footfall_operator.handlers import build_registry
from footfall_operator.health import OperatorHealth
from footfall_operator.leader import LeaderElector, LeaseConfig
from footfall_operator.live import LiveReader
from footfall_operator.metrics import metrics_text
from footfall_operator.reconcile import Reconciler
from footfall_operator.refresher import Refresher
from footfall_operator.settings import OperatorSettings, WorkerDefaults

EXIT_CONFIG = 2
EXIT_LOST_LEASE = 3
log = logging.getLogger("footfall.operator")


def _configure_logging(settings: OperatorSettings) -> None:
    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN
    kopf.configure(log_format=log_format, verbose=False)


def _lost_lease(reason: str) -> None:
    """A leader that lost its Lease stops at once, mid-write or not: another replica may be active within seconds,
    and an exit is the one stop that cannot leave a thread writing. Kubernetes restarts it as a standby."""
    log.error(f"{reason}; exiting so that only the new leader writes")
    logging.shutdown()
    os._exit(EXIT_LOST_LEASE)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM/SIGINT set the event while a standby waits (kopf installs its own handlers once it runs)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _elector(settings: OperatorSettings, api_client: kubernetes.client.ApiClient) -> LeaderElector | None:
    if not settings.leader_election_namespace:
        return None
    config = LeaseConfig(
        namespace=settings.leader_election_namespace,
        name=settings.leader_election_lease,
        identity=settings.identity,
        lease_duration_s=settings.lease_duration_s,
        renew_deadline_s=settings.renew_deadline_s,
        retry_period_s=settings.retry_period_s,
    )
    return LeaderElector(api_client, config)


def run() -> int:
    try:
        settings = OperatorSettings()
        defaults = WorkerDefaults()
    except ValidationError as error:
        print(format_validation_error(error, origin="footfall-operator settings"), file=sys.stderr)
        return EXIT_CONFIG
    _configure_logging(settings)
    live = LiveReader(settings.redis_url, timeout_s=settings.redis_timeout_s) if settings.redis_url else None
    api_client = load_api_client()
    cluster = Cluster(api_client)
    elector = _elector(settings, api_client)
    reconciler = Reconciler(cluster, live, settings, defaults)
    namespaces = settings.namespace_list
    refresher = Refresher(
        reconciler,
        cluster,
        namespaces,
        settings.status_interval_s,
        writes_per_s=settings.status_writes_per_s,
        write_burst=settings.status_write_burst,
    )
    health = None
    if settings.liveness_port:
        health = OperatorHealth(
            lambda: cluster.check_access(namespaces),
            settings.liveness_port,
            check_interval_s=settings.api_check_interval_s,
            ready_window_s=3 * settings.api_check_interval_s,
            unreachable_restart_s=settings.api_unreachable_restart_s,
            metrics=metrics_text(refresher, live, elector),
            standby=elector.standby_reason if elector is not None else lambda: None,
        ).start()
    try:
        if elector is not None:
            with _stop_on_signals() as stop:
                if not elector.acquire(stop):
                    return 0  # stopped while standing by
            elector.keep_renewing(on_lost=_lost_lease)
        registry = build_registry(reconciler, refresher, health)
        kopf.run(registry=registry, standalone=True, clusterwide=not namespaces, namespaces=namespaces)
    finally:
        if elector is not None:
            elector.release()
        if health is not None:
            health.stop()
        if live is not None:
            live.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="footfall-operator", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["run", "crd"], default="run")
    args = parser.parse_args(argv)
    if args.command == "crd":
        sys.stdout.write(yaml.safe_dump(crd_manifest(), sort_keys=False))
        return 0
    return run()


if __name__ == "__main__":
    sys.exit(main())
