#!/usr/bin/env bash
# The browser check: the whole local stack (scripts/dev.sh) on ports and a table of its own, then
# tests/ui/e2e.cjs drives the storefront in headless Chromium — the operator creates a queued
# drop, two shoppers join (proof of work), are drawn, claim, release, pay on the Checkout page and
# verify the draw; the operator's ledger and pause — with axe-core and overflow checks on every
# page, the performance budgets (tests/ui/budgets.json) and screenshots in .tools/ui-check/shots;
# then the request budget per page and phase (tests/ui/requests.cjs), then bench/proof-verify.cjs
# on a small synthetic proof.
# Needs Debian's chromium (`apt-get install chromium`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "ui-e2e: skipped — no Chromium at $CHROMIUM (apt-get install chromium); CI installs it"
  exit 0
fi
# The test's own tools, pinned (the storefront's dependencies are web/package-lock.json's).
node_dir="$TOOLS/ui-node"
if [[ ! -d "$node_dir/node_modules/playwright-core" || ! -d "$node_dir/node_modules/axe-core" ]]; then
  npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error playwright-core@1.65.1 axe-core@4.14.1 >/dev/null
fi

export API_PORT="${UI_CHECK_API_PORT:-9200}" UI_PORT="${UI_CHECK_UI_PORT:-8280}"
export WS_PORT="${UI_CHECK_WS_PORT:-9201}" WS_MANAGEMENT_PORT="${UI_CHECK_WS_MANAGEMENT_PORT:-9202}"
export STRIPE_EMULATOR_PORT="${UI_CHECK_STRIPE_PORT:-12211}"
export TABLE_NAME="burst-ui-check-$$" LOG_DIR="$TOOLS/ui-check"
rm -rf "$LOG_DIR/shots"
mkdir -p "$LOG_DIR"

setsid scripts/dev.sh >"$LOG_DIR/dev.out" 2>&1 &
dev=$!
trap 'kill -TERM -- -$dev 2>/dev/null || true; wait $dev 2>/dev/null || true' EXIT
# The Rust build (first run) and the storefront's npm ci + Vite build happen before the UI port
# answers.
until port_answers "$UI_PORT"; do
  kill -0 $dev 2>/dev/null || { echo "the stack stopped:"; tail -20 "$LOG_DIR/dev.out"; tail -20 "$LOG_DIR/ui.log" 2>/dev/null; exit 1; }
  sleep 0.5
done
until curl -sf "http://127.0.0.1:$API_PORT/drops" | grep -q '"id"'; do
  kill -0 $dev 2>/dev/null || { echo "the stack stopped:"; tail -20 "$LOG_DIR/dev.out"; exit 1; }
  sleep 0.5
done

CHROMIUM="$CHROMIUM" NODE_PATH="$node_dir/node_modules" WEB_DIST="$ROOT/web/dist" \
  STRIPE_URL="http://127.0.0.1:$STRIPE_EMULATOR_PORT" \
  node tests/ui/e2e.cjs "http://127.0.0.1:$UI_PORT" "$LOG_DIR"

# The request budget (docs/capacity.md "Request budgets per page"): the pacing rules
# (web/src/cadence.ts) unit by unit, then every phase's page through simulated minutes, with and
# without the socket, counted by route (about two minutes).
node --test tests/ui/cadence.test.cjs
CHROMIUM="$CHROMIUM" NODE_PATH="$node_dir/node_modules" \
  node tests/ui/requests.cjs "http://127.0.0.1:$UI_PORT" "$LOG_DIR"

# The verify page's Web Worker on a synthetic 20,000-ticket proof (no stack needed): a true one
# checks out and finds a ticket; a tampered one fails on the right check.
CHROMIUM="$CHROMIUM" NODE_PATH="$node_dir/node_modules" node bench/proof-verify.cjs --tickets 20000 --early 1000
CHROMIUM="$CHROMIUM" NODE_PATH="$node_dir/node_modules" node bench/proof-verify.cjs --tickets 20000 --early 1000 --tamper duplicate

# UPDATE_DOCS_SCREENSHOTS=1: refresh the committed screenshots (docs/screenshots) from this run,
# quantized with pngquant (`apt-get install pngquant`) to stay under 120 KB each.
if [[ "${UPDATE_DOCS_SCREENSHOTS:-}" == 1 ]]; then
  command -v pngquant >/dev/null || { echo "UPDATE_DOCS_SCREENSHOTS needs pngquant"; exit 1; }
  mkdir -p docs/screenshots
  for name in drops-1440 drops-390 pre-queue-390 queue-position-390 queue-position-1440 hold-390 \
    return-success-1440 verify-1440 ops-sold-1440 drop-modes-1440; do
    shot=$(ls "$LOG_DIR"/shots/[0-9][0-9]-"$name".png 2>/dev/null | tail -1)
    [[ -n "$shot" ]] || { echo "no screenshot $name"; continue; }
    out="docs/screenshots/$name.png"
    pngquant 256 --speed 1 --force --output "$out" "$shot"
    if (($(stat -c %s "$out") > 120000)); then pngquant 128 --nofs --speed 1 --force --output "$out" "$shot"; fi
    echo "docs/screenshots/$name.png: $(($(stat -c %s "$out") / 1024)) KB"
  done
fi
