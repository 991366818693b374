#!/usr/bin/env bash
# `make test`: every test against DynamoDB Local (one shared instance for the run; each test
# makes its own table), with tools/verify_draw.py's tests, then the sample events through
# `cargo lambda invoke`, then the browser check of the whole local stack.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

pids=()
cleanup() { for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

started=$(start_dynamodb_local)
[[ -n "$started" ]] && pids+=("$started")
export DYNAMODB_LOCAL_PORT="$DYNAMODB_PORT"

# The command-line verifier of a draw's proof (standard library only, no DynamoDB).
python3 -m unittest discover -s tools -p 'test_*.py'
cargo test --workspace --no-fail-fast
scripts/invoke-check.sh
scripts/ui-check.sh
