"""Events other apps listen to (realtime closes sockets, audit stores login logs)."""

from django.dispatch import Signal

# Sent after sessions ended (logout, logout-all, session delete, password change, deactivation, force logout,
# refresh-token reuse). kwargs: user_id: str, session_ids: list[str], reason: str
session_ended = Signal()

# Sent for every login attempt. kwargs: username: str, user_id: str | None, success: bool, reason: str
# ("ok", "bad_credentials", "inactive", "throttled", "challenge_invalid", "bad_request"), ip: str | None,
# user_agent: str, request_id: str | None
login_attempted = Signal()
