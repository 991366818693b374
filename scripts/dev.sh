#!/usr/bin/env bash
# `make dev`: DynamoDB Local + the table + a demo drop + every function behind cargo lambda watch
# (on API Gateway's paths, at http://127.0.0.1:9000) + the sweeper every 5 s + the local Stripe
# emulator (http://127.0.0.1:12111) + the web UI at http://127.0.0.1:8080. Ctrl-C stops
# everything this script started.
#
# With real Stripe test keys instead of the emulator:
#   STRIPE_SECRET_KEY=sk_test_... STRIPE_WEBHOOK_SECRET=whsec_... (from `stripe listen`) make dev
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

API_PORT="${API_PORT:-9000}"
WS_PORT="${WS_PORT:-9001}"
WS_MANAGEMENT_PORT="${WS_MANAGEMENT_PORT:-9002}"
# Instances per function under cargo lambda watch (its default, 1, serializes a herd).
WATCH_CONCURRENCY="${WATCH_CONCURRENCY:-16}"
UI_PORT="${UI_PORT:-8080}"
SWEEP_EVERY="${SWEEP_EVERY:-5}"
STRIPE_EMULATOR_PORT="${STRIPE_EMULATOR_PORT:-12111}"
LOG_DIR="${LOG_DIR:-$TOOLS}"
mkdir -p "$LOG_DIR"
export BURST_DEV_JWT_SECRET="${BURST_DEV_JWT_SECRET:-burst-local-dev-secret}"
export CHECKOUT_RETURN_URL="${CHECKOUT_RETURN_URL:-http://127.0.0.1:$UI_PORT}"
if [[ -z "${STRIPE_SECRET_KEY:-}" ]]; then
  use_emulator=1
  export STRIPE_SECRET_KEY=sk_test_burst_local
  export STRIPE_API_BASE="http://127.0.0.1:$STRIPE_EMULATOR_PORT"
  export STRIPE_WEBHOOK_SECRET="${STRIPE_WEBHOOK_SECRET:-whsec_burst_local}"
else
  use_emulator=0
  : "${STRIPE_WEBHOOK_SECRET:?with real Stripe keys, set STRIPE_WEBHOOK_SECRET to what 'stripe listen' prints}"
fi
export RUST_LOG="${RUST_LOG:-info}"
# The fan-out posts to the local gateway's @connections API, as it would to API Gateway's.
export WS_MANAGEMENT_ENDPOINT="http://127.0.0.1:$WS_MANAGEMENT_PORT"
# A drop's watchers get one `drop` message per window: 30 s in AWS (the plan's bill), 2 s
# locally so a demo and the browser checks see a claim move the numbers at once.
export DROP_PUSH_WINDOW_SECONDS="${DROP_PUSH_WINDOW_SECONDS:-2}"
# Admission tokens: a fixed local key pair (in AWS the private key lives in Secrets Manager).
export ADMISSION_PRIVATE_KEY="${ADMISSION_PRIVATE_KEY:-6275727374206c6f63616c2061646d697373696f6e206b6579202d2d20646576}"
# Proof-of-work secrets (in AWS: fields of the admission secret).
export POW_CHALLENGE_SECRET="${POW_CHALLENGE_SECRET:-burst-local-pow-challenge-secret}"
export POW_KEY_SECRET="${POW_KEY_SECRET:-burst-local-pow-key-secret}"
# The admission controller ticks each queue once a second for this long per invocation; the
# loop below invokes it again at once (EventBridge does so every minute in AWS).
export QUEUE_CONTROLLER_SECONDS="${QUEUE_CONTROLLER_SECONDS:-20}"
local_aws_env

pids=()
stop_all() {
  trap - EXIT INT TERM
  echo; echo "stopping Burst ..."
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT INT TERM

started=$(start_dynamodb_local)
[[ -n "$started" ]] && pids+=("$started")
echo "DynamoDB Local answers on 127.0.0.1:$DYNAMODB_PORT"

cargo build --quiet --profile "$BUILD_PROFILE" --workspace --bins
"$BIN"/burst-dev create-table
"$BIN"/burst-dev seed-demo

cargo lambda watch --profile "$BUILD_PROFILE" --invoke-address 127.0.0.1 --invoke-port "$API_PORT" \
  --concurrency "$WATCH_CONCURRENCY" >"$LOG_DIR/watch.log" 2>&1 &
pids+=($!)
wait_for_port "$API_PORT" "cargo lambda watch" 1200

if ((use_emulator)); then
  STRIPE_EMULATOR_PORT="$STRIPE_EMULATOR_PORT" \
    STRIPE_WEBHOOK_URL="http://127.0.0.1:$API_PORT/webhooks/stripe" \
    "$BIN"/stripe-emulator >"$LOG_DIR/stripe-emulator.log" 2>&1 &
  pids+=($!)
  wait_for_port "$STRIPE_EMULATOR_PORT" "the Stripe emulator"
fi

# The WebSocket API and the stream trigger of the fan-out, as API Gateway and Lambda run them.
WS_PORT="$WS_PORT" WS_MANAGEMENT_PORT="$WS_MANAGEMENT_PORT" INVOKE_URL="http://127.0.0.1:$API_PORT" \
  "$BIN"/ws-gateway >"$LOG_DIR/ws-gateway.log" 2>&1 &
pids+=($!)
wait_for_port "$WS_PORT" "the WebSocket gateway"

# The schedule EventBridge runs every minute in AWS, faster here so expiry is visible.
(
  while sleep "$SWEEP_EVERY"; do
    cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$API_PORT" sweeper \
      --data-file events/sweeper-schedule.json >/dev/null 2>>"$LOG_DIR/sweeper.log" || true
  done
) &
pids+=($!)

(
  while true; do
    cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$API_PORT" queue-controller \
      --data-file events/queue-controller-schedule.json >/dev/null 2>>"$LOG_DIR/queue-controller.log" \
      || sleep 1
  done
) &
pids+=($!)

# Dev-only sign-in for the storefront: tokens for a few demo shoppers (alice is in the `vip` group,
# the early-access group of the demo Solstice drop) and one admin, signed with
# the local secret (in AWS the storefront signs in with Cognito's Hosted UI instead), written to
# an ignored path with the endpoints; scripts/web.sh builds the storefront and serves it with it.
ui_config="$TOOLS/ui-$UI_PORT/config.js"
mkdir -p "$(dirname "$ui_config")"
{
  echo "// Written by scripts/dev.sh for local development; never deployed."
  echo "window.BURST_CONFIG = {"
  echo "  api: \"http://127.0.0.1:$API_PORT\","
  echo "  ws: \"ws://127.0.0.1:$WS_PORT\","
  echo "  devTokens: {"
  echo "    \"alice\": \"$("$BIN"/burst-dev token alice --group vip)\","
  for user in bob carol; do echo "    \"$user\": \"$("$BIN"/burst-dev token "$user")\","; done
  echo "    \"admin\": \"$("$BIN"/burst-dev token admin --admin)\""
  echo "  }"
  echo "};"
} >"$ui_config"
scripts/web.sh serve "$UI_PORT" "$ui_config" >"$LOG_DIR/ui.log" 2>&1 &
pids+=($!)
wait_for_port "$UI_PORT" "the storefront" 3000

cat <<BANNER

  Burst is running.
    API  http://127.0.0.1:$API_PORT   (GET /drops, POST /drops/{drop_id}/claims, ...)
    Live ws://127.0.0.1:$WS_PORT   (subscribe: {"action":"subscribe","drop_id":"…"})
    UI   http://127.0.0.1:$UI_PORT
    Stripe $( ((use_emulator)) && echo "emulator http://127.0.0.1:$STRIPE_EMULATOR_PORT (webhook secret $STRIPE_WEBHOOK_SECRET)" || echo "your test account; run: stripe listen --forward-to 127.0.0.1:$API_PORT/webhooks/stripe")
    Dev JWT secret: $BURST_DEV_JWT_SECRET   (make token USER=alice [ADMIN=1] [GROUP=vip])
    Logs: $LOG_DIR/{watch,sweeper,queue-controller,ws-gateway,stripe-emulator,ui}.log
  Ctrl-C stops everything.

BANNER
wait
