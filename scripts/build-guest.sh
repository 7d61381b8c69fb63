#!/usr/bin/env bash
# Build the default guest: Debian bookworm's armhf armmp kernel, and an
# initramfs with busybox, the project's own test programs (static), a few
# real Debian armhf programs with their libraries, and the init that runs
# the workload named on the kernel command line (guest/init).
#
# Output: build/guest/zImage, build/guest/initrd.cpio.gz, build/guest/MANIFEST
# Cached: rebuilt only when an input changes (the stamp hashes them all);
# reproducible: package versions are pinned in MANIFEST on first build and
# reused, file times and order in the cpio are fixed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/guest
debs="${HSPT_CACHE:=$HOME/.cache/hspt}/downloads/debs"
pins="$HSPT_CACHE/guest-pins"
mkdir -p "$out" "$debs"

# Real programs from Debian's armhf archive, and the libraries they need.
PKGS="busybox-static gzip bzip2 libbz2-1.0 xz-utils liblzma5 sqlite3 libsqlite3-0
      libreadline8 libtinfo6 zlib1g lua5.4 libc6 libgcc-s1"
CC=arm-linux-gnueabihf-gcc
CFLAGS="-O2 -static -Wall -Wextra -Werror"

inputs_hash() {
	{ cat scripts/build-guest.sh guest/init guest/workloads/* tests/guest/*.c tests/guest/*.h 2>/dev/null
	  cat "$pins" 2>/dev/null; } | sha256sum | cut -c1-16
}

# Pin package versions once per machine (first build; kept in the cache,
# remove $HSPT_CACHE/guest-pins to take newer ones), so rebuilds are identical.
if [ ! -s "$pins" ]; then
	scripts/apt-sources.sh
	kpkg=$(apt-cache depends linux-image-armmp:armhf 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[^:]*\).*/\1/p' | head -n1)
	[ -n "$kpkg" ] || { echo "hspt: cannot find Debian's armhf armmp kernel (linux-image-armmp:armhf)" >&2; exit 1; }
	for p in $kpkg $PKGS; do
		v=$(apt-cache policy "$p:armhf" | sed -n 's/ *Candidate: //p')
		[ -n "$v" ] && [ "$v" != "(none)" ] || { echo "hspt: package $p:armhf not available from apt" >&2; exit 1; }
		echo "$p=$v"
	done > "$pins.tmp"
	mv "$pins.tmp" "$pins"
fi
stamp=$(inputs_hash)
if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$out/zImage" ] && [ -f "$out/initrd.cpio.gz" ]; then
	exit 0
fi
echo "hspt: building the guest (kernel, busybox, test programs, Debian armhf programs)"

# 1. Packages (downloaded once into the cache).
need=()
while IFS='=' read -r p v; do
	ls "$debs/${p}_${v//:/%3a}_armhf.deb" >/dev/null 2>&1 || need+=("$p:armhf=$v")
done < "$pins"
if [ ${#need[@]} -gt 0 ]; then
	scripts/apt-sources.sh
	echo "hspt: downloading ${#need[@]} armhf packages"
	(cd "$debs" && apt-get download -q "${need[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
fi

root="$out/root"
rm -rf "$root" && mkdir -p "$root"
while IFS='=' read -r p v; do
	deb="$debs/${p}_${v//:/%3a}_armhf.deb"
	[ -f "$deb" ] || { echo "hspt: download of $p:armhf=$v failed" >&2; exit 1; }
	case "$p" in
	linux-image-*)
		dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './boot/vmlinuz-*' > "$out/zImage.tmp"
		echo "kernel $p $v" > "$out/MANIFEST.tmp";;
	*) dpkg-deb -x "$deb" "$root";;
	esac
done < "$pins"
sed 1d "$pins" | sed 's/^/package /' >> "$out/MANIFEST.tmp"

# 2. Layout: busybox provides the shell and tools; Debian's usrmerge layout
#    for libraries (lib -> usr/lib).
for d in bin sbin lib; do
	if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then
		mkdir -p "$root/usr/$d" && cp -a "$root/$d/." "$root/usr/$d/" && rm -rf "${root:?}/$d"
	fi
	ln -sfn "usr/$d" "$root/$d"
done
mkdir -p "$root"/{proc,sys,dev,tmp,run,root,etc,hspt/bin,hspt/workloads}
mv "$root/usr/bin/busybox" "$root/hspt/bin/busybox"
# Applet links are made at boot (busybox --install), which does not
# replace the Debian programs.

# 3. Every dynamic program finds its libraries (or the build fails here).
for f in "$root"/usr/bin/*; do
	[ -L "$f" ] && continue
	file -b "$f" 2>/dev/null | grep -q 'ELF 32-bit.*dynamically' || continue
	for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -e "$root/usr/lib/arm-linux-gnueabihf/$lib" ] || [ -e "$root/usr/lib/$lib" ] || {
			echo "hspt: guest program $(basename "$f") needs $lib, which no package in the guest provides" >&2; exit 1; }
	done
done

# 4. The project's own test programs, static.
for c in tests/guest/*.c; do
	b=$(basename "$c" .c)
	$CC $CFLAGS -o "$root/hspt/bin/$b" "$c"
	echo "program $b $(sha256sum < "$c" | cut -c1-16)" >> "$out/MANIFEST.tmp"
done
cp guest/init "$root/init" && chmod 755 "$root/init"
cp guest/workloads/* "$root/hspt/workloads/"
chmod 755 "$root"/hspt/workloads/*

# 5. A reproducible cpio: fixed order, times and owners.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$out/initrd.cpio.gz.tmp"
mv "$out/zImage.tmp" "$out/zImage"
mv "$out/initrd.cpio.gz.tmp" "$out/initrd.cpio.gz"
mv "$out/MANIFEST.tmp" "$out/MANIFEST"
echo "$stamp" > "$out/.stamp"
echo "hspt: guest ready: $out/zImage, $out/initrd.cpio.gz ($(du -h "$out/initrd.cpio.gz" | cut -f1))"
