#!/bin/sh
# Makes sure the image's python3 can create virtual environments: Debian's own
# python3 needs python3-venv for that (python:*-slim images have it already).
# The Dockerfiles run it first, so that they build on either kind of base image.
set -eu
if command -v python3 >/dev/null 2>&1 && python3 -c "import ensurepip, venv" 2>/dev/null; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv ca-certificates >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/*
