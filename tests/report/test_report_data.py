"""`footfall report` against a real PostgreSQL day (tests/report/seed.py): the CSVs hold exactly the numbers that
were inserted, the final track gender wins, the local time zone decides the hours, and bad input exits 2."""

from pathlib import Path

import pytest

from footfall_worker.cli import main
from tests.report import seed
from tests.report.conftest import Report, footfall_report
from tests.support.paths import free_port

DAY = seed.DAY.isoformat()


def _by(rows: list[dict[str, str]], *keys: str) -> dict[tuple[str, ...], dict[str, str]]:
    indexed = {tuple(row[k] for k in keys): row for row in rows}
    assert len(indexed) == len(rows), f"duplicate {keys} rows"
    return indexed


def test_the_report_says_where_its_time_zone_comes_from(day_report: Report) -> None:
    assert "footfall report: wrote" in day_report.completed.stdout
    assert "Asia/Ho_Chi_Minh (the store&#x27;s, as its workers recorded it)" in day_report.html
    assert "Mon 06 May 2024 00:00 to Tue 07 May 2024 00:00" in day_report.html


def test_hourly_footfall_counts_each_crossing_in_its_local_hour(day_report: Report) -> None:
    rows = day_report.csv("hourly_footfall.csv")
    # Every local hour of the day for each entrance camera (the checkout camera has no line: not an entrance).
    assert len(rows) == 24 * 2
    assert {row["channel_id"] for row in rows} == {"channel_1", "channel_2"}
    hourly = _by(rows, "hour_start", "channel_id")
    expected = {(channel, hour): (len(ins), outs, 0) for (channel, hour), (ins, outs) in seed.CROSSINGS.items()}
    for key, staff in seed.STAFF_ENTRIES.items():
        ins, outs, _ = expected.get(key, (0, 0, 0))
        expected[key] = (ins + len(staff), outs, len(staff))
    for (hour_start, channel), row in hourly.items():
        hour = int(hour_start[11:13])
        assert hour_start == f"{DAY}T{hour:02d}:00:00+07:00"
        coverage = seed.hour_coverage(channel, hour)
        assert float(row["coverage"]) == pytest.approx(coverage, abs=1e-4), (hour_start, channel)
        if coverage == 0:  # the camera saw nothing of the hour: no count, never "0 visitors"
            assert (row["in"], row["out"], row["status"]) == ("", "", "no data"), (hour_start, channel)
            continue
        assert row["status"] == ("full" if coverage >= 0.9 else "partial"), (hour_start, channel)
        counts = (int(row["in"]), int(row["out"]), int(row["in_staff"]))
        assert counts == expected.get((channel, hour), (0, 0, 0)), (hour_start, channel)
        assert int(row["customers_in"]) == counts[0] - counts[2]
    assert hourly[(f"{DAY}T10:00:00+07:00", "channel_1")] == {
        "hour_start": f"{DAY}T10:00:00+07:00",
        "channel_id": "channel_1",
        "channel_name": "entrance_left",
        "in": "7",
        "out": "5",
        "in_staff": "0",
        "out_staff": "0",
        "customers_in": "7",
        "coverage": "1.0000",
        "status": "full",
    }
    # The flapping camera's hour and the half hour channel_2's worker was down: counts shown, marked partial.
    assert (
        hourly[(f"{DAY}T17:00:00+07:00", "channel_1")]["coverage"],
        hourly[(f"{DAY}T17:00:00+07:00", "channel_1")]["status"],
    ) == ("0.7500", "partial")
    assert hourly[(f"{DAY}T14:00:00+07:00", "channel_2")]["status"] == "partial"
    statuses = [r["status"] for r in rows]
    assert (statuses.count("full"), statuses.count("partial"), statuses.count("no data")) == (
        24,
        2,
        22,
    )  # 13 open hours each


def test_summary_totals_per_entrance_and_for_the_store(day_report: Report) -> None:
    summary = _by(day_report.csv("summary_footfall.csv"), "scope", "channel_id")
    assert [(k, r["in"], r["out"]) for k, r in summary.items()] == [
        (("channel", "channel_1"), "16", "13"),
        (("channel", "channel_2"), "10", "7"),
        (("store", ""), "26", "20"),  # the sum over the entrance cameras
    ]
    # two of channel_2's entries are staff (one tagged only after crossing): customers are the rest
    assert [(r["staff_in"], r["customers_in"]) for r in summary.values()] == [("0", "16"), ("2", "8"), ("2", "24")]
    assert summary[("store", "")]["unknown_share"] == "0.2500"
    # of the 13 opening hours channel_1 lost 20 * 45 s at 17:40, channel_2 30 minutes at 14:00; the store: the least
    coverage = {key[1]: float(row["coverage"]) for key, row in summary.items()}
    assert coverage["channel_1"] == pytest.approx((13 * 3600 - 20 * 45) / (13 * 3600), abs=1e-4)
    assert coverage["channel_2"] == pytest.approx((13 * 3600 - 30 * 60) / (13 * 3600), abs=1e-4)
    assert coverage[""] == coverage["channel_2"]


def test_gender_split_uses_the_final_track_gender_and_keeps_unknown(day_report: Report) -> None:
    split = {
        (row["scope"], row["channel_id"], row["gender"]): (int(row["entries"]), row["share"])
        for row in day_report.csv("gender_split.csv")
    }
    # By the crossing-time payload alone channel_1 would be female 5, male 6, unknown 5: the final labels differ.
    assert split == {
        ("channel", "channel_1", "female"): (8, "0.5000"),
        ("channel", "channel_1", "male"): (5, "0.3125"),
        ("channel", "channel_1", "unknown"): (3, "0.1875"),
        ("channel", "channel_2", "female"): (3, "0.3750"),
        ("channel", "channel_2", "male"): (2, "0.2500"),
        ("channel", "channel_2", "unknown"): (3, "0.3750"),
        ("store", "", "female"): (11, "0.4583"),
        ("store", "", "male"): (7, "0.2917"),
        ("store", "", "unknown"): (6, "0.2500"),
    }
    # Two entries had no tracks row (codes P and X): the page says their gender came from the crossing.
    assert "2 entries had no recorded track" in day_report.html


def test_dwell_histogram_counts_every_visit_in_its_bin(day_report: Report) -> None:
    bins: dict[str, list[int]] = {}
    for row in day_report.csv("dwell_histogram.csv"):
        assert row["channel_id"] == "channel_3"
        bins.setdefault(row["zone"], []).append(int(row["count"]))
    # Bins [0,30) [30,60) [60,120) [120,300) [300,600) [600,900) [900,1800) [1800,inf): 30.0 is in the second.
    assert bins == {"checkout_queue": [2, 3, 2, 3, 1, 1, 0, 1], "promo_shelf": [1, 0, 2, 0, 0, 0, 0, 0]}
    zones = _by(day_report.csv("summary_dwell.csv"), "zone")
    assert {z: (r["visits"], r["mean_dwell_s"], r["median_dwell_s"]) for (z,), r in zones.items()} == {
        "checkout_queue": ("13", "295.6", "110.0"),
        "promo_shelf": ("3", "68.3", "90.0"),
    }


def test_occupancy_is_five_minute_buckets_of_the_minute_stats(day_report: Report) -> None:
    buckets = _by(day_report.csv("occupancy.csv"), "bucket_start", "channel_id")
    assert buckets[(f"{DAY}T12:00:00+07:00", "channel_3")] == {
        "bucket_start": f"{DAY}T12:00:00+07:00",
        "channel_id": "channel_3",
        "channel_name": "checkout",
        "occupancy_avg": "3.00",  # mean of 1, 2, 3, 4, 5
        "occupancy_max": "9",
        "minutes": "5",
    }
    per_channel = {c: sum(1 for _, ch in buckets if ch == c) for c in seed.CHANNELS}
    # 08:00-21:00 is 156 buckets; channel_2 recorded nothing 14:00-14:30 (6 buckets), shown as a gap, not zeros.
    assert per_channel == {"channel_1": 156, "channel_2": 150, "channel_3": 156}
    assert (f"{DAY}T14:10:00+07:00", "channel_2") not in buckets


def test_store_occupancy_is_reconciled_and_reset_at_closing(day_report: Report) -> None:
    (day,) = day_report.csv("occupancy_days.csv")
    # The crossing at 23:59:59 the evening before is after that day's 21:00 closing: it opens this business day.
    # 27 in (2 staff), 20 out, nobody left with nobody inside; 7 still counted inside at 21:00 are reset.
    assert day == {
        "business_day": DAY,
        "entries": "27",
        "exits": "20",
        "partner_duplicates": "0",
        "exits_clamped": "0",
        "residual_at_close": "7",
        "drift": "7",
        "peak_inside": "15",
    }
    timeline = [(row["time"], int(row["people_inside"])) for row in day_report.csv("store_occupancy.csv")]
    assert timeline[0] == (f"{DAY}T00:00:00+07:00", 1)  # the count the period starts with
    assert timeline[-1] == (f"{DAY}T21:00:00+07:00", 0)  # reset at closing
    assert max(people for _, people in timeline) == 15 and min(people for _, people in timeline) >= 0
    assert "open 08:00-21:00" in day_report.html


def test_each_day_has_a_line_a_manager_can_read(day_report: Report) -> None:
    line = (
        "Monday 06 May: 24 visitors, 61% women, conversion 38%, busiest 10:00-11:00 (9); vs Sun: cameras saw 0%; "
        "entrance_left (channel_1) down 15 min, entrance_right (channel_2) down 30 min"
    )
    # 24 customers (two staff left out); women 11 of the 18 with a decided gender; channel_1 lost 20 x 45 s and
    # channel_2 30 minutes of the opening hours; the Sunday before has one crossing and no camera minutes
    assert day_report.completed.stdout.splitlines()[0] == line
    (day,) = day_report.csv("daily_summary.csv")
    assert (day["visitors"], day["women_share"], day["busiest_visitors"], day["summary"]) == ("24", "0.6111", "9", line)
    assert (day["previous_day_visitors"], day["previous_week_visitors"], day["down"]) == (
        "1",
        "",
        "channel_1=15; channel_2=30",
    )
    assert float(day["coverage"]) == pytest.approx((13 * 60 - 30) / (13 * 60), abs=1e-4)
    assert f"<p class='day-line'>{line}</p>" in day_report.html


def test_conversion_is_till_transactions_over_customers_and_never_made_up(day_report: Report) -> None:
    hours = _by(day_report.csv("hourly_conversion.csv"), "hour_start")
    assert hours[(f"{DAY}T10:00:00+07:00",)] == {
        "hour_start": f"{DAY}T10:00:00+07:00",
        "customers": "9",
        "transactions": "3",
        "conversion": "0.3333",
        "coverage": "1.0000",
    }
    assert hours[(f"{DAY}T11:00:00+07:00",)]["transactions"] == ""  # the till sent nothing: no conversion
    assert hours[(f"{DAY}T11:00:00+07:00",)]["conversion"] == ""
    assert (hours[(f"{DAY}T14:00:00+07:00",)]["transactions"], hours[(f"{DAY}T14:00:00+07:00",)]["conversion"]) == (
        "0",
        "",
    )  # no customers: no rate either
    (day,) = day_report.csv("daily_summary.csv")
    assert day["conversion"] == f"{5 / 13:.4f}"  # 3 + 2 + 0 transactions over 9 + 4 + 0 customers


def test_the_gender_split_per_hour_is_of_customers_beside_coverage(day_report: Report) -> None:
    hours = _by(day_report.csv("hourly_gender.csv"), "hour_start")
    assert len(hours) == 24
    assert hours[(f"{DAY}T10:00:00+07:00",)] == {
        "hour_start": f"{DAY}T10:00:00+07:00",
        "female": "5",
        "male": "2",
        "unknown": "2",
        "customers": "9",
        "women_share": "0.7143",
        "coverage": "1.0000",
    }
    # the staff entries at 08:00 are not customers; 17:00 is channel_1's partial hour
    assert hours[(f"{DAY}T08:00:00+07:00",)]["customers"] == "0"
    assert hours[(f"{DAY}T17:00:00+07:00",)]["coverage"] == "0.7500"
    assert sum(int(h["customers"]) for h in hours.values()) == 24


def test_the_heatmap_adds_up_the_hours_of_the_period_per_cell(day_report: Report) -> None:
    cells = _by(day_report.csv("heatmap.csv"), "channel_id", "col", "row")
    assert len(cells) == seed.HEAT_GRID[0] * seed.HEAT_GRID[1]  # only channel_3 recorded positions
    hours = len(seed.HEAT_HOURS)  # the day before's hour is outside the period
    for (col, row), count in seed.HEAT_CELLS.items():
        cell = cells[("channel_3", str(col), str(row))]
        assert int(cell["person_frames"]) == hours * count
        assert float(cell["people_per_frame"]) == pytest.approx(count / seed.HEAT_FRAMES, abs=1e-5)
        assert (cell["x0"], cell["y1"]) == (f"{col / 32:.4f}", f"{(row + 1) / 18:.4f}")
    assert sum(int(c["person_frames"]) for c in cells.values()) == hours * sum(seed.HEAT_CELLS.values())
    assert "Where people stand" in day_report.html


def test_timezone_flag_moves_the_hours(report_dsn: str, tmp_path: Path) -> None:
    report = footfall_report(
        report_dsn, tmp_path, "--store", seed.STORE, "--from", DAY, "--to", DAY, "--timezone", "UTC"
    )
    assert report.completed.returncode == 0, report.completed.stderr
    assert "UTC (from --timezone)" in report.html
    hourly = _by(report.csv("hourly_footfall.csv"), "hour_start", "channel_id")
    # 10:00 in Ho Chi Minh City is 03:00 UTC; the crossing at local midnight after the day is 17:00 UTC, inside.
    assert (
        hourly[(f"{DAY}T03:00:00+00:00", "channel_1")]["in"],
        hourly[(f"{DAY}T03:00:00+00:00", "channel_1")]["out"],
    ) == ("7", "5")
    assert hourly[(f"{DAY}T17:00:00+00:00", "channel_1")]["in"] == "1"
    # 17:00 UTC (local midnight) has no minute rows, but a crossing: seen, partial, its count shown
    assert hourly[(f"{DAY}T17:00:00+00:00", "channel_1")]["status"] == "partial"
    assert sum(int(r["in"] or 0) for r in hourly.values()) == 27


def test_a_store_without_a_time_zone_reports_in_utc_and_says_so(report_dsn: str, tmp_path: Path) -> None:
    report = footfall_report(report_dsn, tmp_path, "--store", seed.OTHER_STORE, "--from", DAY, "--to", DAY)
    assert report.completed.returncode == 0, report.completed.stderr
    assert "UTC (the store&#x27;s, as its workers recorded it)" in report.html
    crossings = [
        (r["hour_start"], r["channel_id"], r["in"])
        for r in report.csv("hourly_footfall.csv")
        if r["in"] not in ("0", "")
    ]
    assert crossings == [(f"{DAY}T03:00:00+00:00", seed.OTHER_CHANNEL, "1")]  # 10:15 in Ho Chi Minh City


def test_an_empty_period_says_no_data_in_every_section(report_dsn: str, tmp_path: Path) -> None:
    report = footfall_report(report_dsn, tmp_path, "--store", seed.STORE, "--from", "2024-06-01", "--to", "2024-06-01")
    assert report.completed.returncode == 0, report.completed.stderr
    assert report.html.count("<p class='no-data'>No data:") == 6 + 2  # six plots, two summary tables
    assert "<img" not in report.html
    csvs = ("hourly_footfall.csv", "occupancy.csv", "dwell_histogram.csv", "gender_split.csv", "store_occupancy.csv")
    csvs += ("heatmap.csv",)
    for name in (*csvs, "occupancy_days.csv"):
        assert report.csv(name) == [], name
        assert (tmp_path / name).read_text().count("\n") == 1  # the header only


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["report", *args])
    return code, capsys.readouterr().err


def test_unknown_store_lists_the_known_ones(
    report_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _cli(capsys, "--dsn", report_dsn, "--out", str(tmp_path), "--store", "nope", "--from", DAY, "--to", DAY)
    assert code == 2
    assert "--store 'nope': unknown store; known stores: demo_store, other_store" in err
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-05-07", "2024-05-06"),
        ("2024-05-06T12:00", "2024-05-06T12:00"),
        ("2024-05-06T12:00+07:00", "2024-05-06T04:00Z"),
    ],
)
def test_from_after_to_names_both_flags(
    report_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str, end: str
) -> None:
    code, err = _cli(
        capsys, "--dsn", report_dsn, "--out", str(tmp_path), "--store", seed.STORE, "--from", start, "--to", end
    )
    assert code == 2
    assert f"--from ({start}) must be before --to ({end})" in err


def test_from_after_to_is_refused_before_connecting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    code, err = _cli(capsys, "--dsn", dsn, "--out", str(tmp_path), "--store", "s", "--from", "2024-05-07", "--to", DAY)
    assert code == 2 and "--from (2024-05-07) must be before --to" in err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--from", "yesterday", "--from 'yesterday': expected an ISO date"),
        ("--to", "2024-13-01", "--to '2024-13-01': expected an ISO date"),
        ("--timezone", "Mars/Olympus", "--timezone: unknown time zone 'Mars/Olympus'"),
        ("--timezone", "Europe", "--timezone: unknown time zone 'Europe'"),  # a directory of the zone database
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    report_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    args = {"--store": seed.STORE, "--from": DAY, "--to": DAY, flag: value}
    code, err = _cli(capsys, "--dsn", report_dsn, "--out", str(tmp_path), *(x for kv in args.items() for x in kv))
    assert code == 2
    assert message in err


def test_an_unreachable_database_exits_1_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = f"postgresql://reporter:s3cret@127.0.0.1:{free_port()}/none"
    code, err = _cli(capsys, "--dsn", dsn, "--out", str(tmp_path), "--store", seed.STORE, "--from", DAY, "--to", DAY)
    assert code == 1
    assert "cannot connect to postgresql://***@127.0.0.1" in err and "s3cret" not in err
