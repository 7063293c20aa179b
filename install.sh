#!/bin/sh
# Install (or uninstall) vfio-warden: the binary, udev rules, systemd unit, libvirt hook, completions, man page
# and a policy file.
#
#   ./install.sh [--prefix DIR] [--destdir DIR] [--udevdir DIR] [--with-libvirt-hook] [--force] [--binary FILE] [--uninstall]
#
# --prefix DIR         where the binary, completions and man page go (default /usr/local): DIR/bin/vfio-warden
# --destdir DIR        staged install: every path is put under DIR (for packages, and for tests). Nothing on the
#                      running system is changed, and the udev rules are generated without a sysfs scan.
# --with-libvirt-hook  also install contrib/libvirt/qemu as /etc/libvirt/hooks/qemu
# --force              replace an existing libvirt hook that is not vfio-warden's
# --binary FILE        install this binary instead of building one with
#                      `swift build -c release --static-swift-stdlib` (the Swift runtime linked in: no toolchain needed)
# --udevdir DIR        udev's directory (default: pkg-config --variable=udevdir udev, or /usr/lib/udev)
# --uninstall          remove what an install put there (the policy, journal and assignments are kept)
#
# Files (with DESTDIR before each):
#   PREFIX/bin/vfio-warden
#   UDEVDIR/rules.d/70-vfio-warden.rules          UDEVDIR: pkg-config --variable=udevdir udev, or /usr/lib/udev
#   /etc/systemd/system/vfio-warden.service       ExecStart= follows PREFIX
#   /etc/systemd/system/vfio-warden-metrics.{service,timer}   node-exporter textfile metrics (not enabled)
#   /etc/libvirt/hooks/qemu                       only with --with-libvirt-hook
#   /etc/vfio-warden/policy.toml                  only if absent: the example, every line commented (monitor-only)
#   PREFIX/share/doc/vfio-warden/policy.example.toml
#   PREFIX/share/vfio-warden/node-labels.sh       the Kubernetes node-labels sidecar (contrib/kubernetes)
#   PREFIX/share/bash-completion/completions/vfio-warden
#   PREFIX/share/zsh/site-functions/_vfio-warden
#   PREFIX/share/fish/vendor_completions.d/vfio-warden.fish
#   PREFIX/share/man/man1/vfio-warden*.1
#
# It never starts, reloads or triggers anything: after a real install run
#   systemctl daemon-reload && systemctl enable --now vfio-warden
#   udevadm control --reload
# and, with node-exporter's textfile collector: systemctl enable --now vfio-warden-metrics.timer
set -eu
# Whatever the caller's umask: nothing installed (hook, policy, binary) or its directory is writable by anyone but
# root, or the agent and the hook refuse it (StrictModes).
umask 022

here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local
destdir=
hook=no
force=no
binary=
udevdir=
mode=install

usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir=$2; shift 2 ;;
    --destdir=*) destdir=${1#*=}; shift ;;
    --with-libvirt-hook) hook=yes; shift ;;
    --force) force=yes; shift ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a file"; binary=$2; shift 2 ;;
    --binary=*) binary=${1#*=}; shift ;;
    --udevdir) [ $# -ge 2 ] || die "--udevdir needs a directory"; udevdir=$2; shift 2 ;;
    --udevdir=*) udevdir=${1#*=}; shift ;;
    --uninstall) mode=uninstall; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done
case "$prefix" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
if [ -n "$destdir" ]; then
    case "$destdir" in /*) ;; *) destdir=$(pwd)/$destdir ;; esac
    destdir=${destdir%/}
fi

if [ -z "$udevdir" ] && command -v pkg-config >/dev/null 2>&1; then
    udevdir=$(pkg-config --variable=udevdir udev 2>/dev/null || true)
fi
[ -n "$udevdir" ] || udevdir=/usr/lib/udev

bindir=$prefix/bin
datadir=$prefix/share
rules=$udevdir/rules.d/70-vfio-warden.rules
unitdir=/etc/systemd/system
unit=$unitdir/vfio-warden.service
hookfile=/etc/libvirt/hooks/qemu
policy=/etc/vfio-warden/policy.toml
marker='vfio-warden hook'

D() { printf '%s%s' "$destdir" "$1"; }
put() { # put MODE SOURCE TARGET
    mkdir -p "$(dirname "$(D "$3")")"
    cp "$2" "$(D "$3").tmp.$$"
    chmod "$1" "$(D "$3").tmp.$$"
    mv -f "$(D "$3").tmp.$$" "$(D "$3")"
    printf 'installed %s\n' "$3"
}
remove() {
    if [ -e "$(D "$1")" ] || [ -L "$(D "$1")" ]; then rm -f "$(D "$1")"; printf 'removed %s\n' "$1"; fi
}

if [ "$mode" = uninstall ]; then
    remove "$bindir/vfio-warden"
    remove "$rules"
    remove "$unit"
    remove "$unitdir/vfio-warden-metrics.service"
    remove "$unitdir/vfio-warden-metrics.timer"
    if [ -f "$(D "$hookfile")" ] && grep -q "$marker" "$(D "$hookfile")"; then remove "$hookfile"; fi
    remove "$datadir/doc/vfio-warden/policy.example.toml"
    remove "$datadir/vfio-warden/node-labels.sh"
    rmdir "$(D "$datadir/vfio-warden")" 2>/dev/null || true
    remove "$datadir/bash-completion/completions/vfio-warden"
    remove "$datadir/zsh/site-functions/_vfio-warden"
    remove "$datadir/fish/vendor_completions.d/vfio-warden.fish"
    for page in "$(D "$datadir/man/man1")"/vfio-warden*.1; do
        [ -e "$page" ] && remove "${page#"$destdir"}"
    done
    rmdir "$(D "$datadir/doc/vfio-warden")" 2>/dev/null || true
    printf 'kept %s and /var/lib/vfio-warden (policy, journal, assignments)\n' "$policy"
    exit 0
fi

# Refuse early, before anything is written.
if [ "$hook" = yes ] && [ -e "$(D "$hookfile")" ] && [ "$force" != yes ] && ! grep -q "$marker" "$(D "$hookfile")"; then
    die "$(D "$hookfile") exists and is not vfio-warden's hook; merge it by hand or pass --force to replace it"
fi

if [ -z "$binary" ]; then
    # The Swift runtime linked in: the host needs no Swift toolchain (ldd shows nothing under /opt/swift).
    (cd "$here" && swift build -c release --static-swift-stdlib --product vfio-warden) || die "swift build failed"
    binary=$here/.build/release/vfio-warden
fi
[ -x "$binary" ] || die "$binary is not an executable"

put 0755 "$binary" "$bindir/vfio-warden"

# The systemd unit, pointing at the installed binary.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
for name in vfio-warden.service vfio-warden-metrics.service; do
    sed "s|^ExecStart=/usr/local/bin/vfio-warden|ExecStart=$bindir/vfio-warden|" "$here/contrib/systemd/$name" > "$tmp/$name"
    put 0644 "$tmp/$name" "$unitdir/$name"
done
put 0644 "$here/contrib/systemd/vfio-warden-metrics.timer" "$unitdir/vfio-warden-metrics.timer"

# The policy: the example, commented out, so that a first install changes nothing on the host (monitor-only).
put 0644 "$here/contrib/policy.example.toml" "$datadir/doc/vfio-warden/policy.example.toml"
put 0755 "$here/contrib/kubernetes/node-labels.sh" "$datadir/vfio-warden/node-labels.sh"
if [ -e "$(D "$policy")" ]; then
    printf 'kept %s (exists)\n' "$policy"
else
    {
        printf '# vfio-warden policy: monitor-only until you uncomment what fits this host (see vfio-warden check).\n'
        printf '# The example it was made from: %s\n#\n' "$datadir/doc/vfio-warden/policy.example.toml"
        sed 's/^\([^#]\)/#\1/' "$here/contrib/policy.example.toml"
    } > "$tmp/policy"
    put 0644 "$tmp/policy" "$policy"
fi

# udev rules from the policy. A staged install does not scan this machine's sysfs (it is not the target's).
scan=
[ -n "$destdir" ] && scan=--no-scan
# shellcheck disable=SC2086
if "$binary" rules generate --policy "$(D "$policy")" $scan --output "$tmp/rules"; then
    sed -e "s|$(D "$policy")|$policy|g" -e "s|$tmp/rules|$rules|g" "$tmp/rules" > "$tmp/rules.final"
    put 0644 "$tmp/rules.final" "$rules"
else
    printf 'warning: %s not installed: the policy does not validate (vfio-warden check --validate-only)\n' "$rules" >&2
fi

if [ "$hook" = yes ]; then
    sed "s|^PATH=\"\$PATH:/usr/local/sbin:/usr/local/bin\"|PATH=\"\$PATH:$bindir\"|" "$here/contrib/libvirt/qemu" > "$tmp/hook"
    put 0755 "$tmp/hook" "$hookfile"
fi

# Completions and man pages: the committed ones (contrib/generate.sh makes them from the CLI definitions).
put 0644 "$here/contrib/completions/vfio-warden.bash" "$datadir/bash-completion/completions/vfio-warden"
put 0644 "$here/contrib/completions/_vfio-warden" "$datadir/zsh/site-functions/_vfio-warden"
put 0644 "$here/contrib/completions/vfio-warden.fish" "$datadir/fish/vendor_completions.d/vfio-warden.fish"
for page in "$here"/contrib/man/*.1; do
    [ -e "$page" ] && put 0644 "$page" "$datadir/man/man1/$(basename "$page")"
done

if [ -z "$destdir" ]; then
    printf '\nnext: systemctl daemon-reload && systemctl enable --now vfio-warden; udevadm control --reload\n'
fi
