#!/usr/bin/env bash
# Build the guest: one of Debian's armhf kernels (guest/kernels), and an
# initramfs, the same for every kernel, with busybox, the project's own test
# programs (static), a few real Debian 12 armhf programs with their
# libraries, and the init that runs the workload named on the kernel command
# line (guest/init).
#
# usage: scripts/build-guest.sh [--kernel NAME[,NAME...]|all]
#   NAME is a kernel of guest/kernels: bookworm (the default: Debian 12's
#   armmp), trixie (Debian 13's armmp), trixie-lpae (Debian 13's armmp-lpae,
#   long-descriptor page tables); also from the environment, KERNEL=NAME.
# Output: build/guest/initrd.cpio.gz, the kernel's image (build/guest/zImage
# for bookworm, build/guest/zImage-NAME for the others), build/guest/MANIFEST
# (every image built, with its kernel package and version; the initramfs's
# packages and programs).
# Cached: each part rebuilt only when an input changes (the stamps hash
# them); reproducible: package versions are pinned on first build and
# reused, file times and order in the cpio are fixed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
source scripts/guest-kernels.sh
kernels=${KERNEL:-$(kernel_names | head -n1)}
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) [ $# -ge 2 ] || usage 2 >&2; kernels=$2; shift 2 ;;
	--kernel=*) kernels=${1#--kernel=}; shift ;;
	-h|--help) usage 0 ;;
	*) echo "build-guest: unknown argument $1" >&2; usage 2 >&2 ;;
	esac
done
[ "$kernels" = all ] && kernels=$(kernel_names | paste -sd,)
IFS=, read -ra kernels <<< "$kernels"
[ ${#kernels[@]} -gt 0 ] || { echo "build-guest: no kernel named" >&2; exit 2; }
for k in "${kernels[@]}"; do check_kernel build-guest "$k"; done
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

# The pins ($HSPT_CACHE/guest-pins), one "PACKAGE=VERSION" a line: the
# bookworm kernel's package is the first untagged linux-image- line (the
# format of the first versions of this script, which other checkouts sharing
# the cache still read), the other kernels' lines carry their name first,
# "trixie-lpae linux-image-6.12.117+deb13-armmp-lpae=6.12.117-1", then the
# packages of PKGS (pins of packages since dropped from PKGS stay, unused).
kernel_pin() {
	if [ "$1" = bookworm ]; then
		grep '^linux-image-[^=]*=' "$pins" | head -n1
	else
		sed -n "s/^$1 \(linux-image-[^=]*=.*\)/\1/p" "$pins" | head -n1
	fi
}
package_pins() { for p in $PKGS; do grep -m1 "^$p=" "$pins"; done; }
initrd_hash() {
	{ cat scripts/build-guest.sh guest/init guest/workloads/* tests/guest/*.c tests/guest/*.h 2>/dev/null
	  package_pins; } | sha256sum | cut -c1-16
}
deb_of() { echo "$debs/${1%%=*}_$(echo "${1#*=}" | sed 's/:/%3a/g')_armhf.deb"; }
image_of() { echo "$out/$(kernel_field "$1" 4)"; }
# What MANIFEST says about a kernel's image (also its stamp).
kernel_line() { local p; p=$(kernel_pin "$1"); echo "kernel $1 $(kernel_field "$1" 4) ${p%%=*} ${p#*=}"; }

# The version apt would install of PACKAGE:armhf now (bookworm: the suites
# at the default priority; the trixie entry is pinned below them).
candidate() {
	local v
	v=$(apt-cache policy "$1:armhf" | sed -n 's/ *Candidate: //p')
	[ -n "$v" ] && [ "$v" != "(none)" ] || { echo "hspt: package $1:armhf not available from apt" >&2; exit 1; }
	echo "$v"
}
# The kernel package (PACKAGE=VERSION) that NAME's metapackage depends on in
# NAME's suite: bookworm's candidate, or the version of another suite
# explicitly (apt-cache madison: the suite's own entry, never its -security
# or -updates one).
resolve_kernel() {
	local suite meta v dep
	suite=$(kernel_field "$1" 2) meta=$(kernel_field "$1" 3)
	if [ "$suite" = bookworm ]; then
		v=$(candidate "$meta") || exit 1
	else
		v=$(apt-cache madison "$meta:armhf" 2>/dev/null |
			awk -F' *[|] *' -v s=" $suite/main armhf " 'index($3, s) { print $2; exit }')
		[ -n "$v" ] || { echo "hspt: $meta:armhf of Debian '$suite' is not available from apt" \
			"(scripts/apt-sources.sh --trixie-armhf adds it)" >&2; exit 1; }
	fi
	dep=$(apt-cache show "$meta:armhf=$v" 2>/dev/null |
		sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1=\2/p' | head -n1)
	[ -n "$dep" ] || { echo "hspt: cannot find the kernel package of $meta:armhf=$v (Debian '$suite')" >&2; exit 1; }
	echo "$dep"
}
apt_sources() {
	local k
	for k in "${kernels[@]}"; do
		[ "$(kernel_field "$k" 2)" = bookworm ] || { scripts/apt-sources.sh --trixie-armhf; return; }
	done
	scripts/apt-sources.sh
}

# Pin package versions once per machine (kept in the cache: remove
# $HSPT_CACHE/guest-pins to take newer ones), so rebuilds are identical. A
# package added to PKGS, or a kernel built for the first time, is pinned on
# the next build; the versions already pinned are kept.
touch "$pins"
missing=()
for k in "${kernels[@]}"; do
	[ -n "$(kernel_pin "$k")" ] || missing+=("kernel:$k")
done
for p in $PKGS; do
	grep -q "^$p=" "$pins" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt_sources
	first="" new=()
	for m in "${missing[@]}"; do
		case "$m" in
		kernel:bookworm) first=$(resolve_kernel bookworm) ;;
		kernel:*) r=$(resolve_kernel "${m#kernel:}"); new+=("${m#kernel:} $r") ;;
		*) r=$(candidate "$m"); new+=("$m=$r") ;;
		esac
	done
	{
		# The bookworm kernel's line first, as the first versions wrote it.
		[ -z "$first" ] || echo "$first"
		cat "$pins"
		for l in "${new[@]}"; do echo "$l"; done
	} > "$pins.tmp"
	echo "hspt: pinned the versions of ${#missing[@]} guest package(s) in $pins"
	mv "$pins.tmp" "$pins"
fi

# What is out of date: the initramfs, and each kernel's image.
stamp=$(initrd_hash)
build_initrd=1 build_kernels=()
[ "$(cat "$out/.stamp-initrd" 2>/dev/null)" = "$stamp" ] && [ -f "$out/initrd.cpio.gz" ] && build_initrd=0
for k in "${kernels[@]}"; do
	[ "$(cat "$out/.stamp-kernel-$k" 2>/dev/null)" = "$(kernel_line "$k")" ] && [ -f "$(image_of "$k")" ] ||
		build_kernels+=("$k")
done
[ "$build_initrd" = 1 ] || [ ${#build_kernels[@]} -gt 0 ] || exit 0

# 1. Packages (downloaded once into the cache).
need=()
{ [ "$build_initrd" = 0 ] || package_pins
  for k in "${build_kernels[@]}"; do kernel_pin "$k"; done; } > "$out/.selected"
while read -r pv; do
	[ -f "$(deb_of "$pv")" ] || need+=("${pv%%=*}:armhf=${pv#*=}")
done < "$out/.selected"
if [ ${#need[@]} -gt 0 ]; then
	apt_sources
	echo "hspt: downloading ${#need[@]} armhf packages"
	(cd "$debs" && apt-get download -q "${need[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
fi
while read -r pv; do
	[ -f "$(deb_of "$pv")" ] || { echo "hspt: download of ${pv%%=*}:armhf=${pv#*=} failed" >&2; exit 1; }
done < "$out/.selected"
rm -f "$out/.selected"

# 2. The kernels: the image in each package.
for k in "${build_kernels[@]}"; do
	image=$(image_of "$k")
	echo "hspt: guest kernel $k: $(kernel_pin "$k") ($image)"
	dpkg-deb --fsys-tarfile "$(deb_of "$(kernel_pin "$k")")" | tar -xO --wildcards './boot/vmlinuz-*' > "$image.tmp"
	[ -s "$image.tmp" ] || { echo "hspt: no kernel image in $(deb_of "$(kernel_pin "$k")")" >&2; exit 1; }
	mv "$image.tmp" "$image"
	kernel_line "$k" > "$out/.stamp-kernel-$k"
done

# MANIFEST: every kernel image there is, then the initramfs's contents.
manifest() {
	local k
	for k in $(kernel_names); do
		[ -f "$out/.stamp-kernel-$k" ] && [ -f "$(image_of "$k")" ] && cat "$out/.stamp-kernel-$k"
	done
	cat "$out/.manifest-initrd" 2>/dev/null || true
}
if [ "$build_initrd" = 0 ]; then
	manifest > "$out/MANIFEST"
	echo "hspt: guest ready: $(for k in "${build_kernels[@]}"; do echo -n "$(image_of "$k") "; done)(initramfs unchanged)"
	exit 0
fi
# 3. The initramfs: Debian's packages unpacked.
echo "hspt: building the guest's initramfs (busybox, test programs, Debian armhf programs)"
root="$out/root"
rm -rf "$root" && mkdir -p "$root"
package_pins | while read -r pv; do dpkg-deb -x "$(deb_of "$pv")" "$root"; done
package_pins | sed 's/^/package /' > "$out/.manifest-initrd.tmp"

# 4. Layout: busybox provides the shell and tools; Debian's usrmerge layout
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

# 5. Every dynamic program finds its libraries, and they theirs (or the
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

# 6. The project's own test programs, static.
for c in tests/guest/*.c; do
	b=$(basename "$c" .c)
	$CC $CFLAGS -o "$root/hspt/bin/$b" "$c"
	echo "program $b $(sha256sum < "$c" | cut -c1-16)" >> "$out/.manifest-initrd.tmp"
done
cp guest/init "$root/init" && chmod 755 "$root/init"
cp guest/workloads/* "$root/hspt/workloads/"
chmod 755 "$root"/hspt/workloads/*

# 7. A reproducible cpio: fixed order, times and owners.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$out/initrd.cpio.gz.tmp"
mv "$out/initrd.cpio.gz.tmp" "$out/initrd.cpio.gz"
mv "$out/.manifest-initrd.tmp" "$out/.manifest-initrd"
echo "$stamp" > "$out/.stamp-initrd"
rm -f "$out/.stamp"  # the single stamp of the first versions
manifest > "$out/MANIFEST"
echo "hspt: guest ready: $(for k in "${kernels[@]}"; do echo -n "$(image_of "$k"), "; done)$out/initrd.cpio.gz ($(du -h "$out/initrd.cpio.gz" | cut -f1))"
