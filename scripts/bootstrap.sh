#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the project with the given extras (e.g. "test"). Skipped when
# pyproject.toml has not changed since the last install of these extras (the install is editable, so code
# changes need none); BOOTSTRAP_FORCE=1 installs anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
extras=${1:-}
stamp=.venv/bootstrap.stamp
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ -z "${BOOTSTRAP_FORCE:-}" ]; then
  have=$(cat "$stamp")
  # An install with extras also serves a call without any (serve.sh after test.sh).
  if [ "$have" = "$want" ] || { [ -z "$extras" ] && [ "${have%% *}" = "${want%% *}" ]; }; then
    exit 0
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
target="."
[ -n "$extras" ] && target=".[$extras]"
rm -f "$stamp"  # an interrupted install must not look finished
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
echo "$want" > "$stamp"
