from typing import Literal

from ninja import Schema


class HealthOut(Schema):
    status: Literal["ok"]


class ReadinessOut(Schema):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "error"]]
