#!/usr/bin/env bash
# CPython 3.14 and 3.15 for the agent's tests: Debian sid's python3.14 and
# python3.15 packages in a root made with debootstrap (Debian's own tool and
# mirror), kept between runs. docs/CPYTHON-INTERNALS.md §9 has the facts.
#
#   bash scripts/sid-root.sh fetch [DIR]      download DIR's packages only, when
#                                             DIR is missing or stale (a run
#                                             of test.sh starts this at once,
#                                             in the background: ~50 s of
#                                             network the tests hide)
#   bash scripts/sid-root.sh ensure [DIR]     create DIR when missing (or stale)
#   bash scripts/sid-root.sh run DIR CMD...   run CMD in DIR, with this
#                                             checkout at the same path inside
#
# DIR defaults to $ASYNCSNAP_SID_ROOT, else /var/cache/asyncsnap/sid-root;
# the packages wait in DIR.debs beside it (~190 MB) until the root is
# made. `ensure` prints one line saying why and exits 1 when it cannot (not
# root, no debootstrap, no mirror); the caller skips the 3.14/3.15 suites
# then. `fetch` says nothing and always succeeds: `ensure` does what it
# left undone.
set -euo pipefail
cd "$(dirname "$0")/.."

# what the root holds; a change here rebuilds it (the stamp below). The
# second line: the real-library corpus (tests/reallib) under sid's
# /usr/bin/python3, 3.14, for which these python3-* packages are built.
PACKAGES=python3.14,python3.14-dev,python3.15,python3.15-dev,gcc,libc6-dev,meson,ninja-build,pkg-config,libzstd-dev,libcjson-dev,libigraph-dev,check,zstd
PACKAGES=$PACKAGES,python3-aiohttp,python3-redis,python3-asyncpg,python3-httpx,python3-fastapi,python3-uvicorn,python3-websockets,python3-uvloop,redis-server,postgresql
STAMP_TEXT="asyncsnap sid root 1: $PACKAGES"

cmd=${1:-}
root=${2:-${ASYNCSNAP_SID_ROOT:-/var/cache/asyncsnap/sid-root}}

current() {
    [ -f "$root/.asyncsnap-root" ] && [ "$(cat "$root/.asyncsnap-root")" = "$STAMP_TEXT" ]
}

have_debootstrap() {
    if ! command -v debootstrap >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 || true
    fi
    command -v debootstrap >/dev/null
}

fetch() {
    if [ "$(id -u)" != 0 ] || current || ! have_debootstrap; then
        return 0
    fi
    tmp="$root.fetch.$$"
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$root.debs"
    debootstrap --variant=minbase --download-only --cache-dir="$root.debs" \
        --include="$PACKAGES" sid "$tmp" >/dev/null 2>&1 || true
}

ensure() {
    if [ "$(id -u)" != 0 ] || ! unshare --mount --propagation private true 2>/dev/null; then
        echo "sid root: running in it needs root and a mount namespace (unshare --mount), which this user or container does not have"
        return 1
    fi
    if current; then
        return 0
    fi
    if ! have_debootstrap; then
        echo "sid root: debootstrap is not installed and could not be (apt-get install debootstrap)"
        return 1
    fi
    # built aside and renamed into place: an interrupted run leaves no
    # half-made root behind
    local tmp="$root.new.$$"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$root")"
    echo "== creating the sid root $root (debootstrap, about 2 min, 830 MB)"
    mkdir -p "$root.debs"
    if ! debootstrap --variant=minbase --cache-dir="$root.debs" --include="$PACKAGES" sid "$tmp" \
        >"$tmp.log" 2>&1; then
        echo "sid root: debootstrap failed (last line: $(tail -1 "$tmp.log")); full log $tmp.log"
        rm -rf "$tmp"
        return 1
    fi
    rm -f "$tmp.log"
    echo "$STAMP_TEXT" >"$tmp/.asyncsnap-root"
    rm -rf "$root"
    mv "$tmp" "$root"
    # the packages served this root; sid's next ones will be newer
    rm -rf "$root.debs"
}

run() {
    # a private mount namespace: the bind mounts vanish with the command,
    # however it ends
    local here=$PWD
    shift 2
    unshare --mount --propagation private -- sh -c '
        root=$1 here=$2; shift 2
        mkdir -p "$root$here" "$root/proc" "$root/dev/shm"
        mount --bind "$here" "$root$here"
        mount -t proc proc "$root/proc"
        mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
        cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
        exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LANG=C.UTF-8 ${ASYNCSNAP_STEADY_RUNS:+ASYNCSNAP_STEADY_RUNS=$ASYNCSNAP_STEADY_RUNS} \
            sh -c "cd \"\$0\" && \"\$@\"" "$here" "$@"
    ' sh "$root" "$here" "$@"
}

case "$cmd" in
fetch) fetch ;;
ensure) ensure ;;
run) run "$@" ;;
*)
    echo "usage: $0 fetch [DIR] | ensure [DIR] | run DIR CMD..." >&2
    exit 2
    ;;
esac
