#!/usr/bin/env bash
# Sets up everything, then runs the demo: bots on the local model play a session
# of the example experiment and the data is exported. Arguments go to the demo
# (see: bash scripts/demo.sh --help).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec bash "$root/scripts/in-env.sh" "$root/.venv/bin/python" "$root/examples/demo.py" "$@"
