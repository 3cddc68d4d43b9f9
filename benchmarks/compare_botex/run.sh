#!/usr/bin/env bash
# One command from a fresh clone: sets up botex-fleet and botex 0.2.0 (from PyPI,
# in its own virtual environment), then runs the comparison. Extra arguments go
# to compare.py (see --help there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${BOTEX_CACHE:-$HOME/.cache/botex-fleet}"
original="$cache/botex-0.2.0"
if ! "$original/bin/python" -c "import botex" 2>/dev/null; then
    echo "botex 0.2.0: installing into $original" >&2
    rm -rf "$original"
    python3 -m venv "$original"
    "$original/bin/pip" install --quiet --disable-pip-version-check "botex==0.2.0"
fi
# botex 0.2.0 starts Selenium's Chrome with no driver path: these shims make
# Selenium find Debian's chromium and chromedriver instead of downloading them.
shims="$(mktemp -d -t botex-shims.XXXXXX)"
trap 'rm -rf "$shims"' EXIT
ln -s /usr/bin/chromium "$shims/google-chrome"
ln -s /usr/bin/chromedriver "$shims/chromedriver"
bash "$here/../../scripts/in-env.sh" "$here/../../.venv/bin/python" "$here/compare.py" \
    --original-python "$original/bin/python" --shims "$shims" "$@"
