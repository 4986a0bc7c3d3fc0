"""Malformed CameraChannels, as people and scripts we do not control write them, each with what it must get.

A case is a family (wrong types, huge fields, Secrets that are missing, foreign or hold bad bytes, control
characters, unicode, claims); `hostile_channels(n)` turns the families into `n` CameraChannels, varying each
family's values from a seeded random source, so a run is reproducible and the 1 000 are not 1 000 copies.
An expectation is either `Rejected(field)` (the apiserver refuses it at create, naming the field) or
`Condition(reason)` (stored; the operator says InvalidSpec=True with that reason) or `Runs` (odd but valid: the
operator creates its worker).
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from footfall_operator.crd import GROUP, VERSION

SOURCE = {"host": "192.0.2.10", "port": 554, "channel": 1}
CONTROLS = ["\n", "\r", "\t", "\x00", "\x07", "\x1b[2J", "\x7f", "\x85", "\u2028", "\u202e"]
UNICODE_NAMES = ["Cửa ra vào 🚪", "Kasse 3 🛒", "入口", "מדף", "می\u200cخواهم", "Ω≈ç√∫", "👨\u200d👩\u200d👧 family"]


@dataclass(frozen=True)
class Rejected:
    field: str


@dataclass(frozen=True)
class Condition:
    reason: str


@dataclass(frozen=True)
class Runs:
    pass


Expectation = Rejected | Condition | Runs


@dataclass(frozen=True)
class Family:
    """What was tried; `spec(rng)` builds one spec of it (without store and channelId, which stay unique)."""

    name: str
    spec: Callable[[random.Random], dict[str, Any]]
    expect: Expectation
    metadata: Callable[[random.Random], dict[str, Any]] = lambda rng: {}


@dataclass(frozen=True)
class HostileChannel:
    family: Family
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.manifest["metadata"]["name"]


def _text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 -_:") for _ in range(length))


def _with_control(rng: random.Random) -> str:
    text = _text(rng, rng.randint(1, 40))
    at = rng.randint(0, len(text))
    return text[:at] + rng.choice(CONTROLS) + text[at:]


def _named(secret: str) -> Callable[[random.Random], dict[str, Any]]:
    return lambda rng: {"credentialsSecretRef": {"name": secret}}


# The Secrets the families name; the test creates them first (see SECRETS).
FOREIGN_SECRET = "billing-db"  # not labelled as camera credentials: never used, existence never told
BAD_SECRETS = {
    "newline-password": {"username": b"admin", "password": b"s3cret\n"},
    "escape-username": {"username": b"ad\x1bmin", "password": b"s3cret"},
    "empty-password": {"username": b"admin", "password": b""},
    "not-utf8": {"username": b"admin", "password": b"\xff\xfe\xfd"},
    "huge-password": {"username": b"admin", "password": b"p" * 5000},
    "bidi-password": {"username": b"admin", "password": "pass\u202eword".encode()},
    "no-password-key": {"username": b"admin"},
}

FAMILIES: list[Family] = [
    # wrong types and ranges: the CRD's schema refuses them at the apiserver
    Family("port as text", lambda rng: {"source": {**SOURCE, "port": str(rng.randint(1, 65535))}}, Rejected("port")),
    Family(
        "port out of range",
        lambda rng: {"source": {**SOURCE, "port": rng.choice([0, -1, 65536, 2**40])}},
        Rejected("port"),
    ),
    Family("channel negative", lambda rng: {"source": {**SOURCE, "channel": -rng.randint(1, 99)}}, Rejected("channel")),
    Family("channel as float", lambda rng: {"source": {**SOURCE, "channel": rng.random() + 0.5}}, Rejected("channel")),
    Family("source as a list", lambda rng: {"source": [SOURCE]}, Rejected("spec.source")),
    Family("paused as text", lambda rng: {"paused": rng.choice(["yes", "no", "1"])}, Rejected("spec.paused")),
    Family(
        "every N frames 0",
        lambda rng: {"processing": {"everyNFrames": rng.choice([0, 31, 10**6])}},
        Rejected("everyNFrames"),
    ),
    Family(
        "detector size not offered",
        lambda rng: {"processing": {"detectorInputSize": rng.choice([1, 500, 4096])}},
        Rejected("detectorInputSize"),
    ),
    Family(
        "channel id uppercase or unicode",
        lambda rng: {"channelId": rng.choice(["Cam One", "cámara", "a" * 64, "-x"])},
        Rejected("spec.channelId"),
    ),
    Family(
        "store id with a slash", lambda rng: {"store": rng.choice(["a/b", "../etc", "x" * 64])}, Rejected("spec.store")
    ),
    # huge fields: bounded by the schema, refused before the operator sees them
    Family(
        "host 254+ characters",
        lambda rng: {"source": {**SOURCE, "host": "h" * rng.randint(254, 5000)}},
        Rejected("spec.source.host"),
    ),
    Family(
        "display name 129+ characters",
        lambda rng: {"displayName": "n" * rng.randint(129, 20000)},
        Rejected("spec.displayName"),
    ),
    Family(
        "description of 100 KB",
        lambda rng: {"description": "d" * rng.randint(1025, 100_000)},
        Rejected("spec.description"),
    ),
    Family("empty display name", lambda rng: {"displayName": ""}, Rejected("spec.displayName")),
    Family(
        "path 1 MB",
        lambda rng: {"source": {"host": "192.0.2.10", "path": "/" + "p" * 1_000_000}},
        Rejected("spec.source.path"),
    ),
    Family(
        "counting line of 10 000 points",
        lambda rng: {"analytics": {"lines": [{"id": "l", "points": [[0.5, 0.5]] * 10_000}]}},
        Rejected("points"),
    ),
    Family(
        "64 counting lines",
        lambda rng: {"analytics": {"lines": [{"id": f"l{i}", "points": [[0, 0], [1, 1]]} for i in range(64)]}},
        Rejected("lines"),
    ),
    Family(
        "9 resource entries",
        lambda rng: {"resources": {"requests": {f"r{i}": "1" for i in range(9)}}},
        Rejected("requests"),
    ),
    Family(
        "resource quantity 65+ characters",
        lambda rng: {"resources": {"limits": {"memory": "9" * rng.randint(65, 500)}}},
        Rejected("limits"),
    ),
    Family(
        "triton url 261+ characters",
        lambda rng: {"triton": {"url": "t" * rng.randint(261, 3000) + ":8001"}},
        Rejected("spec.triton.url"),
    ),
    Family(
        "secret name with capitals",
        lambda rng: {"credentialsSecretRef": {"name": "Cameras_" + _text(rng, 4)}},
        Rejected("credentialsSecretRef.name"),
    ),
    # what the schema lets through and the operator must refuse as a condition
    Family(
        "host with a login in it",
        lambda rng: {"source": {**SOURCE, "host": f"admin:{_text(rng, 8)}@cam"}},
        Condition("FieldInvalid"),
    ),
    Family(
        "host with a control character",
        lambda rng: {"source": {**SOURCE, "host": _with_control(rng)}},
        Condition("FieldInvalid"),
    ),
    Family(
        "path without a slash",
        lambda rng: {"source": {"host": "192.0.2.10", "path": _text(rng, 10).strip() or "x"}},
        Condition("FieldInvalid"),
    ),
    Family("channel and path both", lambda rng: {"source": {**SOURCE, "path": "/live"}}, Condition("FieldInvalid")),
    Family(
        "display name with a control character",
        lambda rng: {"displayName": _with_control(rng)},
        Condition("FieldInvalid"),
    ),
    Family(
        "description with an escape",
        lambda rng: {"description": "x\x1b]0;title\x07" + _text(rng, 5)},
        Condition("FieldInvalid"),
    ),
    Family(
        "unknown time zone",
        lambda rng: {"timezone": rng.choice(["Mars/Olympus", "UTC+7", "../../etc/passwd", "Asia/Saigon\n"])},
        Condition("FieldInvalid"),
    ),
    Family(
        "unknown field",
        lambda rng: {"source": {**SOURCE, rng.choice(["colour", "password", "url"]): "x"}},
        Condition("FieldInvalid"),
    ),
    Family(
        "resource name with a space",
        lambda rng: {"resources": {"limits": {"my memory": "1Gi"}}},
        Condition("FieldInvalid"),
    ),
    Family(
        "missing Secret",
        lambda rng: {"credentialsSecretRef": {"name": f"absent-{rng.randrange(10**6)}"}},
        Condition("SecretNotFound"),
    ),
    Family("someone else's Secret", _named(FOREIGN_SECRET), Condition("SecretNotFound")),
    *(
        Family(
            f"Secret {name}",
            _named(name),
            Condition("SecretKeyMissing" if name == "no-password-key" else "SecretValueInvalid"),
        )
        for name in BAD_SECRETS
    ),
    Family(
        "claims a channel another CameraChannel runs", lambda rng: {"channelId": "held"}, Condition("ChannelClaimed")
    ),
    # odd but valid: the operator runs them
    Family("unicode display name", lambda rng: {"displayName": rng.choice(UNICODE_NAMES)}, Runs()),
    Family(
        "200 KB of annotations",
        lambda rng: {},
        Runs(),
        metadata=lambda rng: {"annotations": {f"example.com/a{i}": "v" * 20_000 for i in range(10)}},
    ),
]
# Valid ones create Deployments (and ReplicaSets and Pods): a few suffice to show odd is not invalid.
_RUNS_SHARE = 0.02


def hostile_channels(namespace: str, count: int, seed: int = 18) -> list[HostileChannel]:
    """`count` CameraChannels drawn from FAMILIES: every family at least once, then at random."""
    rng = random.Random(seed)
    invalid = [family for family in FAMILIES if not isinstance(family.expect, Runs)]
    runs = [family for family in FAMILIES if isinstance(family.expect, Runs)]
    chosen = list(FAMILIES)
    while len(chosen) < count:
        chosen.append(rng.choice(runs) if rng.random() < _RUNS_SHARE else rng.choice(invalid))
    return [_manifest(namespace, index, family, rng) for index, family in enumerate(chosen[:count])]


def _manifest(namespace: str, index: int, family: Family, rng: random.Random) -> HostileChannel:
    spec = {
        "store": "hostile",
        "channelId": f"h{index}",
        "displayName": f"hostile {index}",
        "source": SOURCE,
        **family.spec(rng),
    }
    metadata = {"name": f"h{index}", "namespace": namespace, **family.metadata(rng)}
    manifest = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "CameraChannel", "metadata": metadata, "spec": spec}
    return HostileChannel(family, manifest)
