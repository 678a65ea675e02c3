#!/usr/bin/env bash
# Real-browser test of GET /docs (part of `make test`): headless Chromium, driven by selenium,
# against a local gateway of its own (tests/browser). Installs what it needs: Debian's chromium
# and chromium-driver (apt, once) and selenium (scripts/venv.sh). Screenshots go to
# .local/screenshots/. Needs fresh binaries: `cargo build --workspace --bins`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "== installing chromium and chromium-driver (apt)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq </dev/null >/dev/null
  $sudo apt-get install -y -qq chromium chromium-driver </dev/null >/dev/null
fi
venv=$(scripts/venv.sh)

echo "== browser test of /docs ($(/usr/bin/chromium --version 2>/dev/null))"
# Selenium must use the Debian driver and browser, never download its own.
export SE_OFFLINE=true PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/pytest" -q -p no:cacheprovider tests/browser "$@"
