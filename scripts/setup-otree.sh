#!/usr/bin/env bash
# Creates oTree's own virtual environment (oTree pins old libraries, so it never
# shares one with botex-fleet) in the cache directory, and prints the path of
# its `otree` executable on the last line. Reuses the environment when present.
set -euo pipefail

OTREE_VERSION="${BOTEX_OTREE_VERSION:-6.0.15}"
cache_dir="${BOTEX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/botex-fleet}"
venv="$cache_dir/otree-$OTREE_VERSION"

if [ ! -x "$venv/bin/otree" ]; then
    echo "oTree: creating $venv" >&2
    rm -rf "$venv"
    mkdir -p "$cache_dir"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "otree==$OTREE_VERSION" >&2
fi
echo "$venv/bin/otree"
