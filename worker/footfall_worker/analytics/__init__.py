"""Store analytics on top of the tracks: counting lines (in/out), zones (enter, exit, dwell, occupancy)."""

from footfall_contract.config.geometry import AnalyticsConfig, CountingLine, Point, Zone
from footfall_worker.analytics.counting import (
    IN,
    LINE_CROSSING,
    OUT,
    ZONE_ENTER,
    ZONE_EXIT,
    AnalyticsEvent,
    StoreAnalytics,
    anchors,
)

__all__ = [
    "IN",
    "LINE_CROSSING",
    "OUT",
    "ZONE_ENTER",
    "ZONE_EXIT",
    "AnalyticsConfig",
    "AnalyticsEvent",
    "CountingLine",
    "Point",
    "StoreAnalytics",
    "Zone",
    "anchors",
]
