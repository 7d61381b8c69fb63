#!/usr/bin/env bash
# Build the Android-shaped guest: the default guest kernel (the first of
# guest/kernels, bookworm; it builds the default guest first,
# scripts/build-guest.sh --kernel bookworm, and takes that kernel's image
# and the initramfs's busybox), Debian's binder driver from the same kernel
# package, and an
# initramfs with the Android-shaped init (guest/android/init), the
# project's programs (tests/guest/android/droid.c: the daemons, services,
# zygote, apps and tools, one static binary with a link per role), a
# deterministic "boot image" for the zygote to map, and the workloads
# (guest/android/workloads).
#
# Output: build/guest-android/zImage, initrd.cpio.gz, MANIFEST, and root/
# (the tree: scripts/build-android-image.sh makes the SDK image layout
# from it). Cached: rebuilt only when an input changes.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/guest-android
debs="${HSPT_CACHE:=$HOME/.cache/hspt}/downloads/debs"
export HSPT_CACHE
CC=arm-linux-gnueabihf-gcc
CFLAGS="-O2 -static -Wall -Wextra -Werror"
# The roles of droid, each a link in /system/bin.
ROLES="property_service logd servicemanager system_server mediaserver vendor.light zygote am dumpsys
       binderbench jitbench setprop getprop waitprop now log logcat propdump"
# Modules: binder for every layout (Android: /vendor/lib/modules); the
# block device and file system for the SDK image layout's ramdisk (ext4
# asks for crc32c at mount time, through modprobe: loaded beforehand).
BINDER_MODULES="binder_linux"
BINDER_ARGS="devices=binder,hwbinder,vndbinder"
DISK_MODULES="virtio_mmio virtio_blk crc32c_generic ext4"

# The default kernel only: the other kernels of guest/kernels are not
# supported yet (scripts/run-guest.sh refuses --guest android under them).
# Named explicitly, so that KERNEL= in the environment does not change it.
source scripts/guest-kernels.sh
kernel=$(kernel_names | head -n1)
scripts/build-guest.sh --kernel "$kernel"
# "kernel NAME IMAGE PACKAGE VERSION" (build/guest/MANIFEST names every image built).
kline=$(grep "^kernel $kernel " build/guest/MANIFEST) ||
	{ echo "hspt: build/guest/MANIFEST names no image of kernel $kernel" >&2; exit 1; }
read -r _ _ kimage kpkg kver <<<"$kline"
kdeb="$debs/${kpkg}_${kver//:/%3a}_armhf.deb"
[ -f "$kdeb" ] || { echo "hspt: the kernel package $kdeb is not in the download cache" >&2; exit 1; }

stamp=$({ cat scripts/build-android-guest.sh guest/android/init guest/android/build.prop guest/android/workloads/* \
	tests/guest/android/*.c tests/guest/hsptime.c; echo "$kline"; sha256sum < "build/guest/$kimage"; } | sha256sum | cut -c1-16)
if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$out/zImage" ] && [ -f "$out/initrd.cpio.gz" ]; then
	exit 0
fi
echo "hspt: building the Android-shaped guest (binder driver, services, zygote, apps)"
root="$out/root"
rm -rf "$out" && mkdir -p "$root"
echo "$kline" > "$out/MANIFEST.tmp"

# 1. Kernel modules from the kernel's own package, with the modules they
#    depend on (the .modinfo "depends=" list), checked against the kernel:
#    a module built for another kernel would not load.
kname=$(dpkg-deb -c "$kdeb" | sed -n 's|.*\./boot/vmlinuz-\(.*\)$|\1|p' | head -n1)
[ -n "$kname" ] || { echo "hspt: no vmlinuz in $kdeb" >&2; exit 1; }
# (A kernel package with xz-compressed modules: they are unpacked here,
# for busybox's insmod.)
dpkg-deb -c "$kdeb" | awk '{print $NF}' | grep -E "^\./lib/modules/$kname/.*\.ko(\.xz)?$" > "$out/ko-list"
modtmp="$out/modules"
mkdir -p "$modtmp"
fetch_module() { # NAME DEST: the module and those it needs, in load order, into DEST/modules.load
	local name=$1 dest=$2 path file deps d
	grep -q "^${name}.ko" "$dest/modules.load" 2>/dev/null && return 0
	path=$(grep -E "/${name//_/[-_]}\.ko(\.xz)?$" "$out/ko-list" | head -n1)
	[ -n "$path" ] || { echo "hspt: kernel module $name is not in $kdeb" >&2; exit 1; }
	file="$modtmp/$name.ko"
	if [ ! -f "$file" ]; then
		case "$path" in
		*.xz) dpkg-deb --fsys-tarfile "$kdeb" | tar -xO "$path" | xz -dc > "$file" ;;
		*) dpkg-deb --fsys-tarfile "$kdeb" | tar -xO "$path" > "$file" ;;
		esac
	fi
	vermagic=$(strings -a "$file" | sed -n 's/^vermagic=\([^ ]*\).*/\1/p' | head -n1)
	[ "$vermagic" = "$kname" ] || { echo "hspt: $name was built for kernel '$vermagic', not $kname" >&2; exit 1; }
	deps=$(strings -a "$file" | sed -n 's/^depends=//p' | head -n1)
	for d in ${deps//,/ }; do fetch_module "$d" "$dest"; done
	mkdir -p "$dest"
	cp "$file" "$dest/${name}.ko"
	if [ "$name" = binder_linux ]; then echo "${name}.ko $BINDER_ARGS"; else echo "${name}.ko"; fi >> "$dest/modules.load"
	echo "module $name $(sha256sum < "$file" | cut -c1-16)${deps:+ depends=$deps}" >> "$out/MANIFEST.tmp"
}
mkdir -p "$root/vendor/lib/modules" "$root/lib/modules"
for m in $BINDER_MODULES; do fetch_module "$m" "$root/vendor/lib/modules"; done
for m in $DISK_MODULES; do fetch_module "$m" "$root/lib/modules"; done
rm -rf "$modtmp" "$out/ko-list"

# 2. Busybox (the default guest's), the programs, the init and workloads.
mkdir -p "$root"/{proc,sys,dev,tmp,data,hspt/bin,hspt/workloads,system/bin,system/framework,system/etc}
cp build/guest/root/hspt/bin/busybox "$root/hspt/bin/busybox"
for d in bin sbin; do ln -sfn "usr/$d" "$root/$d"; done
$CC $CFLAGS -o "$root/hspt/bin/hsptime" tests/guest/hsptime.c
$CC $CFLAGS -o "$root/system/bin/droid" tests/guest/android/droid.c
for r in $ROLES; do ln -s droid "$root/system/bin/$r"; done
echo "program droid $(sha256sum < tests/guest/android/droid.c | cut -c1-16)" >> "$out/MANIFEST.tmp"
cp guest/android/build.prop "$root/system/build.prop"
cp guest/android/init "$root/init" && chmod 755 "$root/init"
cp guest/android/workloads/* "$root/hspt/workloads/" && chmod 755 "$root"/hspt/workloads/*

# 3. The zygote's boot image: class records (an index, a class number, a
#    hash, the class's name), deterministic, 9 MB in three files.
python3 - "$root/system/framework" <<'PY'
import hashlib, struct, sys
d = sys.argv[1]
for name, mb in (("boot.art", 4), ("boot.oat", 3), ("boot-framework.art", 2)):
    recs, n = [], mb << 14          # 64-byte records
    salt = hashlib.sha256(name.encode()).digest()[:4]
    for i in range(n):
        h = int.from_bytes(hashlib.blake2s(salt + struct.pack("<I", i), digest_size=4).digest(), "little")
        nm = f"Landroid/pkg{i % 97}/Class{i};".encode()[:48]
        recs.append(struct.pack("<IIII", i, i % 8192, h, len(nm)) + nm.ljust(48, b"\0"))
    with open(f"{d}/{name}", "wb") as f:
        f.write(b"".join(recs))
PY

# 4. A reproducible cpio: fixed order, times and owners.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$out/initrd.cpio.gz.tmp"
cp "build/guest/$kimage" "$out/zImage"
mv "$out/initrd.cpio.gz.tmp" "$out/initrd.cpio.gz"
mv "$out/MANIFEST.tmp" "$out/MANIFEST"
echo "$stamp" > "$out/.stamp"
echo "hspt: Android-shaped guest ready: $out/zImage, $out/initrd.cpio.gz ($(du -h "$out/initrd.cpio.gz" | cut -f1))"
