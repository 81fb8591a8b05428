#!/usr/bin/env bash
# Local services for development and tests: PostgreSQL and Redis (system packages, started if installed
# and down), a MongoDB-wire server (secantusdb) and an S3 server (moto) in their own virtual environments
# under .services/ (git-ignored). Usage: scripts/services.sh start|start-documents|stop|status, or
# start-only|stop-only NAME... (mongo, s3, redis, smtp: one of our own daemons on MONGO_PORT/S3_PORT/REDIS_PORT/
# SMTP_PORT, its state under SERVICES_DIR; the fault tests start and stop their own instances this way).
# smtp is aiosmtpd (from the project's .venv) keeping every message it receives in the maildir
# $SERVICES_DIR/smtp-maildir (SMTP_MAILDIR), which the mail tests read.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SERVICES_DIR:-$ROOT/.services}"
VENVS="$ROOT/.services"  # the servers' virtual environments, shared by every state folder
PYTHON="${PYTHON:-python3}"
MONGO_PORT="${MONGO_PORT:-27017}"
S3_PORT="${S3_PORT:-9000}"
REDIS_PORT="${REDIS_PORT:-6379}"
SMTP_PORT="${SMTP_PORT:-2525}"
SMTP_MAILDIR="${SMTP_MAILDIR:-$STATE/smtp-maildir}"
mkdir -p "$STATE" "$VENVS"

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { # host port
  "$PYTHON" - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
PY
}

wait_port() { # name host port seconds
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    if port_open "$2" "$3"; then log "$1 answers on $2:$3"; return 0; fi
    sleep 0.1
  done
  log "$1 did not answer on $2:$3 within $4 s"; return 1
}

ensure_venv() { # dir packages...
  local dir="$1"; shift
  if [[ ! -x "$dir/bin/python" ]] || [[ ! -f "$dir/.installed" ]]; then
    log "installing $* into $dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    touch "$dir/.installed"
  fi
}

start_postgres() {
  if port_open 127.0.0.1 5432; then log "postgresql answers on 127.0.0.1:5432"; return 0; fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
    log "starting postgresql"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    wait_port postgresql 127.0.0.1 5432 30
  else
    log "postgresql is not installed here; set DATABASE_URL to a reachable server"; return 1
  fi
}

start_redis() {
  if port_open 127.0.0.1 6379; then log "redis answers on 127.0.0.1:6379"; return 0; fi
  if command -v redis-server >/dev/null 2>&1; then
    log "starting redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_port redis 127.0.0.1 6379 15
  else
    log "redis is not installed here; set REDIS_URL to a reachable server"; return 1
  fi
}

start_daemon() { # name port command...
  local name="$1" port="$2"; shift 2
  if port_open 127.0.0.1 "$port"; then log "$name answers on 127.0.0.1:$port"; return 0; fi
  log "starting $name"
  nohup setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
  wait_port "$name" 127.0.0.1 "$port" 60 || { tail -20 "$STATE/$name.log" >&2; return 1; }
}

start_mongo() {
  ensure_venv "$VENVS/mongo-venv" "secantusdb==0.7.0b3"
  mkdir -p "$STATE/mongo-data"
  start_daemon mongo "$MONGO_PORT" "$VENVS/mongo-venv/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" \
    --storage-path "$STATE/mongo-data"
}

start_s3() {
  ensure_venv "$VENVS/s3-venv" "moto[s3]==5.2.5" flask flask-cors
  start_daemon s3 "$S3_PORT" "$VENVS/s3-venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT"
}

start_smtp() { # aiosmtpd on loopback, messages kept in a maildir
  local python="$ROOT/.venv/bin/python"
  [[ -x "$python" ]] || python="$PYTHON"
  mkdir -p "$SMTP_MAILDIR/tmp" "$SMTP_MAILDIR/new" "$SMTP_MAILDIR/cur"  # the handler expects a made maildir
  start_daemon smtp "$SMTP_PORT" "$python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
    -c aiosmtpd.handlers.Mailbox "$SMTP_MAILDIR"
}

start_own_redis() { # a Redis of our own (not the system one), in the foreground under start_daemon
  start_daemon redis "$REDIS_PORT" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
}

stop_daemon() { # name
  local pidfile="$STATE/$1.pid"
  if [[ -f "$pidfile" ]]; then
    local pid; pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then log "stopping $1 ($pid)"; kill -- "-$pid" 2>/dev/null || kill "$pid" || true; fi
    rm -f "$pidfile"
  fi
}

status() {
  local name host port
  for spec in postgresql:5432 redis:6379 mongo:"$MONGO_PORT" s3:"$S3_PORT" smtp:"$SMTP_PORT"; do
    name="${spec%%:*}"; port="${spec##*:}"
    if port_open 127.0.0.1 "$port"; then echo "$name: up (127.0.0.1:$port)"; else echo "$name: down"; fi
  done
}

case "${1:-}" in
  start)
    rc=0
    start_postgres || rc=1
    start_redis || rc=1
    start_mongo || rc=1
    start_s3 || rc=1
    start_smtp || rc=1
    exit $rc ;;
  start-documents)
    # Only the MongoDB-wire and S3 servers (the app's embedded defaults cover SQL and cache).
    rc=0
    start_mongo || rc=1
    start_s3 || rc=1
    exit $rc ;;
  stop)
    # PostgreSQL and Redis are system services shared with other projects: only our own daemons stop.
    stop_daemon mongo; stop_daemon s3; stop_daemon smtp ;;
  start-only)
    shift
    for name in "$@"; do
      case "$name" in mongo) start_mongo ;; s3) start_s3 ;; redis) start_own_redis ;; smtp) start_smtp ;;
        *) echo "unknown service $name" >&2; exit 2 ;; esac
    done ;;
  stop-only)
    shift
    for name in "$@"; do stop_daemon "$name"; done ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
