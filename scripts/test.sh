#!/usr/bin/env bash
# Install what the tests need (scripts/test_setup.sh) and run the whole suite (embedded SQLite + Redis unless
# DATABASE_URL / REDIS_URL point at servers). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test_setup.sh
exec .venv/bin/python -m pytest "$@"
