"""What a worker needs to know about its channel: identity, where frames come from, what the record says."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from footfall_contract.config import ChannelConfig, StoreConfig
from footfall_contract.config.geometry import AnalyticsConfig
from footfall_contract.config.store_hours import OpeningHours
from footfall_worker.ingest.capture import Source, is_file


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel for a worker.

    Attributes:
        channel_id: the id on every row, key, metric and log line.
        store_id: the store it belongs to.
        name: human name.
        source: a URL or file, or a callable asked before every connect (fresh credentials from a Secret).
        source_masked: the source as it may be shown (credentials masked).
        is_file: frames come from a video file (tracked on the video's clock; its end ends the run).
        config: the channel's configuration as recorded in `channels.config` (no credentials).
        analytics: the channel's counting lines and zones, None when it has none.
        fallback: where to read when the camera has no `source` stream (it answers 404): the main stream of a
            channel configured on the sub-stream; None when there is no such alternative.
        timezone: the store's IANA time zone, recorded with the channel for reports in store-local hours.
        opening_hours: the store's, when configured: live store occupancy resets at closing time.
    """

    channel_id: str
    store_id: str
    name: str
    source: Source | Callable[[], Source]
    source_masked: str
    is_file: bool
    config: dict[str, Any] = field(default_factory=dict)
    analytics: AnalyticsConfig | None = None
    fallback: Callable[[], Source] | None = None
    timezone: str = "UTC"
    opening_hours: OpeningHours | None = None

    @classmethod
    def from_store(cls, store: StoreConfig, channel: ChannelConfig) -> "ChannelSpec":
        return cls(
            channel_id=channel.id,
            store_id=store.store_id,
            name=channel.name,
            source=channel.url,  # re-resolved per connect: a rotated password needs no restart
            source_masked=str(channel.source.url()),
            is_file=False,
            config=channel.model_dump(mode="json"),
            analytics=channel.analytics,
            fallback=_main_stream(channel),
            timezone=store.timezone,
            opening_hours=store.opening_hours,
        )

    @classmethod
    def from_file(
        cls,
        path: Path,
        channel_id: str | None = None,
        store_id: str = "local",
        analytics: AnalyticsConfig | None = None,
    ) -> "ChannelSpec":
        config: dict[str, Any] = {"file": str(path)}
        if analytics is not None:
            config["analytics"] = analytics.model_dump(mode="json")
        return cls(
            channel_id=channel_id or file_channel_id(path),
            store_id=store_id,
            name=path.name,
            source=path,
            source_masked=str(path),
            is_file=is_file(path),
            config=config,
            analytics=analytics,
        )


def _main_stream(channel: ChannelConfig) -> Callable[[], Source] | None:
    if channel.source.main_stream() is None:
        return None

    def main_stream_url() -> Source:
        return channel.main_stream_url() or channel.url()  # a Dahua sub-stream always has a main stream

    return main_stream_url


def file_channel_id(path: Path) -> str:
    """A channel id from a file name, in the identifier alphabet channel ids use (`file-one-by-one`)."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_")[:56] or "video"
    return f"file-{slug}"
