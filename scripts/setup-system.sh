#!/usr/bin/env bash
# Installs the Debian packages that botex-fleet runs against: Chromium and its
# driver for the bots, Redis for the fleet's broker, PostgreSQL for the fleet's
# store, cmake and g++ to build llama.cpp. Quick when everything is installed.
set -euo pipefail

packages=(chromium chromium-driver redis-server postgresql cmake g++)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all present (${packages[*]})"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
else
    sudo_cmd=()
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}"
