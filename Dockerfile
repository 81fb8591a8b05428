# Image for every process of the platform: the web server (daphne: HTTP, websockets and the admin's static
# files), the Celery worker and Celery beat. docker-compose.yml runs the full stack from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    DJANGO_READ_DOT_ENV=false

# The processes run as this unprivileged user; pass --build-arg APP_UID=$(id -u) to match a host user that
# owns bind-mounted files such as the keys directory.
ARG APP_UID=10001
ARG APP_GID=10001
RUN groupadd --system --gid "${APP_GID}" app \
    && useradd --system --uid "${APP_UID}" --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, read from pyproject.toml, so code changes do not reinstall them. Every dependency
# ships manylinux wheels (psycopg[binary] bundles libpq), so no compiler or system library is needed.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# Editable, so the installed project is this directory: BASE_DIR (templates, staticfiles) resolves to /app.
RUN pip install --no-deps --editable . \
    && chmod 0755 scripts/docker-entrypoint.sh

# Static files are collected into the image (servestatic serves them). Settings refuse to load without a
# secret key when DEBUG is off; this one exists only for this command and is never part of the image.
RUN DJANGO_DEBUG=false DJANGO_SECRET_KEY=collectstatic-build-only-not-a-secret \
    python manage.py collectstatic --noinput --verbosity 0

# The code stays root-owned and read-only for the app user; only its state directories are writable
# (the audit spool when AUDIT_SPOOL=file, the generated keys of a DEBUG container).
RUN mkdir -p /app/.audit-spool /app/.dev-keys \
    && chown app:app /app/.audit-spool /app/.dev-keys \
    && chmod 0700 /app/.audit-spool /app/.dev-keys

USER app

EXPOSE 8000

# Liveness of the web process. Host is sent as the first entry of DJANGO_ALLOWED_HOSTS so the probe passes
# host validation whatever the deployment allows; worker and beat override this check in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; h = [x.strip().lstrip('.') for x in os.environ.get('DJANGO_ALLOWED_HOSTS', 'localhost').split(',') if x.strip() not in ('', '*')]; r.urlopen(r.Request('http://127.0.0.1:8000/api/v1/health', headers={'Host': (h or ['localhost'])[0]}), timeout=4)"]

ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
# daphne's own access log prints full query strings (a websocket ?token=); the app logs each request redacted.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--access-log", "/dev/null", "config.asgi:application"]
