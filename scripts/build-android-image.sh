#!/usr/bin/env bash
# `make android-image`: the Android-shaped guest laid out like an Android
# SDK system-image directory (what the emulator boots with -M ranchu):
#   kernel-ranchu       the kernel (the default guest's)
#   ramdisk.img         gzip'd cpio: the init, busybox, the workloads, and
#                       the block and file system modules (lib/modules)
#   system.img          raw ext4, label "system": /system (the programs,
#                       build.prop, the boot image)
#   vendor.img          raw ext4, label "vendor": /vendor (binder_linux.ko)
#   userdata.img        raw ext4, label "userdata", empty
#   encryptionkey.img   raw ext4, empty (the emulator attaches one)
#   source.properties   what the SDK manager reads
# Boot it with scripts/run-guest.sh --avd build/android-image.
# Output: build/android-image/ (or DIR given as the first argument).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=${1:-build/android-image}
scripts/build-android-guest.sh
src=build/guest-android/root
command -v mke2fs >/dev/null || { echo "hspt: mke2fs is missing (scripts/install-deps.sh e2fsprogs)" >&2; exit 1; }
stamp=$({ cat scripts/build-android-image.sh build/guest-android/.stamp; } | sha256sum | cut -c1-16)
if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$out/system.img" ]; then
	exit 0
fi
echo "hspt: building the SDK image layout in $out"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
# Fixed UUIDs, hash seeds and superblock times (SOURCE_DATE_EPOCH); the
# files' change times are the build's (e2fsprogs 1.47.0's mke2fs -d takes
# them from the clock), so the images are not bit for bit reproducible.
export SOURCE_DATE_EPOCH=1
mkext4() { # IMAGE LABEL SIZE_MB [DIR] [UUID-SUFFIX]
	mke2fs -q -F -t ext4 -L "$2" -b 4096 -I 256 \
		-U "48535054-0000-4000-8000-00000000000$5" -E "hash_seed=48535054-0000-4000-8000-00000000000$5,root_owner=0:0" \
		${4:+-d "$4"} "$1" "$3M" >/dev/null
}
mb() { echo $(( $(du -sm "$1" | cut -f1) * 13 / 10 + 8 )); }
mkext4 "$out.tmp/system.img" system "$(mb "$src/system")" "$src/system" 1
mkext4 "$out.tmp/vendor.img" vendor "$(mb "$src/vendor")" "$src/vendor" 2
mkext4 "$out.tmp/userdata.img" userdata 64 "" 3
mkext4 "$out.tmp/encryptionkey.img" encryption 8 "" 4
cp build/guest-android/zImage "$out.tmp/kernel-ranchu"
# The ramdisk: the tree without what the disks hold.
(cd "$src" && find . -mindepth 1 \( -path ./system -o -path './system/*' -o -path ./vendor -o -path './vendor/*' \) -prune -o -print |
	LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$out.tmp/ramdisk.img"
cat > "$out.tmp/source.properties" <<'EOF'
Pkg.Desc=HSPT Android-shaped guest (not an AOSP image)
Pkg.Revision=1
SystemImage.Abi=armeabi-v7a
SystemImage.TagId=default
AndroidVersion.ApiLevel=34
EOF
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$stamp" > "$out/.stamp"
echo "hspt: SDK image layout ready: $out ($(ls "$out" | tr '\n' ' '))"
