#!/usr/bin/env bash
# The oracle: every workload of the guest image (the project's programs and
# the real Debian programs) prints identical results with the accelerator
# off and on with slots=1 (Shared SPT), 8 (Group-shared) and 256 (Private),
# and with the default settings ("defaults"); fault-around off (around=1) with slots=1,
# at its widest (around=256) with slots=256, at its default (16) otherwise.
# It does so under each guest kernel of guest/kernels (KERNELS=a,b: only
# those; make test builds them all).
source "$(dirname "$0")/lib.sh"
# warmup=0: every process uses a window from its first instruction (the
# default 20 ms warm-up would keep short test programs on the softmmu).
configs=("hspt=off" "slots=1,warmup=0,around=1" "slots=8,warmup=0" "slots=256,warmup=0,around=256" "defaults")
IFS=, read -ra kernels <<< "${KERNELS:-bookworm,trixie,trixie-lpae}"
for kernel in "${kernels[@]}"; do
	# Every workload under the default kernel (bookworm, 6.1). Under
	# Debian 13's kernels (6.12: other TLB maintenance, another scheduler,
	# trixie-lpae's long-descriptor tables with TTBR0 PAN) the workloads
	# that cover the mechanisms: boot (the kernel window from the first
	# instruction on), tlb, refault and spt (every targeted test, under
	# every configuration), multi (seven programs at once: LRU, windows
	# shared), bench-zygote and bench-churn (fork, exec and exit storms:
	# revalidation, restoration, the caches); memwalk and bench-pipeline
	# add no mechanism those do not already run, so they run under
	# bookworm only, and so does stress-ng (half a minute a run) except
	# under trixie-lpae, whose long-descriptor paths (TTBR0 PAN's TTBCR
	# writes, 2 MiB kernel blocks) nothing else of Debian's stresses. The test took 12
	# minutes on a 2-core machine under other load (bookworm 4.5, trixie
	# 3, trixie-lpae 4; bookworm alone was the whole test before).
	case "$kernel" in
	bookworm) workloads=(boot tlb refault spt memwalk multi stress bench-pipeline bench-zygote bench-churn) ;;
	trixie-lpae) workloads=(boot tlb refault spt multi stress bench-zygote bench-churn) ;;
	*) workloads=(boot tlb refault spt multi bench-zygote bench-churn) ;;
	esac
	say "kernel $kernel"
	t0=$(date +%s)
	for w in "${workloads[@]}"; do
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
		r="$work/$kernel.$w"
		for c in "${cs[@]}"; do
			rc=0
			args=table=off
			[ "$c" = defaults ] || args="$args,$c"
			scripts/run-guest.sh --quiet --kernel "$kernel" --plugin "$args" --log "$r.$c.log" "$w" >/dev/null 2>"$r.$c.err" || rc=$?
			[ "$rc" = 0 ] || { cat "$r.$c.err"; results "$r.$c.log"; fail "$w failed with $c under kernel $kernel (rc=$rc)"; }
			results "$r.$c.log" | sort > "$r.$c.res"
		done
		n=$(grep -c ' result ' "$r.hspt=off.res")
		[ "$n" -gt 0 ] || fail "$w printed no results under kernel $kernel"
		for c in "${cs[@]:1}"; do
			diff -u "$r.hspt=off.res" "$r.$c.res" || fail "$w: $c differs from hspt=off under kernel $kernel"
		done
		echo "$w: $n result lines identical with ${cs[*]}"
	done
	echo "kernel $kernel: ${#workloads[@]} workloads in $(( $(date +%s) - t0 ))s"
done
