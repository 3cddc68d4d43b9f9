#!/usr/bin/env bash
# Sets up everything, then runs one benchmark script: bash benchmarks/run.sh NAME [ARGS]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:?usage: bash benchmarks/run.sh NAME [ARGS] (NAME: $(cd "$root/benchmarks" && ls ./*.py | xargs -n1 basename | sed 's/\.py$//' | tr '\n' ' '))}"
shift
bash "$root/scripts/setup.sh" >&2
set -a
# shellcheck source=/dev/null
source "$root/.venv/botex-setup.env"
set +a
export LITELLM_LOCAL_MODEL_COST_MAP=True
exec "$root/.venv/bin/python" "$root/benchmarks/$name.py" "$@"
