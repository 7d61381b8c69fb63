#!/usr/bin/env bash
# `make run` in a real terminal of 120 columns (tmux), with live statistics
# watched by scripts/hspt-top in a second terminal:
# - the multi-process workload's results, and a table no wider than 120
#   columns whose first rows are the programs that did the work;
# - the live file: JSON lines with a schema version, at least one per
#   second of guest run time; the viewer shows them and ends with the run;
# - the JSON statistics (labels of the working programs) and the picture
#   scripts/hspt-plot makes of them (one bar per listed process).
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || fail "tmux is missing (scripts/install-deps.sh installs it)"
session="hspt-test-$$"
tmux_() { tmux -L "$session" "$@"; }
trap 'tmux_ kill-server 2>/dev/null; rm -rf "$work"' EXIT
live="$work/live.jsonl" stats="$work/run.json"

tmux_ -f /dev/null new-session -d -s run -x 120 -y 60 \
	"make --no-print-directory run STATS=$stats PLUGIN_ARGS=live=$live >$work/out 2>&1; echo \$? >$work/rc; \
	 cat $work/out; sleep 3600"
tmux_ new-window -d -t run: -n top "scripts/hspt-top $live; echo VIEWER-EXITED; sleep 3600"
tmux_ resize-window -t run:top -x 120 -y 40 2>/dev/null || true

# While the guest runs, the viewer shows the busiest processes.
seen_running=""
for _ in $(seq 600); do
	[ -e "$work/rc" ] && break
	if tmux_ capture-pane -p -t run:top | grep -q "hspt-top  running"; then
		seen_running=$(tmux_ capture-pane -p -t run:top)
	fi
	sleep 1
done
[ -e "$work/rc" ] || fail "make run did not finish in 10 minutes"
[ "$(cat "$work/rc")" = 0 ] || { cat "$work/out"; fail "make run failed"; }
[ -n "$seen_running" ] || fail "hspt-top never showed the running guest"
echo "--- hspt-top while the guest ran:"
echo "$seen_running" | head -n 12
sleep 2
tmux_ capture-pane -p -t run:top >"$work/top-final"
grep -q "hspt-top  finished" "$work/top-final" && grep -q VIEWER-EXITED "$work/top-final" ||
	{ cat "$work/top-final"; fail "hspt-top did not show the end of the run and exit"; }

# The table as the 120-column terminal shows it (-J joins wrapped lines).
tmux_ capture-pane -p -J -S - -t run:0 >"$work/screen"
cat "$work/screen"
for r in gzip bzip2 xz sqlite3 lua memwalk tlbtest; do
	grep -q "^@@HSPT result multi $r sha=" "$work/screen" || fail "no result for $r"
done
python3 - "$work/screen" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.startswith("hspt: per-process statistics"))
end = next(i for i in range(start, len(lines)) if lines[i].startswith("softmmu: "))
table = lines[start:end + 1]
wide = [l for l in table if len(l) > 120]
assert not wide, f"{len(wide)} lines wider than 120 columns: {wide[0]!r}"
body = table[2:next(i for i, l in enumerate(table) if l.startswith("TOTAL"))]
rows = [l.split()[0] for l in body if l.strip()]
print("rows:", rows)
# The five programs that do most of the work come first (memwalk and
# tlbtest run a small part of the multi workload: they have rows too).
want = {"gzip", "bzip2", "xz", "sqlite3", "lua5.4"}
assert want <= set(rows[:7]), f"working programs not among the first rows: {want - set(rows[:7])}"
assert {"memwalk", "tlbtest"} <= set(rows), f"no row for memwalk or tlbtest: {rows}"
PY
grep -q "^hspt: picture in\|picture in" "$work/screen" || fail "make run did not make the picture"

python3 - "$stats" "$live" "$work/run.svg" <<'PY'
import json, sys
import xml.etree.ElementTree as ET
stats, live, svg = sys.argv[1:]
d = json.load(open(stats))
assert d["schema_version"] == 2
users = [p for p in d["processes"] if p["user_accesses"] > 0]
labels = {p["label"] for p in users if p["label_source"] == "exec"}
want = {"gzip", "bzip2", "xz", "sqlite3", "lua5.4", "memwalk", "tlbtest"}
assert want <= labels, f"missing labels: {want - labels}"
t = d["totals"]
assert 0 < t["window_accesses"] <= t["user_accesses"], t
assert t["spt"]["faults"] > 0 and t["spt"]["fault_handler_ns"] > 0, t["spt"]
# QEMU counts a flush as full only if every MMU index was in use; the
# precise flushes are partial.
assert d["softmmu"]["tlb_partial_flushes"] > 0 and d["softmmu"]["context_events"]["dacr"] > 0, d["softmmu"]

lines = [json.loads(l) for l in open(live)]
assert all(l["schema_version"] == 2 for l in lines)
assert lines[-1]["kind"] == "final", lines[-1]["kind"]
secs = lines[-1]["t_ms"] / 1000
print(f"live: {len(lines)} lines over {secs:.1f} s of run time")
assert len(lines) >= secs, f"fewer than one line per second: {len(lines)} in {secs:.1f} s"
assert sum(p["user_accesses"] for l in lines for p in l["processes"]) == t["user_accesses"], \
    "the live deltas do not add up to the final counts"

root = ET.parse(svg).getroot()
ns = "{http://www.w3.org/2000/svg}"
groups = [g for g in root.iter(ns + "g") if g.get("class") == "process"]
listed = min(12, len(users))
assert len(groups) == listed, f"{len(groups)} process bars, expected {listed}"
for g in groups:
    kinds = {r.get("class") for r in g.iter(ns + "rect")}
    assert {"bar-window", "bar-softmmu", "bar-fault"} <= kinds, kinds
assert any(p.get("class") == "series" for p in root.iter(ns + "polyline")), "no time series"
print(f"svg: {len(groups)} process bars and the time series")
PY
echo ok
