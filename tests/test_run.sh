#!/usr/bin/env bash
# `make run`: boots the default guest with the accelerator, runs the
# multi-process workload and prints a per-process table with at least 5
# distinct processes with user-mode accesses and TLB maintenance by kind.
source "$(dirname "$0")/lib.sh"
make --no-print-directory run STATS="$work/run.json" >"$work/out" 2>&1 || { cat "$work/out"; fail "make run failed"; }
cat "$work/out"
grep -q "hspt: per-process statistics" "$work/out" || fail "no table printed"
grep -q "tlbi\." "$work/out" || fail "no TLB maintenance columns in the table"
for r in gzip bzip2 xz sqlite3 lua memwalk tlbtest; do
	grep -q "^@@HSPT result multi $r sha=" "$work/out" || fail "no result for $r"
done
python3 - "$work/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
users = [p for p in d["processes"] if p["user_accesses"] > 0]
labels = {p["label"] for p in users if p["label_source"] == "exec"}
print(len(users), "processes with user accesses; exec labels:", sorted(labels))
assert len({(p["asid"], p["ttbr0"]) for p in users}) >= 5
want = {"gzip", "bzip2", "xz", "sqlite3", "lua5.4", "memwalk", "tlbtest"}
assert want <= labels, f"missing labels: {want - labels}"
PY
