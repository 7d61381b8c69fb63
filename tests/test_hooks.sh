#!/usr/bin/env bash
# Every hook fires: a guest program that forks and calls munmap/mprotect
# must show, in the JSON, page-sized TLB maintenance in its own process,
# ASID/all-level maintenance, QEMU's DACR and CONTEXTIDR flushes, its fork
# children as separate processes, and user/kernel attribution. QEMU's
# DACR flushes are counted with precise=off (stock QEMU's full flush on
# every DACR write); with the default precise flushes nearly all go, and
# ASID changes flush one MMU index, not all (keep_global).
source "$(dirname "$0")/lib.sh"
scripts/run-guest.sh --plugin table=off,precise=off --stats "$work/tlb.json" --log "$work/tlb.log" tlb
python3 - "$work/tlb.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
procs = d["processes"]
def tlbi(p, *kinds): return sum(p["tlb_maintenance"][k] for k in kinds)
page_kinds = ("mva", "mvaa", "mva_is", "mvaa_is")
wide_kinds = ("all", "asid", "all_is", "asid_is")
main = [p for p in procs if p["label"] == "tlbtest" and p["label_source"] == "exec"]
kids = [p for p in procs if p["label"] == "tlbtest" and p["label_source"] == "fork"]
assert len(main) == 1, f"expected one exec'd tlbtest process, got {len(main)}"
m = main[0]
print("tlbtest:", {k: v for k, v in m["tlb_maintenance"].items() if v}, "user", m["user_accesses"])
# 16 munmaps of 64 pages + 8 x 2 mprotects of 64 pages: >= 2048 pages.
assert tlbi(m, *page_kinds) >= 2048, f"page TLB maintenance missing: {m['tlb_maintenance']}"
assert tlbi(m, *wide_kinds) >= 1, f"ASID/all TLB maintenance missing: {m['tlb_maintenance']}"
assert m["user_accesses"] > 100000 and m["kernel_accesses"] > 0
assert m["user_entries"] > 100
assert len(kids) == 8, f"expected 8 fork children, got {len(kids)}"
for k in kids:
    # each child wrote 64 pages: 64 * 4096 / 4-byte stores at least
    assert k["user_accesses"] > 64 * 1024, k
t = d["totals"]
assert t["qemu_flushes"]["dacr"] > 1000, t["qemu_flushes"]
assert t["qemu_flushes"]["contextidr"] > 20, t["qemu_flushes"]
assert t["qemu_flushes"]["sctlr"] >= 1, t["qemu_flushes"]
distinct = {(p["asid"], p["ttbr0"]) for p in procs if p["user_accesses"] > 0}
assert len(distinct) >= 10, f"only {len(distinct)} processes with user accesses"
print("ok:", len(distinct), "processes; totals", t["tlb_maintenance"], t["qemu_flushes"])
PY

scripts/run-guest.sh --quiet --plugin table=off --stats "$work/precise.json" --log "$work/precise.log" tlb >/dev/null
python3 - "$work/tlb.json" "$work/precise.json" <<'PY'
import json, sys
full, precise = (json.load(open(f))["totals"]["qemu_flushes"]["dacr"] for f in sys.argv[1:])
assert precise * 100 < full, f"precise DACR flushes: {precise} full flushes left of {full}"
print(f"ok: DACR writes flushed the whole TLB {full} times with precise=off, {precise} times with precise flushes")
PY

# keep_global (default on) reaches QEMU: an ASID change then asks QEMU to
# flush one MMU index (PL0) instead of all 16, which QEMU's own counters
# show (flushes asked = partial + elided). With keep_global=off each of
# the run's CONTEXTIDR flushes asks for all 16 again.
scripts/run-guest.sh --quiet --plugin table=off,keep_global=off --stats "$work/asid-full.json" \
	--log "$work/asid-full.log" tlb >/dev/null
python3 - "$work/precise.json" "$work/asid-full.json" <<'PY'
import json, sys
kept, full = (json.load(open(f)) for f in sys.argv[1:])
def asked(d): return d["softmmu"]["tlb_partial_flushes"] + d["softmmu"]["tlb_elided_flushes"]
ctx = min(d["totals"]["qemu_flushes"]["contextidr"] for d in (kept, full))
assert ctx > 20, f"too few ASID changes to tell ({ctx})"
saved = asked(full) - asked(kept)
assert saved >= 10 * ctx, f"keep_global: {asked(kept)} MMU-index flushes asked, {asked(full)} without it, for about {ctx} ASID changes"
print(f"ok: {ctx} ASID changes asked QEMU for {saved} fewer MMU-index flushes with keep_global")
PY

# Accesses counted per block (the default: QEMU adds each block's loads
# and stores once per block) agree with the exact per-access count
# (accesses=exact) for a deterministic program, in user and kernel mode;
# accesses=off counts nothing.
for mode in on exact off; do
	scripts/run-guest.sh --quiet --plugin table=off,accesses=$mode --stats "$work/acc-$mode.json" \
		--log "$work/acc-$mode.log" memwalk >/dev/null
done
python3 - "$work"/acc-{on,exact,off}.json <<'PY'
import json, sys
def memwalk(f):
    d = json.load(open(f))
    return d, [p for p in d["processes"] if p["label"] == "memwalk"][0]
(d_on, on), (d_ex, ex), (d_off, off) = (memwalk(f) for f in sys.argv[1:])
assert d_on["accesses_counted"] == "per_block" and d_ex["accesses_counted"] == "exact", \
    (d_on["accesses_counted"], d_ex["accesses_counted"])
u_on, u_ex = on["user_accesses"], ex["user_accesses"]
print(f"memwalk user accesses: per block {u_on}, exact {u_ex} ({100 * (u_on - u_ex) / u_ex:+.3f}%)")
# memwalk makes 2 x 4M+ loads of its own. Per-block counts add the
# condition-failed accesses and those after an exception in a block, and
# miss those made by helpers: within 1% here.
assert u_ex > 8_000_000, u_ex
assert abs(u_on - u_ex) <= u_ex * 0.01, "per-block user count more than 1% off the exact count"
k_on, k_ex = on["kernel_accesses"], ex["kernel_accesses"]
assert k_on > 0 and k_ex > 0 and 0.5 < k_on / k_ex < 2, (k_on, k_ex)
assert d_off["totals"]["user_accesses"] == 0 and d_off["accesses_counted"] == "off"
PY
