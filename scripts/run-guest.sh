#!/usr/bin/env bash
# Boot a guest (the default one, the Android-shaped one, or an SDK image
# directory) and run one workload.
#
# usage: scripts/run-guest.sh [options] WORKLOAD
#   --kernel NAME       the guest kernel (guest/kernels): bookworm (default,
#                       Debian 12's armmp), trixie (Debian 13's armmp),
#                       trixie-lpae (Debian 13's armmp-lpae: long-descriptor
#                       page tables, LPAE); also from the environment,
#                       KERNEL=NAME. The Android-shaped guest runs under the
#                       default kernel only (another is refused), --avd under
#                       its directory's own kernel (any --kernel is refused)
#   --guest default|android  which guest: the default (build/guest) or the
#                       Android-shaped one (build/guest-android, workloads in
#                       guest/android/workloads; default workload android)
#   --avd DIR           boot an Android SDK system-image directory (kernel-ranchu,
#                       ramdisk.img, system.img, vendor.img, userdata.img; e.g.
#                       make android-image's build/android-image) as the emulator
#                       attaches it, on -M virt (scripts/prepare-avd.sh says how);
#                       workloads as --guest android
#   --avd-work DIR      where --avd puts its overlays and converted images
#                       (default build/avd-work; the image directory is never written)
#   --dry-run           print the QEMU command line instead of running it
#   --qemu hspt|stock   which qemu-system-arm (default hspt: the patched one)
#   --no-plugin         run without the HSPT plugin
#   --plugin ARGS       extra plugin arguments, comma-separated key=value
#   --stats FILE        JSON statistics file (plugin argument stats=FILE)
#   --log FILE          full serial console log (default build/logs/WORKLOAD.log,
#                       build/logs/WORKLOAD-KERNEL.log with another kernel)
#   --timeout SECONDS   kill QEMU after this long (default 600)
#   --quiet             print only the result lines
# WORKLOAD is a script in guest/workloads (boot, multi, tlb, memwalk, ...;
# with --guest android or --avd, guest/android/workloads) or "shell" for an
# interactive shell.
# Prints the guest's "@@HSPT" lines, then the plugin's per-process table.
# Environment: HSPT_QEMU, HSPT_PLUGIN: another patched qemu-system-arm or
# libhspt.so than build/hspt and target/release (for developers).
# Exit status: the workload's (0 = all results produced and it succeeded).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/guest-kernels.sh"
default_kernel=$(kernel_names | head -n1)
# kernel_given: how a kernel was named, --kernel NAME or KERNEL=NAME in the
# environment (--avd takes none); empty: the default.
kernel=${KERNEL:-} kernel_given=${KERNEL:+KERNEL=$KERNEL in the environment}
guest=default avd="" avd_work="" dry=0 flavour=hspt plugin=1 plugin_args="" stats="" log="" timeout=600 quiet=0
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2 kernel_given="--kernel $2"; shift 2 ;;
	--guest) guest=$2; shift 2 ;;
	--avd) avd=$2; guest=android; shift 2 ;;
	--avd-work) avd_work=$2; shift 2 ;;
	--dry-run) dry=1; shift ;;
	--qemu) flavour=$2; shift 2 ;;
	--no-plugin) plugin=0; shift ;;
	--plugin) plugin_args=$2; shift 2 ;;
	--stats) stats=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	-h|--help) usage 0 ;;
	-*) echo "run-guest: unknown option $1" >&2; usage 2 >&2 ;;
	*) [ -z "${workload:-}" ] || usage 2 >&2; workload=$1; shift ;;
	esac
done
[ -z "$avd" ] || guest=android
case "$guest" in
default) gdir=build/guest wdir=guest/workloads build=guest ;;
android) gdir=build/guest-android wdir=guest/android/workloads build=android-guest
	workload=${workload:-android} ;;
*) echo "run-guest: --guest must be default or android" >&2; exit 2 ;;
esac
[ -n "${workload:-}" ] || usage 2 >&2
case "$flavour" in hspt|stock) ;; *) echo "run-guest: --qemu must be hspt or stock" >&2; exit 2 ;; esac
[ -n "$kernel_given" ] || kernel=$default_kernel
check_kernel run-guest "$kernel"
if [ -n "$avd" ] && [ -n "$kernel_given" ]; then
	echo "run-guest: --avd boots the kernel of its directory (kernel-ranchu or kernel-qemu), not a guest kernel" \
		"of guest/kernels: drop $kernel_given" >&2
	exit 2
fi
if [ -z "$avd" ] && [ "$guest" = android ] && [ "$kernel" != "$default_kernel" ]; then
	echo "run-guest: the Android-shaped guest runs under the default kernel ($default_kernel) only, not $kernel:" \
		"scripts/build-android-guest.sh builds it with that kernel's binder, virtio and ext4 modules;" \
		"drop $kernel_given" >&2
	exit 2
fi
if [ "$workload" != shell ] && [ ! -x "$top/$wdir/$workload" ]; then
	echo "run-guest: no workload '$workload' (have: shell $(ls "$top/$wdir" | tr '\n' ' '))" >&2
	exit 2
fi
qemu="$top/build/$flavour/build/qemu-system-arm"
# Developers: HSPT_QEMU and HSPT_PLUGIN run another build of the patched
# QEMU or of the plugin (e.g. a work tree's) with the same guest.
[ "$flavour" = hspt ] && qemu="${HSPT_QEMU:-$qemu}"
[ -e "$qemu" ] || { echo "run-guest: $qemu is missing: run 'make all' (or make qemu-stock)" >&2; exit 2; }
if [ -n "$avd" ]; then
	# The emulator's kernel, ramdisk, disks and command line (one vCPU, as
	# the emulator runs a 32-bit ARM guest on an x86 host).
	prep=$("$top/scripts/prepare-avd.sh" "$avd" "${avd_work:-$top/build/avd-work}") || exit 2
	mapfile -t avd_args < <(sed '/^APPEND$/,$d' <<<"$prep")
	append="$(sed -n '/^APPEND$/{n;p}' <<<"$prep") panic=-1 quiet hspt.workload=$workload"
	args=(-M virt -cpu cortex-a15 -smp 1 -m 512 -nic none -no-reboot "${avd_args[@]}" -append "$append")
else
	if [ "$guest" = android ]; then
		zimage="$top/$gdir/zImage"
	else
		zimage="$top/$gdir/$(kernel_field "$kernel" 4)"
		[ -e "$zimage" ] || { echo "run-guest: $zimage (kernel $kernel) is missing: run 'make guest$(
			[ "$kernel" = "$default_kernel" ] || echo " KERNEL=$kernel")'" >&2; exit 2; }
	fi
	for f in "$zimage" "$top/$gdir/initrd.cpio.gz"; do
		[ -e "$f" ] || { echo "run-guest: $f is missing: run 'make $build'" >&2; exit 2; }
	done
	args=(-M virt -cpu cortex-a15 -smp 1 -m 512 -nic none -no-reboot
	      -kernel "$zimage" -initrd "$top/$gdir/initrd.cpio.gz"
	      -append "console=ttyAMA0 panic=-1 quiet hspt.workload=$workload")
fi
if [ "$plugin" = 1 ]; then
	so="${HSPT_PLUGIN:-$top/target/release/libhspt.so}"
	[ -e "$so" ] || { echo "run-guest: $so is missing: run 'make plugin'" >&2; exit 2; }
	p="$so"
	[ -n "$stats" ] && p="$p,stats=$stats"
	[ -n "$plugin_args" ] && p="$p,$plugin_args"
	args+=(-plugin "$p")
fi

if [ "$dry" = 1 ]; then
	printf '%q ' "$qemu" "${args[@]}"; echo
	exit 0
fi
if [ "$workload" = shell ]; then
	exec "$qemu" "${args[@]}" -nographic
fi

log=${log:-$top/build/logs/$workload$([ "$kernel" = "$default_kernel" ] || echo "-$kernel").log}
mkdir -p "$(dirname "$log")"
[ "$quiet" = 1 ] || echo "run-guest: $(basename "$qemu") ($flavour)${plugin:+ }$( [ "$plugin" = 1 ] && echo "with the HSPT plugin" || echo "without plugin"): workload $workload$(
	[ "$kernel" = "$default_kernel" ] || echo ", kernel $kernel") (console log: $log)" >&2
rc=0
# QEMU's stderr (the plugin's table, any error) is shown after the results.
timeout -k 10 "$timeout" "$qemu" "${args[@]}" -display none -serial stdio -monitor none \
	</dev/null >"$log" 2>"$log.stderr" || rc=$?
grep -a '^@@HSPT' "$log" | tr -d '\r' || true
cat "$log.stderr" >&2
if [ "$rc" = 124 ]; then
	echo "run-guest: QEMU timed out after ${timeout}s" >&2
	exit 1
elif [ "$rc" != 0 ]; then
	echo "run-guest: QEMU exited with status $rc (log: $log)" >&2
	exit 1
fi
status=$(tr -d '\r' < "$log" | sed -n 's/^@@HSPT exit workload=[^ ]* status=\([0-9]*\)$/\1/p' | tail -n1)
[ -n "$status" ] || { echo "run-guest: the guest did not finish the workload (log: $log)" >&2; exit 1; }
exit "$status"
