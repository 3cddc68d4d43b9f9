#!/usr/bin/env bash
# Sets up everything botex-fleet needs on this machine: Debian packages, the
# project's virtual environment, oTree's own virtual environment, llama.cpp's
# server and the local model. Each step is quick when its part is already in
# place. Writes the paths it found to .venv/botex-setup.env.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup-system.sh"
bash "$root/scripts/setup-python.sh"
otree_executable="$(bash "$root/scripts/setup-otree.sh" | tail -n 1)"
mapfile -t llamacpp < <(bash "$root/scripts/setup-llamacpp.sh" | tail -n 2)
echo "oTree: $otree_executable"
echo "llama.cpp: ${llamacpp[0]}"
echo "model: ${llamacpp[1]}"
cat > "$root/.venv/botex-setup.env" <<ENV
OTREE_EXECUTABLE=$otree_executable
LLAMACPP_SERVER_PATH=${llamacpp[0]}
LLAMACPP_LOCAL_LLM_PATH=${llamacpp[1]}
ENV
