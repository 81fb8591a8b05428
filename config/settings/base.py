"""Django, API, cache, database and logging settings."""

from django.core.exceptions import ImproperlyConfigured

from .env import BASE_DIR, DEBUG, REDIS_URL, env

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105

SECRET_KEY: str = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",  # its runserver serves HTTP and websockets
    "unfold",  # admin theme; must precede django.contrib.admin
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "servestatic",  # its system checks for the static-files settings
    "channels",
    "django_celery_beat",
    "ninja",
    "apps.core",
    "apps.accounts",
    "apps.org",
    "apps.audit",
    "apps.scheduler",
    "apps.realtime",
    "apps.storage",
    "apps.console",
    "apps.mail",
    "apps.onboarding",
    "apps.security",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.AccessLogMiddleware",
    # Before the error envelope, so the envelopes it builds are in the request's language too.
    "apps.core.i18n.LocaleMiddleware",
    "apps.core.middleware.ApiErrorEnvelopeMiddleware",
    "apps.audit.middleware.OperationLogMiddleware",
    # Django's own middleware through adapters (apps/core/middleware.py): header-only hooks run on the event
    # loop, and API calls skip sessions, CSRF, auth and messages, which only the admin's pages use.
    "apps.core.middleware.SecurityMiddleware",
    # Async-native: a sync-only middleware here would push every request through one shared thread.
    "servestatic.middleware.ServeStaticMiddleware",
    "apps.core.middleware.SessionMiddleware",
    "apps.core.middleware.CommonMiddleware",
    "apps.core.middleware.CsrfViewMiddleware",
    "apps.core.middleware.AuthenticationMiddleware",
    # Remembers the request so selectors apply the caller's data scope (apps/org/context.py).
    "apps.org.context.RequestScopeMiddleware",
    "apps.core.middleware.MessageMiddleware",
    "apps.core.middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
# An unreachable server must cost a request seconds, not tens of them: libpq's connect_timeout bounds each
# connection attempt (integer seconds, 2 at least), the pool's timeout the wait for a connection, after which
# the request answers 50300 and readiness reports the database down.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=2)
# Under ASGI every request runs its sync ORM work on a fresh thread, so persistent per-thread connections
# pile up; a psycopg pool (Django 5.1+) reuses connections instead. Only for PostgreSQL.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", default=True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=1.5),
    }
    # The pool checks a connection as it hands it out (one empty round trip), so one PostgreSQL closed while
    # idle (a restart, pg_terminate_backend, an idle timeout) is replaced instead of failing a request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_HEALTH_CHECKS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="app"),
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "app"}}

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # Length, character classes and history read their limits from config/settings/security.py.
    {"NAME": "apps.security.validators.MinimumLengthValidator"},
    {"NAME": "apps.security.validators.CharacterClassesValidator"},
    {"NAME": "apps.security.validators.PasswordHistoryValidator"},
]

LANGUAGE_CODE = "en-us"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE: str = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "servestatic.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Without collectstatic (the embedded default), servestatic serves straight from the apps' static folders.
SERVESTATIC_USE_FINDERS = True

# Largest request body the API accepts; larger bodies get 41300 (uploads go straight to S3, not through here).
DATA_UPLOAD_MAX_MEMORY_SIZE: int = env.int("API_MAX_BODY_SIZE", default=1024 * 1024)

# API
API_DOCS_PUBLIC: bool = env.bool("API_DOCS_PUBLIC", default=DEBUG)
# Test-only routes (a route that raises, an echo) that prove how failures are answered; never in production.
API_TEST_ROUTES: bool = env.bool("API_TEST_ROUTES", default=False)

# Security. Headers that do not get in the way of a local http setup always; without DEBUG, HTTPS only:
# secure cookies, a redirect to https and HSTS, each switchable by env (all follow DJANGO_SECURE_COOKIES, so
# one switch serves a site over plain HTTP).
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    _https: bool = env.bool("DJANGO_SECURE_COOKIES", default=True)
    SESSION_COOKIE_SECURE = _https
    CSRF_COOKIE_SECURE = _https
    # The TLS-terminating proxy in front must set (overwrite) X-Forwarded-Proto, else every request redirects.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT: bool = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=_https)
    # Probes reach the health routes (under API_ROOT) over plain HTTP from inside the network, as compose's does.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health(/|$)"]
    # Sent on HTTPS responses only. 0 turns HSTS off; lower it while trying HTTPS out, it is cached by browsers.
    SECURE_HSTS_SECONDS: int = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000 if _https else 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD: bool = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
# Our adapters of SecurityMiddleware, XFrameOptionsMiddleware and CsrfViewMiddleware (apps/core/middleware.py)
# are subclasses under other paths, which Django's checks look for by name; tests/core/test_deploy_check.py
# runs the deploy checks these warnings would hide with the stock paths in place.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT: str = env.str("LOG_FORMAT", default="json")  # json | console
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "apps.core.logging.RedactSecretsFilter"}},
    "formatters": {
        "json": {"()": "apps.core.logging.JsonFormatter"},
        "console": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in ("json", "console") else "json",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # daphne/django access lines would repeat ours, and carry raw query strings (tokens): ours replace them.
        "django.server": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        "daphne.access": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}

# MongoDB (documents). Unset: an in-process fallback that keeps nothing (and says so loudly at start-up).
MONGODB_URL: str = env.str("MONGODB_URL", default="")
MONGODB_TIMEOUT_MS: int = env.int("MONGODB_TIMEOUT_MS", default=2000)
# Per-dependency timeout of /health/ready, seconds.
HEALTH_CHECK_TIMEOUT: float = env.float("HEALTH_CHECK_TIMEOUT", default=2.0)


# Tests give each run its own PostgreSQL test database (several runs may share one server).
if env.str("DATABASE_TEST_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("DATABASE_TEST_NAME")}

# Prefix of every key the app writes to Redis itself (sessions, challenges, throttles, permission cache).
REDIS_KEY_PREFIX: str = env.str("CACHE_KEY_PREFIX", default="app")
