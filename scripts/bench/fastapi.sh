#!/usr/bin/env bash
# `make bench-fastapi`: make bench with the side-by-side table against a stand-in for the
# FastAPI course's app (scripts/bench/baseline/app.py under uvicorn, one worker, SQLite).
#
# Installs the app's pinned requirements into the git-ignored .local/baseline-venv on first use
# (PyPI), starts it on a free port with a fresh database, and runs scripts/bench/run.py with
# BASELINE_URL and BASELINE_PID pointing at it (its CPU per request is read from /proc, as
# ours). Extra environment (N, ONLY, HTTP_N, ...) is passed on.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.local/baseline-venv
stamp=$venv/.requirements
if ! cmp -s scripts/bench/baseline/requirements.txt "$stamp" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r scripts/bench/baseline/requirements.txt
  cp scripts/bench/baseline/requirements.txt "$stamp"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
db=$(mktemp -d)/baseline.db
(cd scripts/bench/baseline && BASELINE_DB="$db" exec "../../../$venv/bin/uvicorn" app:app \
  --host 127.0.0.1 --port "$port" --log-level warning) &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$(dirname "$db")"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  sleep 0.2
done
BASELINE_URL="http://127.0.0.1:$port" BASELINE_PID="$pid" python3 scripts/bench/run.py "$@"
