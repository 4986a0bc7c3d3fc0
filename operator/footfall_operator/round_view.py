"""What one refresh round reads of the cluster: each kind of child listed once, not read once per channel.

At 1 000 CameraChannels a GET of each one's ConfigMap, Deployment and journal claim every 10 s was 300 requests a
second against an idle cluster. A round now lists each kind once per watched namespace (all namespaces when the
operator is cluster-wide), by the label every child carries (app.kubernetes.io/managed-by=footfall-operator),
paged, and only when a reconcile first asks for that kind. A name the listing lacks is read by name after all:
it may be a foreign object under a child's name (a conflict to report, never to overwrite) or a child whose label
someone removed. That GET is made only where a decision to write follows (`confirm_absent`): a channel whose spec
cannot run (invalid, claimed, its Secret missing) writes no child, so its absent children cost nothing.
Camera Secrets are read once per round per Secret (a store's channels share one), never listed: the operator
may not list Secrets (least privilege), only get the ones named.

The view is as old as the round. A decision made on it may meet an object that moved since: a replace then
fails with 409 and the reconciler reads the object again (reconcile.py), exactly as after any other race.
"""

from typing import Any, Protocol

from footfall_operator.camera_secret import CameraSecret
from footfall_operator.children import MANAGED_BY
from footfall_operator.cluster import Cluster

MANAGED_SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY}"


class ChildReader(Protocol):
    """The reads a reconcile's decision needs: `Cluster` itself, or a round's `RoundView`."""

    def read(self, kind: str, namespace: str, name: str, confirm_absent: bool = True) -> dict[str, Any] | None: ...

    def camera_secret(self, namespace: str, name: str) -> CameraSecret | None: ...


class RoundView:
    """Children from one listing per kind (and namespace), Secrets once each; see the module's docstring."""

    def __init__(self, cluster: Cluster, namespaces: list[str]) -> None:
        self._cluster = cluster
        self._namespaces = namespaces
        self._listed: dict[str, dict[tuple[str, str], Any]] = {}
        self._secrets: dict[tuple[str, str], CameraSecret | None] = {}
        self.lists = 0  # kinds listed this round
        self.reads_by_name = 0  # names a listing lacked, read one by one

    def read(self, kind: str, namespace: str, name: str, confirm_absent: bool = True) -> dict[str, Any] | None:
        """From the listing; a name it lacks is read by name when `confirm_absent`, else taken as absent."""
        if kind not in self._listed:
            self._listed[kind] = self._cluster.list_children(kind, self._namespaces, MANAGED_SELECTOR)
            self.lists += 1
        found = self._listed[kind].get((namespace, name))
        if found is not None or not confirm_absent:
            return found
        self.reads_by_name += 1
        return self._cluster.read(kind, namespace, name)

    def camera_secret(self, namespace: str, name: str) -> CameraSecret | None:
        key = (namespace, name)
        if key not in self._secrets:
            self._secrets[key] = self._cluster.camera_secret(namespace, name)
        return self._secrets[key]
