#!/usr/bin/env bash
# Install the Debian packages asyncsnap needs, when they are missing.
# Safe to run again: does nothing when everything is there.
set -euo pipefail

PACKAGES=(libzstd-dev zstd libcjson-dev libigraph-dev check meson ninja-build pkg-config gcc clang
          chromium graphviz groff-base python3-dev python3-mesonpy python3-pip python3-venv
          nodejs
          # take --attach on CPython 3.9-3.13
          gdb
          # the real-library corpus (tests/reallib): Debian's async libraries
          # for /usr/bin/python3, and the servers it runs them against
          python3-aiohttp python3-redis python3-asyncpg python3-httpx python3-fastapi
          python3-uvicorn python3-websockets python3-uvloop redis-server postgresql
          # the pytest plugin's sample suite (tests/plugin)
          python3-pytest python3-pytest-asyncio)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# npm (for memlab in the tests) comes with some builds of nodejs and is a
# package of its own in Debian's: wanted only when the command is missing.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
    $SUDO apt-get update >/dev/null
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
