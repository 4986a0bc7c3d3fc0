"""Which Secrets the operator may use as a camera login, and what it checks in them without showing them.

A CameraChannel names its Secret, and whoever may create a CameraChannel is not necessarily allowed to read every
Secret in the namespace. Without a rule the operator would be a confused deputy: it would mount another team's
database password into a worker that sends it to whatever camera host the channel names, and its status
messages would tell the author which keys that Secret holds. So:

* only a Secret labelled `footfall.io/camera-credentials: "true"` is used (opt-in by whoever owns the Secret);
  a Secret that is missing, unlabelled or unreadable to the operator (its Role may name the allowed Secrets in
  `resourceNames`) gets the same message, so a CameraChannel cannot probe which Secrets exist;
* key names and values are never echoed; the values are read only to say *what* is wrong with them (a control
  character and its position, too long, not UTF-8), which turns a crash-looping worker into a condition.
"""

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from footfall_contract.config.credentials import MAX_CREDENTIAL_CHARS, credential_defect
from footfall_operator.crd import CameraChannelSpec
from footfall_operator.status import Problem, Reason

CAMERA_SECRET_LABEL = "footfall.io/camera-credentials"


@dataclass(frozen=True, slots=True)
class CameraSecret:
    """What the operator knows of a usable camera Secret: its keys and, per key, what is wrong with the value."""

    keys: frozenset[str]
    defects: Mapping[str, str] = field(default_factory=dict)


def inspect(labels: Mapping[str, str] | None, data: Mapping[str, str] | None) -> CameraSecret | None:
    """A Secret's labels and (base64) data as the API returns them; None unless it is opted in."""
    if (labels or {}).get(CAMERA_SECRET_LABEL) != "true":
        return None
    data = data or {}
    return CameraSecret(frozenset(data), {key: defect for key in data if (defect := value_defect(data[key]))})


def value_defect(encoded: str) -> str | None:
    """What is wrong with one base64 value as a camera username or password, None when it is usable: the
    worker's own rule (`credential_defect`), so what the operator accepts the worker can use."""
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "is not UTF-8 text"
    return credential_defect(text)


def secret_problem(spec: CameraChannelSpec, namespace: str, secret: CameraSecret | None) -> Problem | None:
    """A problem when the credentials Secret is unusable: absent (or not opted in), a key missing, a bad value."""
    ref = spec.credentials_secret_ref
    if ref is None:
        return None
    if secret is None:
        return Problem(
            Reason.SECRET_NOT_FOUND,
            f"spec.credentialsSecretRef.name: no Secret {ref.name!r} labelled {CAMERA_SECRET_LABEL}=true that "
            f"the operator may read in namespace {namespace!r}; expected such a Secret with keys "
            f"{ref.username_key!r} and {ref.password_key!r}",
        )
    fields = {ref.username_key: "usernameKey", ref.password_key: "passwordKey"}
    missing = [key for key in (ref.username_key, ref.password_key) if key not in secret.keys]
    if missing:
        where = ", ".join(f"spec.credentialsSecretRef.{fields[key]}" for key in missing)
        return Problem(
            Reason.SECRET_KEY_MISSING,
            f"{where}: Secret {ref.name!r} has no key {' or '.join(repr(key) for key in missing)}",
        )
    for key in (ref.username_key, ref.password_key):
        if key in secret.defects:
            return Problem(
                Reason.SECRET_VALUE_INVALID,
                f"spec.credentialsSecretRef.{fields[key]}: the value of key {key!r} in Secret {ref.name!r} "
                f"{secret.defects[key]}; expected 1-{MAX_CREDENTIAL_CHARS} printable characters",
            )
    return None
