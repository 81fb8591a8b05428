"""Unit test of the embedded default's wiring (no REDIS_URL): the runner the script picks there.

Not an integration test: with nothing installed the app keeps Redis in-process (fakeredis), and this checks only
that the script then runs through the client's registered script instead of connections of its own. Everything
the request path does against a Redis server is in tests/core/test_redis_scripts.py, on the real one.
"""

from apps.core import redis_scripts
from apps.core.redis_scripts import RequestPathScript

ECHO = "return {KEYS[1], ARGV[1]}"


async def test_without_a_redis_server_the_embedded_fake_runs_the_script(settings):
    settings.REDIS_URL = ""
    script = RequestPathScript(ECHO)
    assert await script(["k"], ["v"]) == ["k", "v"]
    assert not isinstance(script._runner(), redis_scripts._Connections)  # fakeredis runs the registered script
