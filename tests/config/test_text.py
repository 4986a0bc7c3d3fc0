"""Names and descriptions people type refuse control characters, saying which and where, never quoting them."""

import pytest
from pydantic import ValidationError

from footfall_contract.config import CameraSource, ChannelConfig
from footfall_contract.config.credentials import credential_defect
from footfall_contract.config.text import control_character
from footfall_operator.crd import SpecError, parse_spec

SOURCE = {"host": "127.0.0.1", "channel": 1}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Entrance\n", "the control character U+000A at the end"),
        ("Door \x1b[2J", "the control character U+001B at position 6"),
        ("Till\u202eeciovni", "the control character U+202E at position 5"),  # a bidirectional override
        ("a\u2028b", "the control character U+2028 at position 2"),  # a line separator forges a log line
        ("\x85", "the control character U+0085 at the end"),  # C1 next line
    ],
)
def test_a_control_character_is_named_by_code_point_and_position(text: str, found: str):
    assert control_character(text) == found
    with pytest.raises(ValidationError) as error:
        ChannelConfig(id="door", name=text, source=SOURCE)
    assert f"expected printable text on one line, got {found}" in str(error.value)


@pytest.mark.parametrize(
    "name", ["Cửa ra vào", "Kasse 3 🛒", "family \U0001f468\u200d\U0001f469\u200d\U0001f467", "می\u200cخواهم"]
)
def test_names_in_any_script_with_joiners_are_accepted(name: str):
    assert ChannelConfig(id="door", name=name, source=SOURCE).name == name


def test_a_description_may_hold_lines_and_tabs_but_no_escape():
    assert ChannelConfig(id="door", name="Door", description="line one\n\tline two", source=SOURCE)
    with pytest.raises(ValidationError, match="newlines and tabs allowed"):
        ChannelConfig(id="door", name="Door", description="bell\x07", source=SOURCE)


def test_a_password_refuses_invisible_characters_a_name_may_hold():
    assert control_character("a\u200db") is None
    assert credential_defect("pass\u200dword") == "contains the control character U+200D at position 5"


def test_a_camera_channel_with_an_escape_in_its_display_name_is_a_field_error_naming_it():
    with pytest.raises(SpecError) as error:
        parse_spec({"store": "s", "channelId": "c", "displayName": "Door\x1b]0;pwned\x07", "source": SOURCE})
    (problem,) = error.value.problems
    assert problem.startswith("spec.displayName: ") and "U+001B at position 5" in problem
    assert "\x1b" not in problem and "\x07" not in problem  # shown escaped, never raw


@pytest.mark.parametrize("path", ["/live\tstream", "/live\x1b[0m", "/live\ud800", "/live\u00a0stream"])
def test_an_rtsp_path_refuses_what_no_request_line_can_carry(path: str):
    # a lone surrogate is what an environment variable of non-UTF-8 bytes becomes (pydantic refuses it as a string)
    with pytest.raises(ValidationError, match="printable, no spaces, no credentials|valid string") as error:
        CameraSource(host="192.0.2.10", path=path)
    assert error.value.errors()[0]["loc"] == ("path",)
    assert CameraSource(host="192.0.2.10", path="/cámara/live?x=1").path == "/cámara/live?x=1"
