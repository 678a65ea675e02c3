#!/usr/bin/env bash
# Creates (once) the git-ignored Python venv with the AWS tools the deploy checks need:
# cfn-lint, the SAM CLI and translator, cargo-lambda with zig, and pytest; plus the test tools
# of scripts/browser-test.sh (selenium) and scripts/fuzz.sh (schemathesis, pinned: its checks
# change between releases). The one list of the project's Python deps. Prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.local/venv
# v4: SAM CLI 1.156 or later, where the rust-cargolambda build method is no longer a beta
# feature (samconfig.toml no longer sets beta_features).
stamp="$venv/.installed-v4"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "cfn-lint>=1.20" "aws-sam-cli>=1.156" "aws-sam-translator>=1.90" \
    "cargo-lambda>=1.6" "ziglang>=0.13" "pytest>=8" "pyyaml>=6" \
    "selenium>=4.40,<5" "schemathesis==4.32.5" "openapi-spec-validator>=0.7" >&2
  touch "$stamp"
fi
echo "$PWD/$venv"
