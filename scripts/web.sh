#!/usr/bin/env bash
# The storefront (web/: TypeScript + Preact, built by Vite into static files).
#   scripts/web.sh build                  install web/'s npm dependencies (npm ci) and build web/dist
#   scripts/web.sh ensure                 the same, only if web/ changed since the last build
#   scripts/web.sh serve PORT CONFIG_JS   build if web/ changed, then serve web/dist at
#                                         127.0.0.1:PORT with CONFIG_JS as /config.js
# The build never contains configuration: /config.js (endpoints, sign-in) sits beside
# index.html, written by scripts/dev.sh locally and by the deployment in AWS.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

WEB="$ROOT/web"
DIST="$WEB/dist"

# A digest of everything the build reads: rebuild only when it changes.
sources_digest() {
  local paths=() path
  for path in index.html package.json package-lock.json tsconfig.json vite.config.ts src public; do
    [[ -e "$WEB/$path" ]] && paths+=("$path")
  done
  (cd "$WEB" && find "${paths[@]}" -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1
}

install_deps() {
  local stamp="$WEB/node_modules/.burst-lock-digest" digest
  digest=$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$digest" ]]; then
    echo "web: npm ci"
    (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$digest" >"$stamp"
  fi
}

build() {
  install_deps
  local digest
  digest=$(sources_digest)
  if [[ "${1:-}" != "--force" && -f "$DIST/.digest" && "$(cat "$DIST/.digest")" == "$digest" ]]; then
    echo "web: web/dist is up to date"
    return 0
  fi
  echo "web: building web/dist"
  (cd "$WEB" && npx --no-install tsc --noEmit -p . && npx --no-install vite build --logLevel warn)
  echo "$digest" >"$DIST/.digest"
  # What the first load costs, from the build output (the budget is checked by tests/ui).
  (cd "$DIST" && for f in assets/*.js assets/*.css; do
    printf '  %-34s %7d B  gzip %6d B\n' "$f" "$(wc -c <"$f")" "$(gzip -9c "$f" | wc -c)"
  done)
}

case "${1:-}" in
  build)
    build --force
    ;;
  ensure)
    build
    ;;
  serve)
    port=${2:?usage: scripts/web.sh serve PORT CONFIG_JS} config=${3:?usage: scripts/web.sh serve PORT CONFIG_JS}
    build
    dir="$TOOLS/ui-$port/site"
    rm -rf "$dir" && mkdir -p "$dir"
    for entry in "$DIST"/*; do ln -s "$entry" "$dir/"; done
    ln -sf "$(cd "$(dirname "$config")" && pwd)/$(basename "$config")" "$dir/config.js"
    echo "web: serving $dir at http://127.0.0.1:$port"
    exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir"
    ;;
  *)
    echo "usage: scripts/web.sh build | scripts/web.sh ensure | scripts/web.sh serve PORT CONFIG_JS" >&2
    exit 2
    ;;
esac
