#!/usr/bin/env bash
# Sets up everything the tests need, then runs the whole test suite against
# real oTree, Chromium, Redis, PostgreSQL and the local model: the unit tier
# first (the logic with fakes, seconds), then the system tier on two test
# workers (pytest-xdist; the heavy tests one after another on one of them).
# Extra arguments go to pytest, for each tier.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
run() { bash "$root/scripts/in-env.sh" "$root/.venv/bin/python" -m pytest "$@"; }
status=0
run -m "not system" "$@" || status=$?
# 5: no test of this tier was selected by the arguments
if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then exit "$status"; fi
status=0
run -m system -n "${BOTEX_TEST_WORKERS:-2}" --dist loadgroup "$@" || status=$?
if [ "$status" -eq 5 ]; then status=0; fi
exit "$status"
