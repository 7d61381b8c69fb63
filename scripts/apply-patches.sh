#!/usr/bin/env bash
# Apply patches/series to the QEMU tree $1, in order. A patch that does not
# apply cleanly stops everything with that patch's name.
set -euo pipefail
tree=$1
pdir=$(cd "${PATCHES_DIR:-$(dirname "$0")/../patches}" && pwd)
n=0
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	[ -f "$pdir/$p" ] || { echo "hspt: patches/series names $p, which does not exist" >&2; exit 1; }
	if ! out=$(patch -d "$tree" -p1 --forward --batch --no-backup-if-mismatch -F0 < "$pdir/$p" 2>&1); then
		echo "$out" >&2
		echo "hspt: patch $p does not apply to $(cat "$tree/.hspt-origin" 2>/dev/null || echo "$tree")" >&2
		exit 1
	fi
	n=$((n + 1))
done < "$pdir/series"
echo "hspt: applied $n patches"
