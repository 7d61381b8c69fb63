#!/usr/bin/env bash
# Patched QEMU must behave exactly like stock QEMU: without the plugin, and
# with it (statistics never change the guest). Compared: every result line
# the guest prints (kernel, CPU, memory, program checksums, workload
# results) for the boot, tlb and multi workloads.
source "$(dirname "$0")/lib.sh"
for w in boot tlb multi; do
	scripts/run-guest.sh --quiet --qemu stock --no-plugin --log "$work/$w.stock" "$w" || fail "$w failed on stock QEMU"
	scripts/run-guest.sh --quiet --qemu hspt --plugin table=off --log "$work/$w.plugin" "$w" || fail "$w failed with the plugin"
	results "$work/$w.stock" | sort > "$work/$w.a"
	results "$work/$w.plugin" | sort > "$work/$w.c"
	[ "$(grep -c result "$work/$w.a")" -gt 0 ] || fail "$w printed no results on stock QEMU"
	diff -u "$work/$w.a" "$work/$w.c" || fail "$w: patched QEMU with the plugin differs from stock"
	also=""
	# Without the plugin the patched code paths are NULL checks: boot and
	# tlb show it; multi (the longest) is compared with the plugin only, to
	# keep the suite within its time.
	if [ "$w" != multi ]; then
		scripts/run-guest.sh --quiet --qemu hspt --no-plugin --log "$work/$w.patched" "$w" || fail "$w failed on patched QEMU"
		results "$work/$w.patched" | sort > "$work/$w.b"
		diff -u "$work/$w.a" "$work/$w.b" || fail "$w: patched QEMU without plugin differs from stock"
		also="patched, "
	fi
	echo "$w: $(grep -c result "$work/$w.a") result lines identical on stock, ${also}patched+plugin"
done
