"""What a real cluster has and Debian's Kubernetes lacks, for the test node of hack/cluster.sh:

* cluster DNS records: every Service's ClusterIP as `<name>.<namespace>.svc.cluster.local` in a hosts file that
  dnsmasq (started by cluster.sh, answering only on the pod bridge, forwarding nothing) serves; SIGHUP reloads it.
* a local-volume provisioner for the `footfall-local` StorageClass: a PersistentVolumeClaim gets a `local` PV on a
  directory of this node, pre-bound to the claim (the PV controller completes the binding); a Released volume's
  directory is deleted with its PV (reclaim policy Delete), as rancher's local-path provisioner does.

Level-triggered: watches only wake the loop, which lists and reconciles everything each time, and once every
`--resync` seconds anyway, so a missed event costs a delay, never a wrong state.

    .venv/bin/python hack/node_addons.py --kubeconfig K --node N --hosts-file F --dnsmasq-pid-file P --volumes D
"""

import argparse
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

PROVISIONER = "footfall.io/local-node"
STORAGE_CLASS = "footfall-local"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
CLUSTER_DOMAIN = "cluster.local"

log = logging.getLogger("node-addons")


def service_hosts(services: list[Any]) -> str:
    """Hosts-file lines: ClusterIP, then the names a pod may use (search domains complete the short ones)."""
    lines = []
    for service in sorted(services, key=lambda s: (s.metadata.namespace, s.metadata.name)):
        ip = service.spec.cluster_ip
        if not ip or ip == "None":
            continue  # headless: no address of its own
        name, namespace = service.metadata.name, service.metadata.namespace
        lines.append(f"{ip} {name}.{namespace}.svc.{CLUSTER_DOMAIN}")
    return "".join(f"{line}\n" for line in lines)


class Addons:
    def __init__(self, api: kubernetes.client.ApiClient, args: argparse.Namespace) -> None:
        self.core = kubernetes.client.CoreV1Api(api)
        self.storage = kubernetes.client.StorageV1Api(api)
        self.node = args.node
        self.hosts_file = Path(args.hosts_file)
        self.dnsmasq_pid_file = Path(args.dnsmasq_pid_file)
        self.volumes = Path(args.volumes)
        self.wake = threading.Event()

    # -- DNS ------------------------------------------------------------------------------------------------------
    def sync_dns(self) -> None:
        text = service_hosts(self.core.list_service_for_all_namespaces(timeout_seconds=10).items)
        if self.hosts_file.exists() and self.hosts_file.read_text() == text:
            return
        scratch = self.hosts_file.with_suffix(".tmp")
        scratch.write_text(text)
        scratch.chmod(0o644)
        scratch.replace(self.hosts_file)
        try:
            os.kill(int(self.dnsmasq_pid_file.read_text().strip()), signal.SIGHUP)
        except (OSError, ValueError) as error:
            log.warning("dnsmasq not reloaded: %s", error)
        log.info("dns: %d services", text.count("\n"))

    # -- volumes --------------------------------------------------------------------------------------------------
    def _our_class(self, claim: Any, default_class: str | None) -> bool:
        wanted = claim.spec.storage_class_name
        return wanted == STORAGE_CLASS or (wanted is None and default_class == STORAGE_CLASS)

    def _default_class(self) -> str | None:
        for storage_class in self.storage.list_storage_class(timeout_seconds=10).items:
            if (storage_class.metadata.annotations or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
                return storage_class.metadata.name
        return None

    def sync_volumes(self) -> None:
        default_class = self._default_class()
        volumes = {pv.metadata.name: pv for pv in self.core.list_persistent_volume(timeout_seconds=10).items}
        for claim in self.core.list_persistent_volume_claim_for_all_namespaces(timeout_seconds=10).items:
            if claim.spec.volume_name or claim.status.phase != "Pending" or not self._our_class(claim, default_class):
                continue
            name = f"pvc-{claim.metadata.uid}"
            if name not in volumes:
                self._provision(claim, name)
        for volume in volumes.values():
            ours = (volume.metadata.annotations or {}).get(PROVISIONED_BY) == PROVISIONER
            if ours and volume.status.phase in ("Released", "Failed"):
                self._delete(volume)

    def _provision(self, claim: Any, name: str) -> None:
        path = self.volumes / name
        path.mkdir(mode=0o770, parents=True, exist_ok=True)
        size = (claim.spec.resources.requests or {}).get("storage", "1Gi")
        volume = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": claim.spec.access_modes or ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": STORAGE_CLASS,
                "volumeMode": "Filesystem",
                # `local` (not hostPath): the kubelet applies the pod's fsGroup, so a non-root worker can write
                "local": {"path": str(path)},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [self.node]}
                                ]
                            }
                        ]
                    }
                },
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": claim.metadata.namespace,
                    "name": claim.metadata.name,
                    "uid": claim.metadata.uid,
                },
            },
        }
        try:
            self.core.create_persistent_volume(volume)
        except ApiException as error:
            if error.status != 409:
                raise
        log.info("volume %s for %s/%s at %s", name, claim.metadata.namespace, claim.metadata.name, path)

    def _delete(self, volume: Any) -> None:
        path = Path((volume.spec.local.path if volume.spec.local else "") or "/nonexistent")
        if path.parent == self.volumes:
            shutil.rmtree(path, ignore_errors=True)
        try:
            self.core.delete_persistent_volume(volume.metadata.name)
        except ApiException as error:
            if error.status != 404:
                raise
        log.info("volume %s released: deleted with %s", volume.metadata.name, path)

    # -- loop -----------------------------------------------------------------------------------------------------
    def watch(self, list_call: Any) -> None:
        """Wake the loop on every event of one kind; reconnect forever."""
        while True:
            try:
                for _ in kubernetes.watch.Watch().stream(list_call, timeout_seconds=300, _request_timeout=330):
                    self.wake.set()
            except Exception as error:  # noqa: BLE001 - a watch that fails is retried, never fatal
                log.warning("watch %s: %s", getattr(list_call, "__name__", list_call), error)
                time.sleep(2)

    def run(self, resync_s: float) -> None:
        for call in (
            self.core.list_service_for_all_namespaces,
            self.core.list_persistent_volume_claim_for_all_namespaces,
            self.core.list_persistent_volume,
        ):
            threading.Thread(target=self.watch, args=(call,), daemon=True).start()
        while True:
            self.wake.clear()
            for step in (self.sync_dns, self.sync_volumes):
                try:
                    step()
                except Exception as error:  # noqa: BLE001 - one failed step must not stop the other
                    log.warning("%s: %s", step.__name__, error)
            self.wake.wait(resync_s)
            time.sleep(0.2)  # coalesce a burst of events into one pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--hosts-file", required=True)
    parser.add_argument("--dnsmasq-pid-file", required=True)
    parser.add_argument("--volumes", required=True)
    parser.add_argument("--resync", type=float, default=30.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=args.kubeconfig, client_configuration=configuration)
    Addons(kubernetes.client.ApiClient(configuration), args).run(args.resync)


if __name__ == "__main__":
    main()
