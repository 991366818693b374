#!/usr/bin/env bash
# `make bench`: release build of the claim function and the benchmark, then the run (the
# capacity meter's self-check, claims, the waiting room, the live fan-out, a million at the
# open; `target/release/burst-bench fanout` runs one). Each scenario starts its own DynamoDB
# Local on a free port, so nothing else running interferes.
# `scripts/bench.sh million [--members N] [--arrivals M]` (`make bench-million`): only the
# million-shopper scale model.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if [ "${1:-}" = million ]; then
  cargo build --release -p burst-bench
  target/release/burst-bench "$@"
  exit
fi
# The claim function on its own, as `sam build` builds it: in one build with the benchmark, cargo
# would unify features and link Stripe (which only the test harness needs) into it.
cargo build --release -p claim
# What ships: every function's arm64 bootstrap, each package built on its own as sam build does
# (built together, cargo would unify features and link Stripe into every one); sizes reported.
for function in functions/*/; do
  cargo lambda build --release --arm64 -p "$(basename "$function")"
done
cargo build --release -p burst-bench
# The fan-out scenario holds 1,000 WebSocket connections, both ends in this one process.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
target/release/burst-bench meter
target/release/burst-bench
target/release/burst-bench million
