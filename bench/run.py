#!/usr/bin/env python3
"""The benchmark: generate configs of N tenants, build each with jardin
cold, warm and with one tenant changed, and evaluate the same contracts and
render functions with the stock `nickel export` as a reference.

Usage: bench/run.py [N ...]            (default: 100 1000 10000)
       bench/run.py --no-nickel 10000  (skip the reference)

Needs the distribution build (`cargo build --profile dist`); the reference needs the
`nickel` CLI (`cargo install nickel-lang-cli@1.18.0 --locked`). Prints a
Markdown table for docs/PERFORMANCE.md. With `--runs N`, the cold build,
the uncached check and the reference run N times each, one after the other
in turn, and the table gives each one's median run and the median of the
ratios of the runs made side by side.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JARDIN = os.path.join(REPO, "target", "dist", "jardin")
NICKEL = "nickel"


def measure(cmd, **kw):
    """Wall time (s) and peak RSS (MB) of one command."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def rounds(cmds, runs):
    """Runs each (name, cmd, setup, kw) once per round, `runs` rounds, and
    returns each command's median run by wall time, with the median of the
    per-round ratios of every command to the first. The commands alternate
    so that the machine's slow spells (one run here can be 15% off the
    next) fall on all of them alike."""
    results = {name: [] for name, *_ in cmds}
    for _ in range(runs):
        for name, cmd, setup, kw in cmds:
            if setup:
                setup()
            results[name].append(measure(cmd, **kw))
    first = cmds[0][0]
    out = {}
    for name, series in results.items():
        ratios = [other[0] / mine[0] for mine, other in zip(results[first], series)]
        out[name] = sorted(series)[len(series) // 2]
        out[name + "/ratio"] = statistics.median(ratios)
    return out


def median(cmd, runs, setup=None, **kw):
    """The run with the median wall time out of `runs`."""
    return rounds([("x", cmd, setup, kw)], runs)["x"]


def reference_program(root):
    """One Nickel program importing every tenant, with the same contracts
    and render functions jardin applies."""
    tenants = sorted(os.listdir(os.path.join(root, "tenants")))
    lines = [
        'let jardin = import "jardin/std.ncl" in',
        'let collective = (import "jardin.ncl") | jardin.Collective in',
        "{",
    ]
    for t in tenants:
        name = t[:-4]
        lines.append(f'  "{name}" = jardin.compile_tenant collective ((import "tenants/{t}") | jardin.Tenant),')
    lines.append("}")
    path = os.path.join(root, "reference.ncl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def bench(n, work, with_nickel, runs):
    root = os.path.join(work, f"n{n}")
    subprocess.run([sys.executable, os.path.join(REPO, "bench", "generate.py"), str(n), root], check=True)
    cache = os.path.join(work, f"cache{n}")
    out = os.path.join(work, f"out{n}")
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [JARDIN, "-q", "--cache-dir", cache, "build", root, "-o", out]
    row = {"n": n}

    def empty():
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)

    measured = [
        ("cold", cmd, empty, {}),
        ("check", [JARDIN, "-q", "--no-cache", "check", root], None, {}),
    ]
    if with_nickel and shutil.which(NICKEL):
        lib = os.path.join(work, "stdlib")
        subprocess.run([JARDIN, "stdlib", "path", "--write", lib], check=True, stdout=subprocess.DEVNULL)
        prog = reference_program(root)
        measured.append(("nickel", [NICKEL, "export", "--import-path", lib, prog], None, {"cwd": root}))
    row.update(rounds(measured, runs))
    empty()
    measure(cmd)
    row["warm"] = median(cmd, runs)
    victim = os.path.join(root, "tenants", "asso-00000.ncl")
    with open(victim) as f:
        text = f.read()
    with open(victim, "w") as f:
        f.write(text.replace('display_name = "Association 0"', 'display_name = "Association zéro"'))
    row["one"] = measure(cmd)
    return row


def fmt(m):
    return f"{m[0]:.2f} s, {m[1]:.0f} MB" if m else "n/a"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 10000])
    p.add_argument("--no-nickel", action="store_true")
    p.add_argument("--work", default=None, help="where configs and outputs go (default: a temp dir)")
    p.add_argument("--runs", type=int, default=1, help="report the median of this many runs (cold, warm, check, reference)")
    p.add_argument("--jardin", default=JARDIN, help="the jardin binary (default: the distribution build)")
    p.add_argument("--nickel", default=NICKEL, help="the nickel CLI (default: from PATH)")
    a = p.parse_args()
    globals().update(JARDIN=a.jardin, NICKEL=a.nickel)
    if not os.path.exists(JARDIN):
        sys.exit("build first: cargo build --profile dist")
    work = a.work or tempfile.mkdtemp(prefix="jardin-bench-")
    rows = [bench(n, work, not a.no_nickel, a.runs) for n in a.sizes]
    print("| tenants | jardin cold | warm (nothing changed) | one tenant changed | check, no cache | `nickel export` reference | cold vs reference |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        # The median of the ratios of runs made side by side.
        ratio = f"{r['nickel/ratio']:.1f}× faster" if r.get("nickel") else "n/a"
        print(f"| {r['n']:,} | {fmt(r['cold'])} | {fmt(r['warm'])} | {fmt(r['one'])} | {fmt(r['check'])} | {fmt(r.get('nickel'))} | {ratio} |")


if __name__ == "__main__":
    main()
