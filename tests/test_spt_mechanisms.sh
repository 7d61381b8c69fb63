#!/usr/bin/env bash
# Each HSPT mechanism was exercised through the windows, not bypassed:
# per-process SPT statistics of the targeted programs (tests/guest/*.c,
# workload "spt") with slots=8 and no warm-up (windows from the start). Their results being identical
# to hspt=off is checked by test_differential.sh.
source "$(dirname "$0")/lib.sh"
scripts/run-guest.sh --plugin table=off,warmup=0,slots=8 --stats "$work/spt.json" --log "$work/spt.log" spt >"$work/out" 2>&1 ||
	{ cat "$work/out"; fail "spt workload failed"; }
cat "$work/out"
python3 - "$work/spt.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
procs = [p for p in d["processes"] if p["user_accesses"] > 0]
def one(name):
    ps = [p for p in procs if p["label"] == name and p["label_source"] == "exec"]
    assert ps, f"no exec'd process {name}"
    return ps[-1]
def check(cond, what):
    assert cond, what
    print("ok:", what)
pool = d["hspt"]
check(pool["enabled"] and pool["slots"] == 8, "the engine ran with 8 windows")
jit = one("jittest")["spt"]
check(jit["code_protects"] >= 2000, f"JIT: every rewrite made the code page read-only first ({jit['code_protects']})")
check(jit["misses"]["code_page"] >= 1000, f"JIT: stores to code pages went through the softmmu ({jit['misses']['code_page']})")
mmio = one("mmiotest")["spt"]
check(1 <= mmio["misses"]["special"] <= 50,
      f"MMIO: trapped, then remembered: {mmio['misses']['special']} traps for 2500 device accesses")
edge = one("edgetest")["spt"]
check(edge["guest_faults"] >= 8, f"guest faults raised from the window: {edge['guest_faults']}")
tlb = one("tlbtest")["spt"]
check(tlb["pages_invalidated"] >= 1000, f"munmap/mprotect unmapped window pages: {tlb['pages_invalidated']}")
check(tlb["misses"]["not_mapped"] > 0 and tlb["hits"] > 0, "tlbtest ran through its window")
kids = [p for p in procs if p["label"] == "forkmany" and p["label_source"] == "fork"]
check(len(kids) >= 200, f"forkmany: {len(kids)} children seen (ASIDs reused past 256 merge)")
check(pool["evictions"] > 256, f"more address spaces than windows: {pool['evictions']} LRU evictions")
restored = d["totals"]["spt"]
check(restored["restorations"] > 0 and restored["pages_restored"] >= 16,
      f"evicted windows got their pages back at once: {restored['restorations']} restorations, {restored['pages_restored']} pages")
exe = [p for p in procs if p["label"] == "exectest"]
check(len(exe) >= 12, f"exec: {len(exe)} address spaces of exectest")
t = d["totals"]["spt"]
check(t["hits"] > 100 * sum(t["misses"].values()), f"hits {t['hits']} vs misses {t['misses']}")
check(0 < t["pages_around"] < t["pages_mapped"],
      f"fault-around mapped neighbours with their faulting page: {t['pages_around']} of {t['pages_mapped']} pages")
def named(name):
    ps = [p for p in d["processes"] if p["label"] == name]
    assert ps, f"no process {name}"
    return ps
flash = sum(p["spt"]["misses"]["special"] for p in named("flashread"))
check(flash >= 1, f"flash (RAM outside the guest-RAM file) reached through the softmmu: {flash} special misses")
watch = sum(p["spt"]["misses"]["special"] + p["spt"]["entries_softmmu"] for p in named("watchtest"))
check(watch >= 1, f"watched page reached through the softmmu: {watch} special misses or softmmu entries")
check(t["pages_premapped"] > 0,
      f"pages of guest page faults raised from a window mapped on the way back to user mode: {t['pages_premapped']}")
check(pool["faults"] >= t["misses"]["not_mapped"] and pool["fault_handler_ns"] > 0,
      f"fault handler timed: {pool['faults']} faults, {pool['fault_handler_ns'] / max(1, pool['faults']) / 1000:.1f} us each")
PY

