#!/usr/bin/env bash
# `make bench`: release build of the claim function and the benchmark, then the run. The
# benchmark starts its own DynamoDB Local on a free port, so nothing else running interferes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
cargo build --release -p claim -p burst-bench
target/release/burst-bench
