#!/usr/bin/env bash
# The Android SDK image layout: `make android-image`'s directory booted with
# scripts/run-guest.sh --avd gives the same results as the Android-shaped
# guest from its initramfs (--guest android), its disks mounted from
# virtio-blk by label, and leaves the image files as they were. The
# emulator's attachment (order, read-only system and vendor, qcow2
# overlays, androidboot.hardware=ranchu); sparse images converted; clear
# errors for a directory without a kernel, an image that is not ext4, a
# sparse image that does not convert, a guest kernel named with --avd; a
# real emulator image (not ours) told what -M virt lacks.
source "$(dirname "$0")/lib.sh"
# --avd takes no guest kernel (KERNEL= of the environment would be refused).
unset KERNEL
scripts/build-android-image.sh
img=build/android-image
(cd "$img" && sha256sum ./*.img kernel-ranchu) > "$work/before.sha"

# 1. Boot: the same results as from the initramfs.
for how in initramfs avd; do
	if [ $how = avd ]; then opt=(--avd "$img" --avd-work "$work/avd"); else opt=(--guest android); fi
	rc=0
	scripts/run-guest.sh "${opt[@]}" --quiet --plugin table=off --log "$work/$how.log" android \
		>/dev/null 2>"$work/$how.err" || rc=$?
	[ "$rc" = 0 ] || { cat "$work/$how.err"; results "$work/$how.log"; fail "android from $how failed (rc=$rc)"; }
done
for d in system vendor userdata; do
	grep -aq "^@@HSPT result init disk $d mounted=1" "$work/avd.log" || fail "--avd: $d not mounted from its disk"
done
grep -aq '^@@HSPT boot .* layout=avd' "$work/avd.log" || fail "--avd: the init did not see androidboot.hardware=ranchu"
# The layouts differ only in the boot line's layout= and the disk lines.
norm() { results "$1" | grep -av '^@@HSPT result init disk ' | sed 's/ layout=[a-z]*$//' | sort; }
norm "$work/initramfs.log" > "$work/initramfs.res"
norm "$work/avd.log" > "$work/avd.res"
diff -u "$work/initramfs.res" "$work/avd.res" || fail "--avd results differ from the initramfs guest's"
grep -q 'result am attached=40 reports=40 deaths=40' "$work/avd.res" || fail "--avd: the apps did not run"
echo "--avd $img: $(grep -c ' result ' "$work/avd.res") result lines identical to --guest android's"
(cd "$img" && sha256sum --quiet -c "$work/before.sha") || fail "--avd wrote to the image directory"
echo "--avd: the image files are unchanged"

# 2. The emulator's attachment (the command line, without booting).
cmd=$(scripts/run-guest.sh --avd "$img" --avd-work "$work/avd" --dry-run android)
echo "$cmd"
order=$(grep -o 'id=[a-z]*' <<<"$cmd" | tr '\n' ' ')
[ "$order" = "id=system id=userdata id=encrypt id=vendor " ] || fail "drive order: $order"
grep -q 'index=0\\,id=system\\,file=[^ ]*system.img\\,format=raw\\,read-only=on' <<<"$cmd" || fail "system not raw read-only"
grep -q 'index=4\\,id=vendor\\,file=[^ ]*vendor.img\\,format=raw\\,read-only=on' <<<"$cmd" || fail "vendor not raw read-only"
grep -q "id=userdata\\\\,file=$work/avd/userdata.qcow2\\\\,format=qcow2\\\\,cache=unsafe " <<<"$cmd" ||
	fail "userdata not through an overlay"
[ "$(grep -o 'virtio-blk-device' <<<"$cmd" | wc -l)" = 4 ] || fail "not four virtio-blk-device disks"
grep -q 'androidboot.hardware=ranchu' <<<"$cmd" || fail "no androidboot.hardware=ranchu"
qemu-img info "$work/avd/userdata.qcow2" | grep -q "backing file: $(cd "$img" && pwd)/userdata.img" ||
	fail "the userdata overlay is not backed by the original"

# 3. Sparse images are converted; bad input is refused clearly.
bad() { # DIR EXPECTED-MESSAGE: --avd refuses DIR with exit status 2, saying so
	local rc=0
	scripts/run-guest.sh --avd "$1" --avd-work "$work/w" --dry-run android >/dev/null 2>"$work/bad.err" || rc=$?
	[ "$rc" = 2 ] && grep -q "$2" "$work/bad.err" ||
		{ cat "$work/bad.err"; fail "--avd $1: rc=$rc, wanted 2 and '$2'"; }
	echo "refused: $(cat "$work/bad.err")"
}
copy() { rm -rf "$work/$1" && mkdir "$work/$1" && cp "$img"/* "$work/$1/"; }
rc=0
scripts/run-guest.sh --avd "$img" --avd-work "$work/w" --kernel trixie --dry-run android >/dev/null 2>"$work/bad.err" || rc=$?
[ "$rc" = 2 ] && grep -q "avd boots the kernel of its directory" "$work/bad.err" ||
	{ cat "$work/bad.err"; fail "--avd with --kernel trixie: rc=$rc, wanted 2 and a message"; }
echo "refused: $(cat "$work/bad.err")"
mkdir -p "$work/empty"
bad "$work/empty" "no kernel (kernel-ranchu or kernel-qemu)"
bad "$work/missing" "not a directory"
copy notext4
head -c 1048576 /dev/urandom > "$work/notext4/vendor.img"
bad "$work/notext4" "vendor.img is not an ext4 image"
copy badsparse
{ printf '\x3a\xff\x26\xed'; head -c 65536 /dev/urandom; } > "$work/badsparse/system.img"
bad "$work/badsparse" "system.img is a sparse image that does not convert"
copy sparse
img2simg "$img/system.img" "$work/sparse/system.img"
[ "$(od -An -tx1 -N4 "$work/sparse/system.img" | tr -d ' ')" = 3aff26ed ] || fail "img2simg made no sparse image"
cmd=$(scripts/run-guest.sh --avd "$work/sparse" --avd-work "$work/ws" --dry-run android 2>"$work/sparse.err") ||
	{ cat "$work/sparse.err"; fail "--avd refused a sparse system.img"; }
grep -q "id=system\\\\,file=$work/ws/system.raw\\\\,format=raw" <<<"$cmd" || fail "the converted system image is not attached"
cmp -s "$work/ws/system.raw" "$img/system.img" || fail "the sparse image did not convert back to the original"
echo "sparse system.img: $(cat "$work/sparse.err")"
# A real emulator image: no droid on its system image; the user is told.
copy foreign
mke2fs -q -F -t ext4 -L system "$work/foreign/system.img" 8M
scripts/run-guest.sh --avd "$work/foreign" --avd-work "$work/wf" --dry-run android >/dev/null 2>"$work/foreign.err" ||
	{ cat "$work/foreign.err"; fail "--avd refused a foreign image"; }
grep -q 'goldfish_pipe' "$work/foreign.err" && grep -q 'not the HSPT Android-shaped guest' "$work/foreign.err" ||
	{ cat "$work/foreign.err"; fail "no word on what -M virt lacks for a real emulator image"; }
! grep -q goldfish "$work/sparse.err" || fail "the goldfish notice for our own image"
echo "foreign image: told what virt lacks"
