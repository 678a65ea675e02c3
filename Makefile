# The two commands of the README, and a few more for developers.
.PHONY: run test build fmt lint ci

# Serve the whole API on http://127.0.0.1:3000 (PORT=8080 make run to change the port), with
# DynamoDB Local started (and installed on first run) by the local gateway.
run:
	cargo build --workspace --bins
	target/debug/local_gateway --port $${PORT:-3000} $(ARGS)

# Every test: unit, store (DynamoDB Local), gateway, HTTP through the local gateway, events.
test:
	scripts/test.sh

build:
	cargo build --workspace --bins

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# What CI runs.
ci:
	bash .ci/run
