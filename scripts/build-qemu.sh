#!/usr/bin/env bash
# Configure (once) and build one QEMU flavour in build/<flavour>/build:
#   hspt   qemu-system-arm from build/hspt/src (QEMU + patches/)
#   stock  qemu-system-arm from build/stock/src (QEMU as distributed)
#   user   qemu-arm (user mode) from build/hspt/src, for benchmarks
# Incremental: ninja rebuilds only what changed, and a ccache outside the
# work tree makes a fresh clone's first build fast.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
flavour=$1
case "$flavour" in
hspt) srcrel=../src target=arm-softmmu binary=qemu-system-arm ;;
stock) srcrel=../src target=arm-softmmu binary=qemu-system-arm ;;
user) srcrel=../../hspt/src target=arm-linux-user binary=qemu-arm ;;
*) echo "build-qemu: unknown flavour $flavour (hspt, stock, user)" >&2; exit 2 ;;
esac
bld="$top/build/$flavour/build"
src="$bld/$srcrel"
venv="${HSPT_CACHE:=$HOME/.cache/hspt}/venv"

if [ ! -x "$venv/bin/meson" ]; then
	echo "hspt: creating a Python venv with meson >= 1.5 ($venv)"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q 'meson>=1.5,<1.9'
fi

export CCACHE_DIR="$HSPT_CACHE/ccache" CCACHE_BASEDIR="$top" CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=5G
# QEMU's configure hands meson an explicit compiler, so ccache must be named.
cc=cc
command -v ccache >/dev/null && cc="ccache cc"
# Everything not needed to boot an ARM Linux guest is left out (faster build).
config=(--python="$venv/bin/python3" --cc="$cc" --host-cc=cc
	--target-list=$target --enable-plugins --enable-tcg
	--without-default-features --enable-fdt=system
	--disable-docs --disable-install-blobs --disable-rust --disable-werror)
if [ ! -f "$bld/build.ninja" ] || [ "$(cat "$bld/.hspt-config" 2>/dev/null)" != "${config[*]}" ]; then
	echo "hspt: configuring QEMU ($flavour) for $target with plugins"
	rm -rf "$bld" && mkdir -p "$bld"
	# Relative path to the source so both flavours compile with the same
	# command lines and share ccache entries.
	(cd "$bld" && "$srcrel/configure" -q "${config[@]}" >"$bld/configure.log" 2>&1) || {
		tail -n 30 "$bld/configure.log" >&2
		echo "hspt: QEMU configure failed; full log: $bld/configure.log" >&2
		exit 1
	}
	echo "${config[*]}" > "$bld/.hspt-config"
fi
echo "hspt: building $binary ($flavour) [$(cat "$src/.hspt-origin")]"
ninja -C "$bld" "$binary" | awk '/^\[/ { if (++n % 200 == 0) print "  " $1; fflush(); next } { print }'
exit "${PIPESTATUS[0]}"
