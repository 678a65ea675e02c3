# The two commands of the README, and a few more for developers.
.PHONY: attack run watch test build fmt lint ci sam-build zips template-checks test-remote bench bench-build bench-fastapi bench-scale seed-events openapi

# Serve the whole API on http://127.0.0.1:3000 (PORT=8080 make run to change the port), with
# DynamoDB Local started (and installed on first run) by the local gateway.
run:
	cargo build --workspace --bins
	target/debug/local_gateway --port $${PORT:-3000} $(ARGS)

# make run, and every function is rebuilt when its source changes: the gateway runs the new
# binary from the function's next request (no restart; changes to the gateway need one).
watch:
	cargo build --workspace --bins
	target/debug/local_gateway --port $${PORT:-3000} --watch $(ARGS)

# Every test: unit, store (DynamoDB Local), gateway, HTTP through the local gateway, events.
test:
	scripts/test.sh

build:
	cargo build --workspace --bins

# Regenerate docs/openapi.json from the handlers' annotations (a test fails while it is stale).
openapi:
	UPDATE_OPENAPI=1 cargo test -p docs the_checked_in_document

# cfn-lint, sam validate --lint and the SAM-translator tests of template.yaml (also in `make test`).
template-checks:
	scripts/template-checks.sh

# `sam build` as an operator runs it, for this machine's architecture (ARCH=arm64 to cross-build).
sam-build:
	scripts/sam-build.sh

# Deployable zips without SAM: target/lambda/<function>/bootstrap.zip (ARCH=arm64 for Graviton).
zips:
	PATH="$$(scripts/venv.sh)/bin:$$PATH" cargo lambda build --release --output-format zip \
	  $$( [ "$${ARCH:-}" = arm64 ] && echo --arm64 || echo --x86-64 )
	@ls -l target/lambda/*/bootstrap.zip

# The sample events' fixtures (user 1, post 1) in DynamoDB Local on :8000 (ARGS=--dynamodb-endpoint
# URL for another one); idempotent. See README, "sam local and the sample events".
seed-events:
	cargo build -p local_gateway
	target/debug/local_gateway seed $(ARGS)

# ~1,500 hand-made attacks through a local gateway of its own, invariants checked in DynamoDB
# (about a minute; not part of `make test`).
attack:
	scripts/attack.sh

# What AWS bills, per function, from release binaries: CPU per warm invocation, cold start, first
# request, peak RSS, binary/zip size, DynamoDB calls, cost per million requests; each next to
# `root` as a ratio (docs/performance.md). N=500, COLD_RUNS=15, ZIPS=1 (cargo lambda zips, slow),
# BASELINE_URL=http://host:port [BASELINE_PID=pid] for a side-by-side HTTP table.
bench: bench-build
	scripts/bench/run.py

# The functions as `sam build` builds them (their own features only: the test crates' reqwest
# must not add its TLS backend to them), the gateway, and the SDK floor example.
bench-build:
	cargo build --release $(addprefix -p ,$(notdir $(wildcard functions/*)))
	cargo build --release -p local_gateway
	cargo build --release -p shared --example sdk_floor

# make bench plus the side-by-side table against a stand-in for the course's FastAPI app
# (scripts/bench/baseline/, uvicorn + SQLite; its requirements go to .local/baseline-venv).
bench-fastapi: bench-build
	scripts/bench/fastapi.sh

# Search and feed at 10, 1,000 and 10,000 posts: p50/p99 through the local gateway and the
# DynamoDB items read per request, the issue's targets marked (docs/performance.md, "Scale:
# search and feed"). Release binaries without LTO (it measures DynamoDB reads and latency, not
# CPU, and builds in a fraction of the time; `make bench` rebuilds with LTO), built as
# bench-build builds them. N=200, SIZES=10,1000,10000.
bench-scale:
	CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 $(MAKE) bench-build
	scripts/bench/scale.py

# The HTTP tests against a deployed stage: make test-remote URL=https://.../Prod/
test-remote:
	API_BASE_URL=$(URL) cargo test -p api_tests

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# What CI runs.
ci:
	bash .ci/run
