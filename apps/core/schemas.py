import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, BeforeValidator


def to_utc(value: datetime) -> datetime:
    """`value` in UTC (a naive value is taken as UTC); ValueError when UTC cannot represent it.

    Converting e.g. year 1 at +05:00 or 9999-12-31 at -05:00 overflows `datetime`'s range: raising
    ValueError lets pydantic turn it into a validation error (42200) instead of an OverflowError (500).
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("datetime is out of range once converted to UTC") from None


def refuse_null(value: Any) -> Any:
    """A `field_validator(..., mode="before")` for PATCH fields: omitted means unchanged, null means nothing."""
    if value is None:
        raise ValueError("may not be null")
    return value


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def iso_only(value: Any) -> Any:
    """Refuse the Unix timestamps pydantic's lax mode would read as a datetime: the schema says date-time."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


# ISO-8601 in, an aware UTC datetime out: for filters and bodies whose naive values mean UTC.
UtcDatetime = Annotated[datetime, BeforeValidator(iso_only), AfterValidator(to_utc)]

# The same, for fields that must carry their own offset (a naive value is refused).
AwareUtcDatetime = Annotated[AwareDatetime, BeforeValidator(iso_only), AfterValidator(to_utc)]


class HealthOut(Schema):
    status: Literal["ok"]


class ReadinessOut(Schema):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "error"]]
