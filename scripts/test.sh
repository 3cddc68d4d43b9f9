#!/usr/bin/env bash
# Sets up everything the tests need, then runs the whole test suite against
# real oTree, Chromium, Redis, PostgreSQL and the local model. Extra arguments
# go to pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec bash "$root/scripts/in-env.sh" "$root/.venv/bin/python" -m pytest "$@"
