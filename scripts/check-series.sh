#!/usr/bin/env bash
# Check that every prefix of patches/series compiles: apply the patches one
# at a time to a copy of the pristine tree (build/stock/src, from `make
# qemu-stock`) and build qemu-system-arm and qemu-arm (user mode, which
# compiles the CONFIG_USER_ONLY sides of the patches) after each.
# Incremental: ninja rebuilds only what a patch touches, and the ccache of
# build-qemu.sh is shared. Run before changing the series; not part of
# `make test` (a first run takes about as long as two QEMU builds).
# Usage: scripts/check-series.sh [FIRST]   (resume at patch number FIRST)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pristine=build/stock/src
work=build/series-check
first=${1:-1}
[ -f "$pristine/.hspt-origin" ] || { echo "check-series: no pristine tree at $pristine (run 'make qemu-stock')" >&2; exit 2; }
venv="${HSPT_CACHE:=$HOME/.cache/hspt}/venv"
[ -x "$venv/bin/meson" ] || { echo "check-series: no meson venv at $venv (run 'make qemu' once)" >&2; exit 2; }
export CCACHE_DIR="$HSPT_CACHE/ccache" CCACHE_BASEDIR="$top" CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=5G
cc=cc
command -v ccache >/dev/null && cc="ccache cc"

mapfile -t patches < <(grep -v '^#' patches/series | grep -v '^$')
total=${#patches[@]}
if [ "$first" = 1 ] || [ ! -f "$work/build/build.ninja" ]; then
	first=1
	echo "check-series: copying the pristine tree and configuring"
	rm -rf "$work" && mkdir -p "$work"
	cp -a "$pristine" "$work/src"
	mkdir -p "$work/build"
	# The configuration of scripts/build-qemu.sh, both targets at once.
	(cd "$work/build" && ../src/configure -q --python="$venv/bin/python3" --cc="$cc" --host-cc=cc \
		--target-list=arm-softmmu,arm-linux-user --enable-plugins --enable-tcg \
		--without-default-features --enable-fdt=system \
		--disable-docs --disable-install-blobs --disable-rust --disable-werror \
		>configure.log 2>&1) || { tail -n 20 "$work/build/configure.log" >&2; exit 1; }
else
	# Resuming: the tree holds patches 1..FIRST-1 already.
	:
fi

build() {
	local what=$1 log="$work/build/ninja.log"
	if ! ninja -C "$work/build" qemu-system-arm qemu-arm >"$log" 2>&1; then
		grep -E 'error|Error' "$log" | head -n 20 >&2
		echo "check-series: $what does not compile (full log: $log)" >&2
		exit 1
	fi
	# Warnings that -Werror would turn into errors (QEMU's developers build with it).
	if grep -q 'warning:' "$log"; then
		grep 'warning:' "$log" | head -n 10 >&2
		echo "check-series: $what compiles with warnings (log: $log)" >&2
		exit 1
	fi
}

[ "$first" = 1 ] && { echo "check-series: pristine QEMU"; build "pristine QEMU"; }
for ((i = first; i <= total; i++)); do
	p=${patches[$((i - 1))]}
	printf 'check-series: %2d/%d %s\n' "$i" "$total" "$p"
	patch -d "$work/src" -p1 --forward --batch --no-backup-if-mismatch -F0 -s < "patches/$p" ||
		{ echo "check-series: $p does not apply" >&2; exit 1; }
	build "the series up to $p"
done
echo "check-series: every prefix of the $total patches compiles"
