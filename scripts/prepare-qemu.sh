#!/usr/bin/env bash
# Keep build/stock/src (pristine QEMU) and build/hspt/src (pristine + our
# patches/) up to date. Only files whose content changed get a new mtime,
# so ninja rebuilds only what a patch touches.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
want="${QEMU_SRC:+src:$QEMU_SRC}${QEMU_TARBALL:+tarball:$QEMU_TARBALL}"
want=${want:-debian}
if [ ! -f build/stock/src/.hspt-origin ] || [ "$(cat build/stock/.hspt-request 2>/dev/null)" != "$want" ]; then
	rm -rf build/stock/build build/hspt
	scripts/qemu-source.sh build/stock/src
	echo "$want" > build/stock/.hspt-request
fi

stamp=$( (cat build/stock/src/.hspt-origin; cd patches && cat series $(grep -v '^#' series)) | sha256sum | cut -c1-16)
if [ "$(cat build/hspt/.hspt-patched 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
echo "hspt: applying patches/ to QEMU $(cat build/stock/src/.hspt-origin)"
mkdir -p build/hspt
rsync -a --delete build/stock/src/ build/hspt/staging/
scripts/apply-patches.sh build/hspt/staging
mkdir -p build/hspt/src
rsync -a --delete --checksum build/hspt/staging/ build/hspt/src/
echo "$stamp" > build/hspt/.hspt-patched
