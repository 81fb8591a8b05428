"""Facts about a request for audit records: the route template and the user agent (client ip: apps.core)."""

import re
from functools import lru_cache
from typing import NamedTuple

import user_agents

MAX_USER_AGENT_LENGTH = 512
_ROUTE_PARAM = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def route_template(django_route: str | None) -> str | None:
    """Django's matched route ("api/v1/roles/<uuidstr:role_id>") as an API template ("/api/v1/roles/{role_id}")."""
    if not django_route:
        return None
    return "/" + _ROUTE_PARAM.sub(r"{\1}", django_route).lstrip("/")


class UserAgentInfo(NamedTuple):
    browser: str
    os: str
    device: str


def _name(family: str, version: str) -> str:
    return f"{family} {version}".strip() if version else family


@lru_cache(maxsize=2048)
def parse_user_agent(value: str) -> UserAgentInfo:
    """Browser, OS and device of a User-Agent header ("Other" when unknown); cached, the same few repeat."""
    agent = user_agents.parse(value[:MAX_USER_AGENT_LENGTH])
    device = agent.device.family
    if device == "Other":
        if agent.is_bot:
            device = "Bot"
        elif agent.is_pc:
            device = "PC"
    return UserAgentInfo(
        browser=_name(agent.browser.family, agent.browser.version_string),
        os=_name(agent.os.family, agent.os.version_string),
        device=device,
    )
