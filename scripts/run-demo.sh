#!/usr/bin/env bash
# Migrate, create the demo study, start a Celery worker on the local broker and serve the site.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
BIN=.venv/bin

$BIN/python manage.py migrate --noinput
$BIN/python manage.py seed_demo --base-url "http://$HOST:$PORT" --size "${DEMO_SIZE:-128}" --steps "${DEMO_STEPS:-20}"

pids=()
stop() {
  trap - INT TERM EXIT
  echo "Stopping..."
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

$BIN/celery -A evalsite worker -Q gpu --pool=solo --loglevel=warning &
pids+=($!)
$BIN/python manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
echo "Serving on http://$HOST:$PORT/ (Ctrl-C to stop)."
wait -n "${pids[@]}"
