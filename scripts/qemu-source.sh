#!/usr/bin/env bash
# Produce a pristine QEMU 10.0.x source tree in $1 (replacing it).
#   default           Debian 13's `qemu` source package (Debian's own patches applied)
#   QEMU_TARBALL=F    an upstream release tarball (qemu-10.0.x.tar.xz)
#   QEMU_SRC=DIR      an existing tree (copied, so it is never modified)
# Downloads are kept in $HSPT_CACHE/downloads.
set -euo pipefail
dest=$1
here=$(cd "$(dirname "$0")" && pwd)
dl="${HSPT_CACHE:=$HOME/.cache/hspt}/downloads/qemu"
mkdir -p "$dl"
rm -rf "$dest" "$dest.tmp"
mkdir -p "$dest.tmp"

if [ -n "${QEMU_SRC:-}" ]; then
	[ -f "$QEMU_SRC/VERSION" ] || { echo "hspt: QEMU_SRC=$QEMU_SRC is not a QEMU source tree (no VERSION file)" >&2; exit 1; }
	echo "hspt: copying QEMU source from $QEMU_SRC"
	cp -a "$QEMU_SRC/." "$dest.tmp/"
	origin="tree $QEMU_SRC"
elif [ -n "${QEMU_TARBALL:-}" ]; then
	[ -f "$QEMU_TARBALL" ] || { echo "hspt: QEMU_TARBALL=$QEMU_TARBALL: no such file" >&2; exit 1; }
	echo "hspt: unpacking $QEMU_TARBALL"
	tar -xf "$QEMU_TARBALL" -C "$dest.tmp" --strip-components=1
	origin="tarball $(basename "$QEMU_TARBALL")"
else
	dsc=$(ls "$dl"/qemu_*.dsc 2>/dev/null | sort -V | tail -n1 || true)
	if [ -z "$dsc" ]; then
		"$here/apt-sources.sh"
		echo "hspt: downloading Debian 13's qemu source package (about 40 MB)"
		(cd "$dl" && apt-get source --download-only -q qemu/trixie)
		dsc=$(ls "$dl"/qemu_*.dsc | sort -V | tail -n1)
	fi
	echo "hspt: unpacking $(basename "$dsc") (with Debian's patches)"
	rm -rf "$dest.tmp"
	dpkg-source --no-check -q -x "$dsc" "$dest.tmp" >/dev/null
	origin="debian $(basename "$dsc" .dsc)"
fi

ver=$(cat "$dest.tmp/VERSION")
case "$ver" in
10.0.*) ;;
*) echo "hspt: QEMU $ver is not supported: the patch series is for QEMU 10.0.x" >&2; exit 1 ;;
esac
echo "$ver ($origin)" > "$dest.tmp/.hspt-origin"
mv "$dest.tmp" "$dest"
echo "hspt: QEMU $ver source ready ($origin)"
