"""Events other apps listen to (realtime closes sockets, audit stores login logs)."""

from django.dispatch import Signal

# Sent after sessions ended (logout, logout-all, session delete, password change, deactivation, force logout,
# refresh-token reuse). kwargs: user_id: str, session_ids: list[str], reason: str
session_ended = Signal()

# Sent for every login attempt. kwargs: username: str, user_id: str | None, success: bool, reason: str ("ok",
# "bad_credentials", "inactive", "not_staff", "throttled", "challenge_invalid", "bad_request"), ip: str | None,
# user_agent: str, request_id: str | None, channel: str (CHANNEL_API or CHANNEL_ADMIN: where it came in)
login_attempted = Signal()

CHANNEL_API = "api"  # POST /api/v1/auth/login (and its DEBUG-only plaintext twin)
CHANNEL_ADMIN = "admin"  # the admin site's sign-in page
