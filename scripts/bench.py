#!/usr/bin/env python3
"""Side-by-side benchmark: stock QEMU, patched QEMU with hspt=off, HSPT, and
QEMU user mode, on workloads of the default guest.

usage: scripts/bench.py [--runs N] [--workloads A,B] [--configs X,Y] [--out DIR]

Configurations:
  stock      unpatched qemu-system-arm, no plugin
  off        patched qemu-system-arm, plugin with hspt=off (statistics only)
  slots=N    patched qemu-system-arm, HSPT with N windows
  user       qemu-arm (user mode, built from the same QEMU source), for
             workloads that are a single static program (see USER_COMMANDS)
All plugin runs use accesses=off,table=off, so that what is timed is the
emulation, not the statistics.

Two times are measured per run:
  guest_ms   the workload's own time, from its "@@HSPT time NAME ms=N" line
             (guest CLOCK_MONOTONIC; without -icount it follows the host
             clock); for user mode, the same line printed by the program
  wall_s     the whole QEMU process (boot and power-off included)
Each configuration is run --runs times (default 3), interleaved (run 1 of
every configuration, then run 2, ...), so that drifts in the machine's
speed hit all configurations alike. Medians and ratios are reported.
Results go to DIR (default bench/results): a JSON file with every sample
and a Markdown summary, named by date.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUEST_BIN = os.path.join(TOP, "build/guest/root/hspt/bin")
# Workloads that are one static program, runnable under qemu-arm as well.
USER_COMMANDS = {
    "memwalk": ["memwalk", "16", "4000000"],
    "memwalk-small": ["memwalk", "1", "20000000"],
}
DEFAULT_CONFIGS = ["stock", "off", "slots=8", "user"]
TIME_RE = re.compile(r"^@@HSPT time (\S+) ms=(\d+)", re.M)
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


def run_system(workload, config, timeout):
    """One guest boot running `workload`; returns (guest_ms, wall_s, results)."""
    cmd = [os.path.join(TOP, "scripts/run-guest.sh"), "--quiet", "--timeout", str(timeout),
           "--log", os.path.join(TOP, "build/logs/bench.log")]
    if config == "stock":
        cmd += ["--qemu", "stock", "--no-plugin"]
    else:
        extra = "hspt=off" if config == "off" else config
        cmd += ["--plugin", f"accesses=off,table=off,{extra}"]
    cmd.append(workload)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{workload} under {config} failed:\n{p.stdout}\n{p.stderr}")
    return parse(p.stdout, wall)


def run_user(workload, timeout):
    qemu_arm = os.path.join(TOP, "build/user/build/qemu-arm")
    if not os.path.exists(qemu_arm):
        raise RuntimeError(f"{qemu_arm} is missing: run 'make qemu-user'")
    prog, *args = USER_COMMANDS[workload]
    t0 = time.monotonic()
    p = subprocess.run([qemu_arm, os.path.join(GUEST_BIN, prog), *args],
                       capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{workload} under user mode failed:\n{p.stdout}\n{p.stderr}")
    return parse(p.stdout, wall)


def parse(out, wall):
    times = [int(ms) for _, ms in TIME_RE.findall(out)]
    results = sorted(RESULT_RE.findall(out))
    return (sum(times) if times else None), wall, results


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", 3)))
    ap.add_argument("--workloads", default=os.environ.get("WORKLOADS", "memwalk"))
    ap.add_argument("--configs", default=os.environ.get("CONFIGS", ",".join(DEFAULT_CONFIGS)))
    ap.add_argument("--out", default=os.path.join(TOP, "bench/results"))
    ap.add_argument("--timeout", type=int, default=900)
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    workloads = [w for w in a.workloads.split(",") if w]
    configs = [c for c in a.configs.split(",") if c]
    for w in workloads:
        if not os.access(os.path.join(TOP, "guest/workloads", w), os.X_OK):
            ap.error(f"no workload '{w}' in guest/workloads")
    for c in configs:
        if c not in ("stock", "off", "user") and not re.fullmatch(r"slots=\d+", c):
            ap.error(f"unknown configuration '{c}' (stock, off, slots=N, user)")

    plan = [(w, c) for w in workloads for c in configs if c != "user" or w in USER_COMMANDS]
    samples = {(w, c): [] for w, c in plan}
    total = len(plan) * a.runs
    started = time.monotonic()
    n = 0
    for r in range(a.runs):
        for w, c in plan:
            n += 1
            print(f"[{n}/{total}] run {r + 1}: {w} under {c} ...", end="", flush=True, file=sys.stderr)
            guest_ms, wall, results = run_user(w, a.timeout) if c == "user" else run_system(w, c, a.timeout)
            samples[(w, c)].append({"guest_ms": guest_ms, "wall_s": round(wall, 3), "results": results})
            print(f" guest {guest_ms} ms, wall {wall:.2f} s", file=sys.stderr)
    elapsed = time.monotonic() - started

    # The oracle holds in benchmarks too: identical results everywhere.
    for w in workloads:
        sets = {tuple(s["results"]) for (ww, _), ss in samples.items() if ww == w for s in ss}
        if len(sets) != 1:
            raise SystemExit(f"bench: {w} gave different results across configurations: {sets}")

    date = datetime.datetime.now(datetime.timezone.utc)
    meta = {
        "date": date.isoformat(timespec="seconds"),
        "host_cpu": host_cpu(),
        "host_cores": os.cpu_count(),
        "kernel": platform.release(),
        "qemu": qemu_version(),
        "runs": a.runs,
        "elapsed_s": round(elapsed, 1),
        "command": "scripts/bench.py " + " ".join(sys.argv[1:]),
    }
    rows = []
    for w in workloads:
        base = median(s["guest_ms"] for s in samples.get((w, "stock"), []))
        base_wall = median(s["wall_s"] for s in samples.get((w, "stock"), []))
        for c in configs:
            if (w, c) not in samples:
                continue
            ss = samples[(w, c)]
            g, wl = median(s["guest_ms"] for s in ss), median(s["wall_s"] for s in ss)
            rows.append({
                "workload": w, "config": c, "guest_ms_median": g, "wall_s_median": wl,
                "speedup_vs_stock": round(base / g, 3) if base and g else None,
                "wall_speedup_vs_stock": round(base_wall / wl, 3) if base_wall and wl and c != "user" else None,
                "samples": ss,
            })

    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, date.strftime("%Y-%m-%dT%H%M%SZ") + "-" + "+".join(workloads))
    with open(stem + ".json", "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    md = [f"# Benchmark {meta['date']}", "",
          f"- command: `{meta['command']}`",
          f"- host: {meta['host_cpu']}, {meta['host_cores']} cores, Linux {meta['kernel']}",
          f"- QEMU: {meta['qemu']}",
          f"- {a.runs} runs per configuration, medians; total time {elapsed:.0f} s", "",
          "| workload | config | workload time (guest clock) | speedup vs stock | whole run (wall) | wall speedup vs stock |",
          "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        g = f"{r['guest_ms_median']:.0f} ms" if r["guest_ms_median"] is not None else "-"
        sp = f"{r['speedup_vs_stock']:.2f}x" if r["speedup_vs_stock"] else "-"
        wsp = f"{r['wall_speedup_vs_stock']:.2f}x" if r["wall_speedup_vs_stock"] else "-"
        md.append(f"| {r['workload']} | {r['config']} | {g} | {sp} | {r['wall_s_median']:.2f} s | {wsp} |")
    with open(stem + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"\nbench: results in {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
