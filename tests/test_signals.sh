#!/usr/bin/env bash
# The plugin's SIGSEGV handler only takes faults in its windows: a SIGSEGV
# sent to QEMU by another process (si_code <= 0) gets the action it would
# get without the plugin, the default one (QEMU dies of it), instead of
# being swallowed. Checked against stock QEMU. And faults from generated
# code in the executable view of split-wx are still handled.
source "$(dirname "$0")/lib.sh"
args=(-M virt -cpu cortex-a15 -m 512 -nic none -display none -monitor none -no-reboot
      -kernel build/guest/zImage -initrd build/guest/initrd.cpio.gz
      -append "console=ttyAMA0 panic=-1 quiet hspt.workload=shell" -serial none)
sent_segv() {
	local what=$1 rc=0; shift
	"$@" "${args[@]}" </dev/null >"$work/out" 2>&1 &
	local pid=$!
	sleep 3
	kill -0 "$pid" 2>/dev/null || { cat "$work/out"; fail "$what: QEMU did not start"; }
	kill -SEGV "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"; { wait "$pid"; } 2>/dev/null || true
		fail "$what: a SIGSEGV sent to QEMU was swallowed (QEMU kept running)"
	fi
	{ wait "$pid"; } 2>/dev/null || rc=$?
	[ "$rc" = $((128 + 11)) ] || { cat "$work/out"; fail "$what: exit status $rc, not death by SIGSEGV"; }
	echo "$what: a sent SIGSEGV killed QEMU (status $rc)"
}
sent_segv "stock QEMU" "$QEMU_STOCK"
sent_segv "with the accelerator" "$QEMU_HSPT" -plugin "$PLUGIN,table=off,warmup=0"

# With -accel tcg,split-wx=on generated code runs from a second, executable
# view of the code buffer: window faults from there are still the handler's
# (the tlb workload prints what it prints under hspt=off, and faults were
# handled), not crashes.
scripts/run-guest.sh --quiet --plugin table=off,hspt=off --log "$work/tlb.off" tlb >/dev/null
timeout 300 "$QEMU_HSPT" -M virt -cpu cortex-a15 -smp 1 -m 512 -nic none -no-reboot -display none \
	-monitor none -accel tcg,split-wx=on -kernel build/guest/zImage -initrd build/guest/initrd.cpio.gz \
	-append "console=ttyAMA0 panic=-1 quiet hspt.workload=tlb" -serial "file:$work/tlb.swx" \
	-plugin "$PLUGIN,table=off,warmup=0,stats=$work/swx.json" </dev/null >"$work/out" 2>&1 ||
	{ cat "$work/out"; fail "split-wx=on: QEMU failed"; }
diff <(results "$work/tlb.off" | sort) <(results "$work/tlb.swx" | sort) || fail "split-wx=on: results differ from hspt=off"
faults=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['hspt']['faults'])" "$work/swx.json")
[ "$faults" -gt 0 ] || fail "split-wx=on: no window fault was handled"
echo "split-wx=on: tlb identical to hspt=off, $faults window faults handled"
