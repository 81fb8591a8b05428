"""Channels: channel layer, websocket origins, frame limits and presence."""

from .env import REDIS_URL, env

# Concurrent test runs (and several deployments) may share one Redis: keep their groups and channels apart.
CHANNEL_LAYER_PREFIX: str = env.str(
    "CHANNEL_LAYER_PREFIX", default="asgi:" + env.str("CACHE_KEY_PREFIX", default="app")
)
# Redis connections the channel layer may open per process (redis-py fails beyond it instead of waiting).
CHANNEL_LAYER_MAX_CONNECTIONS: int = env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=1000)
# Seconds a channel-layer Redis command may take (the pub/sub connection is pinged every second).
CHANNEL_LAYER_SOCKET_TIMEOUT: float = env.float("CHANNEL_LAYER_SOCKET_TIMEOUT", default=30.0)
# In-memory layer only: messages a channel may hold before new ones are dropped.
WS_CHANNEL_CAPACITY: int = env.int("WS_CHANNEL_CAPACITY", default=1000)

if REDIS_URL:
    # Redis pub/sub: a group message is one PUBLISH, which each process subscribed to the group hands to its own
    # sockets' in-process queues. The list-based layer stored one copy per socket and each socket popped its copy
    # under a shared lock: a broadcast to a room of 500 cost 500 pops (scripts/bench/bench_realtime.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
                        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                    }
                ],
                "prefix": CHANNEL_LAYER_PREFIX,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": WS_CHANNEL_CAPACITY}}
    }

# Browser origins allowed on /ws/ (clients without an Origin header are always allowed). Default: ALLOWED_HOSTS.
WS_ALLOWED_ORIGINS: list[str] = env.list("WS_ALLOWED_ORIGINS", default=[])
# Largest client frame (bytes of UTF-8 text); larger frames get an error frame (41300), the socket stays open.
WS_MAX_FRAME_BYTES: int = env.int("WS_MAX_FRAME_BYTES", default=64 * 1024)
# Rooms one connection may be in at once, and the longest chat message (characters).
WS_MAX_ROOMS_PER_CONNECTION: int = env.int("WS_MAX_ROOMS_PER_CONNECTION", default=50)
WS_CHAT_MAX_LENGTH: int = env.int("WS_CHAT_MAX_LENGTH", default=4000)
# Concurrent Redis round trips one process makes for sockets (auth, permission checks, presence); the shared
# Redis client pool must be larger.
WS_REDIS_CONCURRENCY: int = env.int("WS_REDIS_CONCURRENCY", default=32)
# Presence entries live this many seconds unless refreshed (every third of it), so a crashed process leaves
# no ghosts for longer than that.
WS_PRESENCE_TTL: int = env.int("WS_PRESENCE_TTL", default=60)
