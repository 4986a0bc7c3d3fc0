"""The store's camera configuration: which channels exist and how to reach each one.

Credentials never live in these files. A channel names where they are (`credentials.py`: environment
variables, or a mounted Secret's files); the URL with credentials is only built on demand and prints masked
everywhere.
"""

import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from footfall_contract.config.credentials import CameraCredentials, ConfigError, CredentialsRef
from footfall_contract.config.geometry import IDENTIFIER_PATTERN, AnalyticsConfig
from footfall_contract.config.masking import mask_credentials
from footfall_contract.config.store_hours import OpeningHours
from footfall_contract.config.text import Description, DisplayName

# IDENTIFIER_PATTERN (config.geometry): channel and store ids end up in labels, Redis keys and table rows.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
DAHUA_PATH = "/cam/realmonitor"
# An invalid value is echoed in its error so its author sees it; a long one only in part (a condition is bounded).
_MAX_SHOWN_INPUT = 120


class RtspUrl:
    """A stream URL that may carry credentials; `str()` and `repr()` are always masked.

    Only `reveal()` gives the real URL, and only the code that opens the stream should call it.
    """

    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        self._url = url

    def reveal(self) -> str:
        return self._url

    @property
    def masked(self) -> str:
        return mask_credentials(self._url)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"RtspUrl({self.masked!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RtspUrl) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)


class CameraSource(BaseModel):
    """How to reach one camera stream: a Dahua channel (`channel`, `subtype`) or an explicit `path`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(max_length=253)
    port: int = Field(default=554, ge=1, le=65535)
    channel: int | None = Field(default=None, ge=1, le=256, description="Dahua channel number")
    subtype: Literal[0, 1] = Field(default=0, description="Dahua stream: 0 main, 1 sub")
    path: str | None = Field(default=None, max_length=1024, description="any other RTSP path, with its query")

    @field_validator("host")
    @classmethod
    def _host_is_address_or_name(cls, host: str) -> str:
        if "@" in host or "/" in host:
            raise ValueError("expected a bare host name or IP address (no credentials, scheme or path)")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _HOSTNAME.match(host):
                raise ValueError(f"expected a host name or IP address, got {host!r}") from None
        return host

    @field_validator("path")
    @classmethod
    def _path_is_absolute(cls, path: str | None) -> str | None:
        if path is None:
            return None
        # isprintable() is False for control characters and for lone surrogates (bytes that were not UTF-8), which
        # no request line can carry; a space would end the request line's URL
        if not path.startswith("/") or "@" in path or " " in path or not path.isprintable():
            raise ValueError("expected an absolute RTSP path starting with '/' (printable, no spaces, no credentials)")
        return path

    @model_validator(mode="after")
    def _channel_or_path(self) -> Self:
        if (self.channel is None) == (self.path is None):
            raise ValueError("expected exactly one of 'channel' (a Dahua channel number) or 'path'")
        return self

    @property
    def path_and_query(self) -> str:
        if self.path is not None:
            return self.path
        return f"{DAHUA_PATH}?channel={self.channel}&subtype={self.subtype}"

    def main_stream(self) -> "CameraSource | None":
        """The same camera's main stream when this is its Dahua sub-stream (`subtype` 1), else None: where to
        read when a camera has its sub-stream switched off."""
        if self.channel is None or self.subtype != 1:
            return None
        return self.model_copy(update={"subtype": 0})

    def url(self, credentials: CameraCredentials | None = None) -> RtspUrl:
        """Build the stream URL, with percent-encoded credentials when given."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        userinfo = ""
        if credentials is not None:
            password = credentials.password.get_secret_value()
            userinfo = f"{quote(credentials.username, safe='')}:{quote(password, safe='')}@"
        return RtspUrl(f"rtsp://{userinfo}{host}:{self.port}{self.path_and_query}")


class ChannelConfig(BaseModel):
    """One camera channel of a store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(max_length=63, pattern=IDENTIFIER_PATTERN, description="unique within the store, e.g. channel_1")
    name: DisplayName
    description: Description = ""
    source: CameraSource
    credentials: CredentialsRef | None = None
    analytics: AnalyticsConfig | None = Field(
        default=None, description="counting lines, zones and exclusion masks of this view"
    )

    def url(self, environ: Mapping[str, str] | None = None) -> RtspUrl:
        """The stream URL with credentials resolved from the environment when the channel declares any."""
        return self.source.url(self._credentials(environ))

    def main_stream_url(self, environ: Mapping[str, str] | None = None) -> RtspUrl | None:
        """The camera's main stream when the channel reads its Dahua sub-stream (`source.subtype` 1), else None."""
        main = self.source.main_stream()
        if main is None:
            return None
        return main.url(self._credentials(environ))

    def _credentials(self, environ: Mapping[str, str] | None) -> CameraCredentials | None:
        return self.credentials.resolve(environ) if self.credentials else None


def known_timezone(timezone: str) -> str:
    """`timezone` when it names an IANA zone; a ValueError saying what was expected otherwise (a pydantic
    validator of the store config and of the CameraChannel spec alike)."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a key that is a directory of the zone database ("Europe") or too long a file name. The value
        # is not quoted here: `format_validation_error` shows it, masked and cut.
        raise ValueError("expected an IANA time zone such as 'Asia/Ho_Chi_Minh'") from None
    return timezone


class StoreConfig(BaseModel):
    """A store and its channels.

    `source_defaults` and `credentials` at the top apply to every channel that does not set its own, so a
    store behind one NVR names its host once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    store_id: str = Field(max_length=63, pattern=IDENTIFIER_PATTERN)
    store_name: DisplayName
    timezone: str = "UTC"
    opening_hours: OpeningHours | None = Field(
        default=None, description="when the store opens and closes; live store occupancy resets at closing time"
    )
    channels: list[ChannelConfig] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        source_defaults = data.pop("source_defaults", None) or {}
        if not isinstance(source_defaults, dict):
            # merged into each channel's source below: anything but an object would raise a TypeError there
            raise ValueError("source_defaults: expected an object of source fields such as host and port")
        credentials = data.pop("credentials", None)
        channels = data.get("channels")
        if isinstance(channels, list):
            merged = []
            for channel in channels:
                if isinstance(channel, dict):
                    channel = dict(channel)
                    source = channel.get("source", {})
                    if isinstance(source, dict):
                        channel["source"] = {**source_defaults, **source}
                    if credentials is not None:
                        channel.setdefault("credentials", credentials)
                merged.append(channel)
            data["channels"] = merged
        return data

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        return known_timezone(timezone)

    @model_validator(mode="after")
    def _unique_channels(self) -> Self:
        seen_ids: set[str] = set()
        seen_streams: dict[tuple[str, int, str], str] = {}
        for channel in self.channels:
            if channel.id in seen_ids:
                raise ValueError(f"channel id {channel.id!r} appears twice; ids must be unique")
            seen_ids.add(channel.id)
            stream = (channel.source.host, channel.source.port, channel.source.path_and_query)
            if stream in seen_streams:
                raise ValueError(f"channels {seen_streams[stream]!r} and {channel.id!r} read the same stream")
            seen_streams[stream] = channel.id
        for channel in self.channels:
            partner = channel.analytics.partner if channel.analytics else None
            if partner is not None and partner.channel == channel.id:
                raise ValueError(f"channel {channel.id!r}: analytics.partner names the channel itself")
        return self

    def channel(self, channel_id: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.id == channel_id:
                return channel
        known = ", ".join(c.id for c in self.channels)
        raise ConfigError(f"store {self.store_id!r} has no channel {channel_id!r}; known channels: {known}")


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, str) and (
            not part.isprintable() or len(part) > _MAX_SHOWN_INPUT or mask_credentials(part) != part
        ):
            # an unknown key is its author's text: shown like a value, so a newline in it cannot split one problem
            # line into two (nor an escape sequence or a password reach a status)
            part = _shown_input(part)
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def format_validation_error(error: ValidationError, origin: str) -> str:
    """One line per problem: `origin: field.path: what was expected (got ...)`; inputs are masked."""
    lines = []
    for problem in error.errors(include_url=False):
        got = problem.get("input")
        shown = "" if isinstance(got, (dict, list)) else f" (got {_shown_input(got)})"
        # masked too: a validator's message may quote the value (a host, a quantity) and it may hold a password
        message = mask_credentials(problem["msg"].removeprefix("Value error, "))
        lines.append(f"{origin}: {_field_path(tuple(problem['loc']))}: {message}{shown}")
    return "\n".join(lines)


def _shown_input(value: Any) -> str:
    # repr escapes control characters; masked before it is cut, so a cut never leaves half a password behind
    try:
        text = mask_credentials(repr(value))
    except ValueError:  # an int of over 4300 digits has no repr (Python's guard against quadratic conversion)
        text = f"a {type(value).__name__} too long to show"
    return text if len(text) <= _MAX_SHOWN_INPUT else f"{text[:_MAX_SHOWN_INPUT]}... ({len(text)} characters)"


def parse_store_config(data: Any, origin: str = "<config>") -> StoreConfig:
    try:
        return StoreConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, origin)) from None


def load_store_config(path: str | Path) -> StoreConfig:
    """Read and validate a store config JSON file.

    Raises:
        ConfigError: unreadable file, malformed JSON (with line and column) or invalid fields.
    """
    return parse_store_config(read_json_file(path, "store config"), origin=str(path))


def read_json_file(path: str | Path, what: str) -> Any:
    """A config file's JSON document.

    Raises:
        ConfigError: unreadable file, not UTF-8, or malformed JSON (with line and column), nested too deep or with
            a number too long; `what` names the file's role.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text (byte {error.start + 1})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    except (ValueError, RecursionError):
        # json raises these past its own checks: an integer of over 4300 digits, nesting deeper than Python recurses
        raise ConfigError(f"{path}: the {what} holds a number too long or nesting too deep to read") from None
