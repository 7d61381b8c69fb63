#!/usr/bin/env python3
"""Side-by-side benchmark: stock QEMU, patched QEMU with hspt=off, HSPT, and
QEMU user mode, on workloads of the guest, under one or more guest kernels,
and (group android) on workloads of the Android-shaped guest
(scripts/run-guest.sh --guest android), under the first kernel only.

usage: scripts/bench.py [--runs N] [--workloads A,B] [--configs X,Y]
                        [--kernels K,L] [--other-configs X,Y] [--out DIR]

Kernels (guest/kernels; KERNELS= of `make bench`): bookworm (Debian 12's
armmp, the default guest), trixie (Debian 13's armmp), trixie-lpae (Debian
13's armmp-lpae: long-descriptor page tables, LPAE). The first kernel of
--kernels (default bookworm,trixie-lpae) runs every configuration of
--configs; the others run --other-configs (default stock,defaults: what
users judge the defaults by; "all" = --configs).
The android group's workloads boot the Android-shaped guest
(build/guest-android, scripts/build-android-guest.sh), which is built for
the default kernel only: they run under the first kernel of --kernels,
which must then be the default (with the default --workloads, the group is
left out, with a notice, when it is not), and under no other.
user and native run no guest kernel: they run once, and are compared with
the first kernel's stock (their rows have kernel null). Every result row, the
summary (a section per kernel) and the meta (guest_kernels: package and
version of each) name the kernels.

Configurations:
  stock      unpatched qemu-system-arm, no plugin
  defaults   patched qemu-system-arm, the plugin with its default settings
             (what users get: HSPT with 16 windows, statistics counted)
  off        the same with hspt=off: no windows, the softmmu parts
             (precise DACR flushes, TLB growth) and the statistics only
  slots=N    HSPT with N windows (1 = Shared SPT, 256 = Private SPT)
  BASE+K=V   any of the three with more plugin arguments joined by '+', to
             isolate one part: e.g. defaults+precise=off, off+tlb_grow=off
  user       qemu-arm (user mode, built from the same QEMU source), for
             workloads that are a single static program (see USER_COMMANDS)
  baseline   the defaults with another build of the plugin, the file named by
             $BASELINE_PLUGIN, and of the patched QEMU if $BASELINE_QEMU names
             one (e.g. both built from an earlier commit): the same run then
             compares a change with its base
  native     the same C source built for the host (gcc -O2) and run
             directly, for the project's own kernels (see NATIVE_COMMANDS):
             the floor no emulator can go below on this machine
Plugin runs add only table=off (the exit table is not timed work).

Two times are measured per run:
  guest_ms   the workload's own time, from its "@@HSPT time NAME ms=N" line
             (the sum if several; only the line TIME_OF names, if it names one)
             (guest CLOCK_MONOTONIC; without -icount it follows the host
             clock); for user mode, the same line printed by the program
  wall_s     the whole QEMU process (boot and power-off included)
and, from every guest run, the boot time: kernel start to init (the init's
"@@HSPT time kernel-to-init" line, guest clock), summarised per
configuration over all its runs.
Each configuration is run --runs times (default 3), interleaved (run 1 of
every configuration under every kernel, then run 2, ...), so that drifts in
the machine's speed hit all configurations alike. Medians and ratios are reported.
Results go to DIR (default bench/results): a JSON file with every sample
and a Markdown summary, named by date.
"""

import argparse
import datetime
import hashlib
import json
import math
import tempfile
import os
import platform
import re
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(TOP, "build/guest/root")
# Benchmark workloads (guest/workloads/NAME, guest/android/workloads/NAME) by group.
GROUPS = {
    "single": ["memwalk", "bench-gzip", "bench-xz", "bench-sqlite", "bench-lua"],
    "multi": ["bench-parallel", "bench-pipeline", "bench-zygote"],
    "churn": ["bench-churn"],
    # The Android-shaped guest (scripts/run-guest.sh --guest android).
    "android": ["bench-binder-small", "bench-binder-4k", "bench-app-launch", "bench-jit", "bench-android-boot"],
}
ANDROID = set(GROUPS["android"])
# Workloads timed by one of their time lines only (the Android-shaped
# guest's init prints the boot's in every workload): workload -> line name.
TIME_OF = {"bench-binder-small": "binder-small", "bench-binder-4k": "binder-4k",
           "bench-app-launch": "app-launch", "bench-jit": "jit-warmup", "bench-android-boot": "android-boot"}


ALL_WORKLOADS = ",".join(sum(GROUPS.values(), []))
# The Android-shaped guest's image (scripts/build-android-guest.sh).
ANDROID_GUEST = "build/guest-android"


def workload_dir(workload):
    return os.path.join(TOP, "guest/android/workloads" if workload in ANDROID else "guest/workloads")


def android_kernels():
    """The guest kernels the Android-shaped guest is built for: the default
    one (scripts/build-android-guest.sh; run-guest.sh refuses the others)."""
    return [default_kernel()]


SQL = ("create table t(k integer primary key, v); with recursive c(i) as (select 1 union all "
       "select i+1 from c limit 200000) insert into t select i, (i*7919)%104729 from c; "
       "create index tv on t(v); select count(*), sum(v), count(distinct v), max(k) from t where v % 3 = 1;")
LUA = ("local t={} for i=1,600000 do t[i]=(i*7919)%1000003 end table.sort(t) local s=0 "
       "for i=1,#t,7 do s=(s+t[i])%4294967296 end print(s)")
# Single-process workloads under qemu-arm (user mode, the guest image as
# sysroot): (program and arguments, name in the result line, input data
# as `seq 1 N`, how the guest reports the output: sha16 or stdout lines).
USER_COMMANDS = {
    "memwalk": (["/hspt/bin/memwalk", "16", "4000000"], None, None, "lines"),
    "memwalk-small": (["/hspt/bin/memwalk", "1", "20000000"], None, None, "lines"),
    "bench-gzip": (["/usr/bin/gzip", "-9", "-n", "-c", "DATA"], "gzip", 400000, "sha16"),
    "bench-xz": (["/usr/bin/xz", "-6", "-T1", "-c", "DATA"], "xz", 400000, "sha16"),
    "bench-sqlite": (["/usr/bin/sqlite3", ":memory:", SQL], "sqlite", None, "sha16"),
    "bench-lua": (["/usr/bin/lua5.4", "-e", LUA], "lua", None, "sha16"),
}
# The project's own kernels built for the host: (C source, arguments).
NATIVE_COMMANDS = {
    "memwalk": ("tests/guest/memwalk.c", ["16", "4000000"]),
    "memwalk-small": ("tests/guest/memwalk.c", ["1", "20000000"]),
}
# Each part of the speed work switched off in turn, then the
# softmmu parts alone (windows off), then the ceilings.
DEFAULT_CONFIGS = ["stock", "defaults", "defaults+accesses=off", "defaults+accesses=exact",
                   "defaults+precise=off", "defaults+keep_global=off",
                   "defaults+revalidate=off", "defaults+tlb_grow=off",
                   "defaults+premap=off", "defaults+kernel=off",
                   "defaults+recheck_blocks=off", "defaults+kernel_code_walks=off",
                   "defaults+branch_cache=off", "off", "off+precise=off", "user", "native"]
DEFAULTS = "defaults"
# The configurations the kernels after the first run by default.
DEFAULT_OTHER_CONFIGS = ["stock", DEFAULTS]
# The configurations that run no guest kernel.
NO_KERNEL = ("user", "native")
TIME_RE = re.compile(r"^@@HSPT time (\S+) ms=(\d+)", re.M)
BOOT_TIME = "kernel-to-init"
RESULT_RE = re.compile(r"^@@HSPT result .*$", re.M)


def qemu_version():
    try:
        with open(os.path.join(TOP, "build/hspt/src/.hspt-origin")) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def host_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def guest_kernels():
    """The kernels of guest/kernels, the default first: [(name, image)]."""
    with open(os.path.join(TOP, "guest/kernels")) as f:
        return [(ln.split()[0], ln.split()[3]) for ln in f if ln.strip() and not ln.startswith("#")]


def default_kernel():
    return guest_kernels()[0][0]


def kernel_packages():
    """{name: {"image", "package", "version"}} of the images build/guest/MANIFEST lists."""
    out = {}
    try:
        with open(os.path.join(TOP, "build/guest/MANIFEST")) as f:
            for ln in f:
                w = ln.split()
                if len(w) == 5 and w[0] == "kernel":
                    out[w[1]] = {"image": w[2], "package": w[3], "version": w[4]}
    except OSError:
        pass
    return out


def run_system(workload, config, timeout, kernel):
    """One guest boot running `workload`; returns (guest_ms, wall_s, results, boot_ms)."""
    cmd = [os.path.join(TOP, "scripts/run-guest.sh"), "--quiet", "--timeout", str(timeout),
           "--kernel", kernel, "--log", os.path.join(TOP, "build/logs/bench.log")]
    if config == "stock":
        cmd += ["--qemu", "stock", "--no-plugin"]
    else:
        # "off+precise=off" -> hspt=off,precise=off: '+' joins plugin
        # arguments.
        base, *more = config.split("+")
        args = {"table": "off"}
        first = {"off": ["hspt=off"], "defaults": [], "baseline": []}.get(base, [base])
        for kv in first + more:
            key, value = kv.split("=", 1)
            args[key] = value
        cmd += ["--plugin", ",".join(f"{k}={v}" for k, v in args.items())]
    if workload in ANDROID:
        cmd += ["--guest", "android"]
    cmd.append(workload)
    env = dict(os.environ)
    if config.split("+")[0] == "baseline":
        env["HSPT_PLUGIN"] = baseline_plugin()
        if os.environ.get("BASELINE_QEMU"):
            env["HSPT_QEMU"] = os.path.abspath(os.environ["BASELINE_QEMU"])
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{workload} under {config} failed:\n{p.stdout}\n{p.stderr}")
    return parse(p.stdout, wall, TIME_OF.get(workload))


def baseline_plugin():
    path = os.environ.get("BASELINE_PLUGIN", "")
    if not path or not os.path.isfile(path):
        raise SystemExit("bench: configuration 'baseline' needs BASELINE_PLUGIN=FILE, a build of "
                         f"libhspt.so to compare with (got '{path}')")
    return os.path.abspath(path)


def run_user(workload, timeout, tmp):
    """The same program under qemu-arm; its output is checked like the
    guest's, and its time is the process's whole life."""
    qemu_arm = os.path.join(TOP, "build/user/build/qemu-arm")
    if not os.path.exists(qemu_arm):
        raise RuntimeError(f"{qemu_arm} is missing: run 'make qemu-user'")
    argv, name, seq_n, report = USER_COMMANDS[workload]
    data = os.path.join(tmp, f"data-{seq_n}")
    if seq_n and not os.path.exists(data):
        with open(data, "w") as f:
            f.write("".join(f"{i}\n" for i in range(1, seq_n + 1)))
    argv = [data if a == "DATA" else a for a in argv]
    cmd = [qemu_arm, "-L", ROOT, os.path.join(ROOT, argv[0].lstrip("/")), *argv[1:]]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{workload} under user mode failed: {p.stderr.decode(errors='replace')}")
    if report == "sha16":
        out = f"@@HSPT result {name} sha={hashlib.sha256(p.stdout).hexdigest()[:16]}\n"
        guest_ms = round(wall * 1000)
    else:
        out = p.stdout.decode(errors="replace")
        guest_ms = None
    g, _, results, _ = parse(out, wall)
    return (g if g is not None else guest_ms), wall, results, None


def run_native(workload, timeout, tmp):
    """The same C source built for the host and run directly."""
    src, args = NATIVE_COMMANDS[workload]
    exe = os.path.join(tmp, "native-" + os.path.basename(src)[:-2])
    if not os.path.exists(exe):
        cc = subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(TOP, src)], capture_output=True, text=True)
        if cc.returncode != 0:
            raise RuntimeError(f"cannot build {src} for the host: {cc.stderr}")
    t0 = time.monotonic()
    p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{workload} natively failed: {p.stderr}")
    return parse(p.stdout, wall)


def parse(out, wall, only=None):
    """only: the one time line that times the workload (TIME_OF)."""
    found = TIME_RE.findall(out)
    times = [int(ms) for name, ms in found if name != BOOT_TIME and (only is None or name == only)]
    if only is not None and len(times) != 1:
        raise RuntimeError(f"expected one '@@HSPT time {only}' line, found {len(times)}:\n{out}")
    boot = [int(ms) for name, ms in found if name == BOOT_TIME]
    results = sorted(RESULT_RE.findall(out))
    return (sum(times) if times else None), wall, results, (boot[0] if boot else None)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", 3)))
    ap.add_argument("--workloads", default=os.environ.get("WORKLOADS", ALL_WORKLOADS))
    ap.add_argument("--configs", default=os.environ.get("CONFIGS", ",".join(DEFAULT_CONFIGS)))
    ap.add_argument("--kernels", default=os.environ.get("KERNELS", f"{default_kernel()},trixie-lpae"))
    ap.add_argument("--other-configs", default=os.environ.get("OTHER_CONFIGS", ",".join(DEFAULT_OTHER_CONFIGS)))
    ap.add_argument("--out", default=os.path.join(TOP, "bench/results"))
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--render", metavar="JSON",
                    help="only remake the Markdown summary and the plot (and the derived parts of the JSON) "
                         "from a results file, without running anything")
    a = ap.parse_args()
    if a.render:
        with open(a.render) as f:
            data = json.load(f)
        rows, meta = data["rows"], data["meta"]
        # Files from before the kernels were recorded ran the default kernel.
        for r in rows:
            r.setdefault("kernel", None if r["config"] in NO_KERNEL else default_kernel())
        if "boot_ms_median_by_kernel" not in meta:
            meta["boot_ms_median_by_kernel"] = {default_kernel(): meta.get("boot_ms_median", {})}
        workloads = list(dict.fromkeys(r["workload"] for r in rows))
        kernels = (list(meta.get("guest_kernels") or {}) or
                   list(dict.fromkeys(r["kernel"] for r in rows if r["kernel"])) or [default_kernel()])
        report(meta, rows, workloads, kernels, a.render[:-len(".json")] if a.render.endswith(".json")
               else a.render)
        return
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    workloads = [w for w in a.workloads.split(",") if w]
    configs = [c for c in a.configs.split(",") if c]
    other_configs = configs if a.other_configs == "all" else [c for c in a.other_configs.split(",") if c]
    kernels = list(dict.fromkeys(k for k in a.kernels.split(",") if k))
    for w in workloads:
        if not os.access(os.path.join(workload_dir(w), w), os.X_OK):
            ap.error(f"no workload '{w}' in {os.path.relpath(workload_dir(w), TOP)}")
    for c in configs + other_configs:
        if c not in ("stock", "user", "native") and \
                not re.fullmatch(r"(defaults|baseline|off|slots=\d+)(\+[a-z_]+=[a-z0-9]+)*", c):
            ap.error(f"unknown configuration '{c}' (stock, defaults, baseline, off, slots=N, user, native; "
                     "defaults, off and slots=N take more plugin arguments after '+', "
                     "e.g. defaults+precise=off)")
    images = dict(guest_kernels())
    if not kernels:
        ap.error("no kernel named (--kernels, KERNELS=)")
    for k in kernels:
        if k not in images:
            ap.error(f"unknown guest kernel '{k}' (valid: {' '.join(images)})")
        if not os.path.exists(os.path.join(TOP, "build/guest", images[k])):
            ap.error(f"build/guest/{images[k]} is missing: run 'scripts/build-guest.sh --kernel {k}' "
                     f"(or make guest KERNEL={k})")
    android = [w for w in workloads if w in ANDROID]
    if android and kernels[0] not in android_kernels():
        if a.workloads != ALL_WORKLOADS:
            ap.error(f"the android workloads ({','.join(android)}) run under the first kernel of --kernels, "
                     f"which is {kernels[0]}: the Android-shaped guest is built for {' '.join(android_kernels())} "
                     f"only (scripts/build-android-guest.sh); put it first in --kernels (KERNELS=) or leave "
                     f"the android workloads out of --workloads (WORKLOADS=)")
        print(f"bench: leaving out the android group ({','.join(android)}): the Android-shaped guest is built for "
              f"{' '.join(android_kernels())} only, and the first kernel is {kernels[0]}", file=sys.stderr)
        workloads = [w for w in workloads if w not in ANDROID]
        android = []
        if not workloads:
            ap.error("no workload left to run")
    if android:
        for f in ("zImage", "initrd.cpio.gz"):
            if not os.path.exists(os.path.join(TOP, ANDROID_GUEST, f)):
                ap.error(f"{ANDROID_GUEST}/{f} is missing (the android workloads boot the Android-shaped guest): "
                         "run 'scripts/build-android-guest.sh' (or make android-guest)")

    # (kernel, workload, config); kernel None: user mode and native, which
    # run no guest kernel, once.
    configs_by_kernel = {k: [c for c in (configs if i == 0 else other_configs) if i == 0 or c not in NO_KERNEL]
                         for i, k in enumerate(kernels)}
    # The android workloads run under the first kernel only.
    plan = [(None if c in NO_KERNEL else k, w, c) for w in workloads for k in kernels for c in configs_by_kernel[k]
            if (c != "user" or w in USER_COMMANDS) and (c != "native" or w in NATIVE_COMMANDS)
            and (w not in ANDROID or k == kernels[0])]
    tmp = tempfile.mkdtemp(prefix="hspt-bench.")
    samples = {key: [] for key in plan}
    total = len(plan) * a.runs
    started = time.monotonic()
    n = 0
    for r in range(a.runs):
        for k, w, c in plan:
            n += 1
            print(f"[{n}/{total}] run {r + 1}: {w} under {c}{f', kernel {k}' if k else ''} ...", end="", flush=True,
                  file=sys.stderr)
            if c == "user":
                guest_ms, wall, results, boot_ms = run_user(w, a.timeout, tmp)
            elif c == "native":
                guest_ms, wall, results, boot_ms = run_native(w, a.timeout, tmp)
            else:
                guest_ms, wall, results, boot_ms = run_system(w, c, a.timeout, k)
            samples[(k, w, c)].append({"guest_ms": guest_ms, "wall_s": round(wall, 3), "results": results,
                                       "boot_ms": boot_ms})
            done = time.monotonic() - started
            print(f" guest {guest_ms} ms, wall {wall:.2f} s (about {done / n * (total - n) / 60:.0f} min left)",
                  file=sys.stderr)
    elapsed = time.monotonic() - started

    # The oracle holds in benchmarks too: identical results everywhere,
    # under each kernel (user mode and native are held to the first's).
    for k in kernels:
        for w in workloads:
            sets = {tuple(s["results"]) for (kk, ww, _), ss in samples.items()
                    if ww == w and (kk == k or (kk is None and k == kernels[0])) for s in ss}
            if len(sets) > 1:
                raise SystemExit(f"bench: {w} gave different results across configurations under kernel {k}: "
                                 f"{sets}")

    date = datetime.datetime.now(datetime.timezone.utc)
    packages = kernel_packages()
    meta = {
        "date": date.isoformat(timespec="seconds"),
        "host_cpu": host_cpu(),
        "host_cores": os.cpu_count(),
        "kernel": platform.release(),
        "qemu": qemu_version(),
        "runs": a.runs,
        "elapsed_s": round(elapsed, 1),
        # The guest kernels, in the order of the summary: the image and the
        # Debian package (build/guest/MANIFEST), and what each ran.
        "guest_kernels": {k: {**packages.get(k, {"image": images[k]}), "configs": configs_by_kernel[k]}
                          for k in kernels},
        # The effective options (RUNS=, CONFIGS=, WORKLOADS=, KERNELS=,
        # OTHER_CONFIGS= of `make bench` arrive through the environment,
        # not argv).
        "command": f"scripts/bench.py --runs {a.runs} --workloads {','.join(workloads)} "
                   f"--configs {','.join(configs)} --kernels {','.join(kernels)}"
                   + (f" --other-configs {','.join(other_configs)}" if len(kernels) > 1 else ""),
    }
    if any(c.split("+")[0] == "baseline" for cs in configs_by_kernel.values() for c in cs):
        meta["baseline_plugin"] = baseline_plugin()
        meta["baseline_qemu"] = os.environ.get("BASELINE_QEMU") or None
    rows = []
    for w in workloads:
        for k in kernels:
            stock = samples.get((k, w, "stock"), [])
            base = median(s["guest_ms"] for s in stock)
            base_wall = median(s["wall_s"] for s in stock)
            for c in configs_by_kernel[k]:
                kk = None if c in NO_KERNEL else k
                if (kk, w, c) not in samples:
                    continue
                ss = samples[(kk, w, c)]
                g, wl = median(s["guest_ms"] for s in ss), median(s["wall_s"] for s in ss)
                rows.append({
                    "kernel": kk, "workload": w, "config": c, "guest_ms_median": g, "wall_s_median": wl,
                    "speedup_vs_stock": round(base / g, 3) if base and g else None,
                    "wall_speedup_vs_stock": (round(base_wall / wl, 3) if base_wall and wl
                                              and c not in NO_KERNEL else None),
                    "samples": ss,
                })

    os.makedirs(a.out, exist_ok=True)
    meta["boot_ms_median_by_kernel"] = {
        k: {c: median(s["boot_ms"] for (kk, _, cc), ss in samples.items() if kk == k and cc == c for s in ss)
            for c in configs_by_kernel[k] if c not in NO_KERNEL}
        for k in kernels}
    # The default kernel's, as files before the kernels were recorded had it.
    meta["boot_ms_median"] = meta["boot_ms_median_by_kernel"].get(default_kernel(), {})
    report(meta, rows, workloads, kernels, os.path.join(a.out, date.strftime("%Y-%m-%dT%H%M%SZ")))


def kernel_rows(rows, kernel, first):
    """The rows of one kernel's section: its own, and with the first kernel
    user mode's and native's (compared with its stock)."""
    return [r for r in rows if r["kernel"] == kernel or (r["kernel"] is None and kernel == first)]


def kernel_title(meta, kernel):
    k = (meta.get("guest_kernels") or {}).get(kernel) or {}
    return f"{kernel} ({k['package']} {k['version']})" if k.get("package") else kernel


def report(meta, rows, workloads, kernels, stem):
    """Writes STEM.json (samples, medians, groups per kernel, bar checks),
    STEM.md and the plot, and prints the summary: the bars and README's
    table for the default kernel, then a section per kernel."""
    first = kernels[0]
    default = default_kernel()
    section = {k: kernel_rows(rows, k, first) for k in kernels}
    configs = {k: list(dict.fromkeys(r["config"] for r in section[k])) for k in kernels}
    boots = meta.get("boot_ms_median_by_kernel") or {}
    # Each kernel's groups of the workloads that ran under it (the android
    # group under the first kernel only).
    groups = {k: group_summary(section[k], [w for w in workloads if any(r["workload"] == w for r in section[k])],
                               configs[k]) for k in kernels}
    # The bars are the default kernel's (bench/HISTORY.md): judged on its runs only.
    checks = bar_checks(section[default], groups[default], boots.get(default, {})) if default in kernels else []
    with open(stem + ".json", "w") as f:
        json.dump({"meta": meta, "rows": rows, "groups": groups, "checks": checks}, f, indent=2)
    plot = None
    series = [(name if k == first else f"{name} ({k})", g["by_slots"])
              for k in kernels for name, g in groups[k].items() if g["by_slots"]]
    if series:
        plot = stem + "-slots.svg"
        with open(plot, "w") as f:
            f.write(svg_plot(series, meta))
    md = [f"# Benchmark {meta['date']}", "",
          f"- command: `{meta['command']}`",
          f"- host: {meta['host_cpu']}, {meta['host_cores']} cores, Linux {meta['kernel']}",
          f"- QEMU: {meta['qemu']}",
          f"- guest kernels: {', '.join(kernel_title(meta, k) for k in kernels)}",
          f"- {meta['runs']} runs per configuration, medians; total time {meta['elapsed_s'] / 60:.1f} min",
          "- time = the workload's own time (guest clock, `@@HSPT time` lines); wall = whole QEMU run, boot included",
          "- stock = unpatched QEMU; defaults = patched QEMU with the plugin's default settings; "
          "defaults+K=V = the same with one part changed; off = the plugin with hspt=off (softmmu parts only); "
          "slots=N = HSPT with N windows; user = qemu-arm; native = the same C source built for this host (the floor)",
          "",]
    if meta.get("baseline_plugin"):
        md[-1:-1] = [f"- baseline: {meta.get('baseline_note') or ''} (plugin {meta['baseline_plugin']}, "
                     f"QEMU {meta.get('baseline_qemu') or 'this run'})"]
    if default in kernels and checks:
        md += [f"Kernel {default}, the default guest:", ""]
        md += bar_lines(checks)
        md += readme_table(groups[default], boots.get(default, {}))
    for k in kernels:
        md += kernel_section(k, kernel_title(meta, k), section[k], groups[k], configs[k], boots.get(k, {}))
    if plot:
        md += ["", f"![speedup against the number of windows]({os.path.basename(plot)})"]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"\nbench: results in {stem}.json and {stem}.md")


def kernel_section(kernel, title, rows, groups, configs, boot):
    """One kernel's part of the summary."""
    md = ["", f"## Kernel {title}"]
    md += baseline_lines(rows, groups, configs)
    first = [r for r in rows if r["config"] == DEFAULTS and r["speedup_vs_stock"]]
    if first:
        md += ["", f"Default settings against stock QEMU (kernel {kernel}):", "",
               "| workload | stock | defaults | speedup |", "| --- | ---: | ---: | ---: |"]
        stock = {r["workload"]: r["guest_ms_median"] for r in rows if r["config"] == "stock"}
        md += [f"| {r['workload']} | {stock[r['workload']]:.0f} ms | {r['guest_ms_median']:.0f} ms | "
               f"{r['speedup_vs_stock']:.2f}x |" for r in first]
    md += android_lines(rows)
    md += ["", f"All configurations (kernel {kernel}):", "",
           "| workload | config | time | speedup vs stock | wall | wall speedup |",
           "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        g = f"{r['guest_ms_median']:.0f} ms" if r["guest_ms_median"] is not None else "-"
        sp = f"{r['speedup_vs_stock']:.2f}x" if r["speedup_vs_stock"] else "-"
        wsp = f"{r['wall_speedup_vs_stock']:.2f}x" if r["wall_speedup_vs_stock"] else "-"
        md.append(f"| {r['workload']} | {r['config']} | {g} | {sp} | {r['wall_s_median']:.2f} s | {wsp} |")
    md += ["", f"Geometric mean of the speedup over stock, per group (kernel {kernel}):", "",
           "| group | " + " | ".join(configs) + " |", "| --- |" + " ---: |" * len(configs)]
    for name, g in groups.items():
        cells = [f"{g['geomean'][c]:.2f}x" if g["geomean"].get(c) else "-" for c in configs]
        md.append(f"| {name} | " + " | ".join(cells) + " |")
    if any(boot.values()):
        md += ["", f"Boot, kernel start to init (guest clock), median over every run of the configuration "
               f"(kernel {kernel}):", "", "| config | boot | speedup vs stock |", "| --- | ---: | ---: |"]
        for c in configs:
            if boot.get(c):
                sp = f"{boot['stock'] / boot[c]:.2f}x" if boot.get("stock") else "-"
                md.append(f"| {c} | {boot[c]:.0f} ms | {sp} |")
    return md


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def group_summary(rows, workloads, configs):
    by = {(r["workload"], r["config"]): r for r in rows}
    out = {}
    for name, members in GROUPS.items():
        ws = [w for w in members if w in workloads]
        if not ws:
            continue
        # Only configurations that ran every workload of the group.
        gm = {c: geomean([by[(w, c)]["speedup_vs_stock"] for w in ws]) if all((w, c) in by for w in ws)
              else None for c in configs}
        by_slots = {int(c.split("=")[1]): v for c, v in gm.items()
                    if re.fullmatch(r"slots=\d+", c) and v}
        out[name] = {"workloads": ws, "geomean": gm, "by_slots": by_slots}
    return out


def readme_table(groups, boot):
    """The table of README.md's "Current speed": per group, the defaults
    and user mode against stock (geometric means), and boot."""
    if not any(g["geomean"].get(DEFAULTS) for g in groups.values()):
        return []
    out = ["", "Current speed (the table of README.md; geometric means of the speedups over stock):", "",
           "| group | workloads | defaults | user mode (`qemu-arm`) |", "| --- | --- | ---: | ---: |"]
    for name, g in groups.items():
        d, u = g["geomean"].get(DEFAULTS), g["geomean"].get("user")
        if d:
            out.append(f"| {name} | {', '.join(g['workloads'])} | **{d:.2f}x** | {f'{u:.2f}x' if u else '-'} |")
    if boot.get("stock") and boot.get(DEFAULTS):
        out.append(f"| boot | kernel start to init ({boot['stock']:.0f} ms stock, {boot[DEFAULTS]:.0f} ms "
                   f"defaults) | **{boot['stock'] / boot[DEFAULTS]:.2f}x** | - |")
    return out


def android_lines(rows):
    """The android group in its own units: binder round trips per second,
    milliseconds per app launch (counts from the result lines)."""
    out = []
    for r in rows:
        res = " ".join(r["samples"][0]["results"]) if r["samples"] else ""
        g = r["guest_ms_median"]
        calls = re.search(r"result binderbench size=(\d+) calls=(\d+)", res)
        apps = re.search(r"result am apps=(\d+) rounds=0 ", res)
        if g and calls:
            out.append(f"| {r['workload']} | {r['config']} | {int(calls[2]) * 1000 / g:.0f} round trips/s "
                       f"({calls[1]}-byte parcels) |")
        elif g and apps:
            out.append(f"| {r['workload']} | {r['config']} | {g / int(apps[1]):.1f} ms per launch |")
    if not out:
        return []
    return ["", "Android-shaped guest, in its own units (medians):", "", "| workload | config | rate |",
            "| --- | --- | ---: |"] + out


def baseline_lines(rows, groups, configs):
    """With a 'baseline' configuration: the defaults against it, per workload
    and per group (ratio of medians; above 1: the defaults are faster)."""
    if "baseline" not in configs or DEFAULTS not in configs:
        return []
    by = {(r["workload"], r["config"]): r["guest_ms_median"] for r in rows}
    out = ["", "Defaults against baseline (the same settings, the plugin and QEMU of $BASELINE_PLUGIN and "
           "$BASELINE_QEMU; ratio of medians, above 1: the defaults faster):", "",
           "| workload | baseline | defaults | ratio |", "| --- | ---: | ---: | ---: |"]
    ratios = {}
    for r in rows:
        w = r["workload"]
        if r["config"] == DEFAULTS and by.get((w, "baseline")) and r["guest_ms_median"]:
            ratios[w] = by[(w, "baseline")] / r["guest_ms_median"]
            out.append(f"| {w} | {by[(w, 'baseline')]:.0f} ms | {r['guest_ms_median']:.0f} ms | {ratios[w]:.3f} |")
    for name, g in groups.items():
        if all(w in ratios for w in g["workloads"]):
            out.append(f"| {name} (geometric mean) | | | {geomean([ratios[w] for w in g['workloads']]):.3f} |")
    return out


def bar_lines(checks):
    return ["Bars (default settings against stock; bench/HISTORY.md says where they come from):", ""] + \
        [f"- {'not judged' if c['met'] is None else 'met' if c['met'] else 'NOT met'}: {c['bar']} ({c['measured']})"
         for c in checks]


def bar_checks(rows, groups, boot):
    """The targets for the default settings against stock, stated as measured."""
    checks = []
    by = {(r["workload"], r["config"]): r for r in rows}
    for w, bar in (("bench-churn", 1.8), ("bench-zygote", 1.5), ("bench-pipeline", 1.3),
                   ("bench-binder-small", 2.0), ("bench-binder-4k", 2.0), ("bench-app-launch", 2.0),
                   ("bench-android-boot", 1.5)):
        r = by.get((w, DEFAULTS))
        if r and r["speedup_vs_stock"]:
            checks.append({"bar": f"{w}: defaults at least {bar}x faster than stock",
                           "measured": f"{r['speedup_vs_stock']:.2f}x", "met": r["speedup_vs_stock"] >= bar})
    for name, bar in (("multi", 1.4), ("single", 1.6)):
        group = groups.get(name, {})
        g = group.get("geomean", {}).get(DEFAULTS)
        if g:
            ran = group["workloads"]
            whole = len(ran) == len(GROUPS[name])
            # A bar about a group is judged on the whole group only.
            checks.append({"bar": f"{name} group: geometric mean of defaults at least {bar}x stock",
                           "measured": f"{g:.2f}x" + ("" if whole else
                                                      f" over {len(ran)} of its {len(GROUPS[name])} workloads"),
                           "met": (g >= bar) if whole else None})
    mine = [r for r in rows if r["config"] == DEFAULTS and r["speedup_vs_stock"]]
    if mine:
        slow = [f"{r['workload']} {r['speedup_vs_stock']:.2f}x" for r in mine if r["speedup_vs_stock"] < 1]
        checks.append({"bar": "no workload slower than stock with the defaults",
                       "measured": ", ".join(slow) if slow else "none slower", "met": not slow})
    if boot.get("stock") and boot.get(DEFAULTS):
        sp = boot["stock"] / boot[DEFAULTS]
        checks.append({"bar": "boot (kernel start to init) at least 1.3x faster than stock",
                       "measured": f"{sp:.2f}x ({boot['stock']:.0f} ms vs {boot[DEFAULTS]:.0f} ms)",
                       "met": sp >= 1.3})
    nocount = DEFAULTS + "+accesses=off"
    pairs = [(by[(w, DEFAULTS)]["guest_ms_median"], by[(w, nocount)]["guest_ms_median"])
             for (w, c) in by if c == DEFAULTS and (w, nocount) in by]
    ratios = [a / b for a, b in pairs if a and b]
    if ratios:
        cost = geomean(ratios) - 1
        checks.append({"bar": "statistics cost nothing measurable: defaults within 3% of defaults+accesses=off",
                       "measured": f"{100 * cost:+.1f}% (geometric mean over {len(ratios)} workloads)",
                       "met": cost <= 0.03})
    return checks


def svg_plot(series, meta):
    """Speedup over stock against the number of windows (log scale), one
    line per (name, {slots: speedup}) of series."""
    w, h, left, bottom, top, right = 640, 400, 60, 50, 40, 150
    ymax = max(max(v.values()) for _, v in series)
    ymax = max(1.2, math.ceil(ymax * 5 + 0.5) / 5)
    xs = sorted({k for _, v in series for k in v})
    def px(k):
        return left + (w - left - right) * (math.log2(k) / max(1, math.log2(max(xs))))
    def py(v):
        return h - bottom - (h - bottom - top) * v / ymax
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    el = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
          f'<rect width="{w}" height="{h}" fill="white"/>',
          f'<text x="{w / 2 - 60}" y="20" font-size="14">HSPT speedup over stock QEMU</text>',
          f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
          f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>',
          f'<text x="{(w - right + left) / 2 - 70}" y="{h - 18}">windows (slots), log scale</text>',
          f'<text x="12" y="{top - 10}">speedup (geomean)</text>']
    for k in xs:
        el.append(f'<text x="{px(k) - 8}" y="{h - bottom + 16}">{k}</text>')
    steps = int(ymax / 0.2)
    for i in range(steps + 1):
        v = i * 0.2
        el.append(f'<line x1="{left - 4}" y1="{py(v):.1f}" x2="{w - right}" y2="{py(v):.1f}" stroke="#ddd"/>')
        el.append(f'<text x="{left - 36}" y="{py(v) + 4:.1f}">{v:.1f}x</text>')
    el.append(f'<line x1="{left}" y1="{py(1):.1f}" x2="{w - right}" y2="{py(1):.1f}" stroke="#888" stroke-dasharray="4"/>')
    for i, (name, v) in enumerate(series):
        c = colors[i % len(colors)]
        pts = " ".join(f"{px(k):.1f},{py(v[k]):.1f}" for k in sorted(v))
        el.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        for k in sorted(v):
            el.append(f'<circle cx="{px(k):.1f}" cy="{py(v[k]):.1f}" r="3" fill="{c}"/>')
        el.append(f'<text x="{w - right + 10}" y="{top + 20 + 18 * i}" fill="{c}">{name}</text>')
    el.append(f'<text x="{left}" y="{h - 3}" font-size="10" fill="#555">{meta["date"]}, {meta["host_cpu"][:60]}</text>')
    el.append("</svg>")
    return "\n".join(el) + "\n"


if __name__ == "__main__":
    main()
