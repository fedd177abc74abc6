#!/usr/bin/env bash
# Everything the test suite needs, installed from the project's own files: .venv with the test extras, Debian's
# Chromium and a CJK font for the browser tests (never `playwright install`), and the web apps' npm packages for
# the build check. Each step is skipped when already done; anything that cannot be installed makes its tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
if [ ! -x /usr/bin/chromium ] || ! dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed"; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } \
    || echo "test_setup.sh: could not install chromium and fonts-noto-cjk (the browser tests will fail)" >&2
fi
scripts/build_frontend.sh --deps-only || echo "test_setup.sh: could not install frontend/node_modules (npm ci)" >&2
