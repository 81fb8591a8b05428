"""Operation and login logs (MongoDB): what is logged, redaction, the non-blocking writer and its spool."""

from .env import BASE_DIR, REDIS_URL, env

# Documents older than this are removed by MongoDB's TTL monitor.
AUDIT_RETENTION_DAYS: int = env.int("AUDIT_RETENTION_DAYS", default=180)

# Which requests become operation logs: these methods always, and any method answered with a status >= 400.
AUDIT_LOG_METHODS: list[str] = [
    m.upper() for m in env.list("AUDIT_LOG_METHODS", default=["POST", "PUT", "PATCH", "DELETE"])
]
AUDIT_LOG_FAILURES: bool = env.bool("AUDIT_LOG_FAILURES", default=True)
# Path prefixes never logged (static files, health probes).
AUDIT_EXCLUDE_PATHS: list[str] = env.list("AUDIT_EXCLUDE_PATHS", default=["/static/", "/favicon.ico", "/api/v1/health"])
# JSON request bodies up to this size are stored (redacted); larger or non-JSON bodies only by size.
AUDIT_BODY_MAX_BYTES: int = env.int("AUDIT_BODY_MAX_BYTES", default=16384)
# A body or query key containing any of these (case-insensitive) has its value replaced by "[REDACTED]".
AUDIT_REDACT_KEYS: list[str] = [
    k.lower()
    for k in env.list(
        "AUDIT_REDACT_KEYS",
        default=["password", "token", "secret", "key", "authorization", "cookie", "credential"],
    )
]

# The writer: records wait in a bounded in-memory buffer and a background thread writes them in batches.
AUDIT_BUFFER_SIZE: int = env.int("AUDIT_BUFFER_SIZE", default=10000)
AUDIT_BATCH_SIZE: int = env.int("AUDIT_BATCH_SIZE", default=200)
AUDIT_FLUSH_INTERVAL: float = env.float("AUDIT_FLUSH_INTERVAL", default=1.0)
# Longest pause between attempts to reach MongoDB again while it is down, seconds.
AUDIT_RETRY_MAX_INTERVAL: float = env.float("AUDIT_RETRY_MAX_INTERVAL", default=30.0)
# Where records wait while MongoDB is down (and where a full buffer overflows to): "redis" (a list shared by
# every process, needs REDIS_URL) or "file" (append-only files in AUDIT_SPOOL_DIR).
AUDIT_SPOOL: str = env.str("AUDIT_SPOOL", default="redis" if REDIS_URL else "file")
AUDIT_SPOOL_DIR: str = env.str("AUDIT_SPOOL_DIR", default=str(BASE_DIR / ".audit-spool"))
