#!/usr/bin/env bash
# One command from a fresh clone to a running app on http://127.0.0.1:8000 (API, docs, admin, websockets).
# SQL, cache and channel layer use the embedded defaults (SQLite, local memory) unless .env says otherwise;
# the local MongoDB-wire and S3 servers are started when possible so documents persist and uploads work.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh
if [[ "${RUN_WITH_LOCAL_SERVICES:-1}" == "1" ]] && scripts/services.sh start-documents; then
  export MONGODB_URL="${MONGODB_URL:-mongodb://127.0.0.1:27017/app}"
else
  echo "[run] MongoDB-wire/S3 servers not started: documents use the in-memory fallback" >&2
fi
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py initdb
exec .venv/bin/python manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}"
