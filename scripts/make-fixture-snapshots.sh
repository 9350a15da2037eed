#!/usr/bin/env bash
# Regenerate fixtures/snapshots/pyX.Y.snap: one snapshot of the leaky service
# after its first round, taken under every CPython 3.9-3.13 pyenv has.
# Run after a format change that must keep old files readable only if you
# mean to replace them (the committed files are the compatibility proof).
set -euo pipefail
cd "$(dirname "$0")/.."
pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
mkdir -p fixtures/snapshots
for minor in 3.9 3.10 3.11 3.12 3.13; do
    interp=$(ls -d "$pyenv_root"/versions/"$minor".*/bin/python3 2>/dev/null | sort -V | tail -1)
    [ -n "$interp" ] || { echo "skip $minor: not installed"; continue; }
    b=build-py/$minor
    [ -f $b/build.ninja ] || meson setup $b -Dpython="$interp" -Dagent=enabled >/dev/null
    ninja -C $b >/dev/null
    tmp=$(mktemp -d)
    PYTHONPATH=$PWD/$b/snapshot-agent "$interp" fixtures/programs/leaky_service.py \
        --dir "$tmp" --phases 1 --name "py$minor" >/dev/null
    mv "$tmp/py$minor-1.snap" "fixtures/snapshots/py$minor.snap"
    rmdir "$tmp"
    echo "fixtures/snapshots/py$minor.snap ($(stat -c %s fixtures/snapshots/py$minor.snap) bytes)"
done
