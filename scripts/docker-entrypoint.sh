#!/bin/sh
# Container entry point. With RUN_MIGRATIONS=1 (the web service only, so replicas of the worker and beat never
# race on the schema) it applies migrations and the idempotent first-run set-up before starting the command.
set -eu

if [ "${RUN_MIGRATIONS:-0}" = "1" ]; then
    python manage.py migrate --noinput
    python manage.py initdb
fi

exec "$@"
