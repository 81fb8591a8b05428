"""API rate limits: requests per fixed window for each route group (apps/core/ratelimit.py, docs/ratelimit.md).

A signed-in route is counted per user, a public route per client IP; each group has its own counters.
"""

from .env import env

RATE_LIMIT_ENABLED: bool = env.bool("RATE_LIMIT_ENABLED", default=True)

# "<requests>/<period>" as Ninja's throttles write rates (20/min, 5/10s, 1000/h, 10000/d); "off": not limited.
RATE_LIMIT_GROUPS: dict[str, str] = {
    "default": env.str("RATE_LIMIT_DEFAULT", default="1200/min"),  # signed-in routes, per user
    "public": env.str("RATE_LIMIT_PUBLIC", default="300/min"),  # public routes, per IP
    "login": env.str("RATE_LIMIT_LOGIN", default="20/min"),  # per IP
    "refresh": env.str("RATE_LIMIT_REFRESH", default="60/min"),  # per IP
    "upload": env.str("RATE_LIMIT_UPLOAD", default="60/min"),  # upload-init, per user
    # Probes must be answered, also while Redis is down.
    "health": env.str("RATE_LIMIT_HEALTH", default="off"),
}

# Operation codes (METHOD:path, as in the RBAC catalogue) of the routes outside "default" and "public".
RATE_LIMIT_ROUTES: dict[str, str] = {
    "POST:/api/v1/auth/login": "login",
    "POST:/api/v1/auth/login/plain": "login",
    "POST:/api/v1/auth/login/2fa": "login",
    "POST:/api/v1/auth/login/2fa/enrol": "login",
    "POST:/api/v1/auth/login/2fa/enrol/confirm": "login",
    "GET:/api/v1/auth/captcha": "login",
    "POST:/api/v1/auth/password/expired": "login",
    "POST:/api/v1/auth/token/refresh": "refresh",
    "POST:/api/v1/files/uploads": "upload",
    "GET:/api/v1/health": "health",
    "GET:/api/v1/health/ready": "health",
}

# Public routes (counted per IP) reserve up to this many units of a window at once in one INCRBY and count the
# rest in the process: a fiftieth of the limit, capped here. 1 counts every request in Redis, exact to the unit.
RATE_LIMIT_LEASE: int = env.int("RATE_LIMIT_LEASE", default=20)

# IPv6 clients are counted per network of this prefix length: one host usually holds a whole /64.
RATE_LIMIT_IPV6_PREFIX: int = env.int("RATE_LIMIT_IPV6_PREFIX", default=64)
