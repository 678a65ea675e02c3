#!/usr/bin/env bash
# The attack suite (tests/attack/attack.py): builds every binary, starts a local gateway of its
# own (in-memory DynamoDB Local, or DYNAMODB_ENDPOINT's), runs a few hundred hand-made attacks
# and the invariant checks, prints the findings and a summary table. Exit 1 on any 5xx, wrong
# answer or partial write. Arguments go to attack.py (-v, --only GROUPS, --report FILE).
# ATTACK_NO_BUILD=1 skips the build (e.g. while another build holds the cargo lock).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ATTACK_NO_BUILD:-}" ]; then
  cargo build --workspace --bins
fi
exec python3 tests/attack/attack.py "$@"
