#!/usr/bin/env bash
# Swift 6 on a Debian 12 machine: a Debian 13 (trixie) chroot holding `swiftlang`, and a `swift`
# wrapper that runs the chroot's swift on the current directory.
#
#   swift-chroot.sh provision     make the chroot (idempotent; ~2 min and 3.4 GB the first time)
#                                 and write the wrappers `swift` and `swift-chroot-exec` into $BIN
#   swift-chroot.sh exec CMD...   run CMD inside the chroot, in the current directory
#   swift-chroot.sh bin           print $BIN (put it on PATH)
#
# Settings (environment): SWIFT_CHROOT (default /opt/swift-trixie), SWIFT_CHROOT_BIN (default
# $SWIFT_CHROOT.bin), SWIFT_CHROOT_MIRROR (default: the Debian mirror apt already uses here),
# SWIFT_CHROOT_BINDS (extra host folders to bind, colon-separated).
#
# Paths: the git work tree holding the current directory (or the directory itself), that of CMD
# when it is an absolute path, $TMPDIR (or /tmp) and SWIFT_CHROOT_BINDS are bind-mounted at the
# *same* paths inside, so every path means
# the same inside and out. Every mount is made in a private mount namespace (`unshare -m`):
# they vanish with the command, also when it fails or is killed; a trap unmounts them explicitly
# too. Needs root (mount, chroot), as the whole toolchain does here.
set -euo pipefail

ROOT=${SWIFT_CHROOT:-/opt/swift-trixie}
BIN=${SWIFT_CHROOT_BIN:-$ROOT.bin}
SUITE=trixie
PACKAGES=(swiftlang libc6-dev)
SELF=$(readlink -f "${BASH_SOURCE[0]}")

die() { echo "swift-chroot: $*" >&2; exit 2; }

need_root() {
    [ "$(id -u)" = 0 ] || die "needs root (it mounts and chroots); run it as root"
}

debian_mirror() {
    if [ -n "${SWIFT_CHROOT_MIRROR:-}" ]; then echo "$SWIFT_CHROOT_MIRROR"; return; fi
    local uri
    # deb822 sources (URIs: ...) first, then one-line sources (deb URI SUITE ...)
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}')
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) {print $i; exit}}')
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# ------------------------------------------------------------------------------------ provision

provision() {
    need_root
    # (usr/bin/swift is an absolute symlink, meaningful inside the chroot only: test the target)
    if [ -f "$ROOT/.pix2mobile-swift" ] && [ -x "$ROOT/usr/libexec/swift/bin/swift" ]; then
        echo "swift-chroot: $ROOT is ready ($(cat "$ROOT/.pix2mobile-swift"))"
    else
        local t0=$SECONDS
        command -v debootstrap >/dev/null || {
            echo "swift-chroot: installing debootstrap"
            # another apt run on the machine holds the lock for a while: wait for it
            local apt=(apt-get -o DPkg::Lock::Timeout=600)
            "${apt[@]}" install -y -q --no-install-recommends debootstrap >/dev/null \
                || { "${apt[@]}" update -q >/dev/null && "${apt[@]}" install -y -q --no-install-recommends debootstrap >/dev/null; }
        }
        local mirror
        mirror=$(debian_mirror)
        if [ ! -f "$ROOT/.pix2mobile-base" ]; then
            # a half-made base from an interrupted run is started over (no mount survives a run:
            # everything below is mounted in a private namespace)
            if [ -e "$ROOT" ]; then
                echo "swift-chroot: removing the unfinished $ROOT"
                rm -rf --one-file-system "$ROOT"
            fi
            echo "swift-chroot: debootstrap $SUITE from $mirror into $ROOT (~1 min)"
            mkdir -p "$ROOT"
            unshare --mount --propagation private -- \
                debootstrap --variant=minbase "$SUITE" "$ROOT" "$mirror" >"$ROOT.debootstrap.log" 2>&1 \
                || { tail -20 "$ROOT.debootstrap.log" >&2; die "debootstrap failed (log: $ROOT.debootstrap.log)"; }
            touch "$ROOT/.pix2mobile-base"
        fi
        cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
        echo "swift-chroot: apt-get install ${PACKAGES[*]} in the chroot (~1 min)"
        in_chroot / -- sh -c "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends ${PACKAGES[*]} >/dev/null && apt-get clean"
        local version
        version=$(in_chroot / -- swift --version 2>&1 | head -1)
        echo "$version" >"$ROOT/.pix2mobile-swift"
        echo "swift-chroot: made $ROOT in $((SECONDS - t0)) s, $(du -sh --one-file-system "$ROOT" | cut -f1): $version"
    fi
    write_wrappers
}

write_wrappers() {
    mkdir -p "$BIN"
    install -m 755 "$SELF" "$BIN/swift-chroot.sh"
    local name cmd
    for name in swift swift-chroot-exec; do
        cmd=$([ "$name" = swift ] && echo 'exec swift' || echo 'exec')
        cat >"$BIN/$name.tmp" <<EOF
#!/bin/sh
# Runs the Swift chroot's ${name#swift-chroot-} in the current directory (written by swift-chroot.sh provision).
SWIFT_CHROOT='$ROOT' exec '$BIN/swift-chroot.sh' $cmd "\$@"
EOF
        chmod 755 "$BIN/$name.tmp"
        mv "$BIN/$name.tmp" "$BIN/$name"
    done
    echo "swift-chroot: wrappers in $BIN (swift, swift-chroot-exec); put it on PATH"
}

# ----------------------------------------------------------------------------------------- exec

# in_chroot CWD [BIND...] -- CMD...: runs CMD in the chroot in a private mount namespace.
in_chroot() {
    need_root
    [ -x "$ROOT/bin/sh" ] || die "no chroot at $ROOT: run '$SELF provision' first"
    unshare --mount --propagation private -- "$SELF" _inside "$@"
}

MOUNTED=()
unmount_all() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTED[i]}" 2>/dev/null || true; done
    MOUNTED=()
}

inside() {
    local cwd=$1; shift
    local binds=()
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do binds+=("$1"); shift; done
    [ "$#" -gt 0 ] && shift
    MOUNTED=()
    trap unmount_all EXIT
    trap 'exit 130' INT TERM
    mount -t proc proc "$ROOT/proc" && MOUNTED+=("$ROOT/proc")
    mount --bind /dev "$ROOT/dev" && MOUNTED+=("$ROOT/dev")
    mount --bind /dev/pts "$ROOT/dev/pts" && MOUNTED+=("$ROOT/dev/pts")
    local b
    # parents before children, each once
    while IFS= read -r b; do
        if [ -z "$b" ] || [ ! -d "$b" ]; then continue; fi
        mkdir -p "$ROOT$b"
        mount --bind "$b" "$ROOT$b" && MOUNTED+=("$ROOT$b")
    done < <(printf '%s\n' "${binds[@]}" | awk 'length' | sort -u)
    local envs=(HOME=/root LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    local v
    for v in TERM CI $(compgen -e | grep -E '^(PIX2MOBILE_|SWIFT_TEST_)' || true); do
        [ -n "${!v:-}" ] && envs+=("$v=${!v}")
    done
    local rc=0
    # shellcheck disable=SC2016  # $1 and $@ are the inner shell's
    chroot "$ROOT" /usr/bin/env -i "${envs[@]}" sh -c 'cd "$1" && shift && exec "$@"' sh "$cwd" "$@" || rc=$?
    return "$rc"
}

run_exec() {
    [ "$#" -gt 0 ] || die "usage: $0 exec CMD [ARG...]"
    local cwd top
    cwd=$(pwd -P)
    top=$(git -C "$cwd" rev-parse --show-toplevel 2>/dev/null || echo "$cwd")
    local binds=("$top" "$(readlink -f "${TMPDIR:-/tmp}")")
    # a program given by absolute path (a built executable) brings its work tree along
    if [ "${1#/}" != "$1" ] && [ -f "$1" ]; then
        local dir
        dir=$(dirname "$(readlink -f "$1")")
        binds+=("$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null || echo "$dir")")
    fi
    local extra
    IFS=: read -r -a extra <<<"${SWIFT_CHROOT_BINDS:-}"
    binds+=("${extra[@]}")
    in_chroot "$cwd" "${binds[@]}" -- "$@"
}

case "${1:-}" in
    provision) provision ;;
    exec) shift; run_exec "$@" ;;
    bin) echo "$BIN" ;;
    _inside) shift; inside "$@" ;;
    *) die "usage: $0 provision | exec CMD [ARG...] | bin" ;;
esac
