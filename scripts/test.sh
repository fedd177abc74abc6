#!/usr/bin/env bash
# Install the project with its test extras and run the whole suite (embedded SQLite + Redis unless
# DATABASE_URL / REDIS_URL point at servers). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test

# The browser tests (tests/browser/) drive Debian's Chromium with CJK fonts (never `playwright install`), and
# the build check needs the web apps' npm packages. Anything that cannot be installed makes those tests fail.
if [ ! -x /usr/bin/chromium ] || ! dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed"; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } \
    || echo "test.sh: could not install chromium and fonts-noto-cjk (the browser tests will fail)" >&2
fi
scripts/build_frontend.sh --deps-only || echo "test.sh: could not install frontend/node_modules (npm ci)" >&2

exec .venv/bin/python -m pytest "$@"
