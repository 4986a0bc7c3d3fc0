"""A store's opening hours and its business day: the span from one closing time to the next, in the store's time
zone. Live store occupancy resets at closing time (whoever is still counted inside then was missed leaving), and
the record's daily reconciliation uses the same days, so both agree on where a day ends."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

# HH:MM, 00:00 to 23:59. A string, not a time: the same text in a JSON config and a CameraChannel's YAML.
_WALL_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class OpeningHours(BaseModel):
    """When the store opens and closes, every day, on its wall clock. A `close` at or before `open` is after
    midnight (a store open 10:00-02:00 closes at 02:00 the next morning)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open: str = Field(
        max_length=5, pattern=_WALL_CLOCK, description="opening time on the store's wall clock, HH:MM, e.g. 08:00"
    )
    close: str = Field(
        max_length=5, pattern=_WALL_CLOCK, description="closing time, HH:MM; at or before `open`: after midnight"
    )

    @property
    def opens(self) -> time:
        return time.fromisoformat(self.open)

    @property
    def closes(self) -> time:
        return time.fromisoformat(self.close)


@dataclass(frozen=True, slots=True)
class BusinessDay:
    """One day of the store: from the previous closing time to this one (UTC instants), named by the date it
    opened. Without opening hours a business day is the calendar day, midnight to midnight."""

    day: date
    start: datetime
    end: datetime

    def __contains__(self, t: datetime) -> bool:
        return self.start <= t < self.end


def _closing(day: date, hours: OpeningHours | None, tz: ZoneInfo) -> datetime:
    """The instant business day `day` ends."""
    if hours is None:
        return datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)
    after_midnight = hours.closes <= hours.opens
    return datetime.combine(day + timedelta(days=1 if after_midnight else 0), hours.closes, tz).astimezone(UTC)


def business_day(t: datetime, tz: ZoneInfo, hours: OpeningHours | None) -> BusinessDay:
    """The business day that instant `t` (aware) falls in."""
    local = t.astimezone(tz).date()
    for day in (local - timedelta(days=1), local, local + timedelta(days=1)):
        start, end = _closing(day - timedelta(days=1), hours, tz), _closing(day, hours, tz)
        if start <= t < end:
            return BusinessDay(day, start, end)
    raise AssertionError(f"no business day holds {t.isoformat()}")  # the three days cover any instant
