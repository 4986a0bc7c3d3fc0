"""Store occupancy reconciliation: clamped at zero, reset at closing time (in the store's zone, across DST and
past midnight), partner cameras' crossings counted once, and every correction kept per day."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from footfall_contract.config.geometry import PartnerChannel
from footfall_contract.config.store_hours import OpeningHours, business_day
from footfall_worker.analytics.line_state import IN, OUT
from footfall_worker.analytics.store_occupancy import Crossing, mark_duplicates, reconcile

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = OpeningHours(open="08:00", close="22:00")


def at(day: date, hh: int, mm: int = 0, ss: float = 0.0, tz: ZoneInfo = BERLIN) -> float:
    return (datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz) + timedelta(seconds=ss)).timestamp()


def days_of(tz: ZoneInfo, hours: OpeningHours | None):  # type: ignore[no-untyped-def]
    return lambda t: business_day(t, tz, hours)


DAY = date(2026, 6, 3)
LATER = datetime(2027, 1, 1, tzinfo=UTC)


def test_an_exit_that_finds_nobody_inside_is_clamped_not_subtracted() -> None:
    crossings = [Crossing(at(DAY, 9), "door", OUT), Crossing(at(DAY, 9, 1), "door", IN)]
    crossings += [Crossing(at(DAY, 9, 2), "door", OUT), Crossing(at(DAY, 9, 3), "door", OUT)]
    result = reconcile(crossings, days_of(BERLIN, HOURS), LATER)
    assert [people for _, people in result.timeline] == [1, 0]
    (day,) = result.days
    assert (day.entries, day.exits, day.clamped, day.residual, day.peak, day.drift) == (1, 3, 2, 0, 1, 2)


def test_whoever_is_still_inside_at_closing_is_the_days_residual_and_the_next_day_starts_at_zero() -> None:
    crossings = [Crossing(at(DAY, 21, m), "door", IN) for m in range(3)] + [Crossing(at(DAY, 21, 30), "door", OUT)]
    crossings += [Crossing(at(DAY, 22, 30), "door", IN)]  # after closing: the next business day
    crossings += [Crossing(at(DAY + timedelta(1), 9), "door", OUT), Crossing(at(DAY + timedelta(1), 9, 1), "door", OUT)]
    result = reconcile(crossings, days_of(BERLIN, HOURS), LATER)
    first, second = result.days
    assert (first.day, first.entries, first.exits, first.residual) == (DAY, 3, 1, 2)
    assert second.day == DAY + timedelta(1)
    assert (second.entries, second.exits, second.clamped, second.residual) == (1, 2, 1, 0)
    # the reset is on the timeline at 22:00 Berlin time
    assert (at(DAY, 22), 0) in result.timeline
    assert min(people for _, people in result.timeline) == 0


def test_a_day_still_open_at_the_period_end_has_no_residual_yet() -> None:
    crossings = [Crossing(at(DAY, 10), "door", IN)]
    until = datetime.fromtimestamp(at(DAY, 12), UTC)
    (day,) = reconcile(crossings, days_of(BERLIN, HOURS), until).days
    assert day.residual == 0
    (closed,) = reconcile(crossings, days_of(BERLIN, HOURS), LATER).days
    assert closed.residual == 1


def test_a_store_open_past_midnight_counts_the_small_hours_in_the_day_it_opened() -> None:
    late = OpeningHours(open="10:00", close="02:00")
    night = datetime(2026, 6, 4, 1, 30, tzinfo=BERLIN)
    assert business_day(night, BERLIN, late).day == DAY
    assert business_day(night + timedelta(hours=1), BERLIN, late).day == DAY + timedelta(1)


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),  # clocks forward at 02:00
        ("Europe/Berlin", date(2026, 10, 25), 25),  # clocks back at 03:00
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Asia/Ho_Chi_Minh", date(2026, 3, 29), 24),  # no DST
    ],
)
def test_a_business_day_is_closing_to_closing_in_elapsed_time(zone: str, day: date, hours: int) -> None:
    tz = ZoneInfo(zone)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=tz)
    for opening in (HOURS, None):  # closing at 22:00, and at midnight: the change is inside the day
        span = business_day(noon, tz, opening)
        assert span.day == day and span.end - span.start == timedelta(hours=hours), opening
        assert business_day(span.end, tz, opening).day == day + timedelta(1)
        assert business_day(span.end - timedelta(microseconds=1), tz, opening).day == day
    # closing at 03:30, after the change: the night of the change belongs to the day before
    night = business_day(noon - timedelta(days=1), tz, OpeningHours(open="09:00", close="03:30"))
    assert night.day == day - timedelta(1) and night.end - night.start == timedelta(hours=hours)


def test_partner_cameras_count_one_person_once_and_two_people_twice() -> None:
    partners = {"door_inside": PartnerChannel(channel="door_outside", window_s=2.0)}
    crossings = [
        Crossing(100.0, "door_outside", IN),
        Crossing(101.0, "door_inside", IN),  # the same person: dropped
        Crossing(200.0, "door_inside", IN),  # two people together, each seen by both cameras
        Crossing(200.4, "door_inside", IN),
        Crossing(200.9, "door_outside", IN),
        Crossing(201.3, "door_outside", IN),
        Crossing(300.0, "door_outside", IN),
        Crossing(301.0, "door_inside", OUT),  # the other way: not the same crossing
        Crossing(400.0, "door_outside", IN),
        Crossing(402.5, "door_inside", IN),  # too late to be the same person
    ]
    marked = mark_duplicates(crossings, partners)
    assert [t for (c, duplicate) in marked if duplicate for t in [c.t]] == [101.0, 200.9, 201.3]
    days = reconcile(crossings, lambda t: business_day(t, ZoneInfo("UTC"), None), LATER, partners).days
    assert [(d.entries, d.exits, d.duplicates) for d in days] == [(6, 1, 3)]


def test_opening_hours_are_wall_clock_minutes() -> None:
    with pytest.raises(ValidationError, match="close"):
        OpeningHours(open="08:00", close="24:00")
    with pytest.raises(ValidationError, match="open"):
        OpeningHours.model_validate({"open": 480, "close": "22:00"})  # YAML 1.1 reads 08:00 as 480
