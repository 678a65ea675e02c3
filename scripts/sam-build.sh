#!/usr/bin/env bash
# `sam build` exactly as an operator runs it (cargo lambda build --release per function, one
# shared target dir), for ARCH (default: this machine's architecture; the template's default is
# arm64, which needs `rustup target add aarch64-unknown-linux-gnu`). Prints time and sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/venv.sh)
export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0
case "${ARCH:-$(uname -m)}" in
  x86_64|amd64) arch=x86_64 ;;
  arm64|aarch64) arch=arm64; rustup target add aarch64-unknown-linux-gnu >/dev/null ;;
  *) echo "unknown ARCH ${ARCH:-}" >&2; exit 2 ;;
esac
start=$(date +%s)
sam build --parameter-overrides "Architecture=$arch" </dev/null
echo "sam build ($arch) took $(( $(date +%s) - start )) s"
for f in .aws-sam/build/*Function/bootstrap; do
  [ -f "$f" ] || { echo "missing $f" >&2; exit 1; }
  printf '%-28s %8d bytes\n' "$(basename "$(dirname "$f")")" "$(stat -c %s "$f")"
done
