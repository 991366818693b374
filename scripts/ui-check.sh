#!/usr/bin/env bash
# The browser check: the whole local stack (scripts/dev.sh) on ports and a table of its own, then
# tests/ui/e2e.cjs drives the UI in headless Chromium: claim, pay on the Checkout page, the paid
# order, the admin's ledger. Needs Debian's chromium (`apt-get install chromium`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "ui-e2e: skipped — no Chromium at $CHROMIUM (apt-get install chromium); CI installs it"
  exit 0
fi
node_dir="$TOOLS/ui-node"
[[ -d "$node_dir/node_modules/playwright-core" ]] \
  || npm install --prefix "$node_dir" --no-audit --no-fund playwright-core >/dev/null

export API_PORT="${UI_CHECK_API_PORT:-9200}" UI_PORT="${UI_CHECK_UI_PORT:-8280}"
export STRIPE_EMULATOR_PORT="${UI_CHECK_STRIPE_PORT:-12211}"
export TABLE_NAME="burst-ui-check-$$" LOG_DIR="$TOOLS/ui-check"
mkdir -p "$LOG_DIR"

setsid scripts/dev.sh >"$LOG_DIR/dev.out" 2>&1 &
dev=$!
trap 'kill -TERM -- -$dev 2>/dev/null || true; wait $dev 2>/dev/null || true' EXIT
wait_for_port "$UI_PORT" "the UI of the check's stack" 3000
until curl -sf "http://127.0.0.1:$API_PORT/drops" | grep -q '"id"'; do
  kill -0 $dev 2>/dev/null || { echo "the stack stopped:"; tail -20 "$LOG_DIR/dev.out"; exit 1; }
  sleep 0.5
done

CHROMIUM="$CHROMIUM" NODE_PATH="$node_dir/node_modules" \
  node tests/ui/e2e.cjs "http://127.0.0.1:$UI_PORT" "$LOG_DIR/e2e.png"
