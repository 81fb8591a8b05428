"""Authentication, tokens, sessions, throttling and the seeded admin."""

from .env import DEBUG, env

# PEM text or a path to a PEM file. With DEBUG and no value, a key is generated once into a git-ignored file.
LOGIN_RSA_PRIVATE_KEY: str = env.str("LOGIN_RSA_PRIVATE_KEY", default="")
JWT_PRIVATE_KEY: str = env.str("JWT_PRIVATE_KEY", default="")
# Old token-signing public keys (PEM text or paths, separated by ";;") still accepted during a rotation.
JWT_PREVIOUS_PUBLIC_KEYS: list[str] = [
    k for k in env.str("JWT_PREVIOUS_PUBLIC_KEYS", default="").split(";;") if k.strip()
]
JWT_ISSUER: str = env.str("JWT_ISSUER", default="ninja-admin-platform")
DEV_KEYS_DIR: str = env.str("DEV_KEYS_DIR", default="")
# Decided once at start-up from DJANGO_DEBUG: only a DEBUG process may generate its own keys.
DEV_KEYS_ALLOWED: bool = DEBUG

ACCESS_TOKEN_TTL: int = env.int("ACCESS_TOKEN_TTL", default=900)
REFRESH_TOKEN_TTL: int = env.int("REFRESH_TOKEN_TTL", default=604800)
LOGIN_CHALLENGE_TTL: int = env.int("LOGIN_CHALLENGE_TTL", default=120)

LOGIN_THROTTLE_USERNAME_LIMIT: int = env.int("LOGIN_THROTTLE_USERNAME_LIMIT", default=5)
LOGIN_THROTTLE_IP_LIMIT: int = env.int("LOGIN_THROTTLE_IP_LIMIT", default=20)
LOGIN_THROTTLE_WINDOW: int = env.int("LOGIN_THROTTLE_WINDOW", default=300)

# Proxies whose X-Forwarded-For is trusted (django-ipware); empty: the socket peer is the client.
TRUSTED_PROXIES: list[str] = env.list("TRUSTED_PROXIES", default=[])
PROXY_COUNT: int = env.int("PROXY_COUNT", default=0)

ADMIN_USERNAME: str = env.str("ADMIN_USERNAME", default="admin" if DEBUG else "")
ADMIN_PASSWORD: str = env.str("ADMIN_PASSWORD", default="123456" if DEBUG else "")
ADMIN_EMAIL: str = env.str("ADMIN_EMAIL", default="admin@example.com" if DEBUG else "")

AUTHENTICATION_BACKENDS = ["apps.accounts.backends.RoleAwareModelBackend"]
