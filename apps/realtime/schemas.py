from datetime import datetime
from typing import Annotated
from uuid import UUID

from django.conf import settings
from ninja import Schema
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Rooms become channel-layer group names ("room.<name>"): ASCII letters, digits, "-", "_" and "." only.
RoomName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")]


def _chat_text(value: str) -> str:
    if len(value) > settings.WS_CHAT_MAX_LENGTH:
        raise ValueError(f"String should have at most {settings.WS_CHAT_MAX_LENGTH} characters")
    if not value.strip():
        raise ValueError("String should not be blank")
    return value


class RoomIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: RoomName


class ChatSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: RoomName
    text: Annotated[str, AfterValidator(_chat_text)]


class ChatUser(BaseModel):
    id: UUID
    username: str


class ChatMessage(BaseModel):
    room: str
    text: str
    user: ChatUser
    sent_at: datetime


class RoomOut(BaseModel):
    room: str
    rooms: list[str]


class OnlineUserOut(Schema):
    user_id: UUID
    username: str
    connections: int
