"""`footfall-operator`: run the kopf operator for CameraChannels, or print the CRD it serves.

    footfall-operator            # run (settings from FOOTFALL_OPERATOR_* and FOOTFALL_WORKER_*)
    footfall-operator crd        # the CustomResourceDefinition as YAML, for `kubectl apply -f -`

Exit codes: 0 stopped by a signal, 2 invalid settings.
"""

import argparse
import sys

import kopf
import yaml
from pydantic import ValidationError

from footfall_contract.config.cameras import format_validation_error
from footfall_operator.cluster import Cluster, load_api_client
from footfall_operator.crd_manifest import crd_manifest
from footfall_operator.handlers import build_registry
from footfall_operator.health import OperatorHealth
from footfall_operator.live import LiveReader
from footfall_operator.metrics import metrics_text
from footfall_operator.reconcile import Reconciler
from footfall_operator.refresher import Refresher
from footfall_operator.settings import OperatorSettings, WorkerDefaults

EXIT_CONFIG = 2


def _configure_logging(settings: OperatorSettings) -> None:
    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN
    kopf.configure(log_format=log_format, verbose=False)


def run() -> int:
    try:
        settings = OperatorSettings()
        defaults = WorkerDefaults()
    except ValidationError as error:
        print(format_validation_error(error, origin="footfall-operator settings"), file=sys.stderr)
        return EXIT_CONFIG
    _configure_logging(settings)
    live = LiveReader(settings.redis_url, timeout_s=settings.redis_timeout_s) if settings.redis_url else None
    cluster = Cluster(load_api_client())
    reconciler = Reconciler(cluster, live, settings, defaults)
    namespaces = settings.namespace_list
    refresher = Refresher(reconciler, cluster, namespaces, settings.status_interval_s)
    health = None
    if settings.liveness_port:
        health = OperatorHealth(
            lambda: cluster.check_access(namespaces),
            settings.liveness_port,
            check_interval_s=settings.api_check_interval_s,
            ready_window_s=3 * settings.api_check_interval_s,
            unreachable_restart_s=settings.api_unreachable_restart_s,
            metrics=metrics_text(refresher, live),
        ).start()
    registry = build_registry(reconciler, refresher, health)
    try:
        kopf.run(registry=registry, standalone=True, clusterwide=not namespaces, namespaces=namespaces)
    finally:
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
