#!/usr/bin/env bash
# Prepare an Android SDK system-image directory for QEMU's -M virt, as the
# emulator attaches it to its ranchu board (run by scripts/run-guest.sh
# --avd DIR; not meant to be run by hand).
#
# usage: scripts/prepare-avd.sh DIR WORKDIR
# Prints QEMU's arguments, one a line (the kernel, the ramdisk, the disks
# in the emulator's order), then "APPEND" and the kernel command line the
# emulator gives that applies to virt. Writes only into WORKDIR:
#   - the images must be raw ext4 (the emulator's format); sparse ones
#     (img2simg's) are converted into WORKDIR with simg2img;
#   - system and vendor are attached read-only (raw), the writable ones
#     (userdata, and cache and encryptionkey if present) through qcow2
#     overlays made afresh in WORKDIR (the emulator's -wipe-data): the
#     originals are never written.
# A clear error (exit status 2) for a directory without a kernel or a
# ramdisk, an image that is not ext4, a sparse image that does not convert.
set -euo pipefail
dir=${1:?usage: prepare-avd.sh DIR WORKDIR}
work=${2:?usage: prepare-avd.sh DIR WORKDIR}
err() { echo "run-guest: --avd $dir: $*" >&2; exit 2; }
[ -d "$dir" ] || err "not a directory"
dir=$(cd "$dir" && pwd)
kernel=
for k in kernel-ranchu kernel-ranchu-64 kernel-qemu; do
	[ -f "$dir/$k" ] && { kernel=$dir/$k; break; }
done
[ -n "$kernel" ] || err "no kernel (kernel-ranchu or kernel-qemu): not an SDK system-image directory (has: $(ls "$dir" | tr '\n' ' '))"
[ -f "$dir/ramdisk.img" ] || err "no ramdisk.img"
[ -f "$dir/system.img" ] || err "no system.img"
mkdir -p "$work"
rm -f "$work"/*.qcow2 "$work"/*.raw

magic() { od -An -tx1 -j "$2" -N "$3" "$1" 2>/dev/null | tr -d ' \n'; }
# The image to attach for NAME: itself if raw ext4, its conversion if sparse.
image() {
	local name=$1 f=$dir/$1.img out
	if [ "$(magic "$f" 0 4)" = 3aff26ed ]; then
		command -v simg2img >/dev/null ||
			err "$name.img is a sparse image and simg2img is missing (scripts/install-deps.sh android-sdk-libsparse-utils)"
		out=$work/$name.raw
		simg2img "$f" "$out" 2>"$work/$name.simg2img.err" && [ -s "$out" ] ||
			err "$name.img is a sparse image that does not convert: simg2img: $(tr '\n' ' ' < "$work/$name.simg2img.err")"
		echo "run-guest: $name.img: sparse image converted to $out" >&2
		f=$out
	fi
	[ "$(magic "$f" 1080 2)" = 53ef ] ||
		err "$name.img is not an ext4 image (no ext2/3/4 superblock; the emulator takes raw ext4 or, converted here, sparse images)"
	echo "$f"
}
overlay() { # NAME FILE: a fresh qcow2 overlay over FILE (raw) in WORKDIR
	command -v qemu-img >/dev/null || err "qemu-img is missing (scripts/install-deps.sh qemu-utils)"
	qemu-img create -q -f qcow2 -F raw -b "$2" "$work/$1.qcow2" >/dev/null ||
		err "cannot make the overlay $work/$1.qcow2"
	echo "$work/$1.qcow2"
}
# Every image checked (and converted) before anything is printed.
system=$(image system)
cache="" userdata="" encrypt="" vendor=""
if [ -f "$dir/cache.img" ]; then c=$(image cache); cache=$(overlay cache "$c"); fi
if [ -f "$dir/userdata.img" ]; then u=$(image userdata); userdata=$(overlay userdata "$u"); fi
if [ -f "$dir/encryptionkey.img" ]; then encrypt=$(overlay encryptionkey "$dir/encryptionkey.img"); fi
if [ -f "$dir/vendor.img" ]; then vendor=$(image vendor); fi
echo -kernel; echo "$kernel"
echo -initrd; echo "$dir/ramdisk.img"
# The emulator's order: system, cache, userdata, encryptionkey, vendor.
# Writable disks are overlays made for this boot: cache=unsafe (host
# flushes skipped), as the emulator attaches its overlays.
attach() { # INDEX ID FILE FORMAT READONLY
	echo -drive
	echo "if=none,index=$1,id=$2,file=${3//,/,,},format=$4$([ -n "$5" ] && echo ,read-only=on || echo ,cache=unsafe)"
	echo -device
	echo "virtio-blk-device,drive=$2"
}
attach 0 system "$system" raw ro
[ -z "$cache" ] || attach 1 cache "$cache" qcow2 ""
[ -z "$userdata" ] || attach 2 userdata "$userdata" qcow2 ""
[ -z "$encrypt" ] || attach 3 encrypt "$encrypt" qcow2 ""
[ -z "$vendor" ] || attach 4 vendor "$vendor" raw ro
echo APPEND
echo "qemu=1 no_timer_check androidboot.hardware=ranchu androidboot.serialno=EMULATOR0 androidboot.console=ttyAMA0 android.qemud=1 android.checkjni=1 printk.devkmsg=on loop.max_part=7 console=ttyAMA0"

# A real emulator image (not made by make android-image): say what virt lacks.
if ! debugfs -R "stat /bin/droid" "$system" 2>/dev/null | grep -q 'Type: regular' &&
   ! debugfs -R "stat /system/bin/droid" "$system" 2>/dev/null | grep -q 'Type: regular'; then
	cat >&2 <<'EOF'
run-guest: this system image is not the HSPT Android-shaped guest: booting it on -M virt, which has
  the ranchu board's CPU, GIC, PL011 and virtio-mmio disks but none of its goldfish devices:
  goldfish_pipe (adb, qemud, the GPU pipe), goldfish_events (keys, touch), goldfish_battery,
  goldfish_fb (the display), goldfish_audio, goldfish_sync (GPU fences); goldfish_rtc is a PL031 here.
  Expect the kernel and Android's init to start and the services that need them to fail or wait;
  the console log shows how far it gets; QEMU is stopped at --timeout.
EOF
fi
