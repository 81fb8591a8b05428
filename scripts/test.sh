#!/usr/bin/env bash
# One command from a fresh clone to the whole test suite against real PostgreSQL, Redis, a MongoDB-wire
# server, an S3 server and an SMTP server. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh
scripts/services.sh start

# Each run gets its own database, key prefix, MongoDB database and bucket, so runs never see each other.
RUN_ID="${TEST_RUN_ID:-$(date +%s)$$}"
export DJANGO_READ_DOT_ENV=false
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
export DJANGO_SECRET_KEY="test-secret-key-${RUN_ID}-not-for-production"
export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export DATABASE_TEST_NAME="test_platform_${RUN_ID}"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
export CACHE_KEY_PREFIX="t${RUN_ID}"
export MONGODB_URL="${TEST_MONGODB_URL:-mongodb://127.0.0.1:27017/test_${RUN_ID}}"
export S3_ENDPOINT="${TEST_S3_ENDPOINT:-127.0.0.1:9000}"
export S3_ACCESS_KEY=test S3_SECRET_KEY=test S3_SECURE=false
export S3_BUCKET="test-${RUN_ID}"
export API_TEST_ROUTES=true
# The SMTP server scripts/services.sh started (aiosmtpd); the mail tests run their own instances too.
export SMTP_PORT="${SMTP_PORT:-2525}" SMTP_MAILDIR="${SMTP_MAILDIR:-$ROOT/.services/smtp-maildir}"
export EMAIL_URL="smtp://127.0.0.1:${SMTP_PORT}"
export DEV_KEYS_DIR="$ROOT/.services/keys-${RUN_ID}"
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
# The suite calls the API far faster than any client should; tests of the limits set their own.
export RATE_LIMIT_DEFAULT=1000000/min RATE_LIMIT_PUBLIC=1000000/min RATE_LIMIT_LOGIN=1000000/min
export RATE_LIMIT_REFRESH=1000000/min RATE_LIMIT_UPLOAD=1000000/min

set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
rm -rf "$DEV_KEYS_DIR"
# A connection left open by a worker thread can stop pytest-django from dropping the test database.
if command -v psql >/dev/null 2>&1; then
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$DATABASE_TEST_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
fi
exit $rc
