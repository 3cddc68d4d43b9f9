#!/usr/bin/env bash
# Sets up everything, then runs the demo: bots on the local model play a session
# of the example experiment and the data is exported. Arguments go to the demo
# (see: bash scripts/demo.sh --help).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
set -a
# shellcheck source=/dev/null
source "$root/.venv/botex-setup.env"
set +a
export LITELLM_LOCAL_MODEL_COST_MAP=True
exec "$root/.venv/bin/python" "$root/examples/demo.py" "$@"
