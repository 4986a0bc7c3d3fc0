"""A channel's counting geometry: lines with an `in` side, polygon zones and exclusion masks (polygons whose
detections are not people), in coordinates relative to the frame.

Relative coordinates (0..1 of the width and height, origin top left) survive a change of the camera's
resolution. A line is drawn from its first point to its last, straight or bent at the points between (a
polyline follows a door frame or the edge of an area, where people arrive one way and leave another);
`in_side` names the side, seen walking along it, that is inside the store, so crossing towards it counts as
`in`.
"""

from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

# Kubernetes-label-safe identifiers (the same rule as channel and store ids).
IDENTIFIER_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$"
# Points closer than this (relative) are one point: a line needs length, a zone needs area.
_MIN_EXTENT = 1e-3


class _Geometry(BaseModel):
    # camelCase aliases so the same models sit in a CameraChannel spec; snake_case still works in JSON configs.
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


# A point relative to the frame as `[x, y]`: x from the left edge, y from the top, both 0..1. A pair, not an
# object with `x`/`y` keys: YAML 1.1 (kubectl's parser) reads a bare `y` key as the boolean true.
Point = Annotated[
    list[Annotated[float, Field(ge=0, le=1)]],
    Field(min_length=2, max_length=2, description="[x, y], relative to the frame's width and height"),
]


class CountingLine(_Geometry):
    """A line people cross; the anchor (bottom centre of a person's box) crossing it counts in or out."""

    id: str = Field(max_length=63, pattern=IDENTIFIER_PATTERN, description="unique within the channel, e.g. entrance")
    points: list[Point] = Field(
        min_length=2,
        max_length=16,
        description="from, (bends,) to: [[x, y], [x, y]] for a straight line, more points for a bent one",
    )
    in_side: Literal["left", "right"] = Field(
        default="left", description="the side, seen walking along the line from its first point, that is inside"
    )

    @model_validator(mode="after")
    def _distinct_points(self) -> Self:
        for index, ((ax, ay), (bx, by)) in enumerate(zip(self.points, self.points[1:], strict=False)):
            if abs(ax - bx) < _MIN_EXTENT and abs(ay - by) < _MIN_EXTENT:
                raise ValueError(
                    f"line {self.id!r}: expected distinct consecutive points, got the same point at {index} and "
                    f"{index + 1}"
                )
        return self


class _Area(_Geometry):
    """A polygon in the frame; what it is for is the subclass's. One definition of a valid area, so zones and
    exclusion masks cannot drift apart."""

    # names the kind in messages ("zone 'queue': ..."), so a problem reads the same as the field it sits in
    noun: ClassVar[str]

    id: str = Field(
        max_length=63,
        pattern=IDENTIFIER_PATTERN,
        description="unique among the channel's zones (or its exclusion masks), e.g. checkout_queue, mannequin",
    )
    polygon: list[Point] = Field(min_length=3, max_length=64, description="corners in order: [[x, y], ...]")

    @model_validator(mode="after")
    def _has_area(self) -> Self:
        corners = self.polygon
        twice_area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(corners, corners[1:] + corners[:1], strict=True))
        if abs(twice_area) / 2 < _MIN_EXTENT**2:
            raise ValueError(f"{self.noun} {self.id!r}: expected at least three corners that are not on one line")
        return self


class Zone(_Area):
    """A polygon area (e.g. the checkout queue); people's anchors inside it are in the zone."""

    noun = "zone"

    staff: bool = Field(
        default=False,
        description="a staff zone (behind the counter, the stock-room door): a person who appears in it, or stays "
        "in it for staffAfterS, is staff; counts keep their staff part apart",
    )


class ExclusionMask(_Area):
    """A polygon around a static false positive (a mannequin, a poster, a sign post) whose detections are dropped."""

    # Judged by the anchor (the feet), not by overlap: a person walking past in front of the mannequin stands
    # outside the mask and is kept even though their box covers it.
    noun = "exclusion mask"


class PartnerChannel(_Geometry):
    """Another camera watching the same door: a crossing of this channel's lines in the same direction as one of
    the partner's within `window_s` is the same person, counted once in the store's totals and occupancy (each
    channel's own counts keep it)."""

    channel: str = Field(max_length=63, pattern=IDENTIFIER_PATTERN, description="the partner's channel id")
    window_s: float = Field(
        default=2.0, gt=0, le=30, description="crossings this close in time (seconds) are one person"
    )


class AnalyticsConfig(_Geometry):
    """Counting lines and zones of one channel, how jitter-proof counting is, and the areas whose detections
    are not people."""

    lines: list[CountingLine] = Field(default_factory=list, max_length=16)
    zones: list[Zone] = Field(default_factory=list, max_length=16)
    staff_after_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="seconds in the channel's staff zones after which a person is staff (a customer at the counter "
        "stays a customer for a normal purchase)",
    )
    partner: PartnerChannel | None = Field(
        default=None, description="another channel watching the same door: their crossings are de-duplicated"
    )
    exclusion_masks: list[ExclusionMask] = Field(
        default_factory=list,
        max_length=16,
        description="areas where detections are false positives: a detection whose feet point (the bottom centre "
        "of its box) lies inside any mask is dropped before tracking, so a masked object is never tracked nor "
        "counted",
    )
    line_band: float = Field(
        default=0.03,
        gt=0,
        le=0.25,
        description="half-width of the band around a line (relative to the frame's diagonal) an anchor must "
        "leave on the far side before a crossing counts: box jitter near the line never counts",
    )
    zone_exit_grace_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="outside a zone this long before the visit ends (a missed frame is not an exit)",
    )
    static_after_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="a track born in the middle of the view where no person's track was just lost, whose feet "
        "have not moved for this long, is a static object (a mannequin, a poster) and never counted; a person "
        "who walked in and stands still still counts. 0 turns the rule off",
    )
    static_radius: float = Field(
        default=0.25,
        gt=0,
        le=2,
        description="how far a track's feet may wander from where it was born, in heights of its box, and it "
        "still has not moved",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        # unique within a kind only: a zone and the mask over its till may both be called "till"
        kinds = (("line", self.lines), (Zone.noun, self.zones), (ExclusionMask.noun, self.exclusion_masks))
        for kind, items in kinds:
            ids = [item.id for item in items]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"{kind} ids must be unique within the channel; repeated: {', '.join(duplicates)}")
        return self

    @property
    def empty(self) -> bool:
        """Nothing to count: no lines and no zones. Masks do not count (they only filter detections), so a
        channel with masks alone is still `empty` and needs no counting; its masks apply all the same."""
        return not self.lines and not self.zones
