"""`footfall import-config`'s manifests: a store config JSON as one CameraChannel per channel and their Secret
(the command line: `import_config_command.py`).

The store config names the environment variables holding the camera login; the manifests carry the login
once, in one Secret of the store (`stringData`), and every CameraChannel only references that Secret. The
manifests are built as plain dicts by pure functions, each CameraChannel spec checked with the operator's own
`parse_spec`, so what `kubectl apply` accepts is also what the operator runs.

Nothing is printed or written until every manifest is built: a missing variable never leaves half a Secret on
stdout or in a file.
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from footfall_contract.config import CameraCredentials, ChannelConfig, ConfigError, CredentialsRef, StoreConfig
from footfall_operator.camera_secret import CAMERA_SECRET_LABEL
from footfall_operator.children import CHANNEL_LABEL, STORE_LABEL
from footfall_operator.crd import API_VERSION, KIND, CredentialsSecretRef, SpecError, parse_spec

SECRET_SUFFIX = "-camera-credentials"
USERNAME_KEY = "username"
PASSWORD_KEY = "password"
# CameraChannel names are DNS-1123 labels: the operator derives label values and child names from them.
_MAX_NAME = 63
_HASH_LENGTH = 8
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ImportConfigError(ConfigError):
    """A store config or an option that cannot become manifests; the message names what to fix, never a value."""


# ---------------------------------------------------------------------------------------------------------------
# Names


def dns_label(text: str) -> str:
    """`text` as a DNS-1123 label: lowercase, `[a-z0-9-]`, at most 63 characters.

    A name that had to be shortened ends in a hash of the full text, so two long names sharing a prefix stay
    distinct and the same input always gives the same name (re-importing updates, never duplicates).
    """
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not name:
        raise ImportConfigError(f"cannot derive a Kubernetes name from {text!r}")
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{name[: _MAX_NAME - _HASH_LENGTH - 1].rstrip('-')}-{digest}"


def channel_resource_name(store_id: str, channel_id: str) -> str:
    """The CameraChannel's name, e.g. `kidsplaza-thanhxuan-channel-1`: unique across stores in a namespace."""
    return dns_label(f"{store_id}-{channel_id}")


def default_secret_name(store_id: str) -> str:
    return f"{store_id.replace('_', '-')}{SECRET_SUFFIX}"


def _check_secret_name(name: str) -> None:
    # The operator's own model says what a valid reference is; asking it here turns a bad --secret-name into a
    # user error instead of a "generated spec is invalid" bug report further down.
    try:
        CredentialsSecretRef(name=name)
    except ValidationError:
        raise ImportConfigError(
            f"--secret-name: expected a DNS-1123 name such as 'store-camera-credentials', got {name!r}"
        ) from None


def _check_namespace(namespace: str) -> None:
    if not _DNS_LABEL.match(namespace):
        raise ImportConfigError(f"--namespace: expected a DNS-1123 label such as 'footfall', got {namespace!r}")


def _check_unique_names(store: StoreConfig) -> None:
    # `cam_1` and `cam-1` are distinct channel ids but the same Kubernetes name; one would overwrite the other.
    seen: dict[str, str] = {}
    for channel in store.channels:
        name = channel_resource_name(store.store_id, channel.id)
        if name in seen:
            raise ImportConfigError(
                f"channels {seen[name]!r} and {channel.id!r} both become the CameraChannel name {name!r}; rename one"
            )
        seen[name] = channel.id


# ---------------------------------------------------------------------------------------------------------------
# Credentials


def store_credentials(store: StoreConfig) -> CredentialsRef | None:
    """The one login of the store's channels, or None when no channel declares credentials.

    Raises:
        ImportConfigError: channels name different variables; one Secret per store cannot hold two logins.
    """
    refs = {channel.credentials for channel in store.channels if channel.credentials is not None}
    if len(refs) > 1:
        names = sorted(f"{ref.username_env}/{ref.password_env}" for ref in refs)
        raise ImportConfigError(
            f"store {store.store_id!r}: channels name different credential variables ({', '.join(names)}); "
            "import-config makes one Secret per store, so give every channel the same credentials"
        )
    return next(iter(refs), None)


def read_credentials(ref: CredentialsRef, environ: Mapping[str, str]) -> CameraCredentials:
    """The login from the variables `ref` names.

    Raises:
        ImportConfigError: a variable is unset or empty; the message names the variables, never a value.
    """
    try:
        return ref.resolve(environ)
    except ConfigError as error:
        # the worker's reading of the same variables, plus what import-config can do without them
        raise ImportConfigError(
            f"{error}; set them, or pass --no-secret when the Secret is managed elsewhere"
        ) from None


# ---------------------------------------------------------------------------------------------------------------
# Manifests


def _metadata(name: str, namespace: str | None, labels: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = labels
    return metadata


def _source(channel: ChannelConfig) -> dict[str, Any]:
    source = channel.source
    if source.path is not None:
        return {"host": source.host, "port": source.port, "path": source.path}
    return {"host": source.host, "port": source.port, "channel": source.channel, "subtype": source.subtype}


def channel_spec(store: StoreConfig, channel: ChannelConfig, secret_name: str | None) -> dict[str, Any]:
    """A CameraChannel `spec` (camelCase); `secret_name` only for a channel that declares credentials."""
    spec: dict[str, Any] = {
        "store": store.store_id,
        "storeName": store.store_name,
        "timezone": store.timezone,
        "channelId": channel.id,
        "displayName": channel.name,
        "description": channel.description,
        "source": _source(channel),
    }
    if store.opening_hours is not None:
        spec["openingHours"] = store.opening_hours.model_dump(mode="json")
    if channel.credentials is not None and secret_name is not None:
        spec["credentialsSecretRef"] = {"name": secret_name, "usernameKey": USERNAME_KEY, "passwordKey": PASSWORD_KEY}
    if channel.analytics is not None:
        spec["analytics"] = channel.analytics.model_dump(mode="json", by_alias=True, exclude_none=True)
    return spec


def camera_channel_manifest(
    store: StoreConfig, channel: ChannelConfig, secret_name: str | None, namespace: str | None = None
) -> dict[str, Any]:
    """One CameraChannel, its spec validated the way the operator will validate it.

    Raises:
        ImportConfigError: the generated spec is invalid: a bug here, or a store config value the worker takes
            but the CRD limits (e.g. a store name over 128 characters); the problems name the spec fields.
    """
    spec = channel_spec(store, channel, secret_name)
    try:
        parse_spec(spec)
    except SpecError as error:
        raise ImportConfigError(
            f"channel {channel.id!r}: the generated CameraChannel spec is invalid: {error} "
            "(a value the CameraChannel CRD does not allow, or a bug in import-config)"
        ) from None
    labels = {STORE_LABEL: store.store_id, CHANNEL_LABEL: channel.id}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": _metadata(channel_resource_name(store.store_id, channel.id), namespace, labels),
        "spec": spec,
    }


def secret_manifest(
    store: StoreConfig, name: str, credentials: CameraCredentials, namespace: str | None = None
) -> dict[str, Any]:
    """The store's camera login as an Opaque Secret, opted in as camera credentials (the operator uses no other);
    `stringData` so the file reads as what it holds."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, namespace, {STORE_LABEL: store.store_id, CAMERA_SECRET_LABEL: "true"}),
        "type": "Opaque",
        "stringData": {
            USERNAME_KEY: credentials.username,
            PASSWORD_KEY: credentials.password.get_secret_value(),
        },
    }


def with_camera_host(store: StoreConfig, host: str) -> StoreConfig:
    """The store with every channel's camera at `host` (the address the cluster reaches the cameras by, or a
    placeholder for an example).

    Raises:
        ImportConfigError: `host` is not a bare host name or IP address.
    """
    channels = []
    for channel in store.channels:
        source = channel.source
        try:
            moved = type(source).model_validate({**source.model_dump(), "host": host})
        except ValidationError as error:
            raise ImportConfigError(f"--camera-host: {error.errors()[0]['msg']}") from None
        channels.append(channel.model_copy(update={"source": moved}))
    return store.model_copy(update={"channels": channels})


def build_manifests(
    store: StoreConfig,
    environ: Mapping[str, str],
    *,
    namespace: str | None = None,
    secret_name: str | None = None,
    include_secret: bool = True,
) -> list[dict[str, Any]]:
    """The Secret (when the store has credentials and `include_secret`) first, then one CameraChannel per channel.

    The Secret comes first so `kubectl apply -f -` creates it before the channels that reference it, and the
    operator never sees a channel whose Secret is missing.

    Raises:
        ImportConfigError: a bad option, a missing credentials variable, clashing names or credentials.
    """
    if namespace is not None:
        _check_namespace(namespace)
    _check_unique_names(store)
    ref = store_credentials(store)
    if ref is None:
        return [camera_channel_manifest(store, channel, None, namespace) for channel in store.channels]
    secret = secret_name or default_secret_name(store.store_id)
    _check_secret_name(secret)
    manifests = [camera_channel_manifest(store, channel, secret, namespace) for channel in store.channels]
    if include_secret:
        manifests.insert(0, secret_manifest(store, secret, read_credentials(ref, environ), namespace))
    return manifests


def render(manifests: Sequence[dict[str, Any]]) -> str:
    """Multi-document YAML, keys in the order built (apiVersion, kind, metadata, ...), UTF-8 names kept."""
    return yaml.safe_dump_all(manifests, sort_keys=False, allow_unicode=True, explicit_start=True)
