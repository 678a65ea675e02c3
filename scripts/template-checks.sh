#!/usr/bin/env bash
# Offline checks of the deployment template (part of `make test`):
#   cfn-lint, `sam validate --lint`, and the pytest suite in tests/template that expands the
#   template with the SAM translator and checks routes, authorizers, gateway responses and
#   least-privilege IAM against the code.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/venv.sh)
export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

echo "== cfn-lint template.yaml"
cfn-lint template.yaml
echo "== sam validate --lint"
sam validate --lint </dev/null
echo "== template tests (SAM translator)"
pytest -q tests/template
