#!/usr/bin/env bash
# Build the web apps (frontend/) into static/<app>/, which is committed: commit what this changes.
#   scripts/build_frontend.sh                 every app into static/
#   scripts/build_frontend.sh --out DIR h5    one app into DIR/h5 (the test suite compares it with static/h5)
#   scripts/build_frontend.sh --deps-only     only make sure frontend/node_modules matches package-lock.json
# `npm ci` runs when node_modules is missing or was installed from another package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
command -v npm >/dev/null || { echo "build_frontend: Node.js 20.19+ and npm are needed" >&2; exit 1; }

stamp=node_modules/.installed-from-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
[ "${1:-}" = "--deps-only" ] && exit 0
exec node build.mjs "$@"
