#!/usr/bin/env bash
# Sets up everything the tests need, then runs the whole test suite against
# real oTree, Chromium, Redis and PostgreSQL. Extra arguments go to pytest.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
set -a
# shellcheck source=/dev/null
source "$root/.venv/botex-setup.env"
set +a
export LITELLM_LOCAL_MODEL_COST_MAP=True
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
