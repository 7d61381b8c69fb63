#!/usr/bin/env bash
# Unsupported set-ups are refused with a message saying what to change,
# never silently slowed down or crashed; hspt=off still runs them.
source "$(dirname "$0")/lib.sh"
base=(-M virt -cpu cortex-a15 -m 512 -nic none -display none -monitor none -no-reboot
      -kernel build/guest/zImage -initrd build/guest/initrd.cpio.gz
      -append "console=ttyAMA0 panic=-1 quiet hspt.workload=boot")
refused() {
	local needle=$1 rc=0; shift
	timeout 60 "$QEMU_HSPT" "${base[@]}" "$@" -serial none </dev/null >"$work/out" 2>&1 || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$work/out"; fail "accepted: $*"; }
	grep -qF -- "$needle" "$work/out" || { cat "$work/out"; fail "message lacks '$needle': $*"; }
	grep -q "panicked\|core dumped\|Segmentation" "$work/out" && { cat "$work/out"; fail "crashed: $*"; }
	echo "refused ($*): $(grep -F -- "$needle" "$work/out" | head -n1)"
}
refused "vCPUs (-smp) are not supported with hspt=on" -smp 2 -plugin "$PLUGIN"
refused "icount and record/replay are not supported" -icount shift=1 -plugin "$PLUGIN"
refused "expected a number of windows from 1 to 256" -plugin "$PLUGIN,slots=300"
refused "memory-backend-memfd,id=mem,size=SIZE,share=on" \
	-object memory-backend-ram,id=ram0,size=512M -machine memory-backend=ram0 -plugin "$PLUGIN"

say "the same set-ups run with hspt=off"
timeout 120 "$QEMU_HSPT" "${base[@]}" -smp 2 -plugin "$PLUGIN,hspt=off,table=off" -serial "file:$work/smp.log" </dev/null
grep -q "@@HSPT exit workload=boot status=0" "$work/smp.log" || fail "-smp 2 with hspt=off did not run"
echo "-smp 2 with hspt=off: ok"
