"""`decode_live` treats a live hash as hostile input: anyone who reaches Redis may have written it."""

import pytest

from footfall_contract.heartbeat import LiveSnapshot, MalformedLive, decode_live, encode_live


def test_what_a_worker_writes_reads_back() -> None:
    snapshot = LiveSnapshot(state="streaming", fps=12.5, active_track_ids=(3, 7), zone_occupancy={"queue": 2})
    decoded = decode_live({k.encode(): v.encode() for k, v in encode_live(snapshot, 1_700_000_000.0).items()})
    assert LiveSnapshot.from_decoded(decoded) == snapshot
    assert decoded["heartbeat_ts"] == 1_700_000_000.0


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"fps": "fast"}, "fps"),
        ({"fps": "nan"}, "fps"),
        ({"heartbeat_ts": "inf"}, "heartbeat_ts"),
        ({"people_now": "1e3"}, "people_now"),
        ({"people_now": "9" * 30}, "people_now"),
        ({"frames_read": "²"}, "frames_read"),
        ({"triton_ok": "yes"}, "triton_ok"),
        ({"active_track_ids": "1,two"}, "active_track_ids"),
        ({"active_track_ids": ",".join(["1"] * 1001)}, "active_track_ids"),
        ({"zone_occupancy": "[" * 3000}, "zone_occupancy"),
        ({"zone_occupancy": '{"a": "1"}'}, "zone_occupancy"),
        ({"zone_occupancy": '{"a": true}'}, "zone_occupancy"),
        ({"zone_occupancy": "[1]"}, "zone_occupancy"),
        ({"state": b"\xff"}, "state"),
        ({"state": "x" * 5000}, "state"),
        ({f"extra_{i}": "1" for i in range(65)}, "*"),
    ],
)
def test_a_malformed_field_is_named_with_what_was_expected(fields: dict, field_name: str) -> None:
    with pytest.raises(MalformedLive) as raised:
        decode_live({"state": "streaming", **fields})
    assert raised.value.field_name == field_name
    assert "expected" in str(raised.value) and len(str(raised.value)) < 300


def test_free_text_is_masked_printable_and_short_and_unknown_fields_are_skipped() -> None:
    decoded = decode_live(
        {"state": "streaming", "last_error_message": "rtsp://u:p@h\x1b[2J\n" + "y" * 1000, "future_field": "z"}
    )
    assert decoded["last_error_message"].startswith("rtsp://***@h [2J ")
    assert len(decoded["last_error_message"]) == 300
    assert "future_field" not in decoded
