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
# stress-ng (workload "stress") needs the libraries on its second and third
# lines (libEGL/libGLES/libgbm are linked but only dlopen their drivers when
# a GPU stressor runs, so no Mesa driver is needed).
PKGS="busybox-static gzip bzip2 libbz2-1.0 xz-utils liblzma5 sqlite3 libsqlite3-0
      libreadline8 libtinfo6 zlib1g lua5.4 libc6 libgcc-s1
      stress-ng libapparmor1 libbsd0 libmd0 libcrypt1 libegl1 libglvnd0 libgbm1 libdrm2
      libwayland-server0 libffi8 libexpat1 libgles2 libjpeg62-turbo libjudydebian1
      libkmod2 libzstd1 libssl3 libsctp1 libxxhash0"
CC=arm-linux-gnueabihf-gcc
CFLAGS="-O2 -static -Wall -Wextra -Werror"

inputs_hash() {
	{ cat scripts/build-guest.sh guest/init guest/workloads/* tests/guest/*.c tests/guest/*.h 2>/dev/null
	  selected_pins; } | sha256sum | cut -c1-16
}
# The pinned versions of the packages this guest uses: the kernel, then PKGS
# in order (pins of packages since dropped from PKGS stay in the file, unused).
selected_pins() {
	grep '^linux-image-[^=]*=' "$pins" | head -n1
	for p in $PKGS; do grep -m1 "^$p=" "$pins"; done
}

# Pin package versions once per machine (kept in the cache: remove
# $HSPT_CACHE/guest-pins to take newer ones), so rebuilds are identical. A
# package added to PKGS later is pinned (appended) on the next build; the
# versions already pinned are kept.
touch "$pins"
missing=()
grep -q '^linux-image-' "$pins" || missing+=(KERNEL)
for p in $PKGS; do
	grep -q "^$p=" "$pins" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	scripts/apt-sources.sh
	pin() {
		local v
		v=$(apt-cache policy "$1:armhf" | sed -n 's/ *Candidate: //p')
		[ -n "$v" ] && [ "$v" != "(none)" ] || { echo "hspt: package $1:armhf not available from apt" >&2; exit 1; }
		echo "$1=$v"
	}
	{
		if [ "${missing[0]}" = KERNEL ]; then
			kpkg=$(apt-cache depends linux-image-armmp:armhf 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[^:]*\).*/\1/p' | head -n1)
			[ -n "$kpkg" ] || { echo "hspt: cannot find Debian's armhf armmp kernel (linux-image-armmp:armhf)" >&2; exit 1; }
			pin "$kpkg"
			missing=("${missing[@]:1}")
		fi
		cat "$pins"
		for p in "${missing[@]}"; do pin "$p"; done
	} > "$pins.tmp"
	echo "hspt: pinned the versions of $(($(wc -l < "$pins.tmp") - $(wc -l < "$pins"))) guest package(s) in $pins"
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
done < <(selected_pins)
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
done < <(selected_pins)
selected_pins | sed 1d | sed 's/^/package /' >> "$out/MANIFEST.tmp"

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

# 3. Every dynamic program finds its libraries, and they theirs (or the
#    build fails here, naming the program and the missing library).
libdirs=("$root/usr/lib/arm-linux-gnueabihf" "$root/usr/lib")
find_lib() {
	local d
	for d in "${libdirs[@]}"; do
		[ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}
for f in "$root"/usr/bin/* "$root"/usr/sbin/*; do
	[ -L "$f" ] && continue
	file -b "$f" 2>/dev/null | grep -q 'ELF 32-bit.*dynamically' || continue
	todo=("$f") seen=" "
	while [ ${#todo[@]} -gt 0 ]; do
		obj=${todo[0]} todo=("${todo[@]:1}")
		for lib in $(readelf -d "$obj" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case "$seen" in *" $lib "*) continue ;; esac
			seen="$seen$lib "
			path=$(find_lib "$lib") || {
				echo "hspt: guest program $(basename "$f") needs $lib$([ "$obj" = "$f" ] || echo " (for $(basename "$obj"))"), which no package in the guest provides" >&2; exit 1; }
			todo+=("$path")
		done
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
