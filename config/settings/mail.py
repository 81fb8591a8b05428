"""Outgoing mail (templates, queue, send records) and account onboarding (password reset, invitations, sign-up)."""

from .env import env

# How mail leaves: a django-environ e-mail URL. consolemail:// prints each message (the embedded default);
# production sets smtp://user:password@host:587 (smtp+tls://, smtp+ssl:// for TLS). Sets EMAIL_BACKEND, EMAIL_HOST ...
EMAIL_URL: str = env.str("EMAIL_URL", default="consolemail://")
# Empty parts keep Django's defaults (EMAIL_HOST "localhost", no login).
vars().update({k: v for k, v in env.email_url_config(EMAIL_URL).items() if v not in (None, "")})
# Seconds an SMTP connection or command may take before the attempt fails (and is retried).
EMAIL_TIMEOUT: int = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="no-reply@localhost")
SERVER_EMAIL: str = DEFAULT_FROM_EMAIL

# Failed sends are retried this many times, waiting MAIL_RETRY_DELAY * 2**n seconds between attempts, capped at
# MAIL_RETRY_MAX_DELAY (keep it under CELERY_VISIBILITY_TIMEOUT, or Redis hands a waiting retry out twice).
MAIL_MAX_RETRIES: int = env.int("MAIL_MAX_RETRIES", default=10)
MAIL_RETRY_DELAY: int = env.int("MAIL_RETRY_DELAY", default=30)
MAIL_RETRY_MAX_DELAY: int = env.int("MAIL_RETRY_MAX_DELAY", default=1800)
# Days a send record (MongoDB collection mail_sends) is kept.
MAIL_RECORD_RETENTION_DAYS: int = env.int("MAIL_RECORD_RETENTION_DAYS", default=90)
# Language of a mail when none is asked for, or the asked one has no template.
MAIL_DEFAULT_LANGUAGE: str = env.str("MAIL_DEFAULT_LANGUAGE", default="en")

# Links in mails. Each is a format string with {token}; the defaults are the Django pages under /accounts/ at
# SITE_URL; a front-end of its own points them at its pages, which then call the /api/v1/auth/... routes.
SITE_URL: str = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
PASSWORD_RESET_LINK: str = (
    env.str("PASSWORD_RESET_LINK", default="") or SITE_URL + "/accounts/password-reset/confirm/?token={token}"
)
INVITATION_LINK: str = env.str("INVITATION_LINK", default="") or SITE_URL + "/accounts/invitation/?token={token}"
SIGNUP_VERIFY_LINK: str = env.str("SIGNUP_VERIFY_LINK", default="") or SITE_URL + "/accounts/verify/?token={token}"

# Seconds a password-reset link works (once); days an invitation works; seconds a sign-up verification link works.
PASSWORD_RESET_TTL: int = env.int("PASSWORD_RESET_TTL", default=3600)
INVITATION_TTL_DAYS: int = env.int("INVITATION_TTL_DAYS", default=7)
SIGNUP_VERIFY_TTL: int = env.int("SIGNUP_VERIFY_TTL", default=86400)

# Reset requests per address and per client IP in each window (seconds); also caps sign-ups per IP.
PASSWORD_RESET_EMAIL_LIMIT: int = env.int("PASSWORD_RESET_EMAIL_LIMIT", default=5)
PASSWORD_RESET_IP_LIMIT: int = env.int("PASSWORD_RESET_IP_LIMIT", default=20)
PASSWORD_RESET_THROTTLE_WINDOW: int = env.int("PASSWORD_RESET_THROTTLE_WINDOW", default=3600)

# Self sign-up (POST /api/v1/auth/signup): off by default; new accounts stay inactive until their address is verified.
SIGNUP_ENABLED: bool = env.bool("SIGNUP_ENABLED", default=False)
# Names of the roles a verified sign-up gets (comma-separated; unknown names are ignored).
SIGNUP_DEFAULT_ROLES: list[str] = env.list("SIGNUP_DEFAULT_ROLES", default=[])
