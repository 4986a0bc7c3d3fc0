"""A realistic synthetic day of one store, inserted as the worker would record it, with every number known.

Store `demo_store` (time zone Asia/Ho_Chi_Minh, UTC+7, in each channel's stored config) on Monday 2024-05-06:
two entrance cameras with a counting line (channel_1, channel_2) and a checkout camera with two zones
(channel_3). Each line crossing is its own tracked person; the gender codes below say what `tracks.gender`
finally decided and what the crossing's payload knew at crossing time, so a report using the payload's gender
instead of the final one gets different numbers. Around it: crossings just outside the day, another store's
crossing inside it, and an unrelated event kind, none of which the day's report may count.
"""

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg2.extensions
from psycopg2.extras import execute_values

STORE = "demo_store"
OTHER_STORE = "other_store"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2024, 5, 6)
CHANNELS = {"channel_1": "entrance_left", "channel_2": "entrance_right", "channel_3": "checkout"}
OTHER_CHANNEL = "channel_9"

# code -> (tracks.gender, or None when the track has no `tracks` row; the payload's gender at crossing time)
GENDER_CODES: dict[str, tuple[str | None, str | None]] = {
    "F": ("female", "female"),
    "M": ("male", "male"),
    "f": ("female", None),  # decided after the crossing
    "Fm": ("female", "male"),  # the crossing-time guess was revised
    "U": ("unknown", None),  # never decided
    "P": (None, "female"),  # no track row: the payload's gender is all there is
    "X": (None, None),  # no track row, no gender: unknown
}

# (channel, local hour) -> (the entries' gender codes, number of exits). Events are spread over the hour from
# HH:00:00 to HH:59:59 (both ends inside the hour).
CROSSINGS: dict[tuple[str, int], tuple[list[str], int]] = {
    ("channel_1", 9): (["F", "M", "f"], 0),
    ("channel_1", 10): (["F", "F", "M", "f", "U", "Fm", "P"], 5),
    ("channel_1", 12): (["M", "M", "U", "X"], 2),
    ("channel_1", 17): (["F", "M"], 6),
    ("channel_2", 10): (["M", "U"], 1),
    ("channel_2", 11): (["F", "f", "M", "U", "U"], 3),
    ("channel_2", 18): (["Fm"], 3),
}

# (channel, local hour) -> staff entries, each True when the crossing knew it was staff, False when the tag came
# later (the track's final `staff` says so). They are entries, not customers.
STAFF_ENTRIES: dict[tuple[str, int], list[bool]] = {("channel_2", 8): [True, False]}

# channel_3's heatmap: every open hour 09:00-20:00 (12 hours) of one run, two cells (col, row) -> feet counted;
# one hour the day before, outside the day's report
HEAT_CELLS = {(20, 12): 100, (21, 12): 50}
HEAT_HOURS = range(9, 21)
HEAT_FRAMES = 36_000  # 10 fps for an hour
HEAT_GRID = (32, 18)

# the till's transactions per local hour (posted to the webhook); the other hours it sent nothing
TILL = {10: 3, 12: 2, 14: 0}

# zone on channel_3 -> dwell seconds of each completed visit (bin edges 30, 60, 120, 300, 600, 900, 1800 s)
DWELLS: dict[str, list[float]] = {
    "checkout_queue": [12.0, 29.9, 30.0, 45.0, 59.9, 75.0, 110.0, 130.0, 200.0, 299.9, 301.0, 650.0, 1900.0],
    "promo_shelf": [20.0, 90.0, 95.0],
}

OPEN, CLOSE = time(8, 0), time(21, 0)  # channel_stats_minute rows cover [08:00, 21:00) local
HOURS = {"open": "08:00", "close": "21:00"}  # the store's opening hours, recorded with each channel
STATS_GAP = ("channel_2", time(14, 0), time(14, 30))  # the worker was down: no rows
# channel_1 saw only 15 s of each minute from 17:40 (a flapping camera): hour 17 is (40 * 60 + 20 * 15) / 3600
THIN = ("channel_1", time(17, 40), time(18, 0), 15.0)
# channel_3's minutes 12:00..12:04 exactly: occupancy_avg and occupancy_max (bucket 12:00: mean 3.0, max 9)
FIXED_MINUTES = {"channel_3": ([1.0, 2.0, 3.0, 4.0, 5.0], [2, 3, 4, 5, 9])}


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), TZ)


def covered_s(channel: str, at: time) -> float | None:
    """Seconds the seed says `channel` saw of the local minute at `at`; None when it has no row."""
    gap_channel, gap_from, gap_to = STATS_GAP
    if not OPEN <= at < CLOSE or (channel == gap_channel and gap_from <= at < gap_to):
        return None
    thin_channel, thin_from, thin_to, thin_s = THIN
    return thin_s if channel == thin_channel and thin_from <= at < thin_to else 60.0


def hour_coverage(channel: str, hour: int) -> float:
    """The fraction of the local hour the seed says `channel` saw."""
    return sum(covered_s(channel, time(hour, m)) or 0.0 for m in range(60)) / 3600


@dataclass
class _Rows:
    channels: list[tuple] = field(default_factory=list)
    runs: list[tuple] = field(default_factory=list)
    tracks: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    stats: list[tuple] = field(default_factory=list)
    heat: list[tuple] = field(default_factory=list)
    till: list[tuple] = field(default_factory=list)
    next_track: dict[str, int] = field(default_factory=dict)

    def person(
        self, run_id: str, channel: str, t: datetime, final: str | None, stays_s: float = 20.0, staff: bool = False
    ) -> int:
        """A new track seen from a few seconds before `t` to `stays_s` after it; no row when `final` is None."""
        track_id = self.next_track.get(run_id, 1)
        self.next_track[run_id] = track_id + 1
        if final is not None:
            first, last = t - timedelta(seconds=6), t + timedelta(seconds=stays_s)
            self.tracks.append(
                (run_id, track_id, channel, first, last, int((last - first).total_seconds() * 10), final, staff)
            )
        return track_id

    def event(self, run_id: str, channel: str, t: datetime, kind: str, track_id: int, payload: dict) -> None:
        self.events.append((str(uuid.uuid4()), run_id, channel, t, kind, track_id, json.dumps(payload)))


def _crossing(
    rows: _Rows, run_id: str, channel: str, t: datetime, direction: str, code: str, staff: bool | None = None
) -> None:
    """`staff`: None a customer (as a worker before staff zones wrote it: no `staff` in the payload); True staff
    known at crossing time; False staff tagged after the crossing."""
    final, at_crossing = GENDER_CODES[code]
    track_id = rows.person(run_id, channel, t, final, staff=staff is not None)
    payload = {"line": "door", "direction": direction, "gender": at_crossing}
    if staff is not None:
        payload["staff"] = staff
    rows.event(run_id, channel, t, "line_crossing", track_id, payload)


def _occupancy(channel: str, minute_of_day: int) -> tuple[float, int]:
    """A smooth daily curve per camera: quiet at opening, a lunch peak and an evening peak."""
    scale = {"channel_1": 3.0, "channel_2": 2.2, "channel_3": 4.5}[channel]
    hours = minute_of_day / 60
    curve = 0.6 + math.exp(-(((hours - 12.3) / 1.4) ** 2)) + 1.3 * math.exp(-(((hours - 18.0) / 1.6) ** 2))
    avg = round(scale * curve * (0.9 + 0.1 * math.sin(minute_of_day / 7)), 2)
    return avg, math.ceil(avg) + minute_of_day % 3


def _rollups(events: list[tuple]) -> dict[tuple[str, datetime], tuple]:
    """The worker's per-minute rollup of the events: entries, exits, entries by the gender known when the minute
    closed (the crossing's), dwells and their mean. The report does not read these; they make the day whole."""
    minutes: dict[tuple[str, datetime], list[dict]] = {}
    for _, _, channel, t, kind, _, payload in events:
        if kind in ("line_crossing", "zone_exit"):
            minutes.setdefault((channel, t.replace(second=0)), []).append({"kind": kind, **json.loads(payload)})
    rollups = {}
    for key, found in minutes.items():
        entries = [e for e in found if e["kind"] == "line_crossing" and e["direction"] == "in"]
        dwells = [e["dwell_s"] for e in found if e["kind"] == "zone_exit"]
        rollups[key] = (
            len(entries),
            sum(1 for e in found if e["kind"] == "line_crossing" and e["direction"] == "out"),
            sum(1 for e in entries if e["gender"] == "female"),
            sum(1 for e in entries if e["gender"] == "male"),
            sum(1 for e in entries if e["gender"] is None),
            len(dwells),
            sum(dwells) / len(dwells) if dwells else None,
        )
    return rollups


def build_day() -> _Rows:
    rows = _Rows()
    runs = {channel: str(uuid.uuid4()) for channel in [*CHANNELS, OTHER_CHANNEL]}
    for number, (channel, name) in enumerate(CHANNELS.items(), start=1):
        # What the worker stores: the channel's config as JSON and its store's time zone.
        source = {"host": "192.0.2.10", "port": 554, "channel": number, "subtype": 0}
        config: dict = {"id": channel, "name": name, "source": source}
        if channel == "channel_3":
            zones = [
                {"id": zone, "polygon": [[0.1 + i / 2, 0.2], [0.5 + i / 2, 0.2], [0.5 + i / 2, 0.9]]}
                for i, zone in enumerate(DWELLS)
            ]
            config["analytics"] = {"lines": [], "zones": zones}
        else:
            config["analytics"] = {"lines": [{"id": "door", "points": [[0.1, 0.6], [0.9, 0.6]], "in_side": "left"}]}
        masked = f"rtsp://***@192.0.2.10:554/cam/realmonitor?channel={number}&subtype=0"
        rows.channels.append((channel, STORE, name, masked, json.dumps(config), TZ.key, json.dumps(HOURS)))
        rows.runs.append((runs[channel], channel, local(DAY, 7)))
    # Another store, whose config sets no time zone: its workers record UTC.
    rows.channels.append(
        (OTHER_CHANNEL, OTHER_STORE, "door", "rtsp://***@192.0.2.20:554/1", '{"id": "channel_9"}', "UTC", None)
    )
    rows.runs.append((runs[OTHER_CHANNEL], OTHER_CHANNEL, local(DAY, 7)))

    for (channel, hour), (entries, exits) in CROSSINGS.items():
        moves = [("in", code) for code in entries] + [("out", "M")] * exits
        for i, (direction, code) in enumerate(moves):
            offset = round(3599 * i / (len(moves) - 1)) if len(moves) > 1 else 600
            _crossing(rows, runs[channel], channel, local(DAY, hour) + timedelta(seconds=offset), direction, code)
    # Staff coming in at opening through channel_2's door: one tagged before the crossing, one after it.
    for (channel, hour), known in STAFF_ENTRIES.items():
        for i, known_then in enumerate(known):
            _crossing(rows, runs[channel], channel, local(DAY, hour, 5 * (i + 1)), "in", "F", known_then)
    # Just outside the day (local), and another store's entrance inside it: never in the day's report.
    _crossing(rows, runs["channel_1"], "channel_1", local(DAY - timedelta(days=1), 23, 59, 59), "in", "F")
    _crossing(rows, runs["channel_1"], "channel_1", local(DAY + timedelta(days=1), 0), "in", "F")
    _crossing(rows, runs[OTHER_CHANNEL], OTHER_CHANNEL, local(DAY, 10, 15), "in", "M")
    # Not a crossing: ignored by every count.
    rows.event(runs["channel_1"], "channel_1", local(DAY, 10, 30), "track_started", 999, {})

    exit_at = local(DAY, 11)
    for zone, dwells in DWELLS.items():
        for dwell in dwells:
            exit_at += timedelta(minutes=9)
            entered = exit_at - timedelta(seconds=dwell)
            track_id = rows.person(runs["channel_3"], "channel_3", entered, "female", stays_s=dwell + 10)
            rows.event(runs["channel_3"], "channel_3", entered, "zone_enter", track_id, {"zone": zone})
            rows.event(runs["channel_3"], "channel_3", exit_at, "zone_exit", track_id, {"zone": zone, "dwell_s": dwell})

    cols, grid_rows = HEAT_GRID
    counts = [HEAT_CELLS.get((i % cols, i // cols), 0) for i in range(cols * grid_rows)]
    for day, hour in [(DAY, h) for h in HEAT_HOURS] + [(DAY - timedelta(days=1), 12)]:
        rows.heat.append(("channel_3", local(day, hour), runs["channel_3"], cols, grid_rows, counts, HEAT_FRAMES))

    rows.till = [(STORE, local(DAY, hour), n, f"delivery-{hour}") for hour, n in TILL.items()]

    rollups = _rollups(rows.events)
    for channel in CHANNELS:
        minute = local(DAY, OPEN.hour)
        while minute < local(DAY, CLOSE.hour):
            seen = covered_s(channel, minute.time())
            if seen is not None:
                minute_of_day = minute.hour * 60 + minute.minute
                avg, peak = _occupancy(channel, minute_of_day)
                if channel in FIXED_MINUTES and local(DAY, 12) <= minute < local(DAY, 12, 5):
                    avgs, peaks = FIXED_MINUTES[channel]
                    avg, peak = avgs[minute.minute], peaks[minute.minute]
                rollup = rollups.get((channel, minute), (0, 0, 0, 0, 0, 0, None))
                rows.stats.append((channel, minute, round(avg), round(avg), 10.0, avg, peak, *rollup, seen))
            minute += timedelta(minutes=1)
    return rows


def insert_day(conn: psycopg2.extensions.connection) -> None:
    """Insert the day in one transaction (the schema must be migrated)."""
    rows = build_day()
    with conn.cursor() as cur:
        execute_values(
            cur,
            "INSERT INTO channels (id, store_id, name, source_masked, config, timezone, opening_hours) VALUES %s",
            rows.channels,
        )
        execute_values(cur, "INSERT INTO runs (id, channel_id, started_at) VALUES %s", rows.runs)
        execute_values(
            cur,
            "INSERT INTO tracks (run_id, track_id, channel_id, first_seen, last_seen, frames, gender, staff) VALUES %s",
            rows.tracks,
        )
        execute_values(
            cur,
            "INSERT INTO events (id, run_id, channel_id, t, kind, track_id, payload) VALUES %s",
            rows.events,
            template="(%s, %s, %s, %s, %s, %s, %s::jsonb)",
        )
        execute_values(
            cur,
            "INSERT INTO channel_stats_minute (channel_id, minute, people_count, unique_tracks, fps, occupancy_avg,"
            " occupancy_max, entries, exits, entries_female, entries_male, entries_unknown, dwells, dwell_mean_s,"
            " covered_s)"
            " VALUES %s",
            rows.stats,
        )
        execute_values(
            cur,
            "INSERT INTO channel_heatmap_hour (channel_id, hour, run_id, cols, rows, counts, frames) VALUES %s",
            rows.heat,
        )
        execute_values(
            cur,
            "INSERT INTO till_transactions (store_id, hour, transactions, delivery_id, received_at) VALUES %s",
            rows.till,
            template="(%s, %s, %s, %s, now())",
        )
    conn.commit()
