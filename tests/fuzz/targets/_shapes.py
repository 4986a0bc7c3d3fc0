"""Store configs and CameraChannel specs drawn from a fuzzer's bytes: the right shape, hostile contents.

Every field is mostly plausible (so the fuzzer reaches the cross-field rules behind the type checks) and
sometimes hostile text, a value of another type, or missing (`_hostile.field`).
"""

from typing import Any

import atheris

from tests.fuzz.targets._hostile import OMIT, field, number, pick, record, text, value

TIMEZONES = (
    "UTC",
    "Asia/Ho_Chi_Minh",
    "Europe/Berlin",
    "Etc/GMT+7",
    "Europe",  # a directory of the zone database
    "America/",
    "posixrules",
    "zone.tab",  # a file of the zone database that is not a zone
    "tzdata.zi",
    "Factory",
    "localtime",
    "../UTC",
    "UTC\x00",
    "x" * 300,
)
HOSTS = ("10.0.0.1", "cam-1.store.local", "::1", "fe80::1%eth0", "admin:hunter2@10.0.0.1", "a" * 254, "-bad-")
PATHS = ("/live", "/cam/realmonitor?channel=1&subtype=0", "/x?password=hunter2", "live", "/a b", "/" + "p" * 1100)
IDS = ("kidsplaza_thanhxuan", "channel_1", "a", "cam-1", "A", "_x", "x" * 64)


def identifier(fdp: atheris.FuzzedDataProvider) -> str:
    """A store, channel, line or zone id: a known one or a run of id-ish characters."""
    if fdp.ConsumeBool():
        return pick(fdp, IDS)
    return "".join(pick(fdp, "ab09_-.A") for _ in range(fdp.ConsumeIntInRange(0, 66)))


def point(fdp: atheris.FuzzedDataProvider) -> Any:
    coordinates = (field(fdp, lambda: fdp.ConsumeFloatInRange(-0.1, 1.1)) for _ in range(fdp.ConsumeIntInRange(1, 3)))
    return [c for c in coordinates if c is not OMIT]


def points(fdp: atheris.FuzzedDataProvider, most: int) -> list[Any]:
    return [point(fdp) for _ in range(fdp.ConsumeIntInRange(0, most))]


def analytics(fdp: atheris.FuzzedDataProvider, camel: bool) -> dict[str, Any]:
    """Counting lines and zones (camelCase as in a CameraChannel, or snake_case as in a store config)."""
    in_side, line_band, grace = (
        ("inSide", "lineBand", "zoneExitGraceS") if camel else ("in_side", "line_band", "zone_exit_grace_s")
    )
    line = {
        "id": lambda: identifier(fdp),
        "points": lambda: points(fdp, 5),
        in_side: lambda: pick(fdp, ["left", "right", "up"]),
    }
    zone = {"id": lambda: identifier(fdp), "polygon": lambda: points(fdp, 6)}
    return record(
        fdp,
        {
            "lines": lambda: [record(fdp, line) for _ in range(fdp.ConsumeIntInRange(0, 3))],
            "zones": lambda: [record(fdp, zone) for _ in range(fdp.ConsumeIntInRange(0, 3))],
            line_band: lambda: number(fdp),
            grace: lambda: number(fdp),
        },
    )


def source(fdp: atheris.FuzzedDataProvider) -> dict[str, Any]:
    fields = {
        "host": lambda: pick(fdp, HOSTS) if fdp.ConsumeBool() else text(fdp),
        "port": lambda: fdp.ConsumeIntInRange(0, 70_000),
    }
    if fdp.ConsumeBool():
        fields["channel"] = lambda: fdp.ConsumeIntInRange(0, 300)
        fields["subtype"] = lambda: fdp.ConsumeIntInRange(0, 2)
    else:
        fields["path"] = lambda: pick(fdp, PATHS) if fdp.ConsumeBool() else "/" + text(fdp)
    return record(fdp, fields)


def credentials_ref(fdp: atheris.FuzzedDataProvider) -> dict[str, Any]:
    return record(
        fdp,
        {
            "username_env": lambda: pick(fdp, ["CAM_USER", "1X", "A-B"]),
            "password_env": lambda: pick(fdp, ["CAM_PASSWORD", "FOOTFALL_CAMERA_PASSWORD", ""]),
        },
    )


def channel_config(fdp: atheris.FuzzedDataProvider) -> dict[str, Any]:
    return record(
        fdp,
        {
            "id": lambda: identifier(fdp),
            "name": lambda: text(fdp),
            "description": lambda: text(fdp),
            "source": lambda: source(fdp),
            "credentials": lambda: credentials_ref(fdp),
            "analytics": lambda: analytics(fdp, camel=fdp.ConsumeBool()),
        },
    )


def store_config(fdp: atheris.FuzzedDataProvider) -> dict[str, Any]:
    """A store config document, with the top-level `source_defaults` and `credentials` a store may share."""
    return record(
        fdp,
        {
            "store_id": lambda: identifier(fdp),
            "store_name": lambda: text(fdp),
            "timezone": lambda: pick(fdp, TIMEZONES),
            "channels": lambda: [
                channel_config(fdp) if fdp.ConsumeIntInRange(0, 7) else value(fdp)
                for _ in range(fdp.ConsumeIntInRange(0, 3))
            ],
            "source_defaults": lambda: source(fdp),
            "credentials": lambda: credentials_ref(fdp),
        },
    )


def channel_spec(fdp: atheris.FuzzedDataProvider) -> Any:
    """A CameraChannel `spec` as the apiserver hands it to the operator (camelCase), or now and then not a dict."""
    if fdp.ConsumeIntInRange(0, 31) == 0:
        return value(fdp)
    return record(
        fdp,
        {
            "store": lambda: identifier(fdp),
            "storeName": lambda: text(fdp),
            "timezone": lambda: pick(fdp, TIMEZONES),
            "channelId": lambda: identifier(fdp),
            "displayName": lambda: text(fdp),
            "description": lambda: text(fdp),
            "source": lambda: source(fdp),
            "credentialsSecretRef": lambda: record(
                fdp,
                {
                    "name": lambda: pick(fdp, ["store-camera-credentials", "Bad_Name", "a." * 130]),
                    "usernameKey": lambda: pick(fdp, ["username", "user name", ""]),
                    "passwordKey": lambda: pick(fdp, ["password", "pass/word"]),
                },
            ),
            "processing": lambda: record(
                fdp,
                {
                    "everyNFrames": lambda: number(fdp),
                    "adaptive": lambda: fdp.ConsumeBool(),
                    "detectorInputSize": lambda: pick(fdp, [320, 416, 640, 500, None]),
                },
            ),
            "resources": lambda: record(
                fdp,
                {
                    "requests": lambda: {"cpu": pick(fdp, ["500m", "1.5", "1e3", "lots"]), text(fdp, 8): "1"},
                    "limits": lambda: {"memory": pick(fdp, ["512Mi", "2Gi", "-1", "1" * 70])},
                },
            ),
            "triton": lambda: record(fdp, {"url": lambda: pick(fdp, ["triton:8001", "triton", "h:99999"])}),
            "paused": lambda: fdp.ConsumeBool(),
            "analytics": lambda: analytics(fdp, camel=True),
        },
    )
