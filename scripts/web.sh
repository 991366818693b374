#!/usr/bin/env bash
# The storefront's build and local server.
#   scripts/web.sh serve PORT CONFIG_JS   serve web/ at 127.0.0.1:PORT, with CONFIG_JS as /config.js
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

case "${1:-}" in
  serve)
    port=$2 config=$3
    dir="$TOOLS/ui-$port/site"
    rm -rf "$dir" && mkdir -p "$dir"
    for file in "$ROOT"/web/*; do ln -s "$file" "$dir/"; done
    ln -sf "$config" "$dir/config.js"
    exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir"
    ;;
  *)
    echo "usage: scripts/web.sh serve PORT CONFIG_JS" >&2
    exit 2
    ;;
esac
