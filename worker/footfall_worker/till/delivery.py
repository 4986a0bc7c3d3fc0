"""What a till posts: one delivery (an id for replay-safety), one store, its transactions per hour.

    {"id": "2026-12-07T10:05:00+07:00-till-1", "store": "kidsplaza_thanhxuan",
     "hours": [{"hour": "2026-12-07T09:00:00+07:00", "transactions": 42}]}

An hour is the instant its hour starts, with its UTC offset (a naive time is refused: whose clock?), on the
hour in that offset. A later delivery for the same store and hour replaces the count (a till correcting itself).
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from footfall_contract.config.geometry import IDENTIFIER_PATTERN

MAX_BODY_BYTES = 64 * 1024
MAX_HOURS = 744  # a month of hours in one delivery


class TillHour(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hour: datetime = Field(description="the hour's start with its UTC offset, e.g. 2026-12-07T09:00:00+07:00")
    transactions: int = Field(ge=0, le=1_000_000)

    @field_validator("hour")
    @classmethod
    def _whole_aware_hour(cls, hour: datetime) -> datetime:
        if hour.tzinfo is None or hour.utcoffset() is None:
            raise ValueError("expected a time with its UTC offset, e.g. 2026-12-07T09:00:00+07:00")
        if hour.minute or hour.second or hour.microsecond:
            raise ValueError("expected the start of an hour (minutes and seconds 0)")
        return hour


class TillDelivery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:+-]+$")
    store: str = Field(max_length=63, pattern=IDENTIFIER_PATTERN)
    hours: list[TillHour] = Field(min_length=1, max_length=MAX_HOURS)


def parse_delivery(body: bytes) -> TillDelivery:
    """Raises ValueError naming each field that is wrong and what was expected."""
    try:
        return TillDelivery.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise ValueError(problems) from None
