#!/usr/bin/env bash
# List the lines of patches/series that a later patch of the series removes
# or rewrites ("taken back"), one line each: "NN <- MM: file: text" (patch
# NN removes a line patch MM added), then the total. A reviewable series
# keeps this short: a fix-up belongs folded into the patch it fixes.
# Needs the pristine tree of `make qemu-stock`; takes a few seconds.
# PATCHES_DIR=DIR reads another series (e.g. an older one, to compare).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pristine=build/stock/src
[ -f "$pristine/.hspt-origin" ] || { echo "series-takebacks: no pristine tree at $pristine (run 'make qemu-stock')" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pdir=${PATCHES_DIR:-patches}
mapfile -t patches < <(grep -v "^#" "$pdir/series" | grep -v "^$")

# A git repository of the files the patches touch, as in the pristine tree.
git init -q "$work/repo"
grep -h '^--- a/' "${patches[@]/#/$pdir/}" | sed 's|^--- a/||' | sort -u | while read -r f; do
	[ -f "$pristine/$f" ] || continue
	mkdir -p "$work/repo/$(dirname "$f")"
	cp "$pristine/$f" "$work/repo/$f"
done
cd "$work/repo"
git add -A && git -c user.name=base -c user.email=base@localhost commit -q -m base
base=$(git rev-parse HEAD)
declare -A number
n=0
for p in "${patches[@]}"; do
	n=$((n + 1))
	git -c user.name=hspt -c user.email=hspt@localhost am -q "$(cd "$top" && realpath "$pdir/$p")" ||
		{ echo "series-takebacks: $p does not apply" >&2; exit 1; }
	number[$(git rev-parse HEAD)]=$(printf %02d $n)
done

total=0
for c in $(git rev-list --reverse "$base"..HEAD); do
	while read -r f start len; do
		while read -r h rest; do
			h=${h#^}
			case "$base" in "$h"*) continue ;; esac
			echo "${number[$c]} <- ${number[$h]:-??}: $f: ${rest#*) }"
			total=$((total + 1))
		done < <(git blame -s -l -L "$start,+$len" "$c^" -- "$f")
	done < <(git diff -U0 "$c^" "$c" | awk '/^--- a\//{f=substr($2,3)} /^@@/{split($2,a,","); s=substr(a[1],2); l=(a[2]==""?1:a[2]); if (l>0) print f, s, l}')
done
echo "series-takebacks: $total lines of ${#patches[@]} patches are taken back by a later patch"
