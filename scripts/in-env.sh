#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), then runs the given command from the
# project folder with the paths that set-up found in its environment.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh" >&2
set -a
# shellcheck source=/dev/null
source "$root/.venv/botex-setup.env"
set +a
export LITELLM_LOCAL_MODEL_COST_MAP=True
cd "$root"
exec "$@"
