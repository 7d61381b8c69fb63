#!/usr/bin/env bash
# Bare-metal architectural cases Linux never exercises (tests/baremetal/:
# TLB maintenance on sections, supersections and 64 KiB pages, ASIDs and
# global pages, DACR domains, LDRT/STRT, alignment, access flag, TTBR1, SWP,
# non-RAM user mappings), and long-descriptor (LPAE) ones: blocks of each
# level and their permissions, ASIDs in 64-bit TTBR writes, TTBCR.A1, the
# TTBR0 PAN of Linux's CONFIG_CPU_TTBR0_PAN, TTBCR splits, RAM above 4 GiB
# (hence -m 4096: guest RAM is sparse, the run time is the same), code.
# The program prints what it observes; the output
# of stock QEMU is the oracle: patched QEMU with hspt=off and the
# accelerator with slots=1, 8 and 256 (kernel window on), with the kernel
# window off, with the jump cache emptied as before (recheck_blocks=off)
# without the branch cache (branch_cache=off) and without the kernel code
# walks (kernel_code_walks=off) must print the same lines. Each accelerator
# run must have mapped user and kernel window pages, and each LPAE case's
# contexts must have run user accesses (HSPT_LPAE_WINDOWS=1: through a
# window, once the accelerator covers LPAE).
# HSPT_PLUGIN=/path/to/libhspt.so tests another build of the plugin. Each
# run's output stays in build/baremetal/NAME.out (stock, hspt=off, slots=N).
source "$(dirname "$0")/lib.sh"
PLUGIN=${HSPT_PLUGIN:-$PLUGIN}
CROSS=arm-linux-gnueabihf-
command -v "${CROSS}gcc" >/dev/null ||
	fail "${CROSS}gcc not found: install gcc-arm-linux-gnueabihf (scripts/install-deps.sh)"
[ -x "$QEMU_STOCK" ] || fail "no stock QEMU at $QEMU_STOCK (make qemu-stock)"
[ -x "$QEMU_HSPT" ] || fail "no patched QEMU at $QEMU_HSPT (make qemu)"
[ -f "$PLUGIN" ] || fail "no plugin at $PLUGIN (make plugin, or set HSPT_PLUGIN)"

out=$top/build/baremetal
make -s -C tests/baremetal CROSS="$CROSS" O="$out" || fail "building tests/baremetal failed"
elf=$out/baremetal.elf

# run NAME QEMU [ARGS...]: the program's UART output in $work/NAME.out
run() {
	local name=$1 qemu=$2 rc=0
	shift 2
	timeout 20 "$qemu" -M virt -cpu cortex-a15 -m 4096 -nographic -nic none -no-reboot \
		-kernel "$elf" "$@" </dev/null >"$work/$name.raw" 2>"$work/$name.err" || rc=$?
	tr -d '\r' <"$work/$name.raw" >"$work/$name.out"
	cp "$work/$name.out" "$out/$name.out"
	if [ "$rc" != 0 ] || ! grep -q '^baremetal: end' "$work/$name.out"; then
		tail -n 20 "$work/$name.out"
		cat "$work/$name.err"
		[ "$rc" = 124 ] && fail "baremetal ($name): timed out, last case: $(last_case "$name")"
		fail "baremetal ($name): did not finish (exit status $rc), last case: $(last_case "$name")"
	fi
}
last_case() {
	local c
	c=$(grep -o '^\[[^]]*\]' "$work/$1.out" | tail -n 1 | tr -d '[]') || true
	echo "${c:-none (stopped before the first case)}"
}

run stock "$QEMU_STOCK"
if grep -q 'UNEXPECTED' "$work/stock.out"; then
	grep 'UNEXPECTED' "$work/stock.out"
	fail "baremetal: stock QEMU disagrees with the program's expected answers (a harness bug?)"
fi
n=$(grep -c '' "$work/stock.out")
ncases=$(grep -c '^\[[^]]*\] begin$' "$work/stock.out")
[ "$ncases" -gt 0 ] || fail "baremetal: no case ran on stock QEMU"

configs=("hspt=off" "slots=1,warmup=0" "slots=8,warmup=0" "slots=256,warmup=0" "kernel=off,warmup=0" "recheck_blocks=off,warmup=0" "branch_cache=off,warmup=0" "kernel_code_walks=off,warmup=0" "keep_global=off,warmup=0")
bad=()
for c in "${configs[@]}"; do
	name=${c%%,*}
	run "$name" "$QEMU_HSPT" -plugin "$PLUGIN,table=off,stats=$work/$name.json,$c"
	if [ "$c" != hspt=off ]; then
		# The accelerator must have run user mode through its windows, or
		# the comparison proves nothing.
		mapped=$(grep -o '"pages_mapped": *[0-9]*' "$work/$name.json" | awk '{s += $2} END {print s + 0}')
		[ "$mapped" -gt 0 ] || fail "baremetal ($c): the accelerator mapped no window pages"
		# And PL1 data through the kernel window (kernel=on, the default).
		kernel=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["totals"]["spt"]["kernel_window"]["pages_mapped"])' "$work/$name.json")
		case "$c" in
		*kernel=off*) [ "$kernel" = 0 ] || fail "baremetal ($c): the kernel window mapped $kernel pages" ;;
		*) [ "$kernel" -gt 0 ] || fail "baremetal ($c): the kernel window mapped no pages" ;;
		esac
		# The LPAE cases' contexts (by ASID) must each have run enough user
		# accesses for a window to matter; HSPT_LPAE_WINDOWS=1 (once the
		# accelerator covers LPAE) requires each to have used a window.
		lpae=$(python3 - "$work/$name.json" "${HSPT_LPAE_WINDOWS:-0}" <<'PY'
import json, sys
procs = json.load(open(sys.argv[1]))["processes"]
need_windows = sys.argv[2] == "1"
cases = [("lpae_basic", 0x80, 0x8f), ("lpae_asid", 0x90, 0x9f), ("lpae_a1", 0xa0, 0xaf),
         ("lpae_pan", 0xb0, 0xb3), ("lpae_pan_t1sz1", 0xb4, 0xb7),
         ("lpae_ttbcr", 0xc0, 0xcf), ("lpae_highmem", 0xd0, 0xdf)]
bad, total, window = [], 0, 0
for case, lo, hi in cases:
    ps = [p for p in procs if lo <= p["asid"] <= hi]
    user = sum(p["user_accesses"] for p in ps)
    win = sum(p["window_accesses"] for p in ps)
    total += user
    window += win
    if user < 100:
        bad.append("%s ran %d user accesses" % (case, user))
    elif need_windows and win == 0:
        bad.append("%s used no window" % case)
print("; ".join(bad) if bad else "%d user accesses, %d through a window" % (total, window))
sys.exit(1 if bad else 0)
PY
		) || fail "baremetal ($c): LPAE cases: $lpae"
		lpae_summary="$lpae (under $c)"
	fi
	if ! diff -u "$work/stock.out" "$work/$name.out" >"$work/$name.diff"; then
		# The differing lines (stock -, this configuration +), at most 16 per
		# case; for later configurations only when they differ otherwise.
		grep -E '^[-+][^-+]' "$work/$name.diff" >"$work/$name.lines" || true
		cases=$(sed -nE 's/^[-+]\[([^]]*)\].*/\1/p' "$work/$name.lines" | awk '!seen[$0]++' | tr '\n' ' ')
		cases=${cases:-"(lines outside the cases) "}
		if [ ${#bad[@]} = 0 ] || ! cmp -s "$work/$name.lines" "$work/$prev.lines"; then
			echo "--- stock / +++ $c:"
			awk '{ c = $1; sub(/^[-+]/, "", c); if (++n[c] <= 16) print; else if (n[c] == 17) print "   ... (more lines of " c ")" }' "$work/$name.lines"
		fi
		echo "baremetal: under $c, case(s) differing from stock: ${cases% }"
		bad+=("$c: ${cases% }")
		prev=$name
	fi
done
if [ ${#bad[@]} -gt 0 ]; then
	for b in "${bad[@]}"; do echo "FAIL: baremetal: $b" >&2; done
	fail "baremetal: output differs from stock QEMU (plugin $PLUGIN)"
fi
echo "baremetal: $n lines ($ncases cases) identical under stock, $(IFS=';'; echo "${configs[*]}" | sed 's/;/; /g')"
echo "baremetal: LPAE contexts: $lpae_summary"
