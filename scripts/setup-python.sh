#!/usr/bin/env bash
# Creates the project's virtual environment (.venv, or BOTEX_VENV) with
# botex-fleet installed in editable mode plus the extras in BOTEX_EXTRAS
# (default: dev, the test tools). Reinstalls only when pyproject.toml changed
# since the last install.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${BOTEX_VENV:-$root/.venv}"
stamp="$venv/.botex-installed"

if [ ! -x "$venv/bin/python" ]; then
    echo "python: creating $venv"
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    echo "python: installing botex-fleet and its dependencies into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -e "$root[${BOTEX_EXTRAS:-dev}]"
    "$venv/bin/python" -c "import botex_core, botex_cli, botex_worker, botex_fleet"
    touch "$stamp"
else
    echo "python: $venv is up to date"
fi
