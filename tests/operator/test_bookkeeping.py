"""What kopf keeps of a handled CameraChannel: a digest that follows the spec, not the status, and shows nothing."""

import json

import kopf

from footfall_operator.bookkeeping import HandledDigestStorage

PASSWORD = "pasted-into-the-host"


def _body(host: str = "cam1", status: dict | None = None, annotations: dict | None = None) -> kopf.Body:
    raw = {
        "apiVersion": "footfall.io/v1alpha1",
        "kind": "CameraChannel",
        "metadata": {"name": "door", "namespace": "store", "annotations": annotations or {}},
        "spec": {"store": "s", "channelId": "door", "source": {"host": host, "channel": 1}},
        "status": status or {},
    }
    return kopf.Body(raw)


def test_the_digest_changes_with_the_spec_and_not_with_the_status():
    storage = HandledDigestStorage()
    handled = storage.build(body=_body())
    assert storage.build(body=_body(status={"phase": "Running", "live": {"fps": 12.5}})) == handled
    assert storage.build(body=_body(host="cam2")) != handled
    assert storage.build(body=_body(annotations={"note": "x"})) != handled


def test_what_is_stored_is_a_short_digest_in_the_status_without_the_spec():
    storage = HandledDigestStorage()
    body = _body(host=f"admin:{PASSWORD}@cam1", annotations={f"example.com/a{i}": "v" * 20_000 for i in range(10)})
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    stored = json.dumps(dict(patch))
    assert PASSWORD not in stored and "metadata" not in dict(patch) and len(stored) < 200
    handled = {**body, "status": dict(patch)["status"]}
    assert storage.fetch(body=kopf.Body(handled)) == storage.build(body=body)
