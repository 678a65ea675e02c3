#!/usr/bin/env bash
# schemathesis against a local gateway of its own, fed by the served GET /openapi.json, every
# operation and every check, authenticated (part of `make test`; see tests/fuzz/run.py).
# FUZZ_MAX_EXAMPLES (default 300: about 2 minutes) bounds the run, FUZZ_SEED picks the seed;
# extra arguments go to `schemathesis run`.
# Needs fresh binaries: `cargo build --workspace --bins`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/venv.sh)
echo "== schemathesis ($("$venv/bin/schemathesis" --version 2>/dev/null | tail -n 1))"
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" tests/fuzz/run.py "$@"
