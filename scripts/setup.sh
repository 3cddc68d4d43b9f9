#!/usr/bin/env bash
# Sets up everything botex-fleet needs on this machine: Debian packages, the
# project's virtual environment, and oTree's own virtual environment. Each step
# is quick when its part is already in place. Prints the settings to export.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup-system.sh"
bash "$root/scripts/setup-python.sh"
otree_executable="$(bash "$root/scripts/setup-otree.sh" | tail -n 1)"
echo "oTree: $otree_executable"
echo "OTREE_EXECUTABLE=$otree_executable" > "$root/.venv/botex-setup.env"
