"""Sign-in hardening: password policy and two-factor sign-in (apps/security, docs/security.md)."""

from .env import DEBUG, env

# Password policy (apps/security/validators.py, listed in AUTH_PASSWORD_VALIDATORS).
PASSWORD_MIN_LENGTH: int = env.int("PASSWORD_MIN_LENGTH", default=8)
# How many of the classes lower case, upper case, digits and other characters a password must mix.
PASSWORD_MIN_CLASSES: int = env.int("PASSWORD_MIN_CLASSES", default=2)
# A new password may not be one of the user's last N passwords (0: no history check).
PASSWORD_HISTORY_COUNT: int = env.int("PASSWORD_HISTORY_COUNT", default=5)
# Days a password lasts; an older one must be changed at the next sign-in (40110). 0: passwords never expire.
PASSWORD_MAX_AGE_DAYS: int = env.int("PASSWORD_MAX_AGE_DAYS", default=0)

# The contract's DEBUG-only first superuser password (admin / 123456, when ADMIN_PASSWORD is unset) is the one
# password initdb does not hold to the policy; an ADMIN_PASSWORD that is set must pass it.
ADMIN_PASSWORD_POLICY_EXEMPT: str = "123456" if DEBUG and not env.str("ADMIN_PASSWORD", default="") else ""

# Two-factor sign-in (TOTP, RFC 6238).
TOTP_ISSUER: str = env.str("TOTP_ISSUER", default="Ninja Admin Platform")
# Time steps either side of now a code is accepted in (clock drift between phone and server).
TOTP_VALID_WINDOW: int = env.int("TOTP_VALID_WINDOW", default=1)
# Seconds the second-factor ticket that login answers with stays usable.
TWO_FACTOR_TICKET_TTL: int = env.int("TWO_FACTOR_TICKET_TTL", default=300)

# Captcha after repeated failed sign-ins (API and admin); 0 turns a threshold off. The defaults equal the login
# throttle's limits (which answer first): once its 5-minute window lifts, the captcha stays for the rest of
# CAPTCHA_FAILURE_WINDOW, and a client the throttle still admits signs in as the contract says.
CAPTCHA_AFTER_USER_FAILURES: int = env.int("CAPTCHA_AFTER_USER_FAILURES", default=5)
CAPTCHA_AFTER_IP_FAILURES: int = env.int("CAPTCHA_AFTER_IP_FAILURES", default=20)
# Seconds failed sign-ins are counted for the thresholds (a fixed window from the first failure).
CAPTCHA_FAILURE_WINDOW: int = env.int("CAPTCHA_FAILURE_WINDOW", default=900)
CAPTCHA_TTL: int = env.int("CAPTCHA_TTL", default=300)
CAPTCHA_LENGTH: int = env.int("CAPTCHA_LENGTH", default=5)
