#!/usr/bin/env bash
# Installs the Debian packages that botex-fleet runs against. Quick when
# everything is installed.
#   setup-system.sh          everything the demo and the tests use: Chromium and
#                            its driver for the bots, Redis (broker), PostgreSQL
#                            (store), cmake, make and g++ to build llama.cpp, and
#                            kubectl (for `kubectl kustomize`) unless present,
#                            iproute2 for the network namespaces of the tests
#   setup-system.sh worker   what a fleet worker needs: Chromium and its driver
set -euo pipefail

case "${1:-all}" in
    all)
        packages=(chromium chromium-driver redis-server postgresql cmake make g++ iproute2)
        command -v kubectl >/dev/null || packages+=(kubernetes-client)
        ;;
    worker) packages=(chromium chromium-driver) ;;
    *) echo "usage: setup-system.sh [all|worker]" >&2; exit 2 ;;
esac
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
