#!/usr/bin/env bash
# Sends the sample events in events/ through `cargo lambda watch` + `cargo lambda invoke`, the
# way a developer would, and checks each answer. Runs on its own port and its own table.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PORT="${INVOKE_CHECK_PORT:-9100}"
export TABLE_NAME="burst-invoke-check-$$"
export BURST_DEV_JWT_SECRET=""
# Payments configured but unreachable: these checks never get as far as calling Stripe.
export STRIPE_SECRET_KEY=sk_test_invoke_check STRIPE_API_BASE=http://127.0.0.1:9 STRIPE_WEBHOOK_SECRET=whsec_invoke_check
export ADMISSION_PRIVATE_KEY=6275727374206c6f63616c2061646d697373696f6e206b6579202d2d20646576 QUEUE_CONTROLLER_SECONDS=1
export POW_CHALLENGE_SECRET=invoke-check-pow POW_KEY_SECRET=invoke-check-pow-key
export WS_MANAGEMENT_ENDPOINT=http://127.0.0.1:9
local_aws_env

cargo build --quiet --profile "$BUILD_PROFILE" --workspace --bins
"$BIN"/burst-dev create-table >/dev/null
"$BIN"/burst-dev seed-demo >/dev/null

cargo lambda watch --profile "$BUILD_PROFILE" --invoke-address 127.0.0.1 --invoke-port "$PORT" >"$TOOLS/invoke-check.log" 2>&1 &
watch_pid=$!
trap 'pkill -TERM -P $watch_pid 2>/dev/null || true; kill $watch_pid 2>/dev/null || true' EXIT
wait_for_port "$PORT" "cargo lambda watch" 1200

failures=0
passed=0
# check FUNCTION EVENT PYTHON-EXPRESSION: the expression sees `status` and `body` (the
# function's HTTP answer) or `out` (a non-HTTP function's output).
check() {
  local function=$1 event=$2 expectation=$3 output
  output=$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$PORT" "$function" \
    --data-file "events/$event" 2>&1) || true
  if python3 - "$output" "$expectation" <<'PY'
import json, sys
out = json.loads(sys.argv[1])
body = json.loads(out["body"]) if isinstance(out, dict) and isinstance(out.get("body"), str) else None
status = out.get("statusCode") if isinstance(out, dict) else None
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
  then
    echo "ok    $function < events/$event"
    passed=$((passed + 1))
  else
    echo "FAIL  $function < events/$event: $output"
    failures=$((failures + 1))
  fi
}

check list-drops list-drops.json 'status == 200 and sorted(d["name"] for d in body["drops"]) == ["Aurora Runner — Midnight", "Drift Jacket — Falling Price", "Ember Tee — Launch Run", "Halo Turntable — Raffle", "Nebula Console — Founders Edition", "Solstice Watch — Titanium"] and {d["name"]: d["status"] for d in body["drops"]}["Ember Tee — Launch Run"] == "sold_out"'
check get-drop get-drop.json 'status == 404 and body == {"error": {"code": "not_found", "message": "drop not found"}}'
check create-drop create-drop.json 'status == 201 and body["total_units"] == 250 and body["status"] == "live"'
check create-drop create-drop-invalid.json 'status == 400 and body["error"]["code"] == "invalid_request" and body["error"]["field"] == "name"'
check claim claim-anonymous.json 'status == 401 and body["error"]["code"] == "unauthenticated"'
check claim claim.json 'status == 404 and body["error"]["code"] == "not_found"'
check get-reservation get-reservation.json 'status == 404'
check release-reservation release-reservation.json 'status == 404'
check audit-drop audit-drop.json 'status == 404'
check patch-drop patch-drop.json 'status == 404 and body["error"]["code"] == "not_found"'
check pause-drop pause-drop.json 'status == 404 and body["error"]["code"] == "not_found"'
check resume-drop resume-drop.json 'status == 404 and body["error"]["code"] == "not_found"'
check drop-events drop-events.json 'status == 404 and body["error"]["code"] == "not_found"'
check checkout checkout.json 'status == 404 and body["error"]["code"] == "not_found"'
check get-order get-order.json 'status == 404 and body["error"]["code"] == "not_found"'
check list-orders list-orders.json 'status == 200 and body == {"orders": []}'
check stripe-webhook stripe-webhook-unsigned.json 'status == 400 and body["error"]["code"] == "invalid_signature"'
check join-queue join-queue.json 'status == 404 and body["error"]["code"] == "not_found"'
check my-ticket my-ticket.json 'status == 404 and body["error"]["code"] == "not_found"'
check queue-status queue-status.json 'status == 404 and body["error"]["code"] == "not_found"'
check queue-proof queue-proof.json 'status == 404 and body["error"]["code"] == "not_found"'
check queue-proof-page queue-proof-page.json 'status == 404 and body["error"]["code"] == "not_found"'
check pow-challenge pow-challenge.json 'status == 404 and body["error"]["code"] == "not_found"'
check drop-integrity drop-integrity.json 'status == 404 and body["error"]["code"] == "not_found"'
check ws-connect ws-connect.json 'status == 200'
check ws-subscribe ws-subscribe.json 'json.loads(out["body"])["type"] == "error" and json.loads(out["body"])["code"] == "not_found"'
check ws-unsubscribe ws-unsubscribe.json 'json.loads(out["body"])["type"] == "unsubscribed"'
check ws-default ws-default.json 'json.loads(out["body"])["code"] == "malformed_frame"'
check ws-disconnect ws-disconnect.json 'status == 200'
check fan-out fan-out.json 'out["changes"] == 1 and out["drop_messages"] == 0 and out["posts"] == 0'
check queue-controller queue-controller-schedule.json 'isinstance(out, int) and out >= 1'
check sweeper sweeper-schedule.json 'out["drops_with_holds"] == 1 and out["holds_expired"] == 0 and not out["incomplete"]'

echo "invoke-check: $passed passed, $failures failed"
((failures == 0))
