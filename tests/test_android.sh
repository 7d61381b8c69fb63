#!/usr/bin/env bash
# The Android-shaped guest (scripts/run-guest.sh --guest android, workload
# android): its results are identical with the accelerator off, with Shared
# windows without fault-around and no warm-up, with Private windows at the
# widest fault-around, and with the defaults (the differential oracle on a
# binder/zygote/JIT load); under the defaults the plugin's statistics show
# the 40 apps forked by the zygote and every daemon, and the output the
# binder and JIT activity: 40 apps attached, reported and dead (death
# notifications), file descriptors both ways, JIT code generated, remapped
# and run with no wrong result, 40+ processes alive at the peak. It runs
# under the default guest kernel only: another one is refused, saying so.
source "$(dirname "$0")/lib.sh"
# The default kernel (KERNEL= of the environment would be refused below).
unset KERNEL
scripts/build-android-guest.sh

# Under another guest kernel the Android-shaped guest is refused (its
# modules are the default kernel's), with a message, before QEMU starts.
rc=0
scripts/run-guest.sh --guest android --kernel trixie --dry-run android >/dev/null 2>"$work/kernel.err" || rc=$?
[ "$rc" = 2 ] && grep -q "runs under the default kernel (bookworm) only, not trixie" "$work/kernel.err" ||
	{ cat "$work/kernel.err"; fail "--guest android --kernel trixie: rc=$rc, wanted 2 and a message"; }
echo "refused: $(cat "$work/kernel.err")"
cmd=$(scripts/run-guest.sh --guest android --kernel bookworm --dry-run android)
grep -q -- "-kernel $top/build/guest-android/zImage -initrd $top/build/guest-android/initrd.cpio.gz" <<<"$cmd" ||
	fail "--guest android --kernel bookworm does not boot build/guest-android: $cmd"
configs=("hspt=off" "slots=1,warmup=0,around=1" "slots=256,warmup=0,around=256" "defaults")
for c in "${configs[@]}"; do
	args=table=off
	[ "$c" = defaults ] || args="$args,$c"
	[ "$c" = defaults ] && args="$args,stats=$work/stats.json"
	[ "$c" = slots=256,warmup=0,around=256 ] && args="$args,stats=$work/private.json"
	rc=0
	t0=$(date +%s)
	scripts/run-guest.sh --guest android --quiet --plugin "$args" --log "$work/$c.log" android \
		>/dev/null 2>"$work/$c.err" || rc=$?
	[ "$rc" = 0 ] || { cat "$work/$c.err"; results "$work/$c.log"; fail "android failed with $c (rc=$rc)"; }
	results "$work/$c.log" | sort > "$work/$c.res"
	echo "android with $c: $(grep -c ' result ' "$work/$c.res") result lines, $(( $(date +%s) - t0 ))s"
done
for c in "${configs[@]:1}"; do
	diff -u "$work/hspt=off.res" "$work/$c.res" || fail "android: $c differs from hspt=off"
done
echo "android: result lines identical with ${configs[*]}"

res="$work/defaults.res"
want() { grep -qE "$1" "$res" || { cat "$res"; fail "no result line matching: $1"; }; }
want '^@@HSPT result init binder devices=3 binder_linux$'
want '^@@HSPT result init boot_completed=1 '
want '^@@HSPT result zygote preload objects=[0-9]+ heap_kb=[0-9]{5,} classes=[0-9]+ image_kb=[0-9]{4,} '
want '^@@HSPT result am attached=40 reports=40 deaths=40 alive=0 peak=40 events=240 .* failed=0$'
want '^@@HSPT result am binder_calls=[0-9]{4,} jit_generated=[0-9]{4,} jit_calls=[0-9]{4,} jit_remaps=40 wrong=0$'
want '^@@HSPT result dumpsys binder services=3 '
want '^@@HSPT result dumpsys hwbinder services=1 '
want '^@@HSPT result dumpsys echo calls=720 '
want '^@@HSPT result dumpsys storage fds_in=40 fds_out=40 '
want '^@@HSPT result logd messages=[0-9]+ tags=11 '
want '^@@HSPT result logd tag=app messages=240$'
# every program wrote to the log daemon (after reading the properties)
for d in property_service servicemanager system_server mediaserver vendor.light zygote am dumpsys init; do
	want "^@@HSPT result logd tag=$d messages=[1-9]"
done
grep -q 'error' "$res" && fail "error lines: $(grep error "$res")"
# Alive at once: the 40 apps and the daemons (user processes in /proc).
peak=$(sed -n 's/^@@HSPT result am apps=40 rounds=3 alive=40 processes=\([0-9]*\)$/\1/p' "$res")
[ -n "$peak" ] && [ "$peak" -ge 40 ] || fail "fewer than 40 processes alive at the peak (${peak:-none})"
echo "android: $peak processes alive at the peak"

python3 - "$work/stats.json" "$work/private.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
users = [p for p in d["processes"] if p["user_accesses"] > 0]
apps = [p for p in users if p["label"] == "zygote" and p["label_source"] == "fork"]
assert len(apps) >= 40, f"{len(apps)} zygote children with user code in the statistics, want 40"
labels = {p["label"] for p in users if p["label_source"] == "exec"}
want = {"zygote", "system_server", "mediaserver", "servicemanager", "logd", "property_service", "vendor.light", "am"}
assert want <= labels, f"daemons missing from the statistics: {want - labels}"
print(f"statistics: {len(users)} processes ran user code, {len(apps)} of them apps forked by the zygote")
# With a window each from the first instruction (Private SPT, no warm-up;
# under the defaults the 20 ms warm-up keeps short-lived apps on the
# softmmu, as it may or may not), every app ran through its window.
p = json.load(open(sys.argv[2]))
apps = [q for q in p["processes"] if q["label"] == "zygote" and q["label_source"] == "fork" and q["user_accesses"] > 0]
used = [q for q in apps if q["window_accesses"] > 0]
assert len(apps) >= 40 and len(used) == len(apps), f"{len(used)} of {len(apps)} apps used their window with slots=256"
print(f"slots=256,warmup=0: all {len(apps)} apps ran through their windows")
PY
