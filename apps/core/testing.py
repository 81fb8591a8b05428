"""Routes mounted only when API_TEST_ROUTES is on (the test suite): they prove how failures are answered."""

from django.http import HttpRequest
from ninja import Router, Schema

router = Router(tags=["testing"], auth=None)


class EchoIn(Schema):
    name: str
    count: int


@router.get("/boom")
async def boom(request: HttpRequest) -> None:
    raise RuntimeError("secret internal detail: postgres://user:pw@db/x")


@router.post("/echo", response=EchoIn)
async def echo(request: HttpRequest, payload: EchoIn) -> EchoIn:
    return payload
