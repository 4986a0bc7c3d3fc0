"""Exclusion masks in the channel's analytics: validated like zones, named by field, unique among themselves."""

import pytest
from pydantic import ValidationError

from footfall_contract.config import ConfigError
from footfall_contract.config.cameras import parse_store_config
from footfall_contract.config.geometry import AnalyticsConfig, ExclusionMask

MANNEQUIN = {"id": "mannequin", "polygon": [[0.1, 0.7], [0.2, 0.7], [0.2, 0.9], [0.1, 0.9]]}
POSTER = {"id": "poster", "polygon": [[0.8, 0.1], [0.95, 0.1], [0.95, 0.4]]}


def store_with(analytics: dict) -> dict:
    return {
        "store_id": "s1",
        "store_name": "Store",
        "channels": [
            {"id": "channel_1", "name": "door", "source": {"host": "127.0.0.1", "channel": 1}, "analytics": analytics}
        ],
    }


def test_masks_are_read_from_a_store_config_in_snake_case_and_from_a_spec_in_camel_case():
    store = parse_store_config(store_with({"exclusion_masks": [MANNEQUIN, POSTER]}))
    analytics = store.channels[0].analytics
    assert analytics is not None
    assert [mask.id for mask in analytics.exclusion_masks] == ["mannequin", "poster"]
    assert isinstance(analytics.exclusion_masks[0], ExclusionMask)
    camel = AnalyticsConfig.model_validate({"exclusionMasks": [MANNEQUIN]})
    assert camel.model_dump(by_alias=True)["exclusionMasks"][0]["id"] == "mannequin"
    assert AnalyticsConfig().exclusion_masks == []


def test_masks_alone_leave_nothing_to_count():
    # `empty` means "no lines and no zones": a channel with masks only needs no counting, its masks still apply
    assert AnalyticsConfig.model_validate({"exclusionMasks": [MANNEQUIN]}).empty
    assert not AnalyticsConfig.model_validate({"exclusionMasks": [MANNEQUIN], "zones": [{**POSTER, "id": "z"}]}).empty


def test_a_mask_may_share_an_id_with_a_zone():
    # ids are unique within a kind: a zone and the mask over the same spot may both be called "till"
    till = {**MANNEQUIN, "id": "till"}
    assert AnalyticsConfig.model_validate({"zones": [till], "exclusionMasks": [till]})


# the path names the field as its author wrote it: snake_case in a store config file
MASK_FIELD = "channels[0].analytics.exclusion_masks"


@pytest.mark.parametrize(
    ("mask", "field", "expected"),
    [
        ({**MANNEQUIN, "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}, f"{MASK_FIELD}[0]",
         "exclusion mask 'mannequin': expected at least three corners that are not on one line"),
        ({**MANNEQUIN, "polygon": [[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]]}, f"{MASK_FIELD}[0]", "not on one line"),
        ({**MANNEQUIN, "polygon": [[0, 0], [1, 1]]}, f"{MASK_FIELD}[0].polygon", "at least 3 items"),
        ({**MANNEQUIN, "polygon": [[0.1, 0.1]] * 65}, f"{MASK_FIELD}[0].polygon", "at most 64 items"),
        ({**MANNEQUIN, "polygon": [[1.5, 0.1], [0, 0], [0, 1]]}, f"{MASK_FIELD}[0].polygon[0][0]",
         "less than or equal to 1"),
        ({**MANNEQUIN, "polygon": [[0.5, -0.1], [0, 0], [0, 1]]}, f"{MASK_FIELD}[0].polygon[0][1]",
         "greater than or equal to 0"),
        ({**MANNEQUIN, "polygon": [[0.5], [0, 0], [0, 1]]}, f"{MASK_FIELD}[0].polygon[0]", "at least 2 items"),
        ({**MANNEQUIN, "polygon": [[0.5, 0.5, 0.5], [0, 0], [0, 1]]}, f"{MASK_FIELD}[0].polygon[0]",
         "at most 2 items"),
        ({**MANNEQUIN, "id": "Mannequin 1"}, f"{MASK_FIELD}[0].id", "String should match pattern"),
        ({**MANNEQUIN, "id": "m" * 64}, f"{MASK_FIELD}[0].id", "at most 63 characters"),
        ({**MANNEQUIN, "colour": "red"}, f"{MASK_FIELD}[0].colour", "Extra inputs are not permitted"),
        ({"id": "mannequin"}, f"{MASK_FIELD}[0].polygon", "Field required"),
    ],
)  # fmt: skip
def test_a_bad_mask_is_named_by_field_with_what_was_expected(mask: dict, field: str, expected: str):
    with pytest.raises(ConfigError) as caught:
        parse_store_config(store_with({"exclusion_masks": [mask]}), origin="store.json")
    (problem,) = str(caught.value).splitlines()
    assert problem.startswith(f"store.json: {field}: "), problem
    assert expected in problem


@pytest.mark.parametrize("mask_id", ["mask\n", "mask\x1b[2J", "ma\u202esk", "mask\x00"])
def test_a_control_character_in_a_mask_id_is_refused_and_shown_escaped(mask_id: str):
    with pytest.raises(ConfigError) as caught:
        parse_store_config(store_with({"exclusion_masks": [{**MANNEQUIN, "id": mask_id}]}))
    message = str(caught.value)
    assert f"{MASK_FIELD}[0].id: String should match pattern" in message
    assert mask_id not in message and "\n" not in message  # one problem, one line, the value escaped


def test_mask_ids_are_unique_among_masks():
    with pytest.raises(ValidationError) as caught:
        AnalyticsConfig.model_validate({"exclusionMasks": [MANNEQUIN, POSTER, MANNEQUIN]})
    (problem,) = caught.value.errors()
    assert problem["loc"] == ()
    assert "exclusion mask ids must be unique within the channel; repeated: mannequin" in problem["msg"]


def test_at_most_sixteen_masks():
    masks = [{**MANNEQUIN, "id": f"m{i}"} for i in range(17)]
    with pytest.raises(ValidationError) as caught:
        AnalyticsConfig.model_validate({"exclusionMasks": masks})
    (problem,) = caught.value.errors()
    assert problem["loc"] == ("exclusionMasks",) and "at most 16 items" in problem["msg"]
    assert len(AnalyticsConfig.model_validate({"exclusionMasks": masks[:16]}).exclusion_masks) == 16


def test_a_zone_without_area_still_says_zone():
    # the shared area rule names its own kind
    with pytest.raises(ValidationError, match="zone 'z': expected at least three corners that are not on one line"):
        AnalyticsConfig.model_validate({"zones": [{"id": "z", "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}]})
