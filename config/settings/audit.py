"""Operation and login logs (MongoDB)."""

from .env import env

AUDIT_RETENTION_DAYS: int = env.int("AUDIT_RETENTION_DAYS", default=180)
