"""Schemas of the scheduling API: registered tasks, schedules (over django-celery-beat) and task runs."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import ParseException, crontab_parser
from ninja import Schema
from pydantic import Field, StrictBool, ValidationInfo, field_validator

from apps.core.schemas import AwareUtcDatetime, UtcDatetime, refuse_null
from apps.scheduler.documents import RunStatus

Period = Literal["days", "hours", "minutes", "seconds", "microseconds"]

# (largest value, smallest value) of each crontab field, as celery parses them.
CRONTAB_RANGES: dict[str, tuple[int, int]] = {
    "minute": (60, 0),
    "hour": (24, 0),
    "day_of_week": (7, 0),
    "day_of_month": (31, 1),
    "month_of_year": (12, 1),
}
# What crontab fields are written with. Celery's parser also takes other Unicode digits, "_" and "+" (through
# int()), which no cron syntax means: refuse them up front.
CRONTAB_TEXT = re.compile(r"[0-9A-Za-z*,/-]+")
MAX_TASK_NAME = 200


class RegisteredTaskOut(Schema):
    name: str
    description: str


# --- schedules -------------------------------------------------------------------------------------------


class IntervalSpec(Schema):
    type: Literal["interval"]
    every: int = Field(..., ge=1, le=2_147_483_647)
    period: Period


class _CrontabFields(Schema):
    type: Literal["crontab"]
    minute: str = Field("*", min_length=1, max_length=240)
    hour: str = Field("*", min_length=1, max_length=96)
    day_of_week: str = Field("*", min_length=1, max_length=64)
    day_of_month: str = Field("*", min_length=1, max_length=124)
    month_of_year: str = Field("*", min_length=1, max_length=64)


class CrontabSpec(_CrontabFields):
    timezone: str | None = Field(None, description="IANA name; default: the server's TIME_ZONE")

    @field_validator("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
    @classmethod
    def _cron_field(cls, value: str, info: ValidationInfo) -> str:
        field = str(info.field_name)
        value = value.strip().replace(" ", "")
        label = field.replace("_", " ")
        if not CRONTAB_TEXT.fullmatch(value):
            raise ValueError(f"not a valid crontab {label}: use digits, names, '*', ',', '-' and '/'")
        largest, smallest = CRONTAB_RANGES[field]
        try:
            crontab_parser(largest, smallest).parse(value)
        # ParseException is no ValueError: uncaught, pydantic would let it through as a 500.
        except (ParseException, ValueError, KeyError, IndexError, OverflowError) as exc:
            raise ValueError(f"not a valid crontab {label}: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class ClockedSpec(Schema):
    type: Literal["clocked"]
    run_at: AwareUtcDatetime = Field(..., description="When to run once (ISO-8601 with a time zone)")


ScheduleSpec = Annotated[IntervalSpec | CrontabSpec | ClockedSpec, Field(discriminator="type")]


class CrontabOut(_CrontabFields):
    """A stored crontab as it is: the API's syntax checks are for input (admin-made rows passed the admin's)."""

    timezone: str


class SolarOut(Schema):
    """Solar schedules can be made in the admin; the API shows them but does not create them."""

    type: Literal["solar"]
    event: str
    latitude: float
    longitude: float


ScheduleSpecOut = Annotated[IntervalSpec | CrontabOut | ClockedSpec | SolarOut, Field(discriminator="type")]


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("may not be blank")
    return value


# A field named `kwargs` clashes with the **kwargs of the __init__ the pydantic mypy plugin synthesizes.
class ScheduleIn(Schema):  # type: ignore[no-redef]
    name: str = Field(..., min_length=1, max_length=200)
    task: str = Field(..., min_length=1, max_length=MAX_TASK_NAME, description="A name from /tasks/registered")
    schedule: ScheduleSpec
    enabled: StrictBool = True
    one_off: StrictBool | None = Field(None, description="Run once, then disable; default: true for clocked schedules")
    args: list[Any] = Field(default_factory=list, description="Positional arguments (a JSON array)")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments (a JSON object)")
    description: str = Field("", max_length=5000)

    _names = field_validator("name", "task")(_clean_name)


# A field named `kwargs` clashes with the **kwargs of the __init__ the pydantic mypy plugin synthesizes.
class SchedulePatch(Schema):  # type: ignore[no-redef]
    """Only the fields sent change; `schedule` is replaced as a whole."""

    name: str | None = Field(None, min_length=1, max_length=200)
    task: str | None = Field(None, min_length=1, max_length=MAX_TASK_NAME)
    schedule: ScheduleSpec | None = None
    enabled: StrictBool | None = None
    one_off: StrictBool | None = None
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    description: str | None = Field(None, max_length=5000)

    _present = field_validator(
        "name", "task", "schedule", "enabled", "one_off", "args", "kwargs", "description", mode="before"
    )(refuse_null)
    _names = field_validator("name", "task")(_clean_name)


# A field named `kwargs` clashes with the **kwargs of the __init__ the pydantic mypy plugin synthesizes.
class ScheduleOut(Schema):  # type: ignore[no-redef]
    id: int
    name: str
    task: str
    enabled: bool
    one_off: bool
    args: list[Any]
    kwargs: dict[str, Any]
    schedule: ScheduleSpecOut
    last_run_at: datetime | None
    total_run_count: int
    description: str


class ScheduleFilter(Schema):
    task: str | None = Field(None, max_length=MAX_TASK_NAME, description="Exact task name")
    enabled: bool | None = None


class RunNowOut(Schema):
    task_id: str


# --- task runs -------------------------------------------------------------------------------------------


class TaskRunFilter(Schema):
    task: str | None = Field(None, max_length=MAX_TASK_NAME, description="Exact task name")
    # Bounded like the ids it matches (PostgreSQL bigint), which is also all MongoDB's int64 can hold.
    schedule: int | None = Field(None, ge=1, le=2**63 - 1, description="Schedule (periodic task) id")
    status: RunStatus | None = None
    since: UtcDatetime | None = Field(None, description="Queued at or after (ISO-8601; UTC when no offset)")
    until: UtcDatetime | None = Field(None, description="Queued before (ISO-8601; UTC when no offset)")


# A field named `kwargs` clashes with the **kwargs of the __init__ the pydantic mypy plugin synthesizes.
class TaskRunOut(Schema):  # type: ignore[no-redef]
    task_id: str
    task: str
    schedule: int | None
    schedule_name: str | None
    status: RunStatus
    retries: int
    args: Any
    kwargs: Any
    result: Any
    error: str | None
    traceback: str | None
    worker: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
