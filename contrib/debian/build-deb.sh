#!/usr/bin/env bash
# Builds the Debian package vfio-warden_VERSION_ARCH.deb from a vfio-warden binary, with dpkg-deb (no debhelper, no
# source package). `make deb` runs it after `swift build -c release --static-swift-stdlib`.
#
#   contrib/debian/build-deb.sh --binary FILE [--version V] [--output DIR] [--compression xz|gzip|none]
#
# --binary FILE      the binary to ship: built with --static-swift-stdlib (refused if ldd shows the Swift runtime)
# --version V        the package version (default: what `FILE --version` prints)
# --output DIR       where the .deb goes (default: dist); other vfio-warden_*.deb files there are removed, so
#                    that the Containerfile's `COPY dist/vfio-warden_*.deb` finds exactly one
# --compression C    dpkg-deb's -Z (default xz, Debian's)
#
# Environment: DEB_MAINTAINER (default "vfio-warden maintainers <vfio-warden@example.org>"); SOURCE_DATE_EPOCH
# (default: the last commit's time) stamps the files and the changelog, so the same tree gives the same package.
#
# What goes where (install.sh --destdir --prefix /usr stages it, then Debian's places are applied):
#   /usr/bin/vfio-warden                              stripped
#   /lib/systemd/system/vfio-warden{,-metrics}.service, vfio-warden-metrics.timer   not enabled
#   /lib/udev/rules.d/70-vfio-warden.rules            from the monitor-only policy: matches nothing. Yours, made
#                                                     with `vfio-warden rules generate`, go to /etc/udev/rules.d
#   /etc/vfio-warden/policy.toml                      conffile: the example policy, commented out (monitor-only)
#   /usr/share/vfio-warden/libvirt/qemu               the libvirt hook, not active (link it into
#                                                     /etc/libvirt/hooks/qemu.d/ to use it)
#   /usr/share/vfio-warden/node-labels.sh             the Kubernetes node-labels sidecar
#   /usr/share/doc/vfio-warden/                       copyright, changelog.gz, policy.example.toml,
#                                                     examples/70-vfio-warden.rules (the q35 example host's)
#   /usr/share/man/man1/*.1.gz, bash/zsh/fish completions
# Maintainer scripts: contrib/debian/{postinst,prerm,postrm}. Depends: from dpkg-shlibdeps (dpkg-dev).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
binary=
version=
output=dist
compression=xz

die() { printf 'build-deb.sh: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
    --binary) [ $# -ge 2 ] || die "--binary needs a file"; binary=$2; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs a version"; version=$2; shift 2 ;;
    --output) [ $# -ge 2 ] || die "--output needs a directory"; output=$2; shift 2 ;;
    --compression) [ $# -ge 2 ] || die "--compression needs xz, gzip or none"; compression=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done
[ -n "$binary" ] || die "--binary FILE is required (make deb builds it)"
[ -x "$binary" ] || die "$binary is not an executable"
case "$compression" in xz | gzip | none) ;; *) die "--compression must be xz, gzip or none, not '$compression'" ;; esac
for tool in dpkg-deb dpkg-shlibdeps strip ldd; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install dpkg-dev binutils)"
done

# A host has no Swift toolchain: the runtime must be linked in.
if ldd "$binary" | grep -E 'libswift|libFoundation|libdispatch|/opt/swift' >&2; then
    die "$binary links the Swift runtime from the toolchain (above); build it with: swift build -c release --static-swift-stdlib"
fi

[ -n "$version" ] || version=$("$binary" --version) || die "$binary --version failed"
# Debian's version syntax (no epoch, no revision: a native package).
printf '%s' "$version" | grep -Eq '^[0-9][A-Za-z0-9.+~]*$' || die "'$version' is not a Debian version (digits first; letters, digits, . + ~)"
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-vfio-warden maintainers <vfio-warden@example.org>}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/root
mkdir -p "$root"

# Stripped: the symbols and debug info are half the size; backtraces lose function names, not the Swift metadata.
strip --strip-unneeded --remove-section=.comment -o "$work/vfio-warden" "$binary"

# The files install.sh installs, with /usr as the prefix; then Debian's places for units, zsh completions, man pages.
"$repo/install.sh" --destdir "$root" --prefix /usr --udevdir /lib/udev --binary "$work/vfio-warden" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; die "install.sh --destdir failed"; }
[ -f "$root/lib/udev/rules.d/70-vfio-warden.rules" ] || die "install.sh made no udev rules (see above)"
mkdir -p "$root/lib/systemd"
mv "$root/etc/systemd/system" "$root/lib/systemd/system"
rmdir "$root/etc/systemd"
mkdir -p "$root/usr/share/zsh/vendor-completions"
mv "$root/usr/share/zsh/site-functions/_vfio-warden" "$root/usr/share/zsh/vendor-completions/_vfio-warden"
rmdir "$root/usr/share/zsh/site-functions"
# An empty line in mdoc is groff's "Empty input line" warning (lintian's groff-message); .Pp is the paragraph
# break it stands for. (swift-argument-parser's generate-manual writes the empty lines, from the discussions.)
sed -i 's/^$/.Pp/' "$root"/usr/share/man/man1/*.1
gzip -9n "$root"/usr/share/man/man1/*.1
# bash-completion sources the file: the #! line that swift-argument-parser writes is noise (lintian says so).
sed -i '1{/^#!/d}' "$root/usr/share/bash-completion/completions/vfio-warden"
install -D -m 0755 "$repo/contrib/libvirt/qemu" "$root/usr/share/vfio-warden/libvirt/qemu"
install -D -m 0644 "$repo/rules/70-vfio-warden.rules" "$root/usr/share/doc/vfio-warden/examples/70-vfio-warden.rules"
install -m 0644 "$here/copyright" "$root/usr/share/doc/vfio-warden/copyright"
{
    printf 'vfio-warden (%s) unstable; urgency=medium\n\n' "$version"
    printf '  * Built from the vfio-warden source tree (make deb); commit %s.\n\n' \
        "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$root/usr/share/doc/vfio-warden/changelog.gz"
if [ -f "$here/lintian-overrides" ]; then
    install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/vfio-warden"
fi

# Depends: the shared libraries the binary needs, with the versions their symbols need (dpkg-shlibdeps reads a
# debian/control, so it runs in a scratch source tree).
mkdir -p "$work/src/debian"
printf 'Source: vfio-warden\n\nPackage: vfio-warden\nArchitecture: any\n' >"$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O "$root/usr/bin/vfio-warden" 2>"$work/shlibdeps.log") ||
    { cat "$work/shlibdeps.log" >&2; die "dpkg-shlibdeps failed"; }
depends=${depends#shlibs:Depends=}
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies for $root/usr/bin/vfio-warden"

mkdir -p "$root/DEBIAN"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
    -e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@DEPENDS@|$depends|" "$here/control.in" >"$root/DEBIAN/control"
printf '/etc/vfio-warden/policy.toml\n' >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

# Modes as Debian wants them (install.sh's umask may differ), and every time stamp the same.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$output"
rm -f "$output"/vfio-warden_*.deb
deb=$output/vfio-warden_${version}_${arch}.deb
dpkg-deb --root-owner-group -Z"$compression" --build "$root" "$deb" >/dev/null
printf '%s\n' "$deb"
