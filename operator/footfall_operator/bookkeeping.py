"""Where kopf keeps what it last handled of a CameraChannel: a digest in the status, never a copy of the spec.

kopf compares what it last handled with the object now to tell a change from a status write. By default it keeps
a copy of the spec in an annotation. Both halves of that are wrong for us:
* the apiserver caps an object's annotations at 256 KB in all: a CameraChannel whose author's annotations come
  near the cap made every bookkeeping write fail, on every change (found by the 1 000 malformed CameraChannels);
* a copy of the spec in the status would show a login pasted into `source.host` to everyone who reads statuses.
A digest tells a change as well: the reconcile reads the spec itself and never kopf's old/new, and it is
idempotent, so an operator upgraded from the annotation reconciles each channel once more and changes nothing.
"""

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import kopf

DIGEST_FIELD = "status.kopf.handledDigest"


class HandledDigestStorage(kopf.StatusDiffBaseStorage):
    """kopf's diff base as a SHA-256 of the object's essence (spec, labels, annotations), kept in the status."""

    def __init__(self) -> None:
        super().__init__(field=DIGEST_FIELD)

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> Any:
        essence = super().build(body=body, extra_fields=extra_fields)
        encoded = json.dumps(essence, sort_keys=True, separators=(",", ":"), default=str).encode()
        return {"sha256": hashlib.sha256(encoded).hexdigest()}
