#!/usr/bin/env bash
# Sets up everything, then runs one benchmark script: bash benchmarks/run.sh NAME [ARGS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:?usage: bash benchmarks/run.sh NAME [ARGS], NAME one of: $(cd "$root/benchmarks" && ls -- *.py | sed 's/\.py$//' | tr '\n' ' ')}"
shift
exec bash "$root/scripts/in-env.sh" "$root/.venv/bin/python" "$root/benchmarks/$name.py" "$@"
