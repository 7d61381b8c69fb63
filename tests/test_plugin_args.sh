#!/usr/bin/env bash
# The plugin refuses bad arguments with a message naming the argument, and
# refuses a QEMU without the HSPT patches; good arguments are accepted.
source "$(dirname "$0")/lib.sh"

# QEMU loads plugins before it builds the machine: a refusal is immediate.
expect_refusal() {
	local qemu=$1 args=$2 needle=$3 rc=0
	timeout 30 "$qemu" -M virt -cpu cortex-a15 -display none -nic none -monitor none \
		-plugin "$PLUGIN$args" </dev/null >"$work/out" 2>&1 || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$work/out"; fail "'$args' was accepted (rc=$rc)"; }
	grep -qF -- "$needle" "$work/out" || { cat "$work/out"; fail "'$args': message lacks: $needle"; }
	grep -q "panicked\|core dumped\|internal error" "$work/out" && { cat "$work/out"; fail "'$args': crashed instead of a message"; }
	[ "$rc" = 1 ] || { cat "$work/out"; fail "'$args': exit status $rc, not QEMU's 1 for a plugin that failed to load"; }
	echo "refused '$args': $(grep -F -- "$needle" "$work/out" | head -n1)"
}
expect_refusal "$QEMU_HSPT" ",bogus=1" "unknown plugin argument 'bogus=1'"
# The plugin stops QEMU through the plugin API's failure return (QEMU's
# loader says so after the plugin's message), not by exiting itself.
grep -q "Could not load plugin" "$work/out" || { cat "$work/out"; fail "QEMU did not report the plugin's failure return"; }
# QEMU itself turns a bare "flag" into "flag=on" before the plugin sees it.
expect_refusal "$QEMU_HSPT" ",slots" "'slots=on': expected a number of windows"
expect_refusal "$QEMU_HSPT" ",hspt=maybe" "'hspt=maybe': expected on or off"
expect_refusal "$QEMU_HSPT" ",table=maybe" "'table=maybe': expected on, full or off"
expect_refusal "$QEMU_HSPT" ",live_ms=5" "'live_ms=5': expected milliseconds from 50 to 60000"
expect_refusal "$QEMU_HSPT" ",accesses=some" "'accesses=some': expected on, exact or off"
expect_refusal "$QEMU_HSPT" ",stats=" "'stats=' needs a file name"
expect_refusal "$QEMU_HSPT" ",labels=on,labels=off" "'labels' given twice"
expect_refusal "$QEMU_STOCK" "" "this QEMU has no HSPT support"
# A refusal shows that argument's help, not every argument's; an unknown
# key gets the known names on one line.
expect_refusal "$QEMU_HSPT" ",slots=0" "hspt: slots=N: number of windows for user address spaces"
grep -q "premap" "$work/out" && { cat "$work/out"; fail "'slots=0': printed other arguments' help"; }
expect_refusal "$QEMU_HSPT" ",bogus=1" "hspt: known arguments: stats, table, live,"
grep -q "slots=N" "$work/out" && { cat "$work/out"; fail "'bogus=1': printed the arguments' help"; }
# help (QEMU passes help=on) prints every argument with its default, and stops.
expect_refusal "$QEMU_HSPT" ",help" "  slots=N (default 16)"
grep -q "  around=PAGES (default 16)" "$work/out" || { cat "$work/out"; fail "help lacks around="; }

say "good arguments are accepted (boot workload)"
scripts/run-guest.sh --plugin "table=off,labels=off" --stats "$work/s.json" --log "$work/boot.log" boot 2>"$work/err"
[ -s "$work/s.json" ] || fail "stats=FILE was not written"
grep -q "per-process statistics" "$work/err" && fail "table=off still printed the table"
python3 - "$work/s.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert all(p["label"] is None for p in d["processes"]), "labels=off still labelled"
assert d["totals"]["user_accesses"] > 0, "no user accesses counted"
PY
echo "ok"
