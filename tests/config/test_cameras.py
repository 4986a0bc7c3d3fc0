"""The store config: real files, credentials from the environment, masking everywhere."""

import json
from pathlib import Path

import pytest

from footfall_contract.config import ConfigError, CredentialsRef, RtspUrl, load_store_config, mask_credentials
from footfall_contract.config.cameras import parse_store_config

STORE_FILE = Path("input/cameras_config/kidsplaza_thanhxuan.json")
DEMO_FILE = Path("config/demo_store.json")
CREDENTIALS = {"FOOTFALL_CAMERA_USERNAME": "admin", "FOOTFALL_CAMERA_PASSWORD": "s3cr:et@/x"}


def minimal(**source: object) -> dict:
    return {
        "store_id": "s1",
        "store_name": "Store",
        "channels": [{"id": "channel_1", "name": "door", "source": {"host": "127.0.0.1", "channel": 1, **source}}],
    }


def test_store_config_has_the_four_dahua_channels(repo_root: Path) -> None:
    store = load_store_config(repo_root / STORE_FILE)
    assert store.store_id == "kidsplaza_thanhxuan"
    assert [(c.id, c.name) for c in store.channels] == [
        ("channel_1", "ben_ngoai_cam_phai"),
        ("channel_2", "ben_ngoai_cam_giua"),
        ("channel_3", "ben_trong_thu_ngan"),
        ("channel_4", "ben_trong_cua_vao"),
    ]
    host = json.loads((repo_root / STORE_FILE).read_text())["source_defaults"]["host"]
    assert {c.source.host for c in store.channels} == {host}  # the store's NVR, named once
    urls = [c.url(CREDENTIALS) for c in store.channels]
    assert [u.masked for u in urls] == [
        f"rtsp://***@{host}:554/cam/realmonitor?channel={n}&subtype=0" for n in range(1, 5)
    ]


def test_store_config_file_holds_no_credentials(repo_root: Path) -> None:
    text = (repo_root / STORE_FILE).read_text()
    assert "@" not in text
    # The file only names the environment variables that hold the login.
    assert json.loads(text)["credentials"] == {
        "username_env": "FOOTFALL_CAMERA_USERNAME",
        "password_env": "FOOTFALL_CAMERA_PASSWORD",
    }


def test_credentials_are_percent_encoded_and_only_revealed_on_demand() -> None:
    url = parse_store_config(minimal()).channels[0].source.url(CredentialsRef().resolve(CREDENTIALS))
    assert url.reveal() == "rtsp://admin:s3cr%3Aet%40%2Fx@127.0.0.1:554/cam/realmonitor?channel=1&subtype=0"
    for shown in (str(url), repr(url), f"{url}", url.masked):
        assert "s3cr" not in shown and "admin" not in shown


def test_missing_credentials_name_the_variable_not_a_value(repo_root: Path) -> None:
    channel = load_store_config(repo_root / STORE_FILE).channel("channel_1")
    with pytest.raises(ConfigError, match="FOOTFALL_CAMERA_PASSWORD") as error:
        channel.url({"FOOTFALL_CAMERA_USERNAME": "admin"})
    assert "admin" not in str(error.value)


def test_demo_config_points_every_channel_at_loopback(repo_root: Path) -> None:
    store = load_store_config(repo_root / DEMO_FILE)
    assert [c.id for c in store.channels] == ["channel_1", "channel_2", "channel_3", "channel_4"]
    assert {c.source.host for c in store.channels} == {"127.0.0.1"}
    assert [c.url().reveal() for c in store.channels] == [
        f"rtsp://127.0.0.1:{8553 + n}/cam/realmonitor?channel={n}&subtype=0" for n in range(1, 5)
    ]


def test_sub_stream_and_explicit_path() -> None:
    assert parse_store_config(minimal(subtype=1)).channels[0].url().reveal().endswith("channel=1&subtype=1")
    config = minimal()
    config["channels"][0]["source"] = {"host": "cam.local", "port": 8554, "path": "/live/ch1"}
    assert parse_store_config(config).channels[0].url().reveal() == "rtsp://cam.local:8554/live/ch1"


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"port": 70000}, "channels[0].source.port", "less than or equal to 65535"),
        ({"port": "x"}, "channels[0].source.port", "valid integer"),
        ({"host": "admin:pw@10.0.0.1"}, "channels[0].source.host", "no credentials"),
        ({"channel": None}, "channels[0].source", "exactly one of 'channel'"),
        ({"path": "/x"}, "channels[0].source", "exactly one of 'channel'"),
        ({"subtype": 2}, "channels[0].source.subtype", "0 or 1"),
        ({"colour": "red"}, "channels[0].source.colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_source_fields_are_named_with_what_was_expected(change: dict, field: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_store_config(minimal(**change), origin="store.json")
    message = str(error.value)
    assert f"store.json: {field}:" in message
    assert expected in message
    assert "pw" not in message


def test_duplicate_channels_are_rejected() -> None:
    config = minimal()
    config["channels"].append(dict(config["channels"][0], name="other"))
    with pytest.raises(ConfigError, match="channel id 'channel_1' appears twice"):
        parse_store_config(config)
    config["channels"][1] = dict(config["channels"][0], id="channel_2")
    with pytest.raises(ConfigError, match="'channel_1' and 'channel_2' read the same stream"):
        parse_store_config(config)


def test_unknown_timezone_and_bad_ids_are_rejected() -> None:
    with pytest.raises(ConfigError, match="timezone: expected an IANA time zone"):
        parse_store_config({**minimal(), "timezone": "Mars/Olympus"})
    config = minimal()
    config["channels"][0]["id"] = "Channel 1"
    with pytest.raises(ConfigError, match=r"channels\[0\]\.id: String should match pattern"):
        parse_store_config(config)


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text('{"store_id": "s1",\n  "channels": [,]}')
    with pytest.raises(ConfigError, match=r"store.json: not valid JSON at line 2 column 16"):
        load_store_config(path)
    with pytest.raises(ConfigError, match="cannot read the store config"):
        load_store_config(tmp_path / "missing.json")


def test_masking_covers_urls_inside_any_message() -> None:
    message = "open failed: rtsp://admin:pw@10.0.0.1:554/a and http://u@h/b; rtsp://h:554/c stays"
    assert (
        mask_credentials(message) == "open failed: rtsp://***@10.0.0.1:554/a and http://***@h/b; rtsp://h:554/c stays"
    )
    assert "pw" not in repr(RtspUrl("rtsp://admin:pw@h/x"))
    assert mask_credentials("host 'admin:pw@10.0.0.1' is bad") == "host '***@10.0.0.1' is bad"


def test_config_round_trips_through_json(repo_root: Path) -> None:
    store = load_store_config(repo_root / STORE_FILE)
    assert parse_store_config(json.loads(store.model_dump_json())) == store


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"username": "admin"}, "cannot read {dir}/password"),
        ({"username": "admin", "password": "pw\n"}, "{dir}/password contains the control character U+000A at the end"),
        (
            {"username": "ad\tmin", "password": "pw"},
            "{dir}/username contains the control character U+0009 at position 3",
        ),
        ({"username": "admin", "password": ""}, "{dir}/password is empty"),
        ({"username": "admin", "password": "x" * 2000}, "{dir}/password is 1025 characters long (at most 256)"),
        ({"username": "admin", "password": b"\xff"}, "{dir}/password is not UTF-8 text"),
    ],
)
def test_a_mounted_secret_with_a_bad_value_is_a_config_error_naming_the_file_not_the_value(
    tmp_path: Path, files: dict, message: str
) -> None:
    for name, value in files.items():
        (tmp_path / name).write_bytes(value if isinstance(value, bytes) else value.encode())
    with pytest.raises(ConfigError) as raised:
        CredentialsRef(directory=str(tmp_path)).resolve()
    assert message.format(dir=tmp_path) in str(raised.value)
    assert "pw" not in str(raised.value).replace(str(tmp_path), "")


def test_a_mounted_secret_is_read_at_every_resolve(tmp_path: Path) -> None:
    ref = CredentialsRef(directory=str(tmp_path))
    (tmp_path / "username").write_text("admin")
    (tmp_path / "password").write_text("first")
    assert ref.resolve().password.get_secret_value() == "first"
    (tmp_path / "password").write_text("rotated")
    assert ref.resolve().password.get_secret_value() == "rotated"


def test_a_control_character_in_an_environment_password_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="FOOTFALL_CAMERA_PASSWORD contains the control character U\\+000D"):
        CredentialsRef().resolve({"FOOTFALL_CAMERA_USERNAME": "admin", "FOOTFALL_CAMERA_PASSWORD": "pw\r\n"})


def test_opening_hours_and_a_partner_channel_are_checked_naming_the_field() -> None:
    store = parse_store_config({**minimal(), "opening_hours": {"open": "08:00", "close": "21:30"}})
    assert store.opening_hours is not None and store.opening_hours.closes.hour == 21
    with pytest.raises(ConfigError, match=r"opening_hours\.close: String should match pattern"):
        parse_store_config({**minimal(), "opening_hours": {"open": "08:00", "close": "9pm"}})
    config = minimal()
    config["channels"][0]["analytics"] = {"partner": {"channel": "channel_1"}}
    with pytest.raises(ConfigError, match="analytics.partner names the channel itself"):
        parse_store_config(config)
    config["channels"][0]["analytics"] = {"partner": {"channel": "channel_2", "window_s": 0}}
    with pytest.raises(ConfigError, match=r"partner\.window_s: Input should be greater than 0"):
        parse_store_config(config)
