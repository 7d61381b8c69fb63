#!/usr/bin/env bash
# The invalidation side never leaves a stale mapping, even when the kernel
# refuses an unmap or a write-protect (ENOMEM near vm.max_map_count): the
# window is then reset as a whole. fail_every=N (test only) makes every
# N-th of those calls fail; the spt workload (tlbtest's munmap and
# mprotect, jittest's code protection, COW after fork, ...) must still
# print exactly what it prints with hspt=off, and the report must show
# the recoveries.
source "$(dirname "$0")/lib.sh"
for w in spt; do
	scripts/run-guest.sh --quiet --plugin "table=off,hspt=off" --log "$work/$w.off.log" "$w" >/dev/null 2>"$work/$w.off.err" ||
		{ cat "$work/$w.off.err"; fail "$w failed with hspt=off"; }
	scripts/run-guest.sh --quiet --plugin "table=off,warmup=0,fail_every=5" --stats "$work/$w.json" \
		--log "$work/$w.inj.log" "$w" >/dev/null 2>"$work/$w.inj.err" ||
		{ cat "$work/$w.inj.err"; fail "$w failed with injected unmap failures"; }
	diff -u <(results "$work/$w.off.log" | sort) <(results "$work/$w.inj.log" | sort) ||
		fail "$w: results differ when unmaps fail"
	python3 - "$work/$w.json" "$w" <<'PY'
import json, sys
pool = json.load(open(sys.argv[1]))["hspt"]
n = pool["invalidation_failures"]
assert n > 0, f"{sys.argv[2]}: no injected failure was recovered from ({pool})"
print(f"{sys.argv[2]}: identical to hspt=off with {n} failed unmaps/protects, each recovered by a window reset")
PY
done
