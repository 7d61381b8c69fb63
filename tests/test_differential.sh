#!/usr/bin/env bash
# The oracle: every workload of the guest image (the project's programs and
# the real Debian programs) prints identical results with the accelerator
# off and on with slots=1 (Shared SPT), 8 (Group-shared) and 256 (Private),
# and with the default settings ("defaults"); fault-around off (around=1) with slots=1,
# at its widest (around=256) with slots=256, at its default (16) otherwise.
source "$(dirname "$0")/lib.sh"
# warmup=0: every process uses a window from its first instruction (the
# default 20 ms warm-up would keep short test programs on the softmmu).
configs=("hspt=off" "slots=1,warmup=0,around=1" "slots=8,warmup=0" "slots=256,warmup=0,around=256" "defaults")
for w in boot tlb refault spt memwalk multi stress bench-pipeline bench-zygote bench-churn; do
	# Every configuration for the targeted workloads (tlb, refault, spt).
	# To keep the suite within 15 minutes: boot and memwalk under Shared
	# windows without fault-around and Private ones with the widest;
	# stress-ng (half a minute a run) under Shared windows and the
	# defaults; multi and the benchmarks, whose mechanisms the others
	# cover, under the defaults.
	case "$w" in
	boot|memwalk) cs=("hspt=off" "slots=1,warmup=0,around=1" "slots=256,warmup=0,around=256") ;;
	stress) cs=("hspt=off" "slots=1,warmup=0,around=1" "defaults") ;;
	multi|bench-*) cs=("hspt=off" "defaults") ;;
	*) cs=("${configs[@]}") ;;
	esac
	for c in "${cs[@]}"; do
		rc=0
		args=table=off
		[ "$c" = defaults ] || args="$args,$c"
		scripts/run-guest.sh --quiet --plugin "$args" --log "$work/$w.$c.log" "$w" >/dev/null 2>"$work/$w.$c.err" || rc=$?
		[ "$rc" = 0 ] || { cat "$work/$w.$c.err"; results "$work/$w.$c.log"; fail "$w failed with $c (rc=$rc)"; }
		results "$work/$w.$c.log" | sort > "$work/$w.$c.res"
	done
	n=$(grep -c ' result ' "$work/$w.hspt=off.res")
	[ "$n" -gt 0 ] || fail "$w printed no results"
	for c in "${cs[@]:1}"; do
		diff -u "$work/$w.hspt=off.res" "$work/$w.$c.res" || fail "$w: $c differs from hspt=off"
	done
	echo "$w: $n result lines identical with ${cs[*]}"
done
