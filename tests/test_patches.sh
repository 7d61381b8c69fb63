#!/usr/bin/env bash
# The QEMU patch series: applies in order to the pristine source, stops
# with the patch's name when a hunk fails, is checkpatch clean, and carries
# an exact copy of the shim's ABI header.
source "$(dirname "$0")/lib.sh"
pristine=build/stock/src
[ -f "$pristine/VERSION" ] || fail "no pristine QEMU tree at $pristine (make qemu)"

# A small tree: the files the patches touch, copied from the pristine source.
mini() {
	local dst=$1 pdir=$2
	mkdir -p "$dst"
	cp "$pristine/.hspt-origin" "$dst/"
	grep -h '^--- a/' "$pdir"/*.patch | sed 's|^--- a/||' | sort -u | while read -r f; do
		[ -f "$pristine/$f" ] || continue   # made by an earlier patch
		mkdir -p "$dst/$(dirname "$f")"
		cp "$pristine/$f" "$dst/$f"
	done
}

say "the series applies to QEMU $(cat "$pristine/.hspt-origin")"
mini "$work/tree" patches
scripts/apply-patches.sh "$work/tree"
cmp shim/include/hspt-abi.h "$work/tree/include/exec/hspt-abi.h" ||
	fail "patches carry a different include/exec/hspt-abi.h than shim/include/hspt-abi.h"
grep -q qemu_plugin_hspt_register "$work/tree/include/qemu/qemu-plugin.h" ||
	fail "the registration entry point is not exported through qemu-plugin.h"

say "a patch that does not apply stops the build and is named"
cp -r patches "$work/broken"
victim=$(sed -n 3p patches/series)
# Change one context line of the third patch's first hunk.
awk 'BEGIN{d=0} /^@@/ && !d {h=1} h && /^ / && !d {sub(/^ /, " BROKEN "); d=1} {print}' \
	"patches/$victim" > "$work/broken/$victim"
cmp -s "patches/$victim" "$work/broken/$victim" && fail "could not corrupt $victim for the test"
mini "$work/tree2" patches
if PATCHES_DIR="$work/broken" scripts/apply-patches.sh "$work/tree2" 2>"$work/err"; then
	fail "a corrupted patch applied"
fi
grep -q "patch $victim does not apply" "$work/err" || { cat "$work/err"; fail "the failing patch was not named"; }

say "checkpatch.pl"
for p in $(grep -v '^#' patches/series); do
	out=$(perl "$pristine/scripts/checkpatch.pl" "patches/$p" 2>&1) || { echo "$out"; fail "checkpatch: $p"; }
	echo "$out" | grep -q "total: 0 errors, 0 warnings" || { echo "$out"; fail "checkpatch warnings: $p"; }
	echo "$p: clean"
done

say "no patch takes back much of an earlier one (fix-ups are folded into the patch they fix)"
out=$(scripts/series-takebacks.sh) || { echo "$out"; fail "series-takebacks.sh failed"; }
echo "$out" | tail -n 1
n=$(echo "$out" | tail -n 1 | sed -nE 's/^series-takebacks: ([0-9]+) lines.*/\1/p')
[ -n "$n" ] || { echo "$out"; fail "series-takebacks.sh printed no total"; }
[ "$n" -le 20 ] || { echo "$out"; fail "$n lines of the series are taken back by a later patch (at most 20)"; }
grep -l '^+#define HSPT_ABI_VERSION' patches/*.patch | wc -l | grep -qx 1 ||
	fail "HSPT_ABI_VERSION is defined or changed in more than one patch"
