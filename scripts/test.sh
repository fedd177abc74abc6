#!/usr/bin/env bash
# Install the project with its test extras and run the whole suite (embedded SQLite + Redis unless
# DATABASE_URL / REDIS_URL point at servers). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
exec .venv/bin/python -m pytest "$@"
