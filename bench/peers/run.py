#!/usr/bin/env python3
"""The peer benchmark: one workload, rendered by jardin, `nickel export` and
jrsonnet, in turns, on the same machine.

Workload: N tenants with 3 to 5 web apps each; per app a Namespace, a
Deployment, a Service, an Ingress, a PodDisruptionBudget and three
NetworkPolicies (the objects jardin writes for bench/peers/catalog/web.ncl).
The peers read the same tenants as JSON and render them with our own
programs (web.ncl, web.jsonnet); before timing, the script checks that both
peers' objects are equal to jardin's, object by object.

Usage: bench/peers/run.py [N ...] [--runs R] [--work DIR]
         [--jardin PATH] [--nickel PATH] [--python PATH]

Needs the distribution build of jardin (`cargo build --profile dist`), the
`nickel` CLI (`cargo install nickel-lang-cli@1.18.0 --locked`) and jrsonnet's
Python binding (`pip install rjsonnet==0.5.6`). Prints a Markdown table for
docs/PERFORMANCE.md: each cell the median of R runs, wall time and peak
memory, and how many times faster jardin's cold build is than each peer
(the median of the ratios of runs taken side by side).
"""
import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

COLLECTIVE = """{
  name = "Peers",
  contact = "admin@peers.example",
  defaults = { plan = "web", backup = { target = "offsite", encryption_key = { generate = {} } } },
  plans = { web = { quotas = { cpu = "16", memory = "32Gi", storage = "10Gi", max_apps = 8 } } },
  clusters = {
    one = {
      location = "paris",
      ingress = { ipv4 = ["198.51.100.10"], hostname = "ingress.one.peers.example" },
      storage_classes = { rwo = "ceph-rbd" },
      capacity = { cpu = "%(cpu)d", memory = "%(mem)dGi", storage = "100Ti", nodes = 1000 },
      capabilities = ["cert-manager"],
      kubernetes_api.addresses = ["10.0.0.1/32"],
      services = {},
    },
  },
  backup_targets.offsite = {
    endpoint = "https://s3.backup.peers.example", bucket = "backups", location = "lyon",
    credentials = { ref = { name = "backup-s3", key = "credentials" } },
  },
}
"""

APPS = ["www", "blog", "shop", "docs", "wiki"]


def generate(n, work, seed=1):
    """Writes the jardin root, the tenants as JSON, and the peers' mains."""
    rng = random.Random(seed)
    if os.path.exists(work):
        shutil.rmtree(work)
    root = os.path.join(work, "jardin")
    os.makedirs(os.path.join(root, "tenants"))
    os.makedirs(os.path.join(root, "catalog"))
    os.makedirs(os.path.join(work, "data"))
    shutil.copy(os.path.join(HERE, "catalog", "web.ncl"), os.path.join(root, "catalog", "web.ncl"))
    with open(os.path.join(root, "jardin.ncl"), "w") as f:
        f.write(COLLECTIVE % {"cpu": max(64, n * 2), "mem": max(64, n * 2)})
    ids = []
    for i in range(n):
        tid = f"t{i:05d}"
        zone = f"{tid}.example.org"
        apps = {name: {"host": f"{name}.{zone}", "size": rng.choice(["s", "m"])}
                for name in APPS[: rng.randint(3, 5)]}
        with open(os.path.join(work, "data", f"{tid}.json"), "w") as f:
            json.dump({"id": tid, "apps": apps}, f)
        body = ", ".join(f'{k} = {{ app = "web", host = "{v["host"]}", size = "{v["size"]}" }}'
                         for k, v in apps.items())
        with open(os.path.join(root, "tenants", f"{tid}.ncl"), "w") as f:
            f.write(f'{{ id = "{tid}", display_name = "Tenant {i}", cluster = "one", '
                    f'zones = ["{zone}"], apps = {{ {body} }} }}\n')
        ids.append(tid)
    with open(os.path.join(work, "main.ncl"), "w") as f:
        f.write(f'let web = import "{os.path.join(HERE, "web.ncl")}" in\n{{\n')
        for tid in ids:
            f.write(f'  "{tid}" = web.objects (import "data/{tid}.json"),\n')
        f.write("}\n")
    with open(os.path.join(work, "main.jsonnet"), "w") as f:
        f.write(f"local web = import '{os.path.join(HERE, 'web.jsonnet')}';\n{{\n")
        for tid in ids:
            f.write(f"  '{tid}': web.objects(import 'data/{tid}.json'),\n")
        f.write("}\n")


def commands(work, a):
    out = os.path.join(work, "out")
    jardin = [a.jardin, "--no-cache", "-q", "build", os.path.join(work, "jardin"), "-o", out]
    nickel = [a.nickel, "export", "--format", "json", os.path.join(work, "main.ncl"),
              "-o", os.path.join(work, "nickel.json")]
    jsonnet = [a.python, "-c",
               "import rjsonnet, sys; open(sys.argv[2], 'w').write(rjsonnet.evaluate_file(sys.argv[1]))",
               os.path.join(work, "main.jsonnet"), os.path.join(work, "jsonnet.json")]

    def clean():
        if os.path.exists(out):
            shutil.rmtree(out)
    return [("jardin", jardin, clean), ("nickel export", nickel, None), ("jrsonnet", jsonnet, None)]


def measure(cmd):
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def same_objects(work, limit=1000):
    """Every object either peer wrote is, field for field, jardin's: for the
    first `limit` tenants (reading jardin's YAML is the slow part), and the
    peers agree with each other on all of them."""
    import yaml
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    peers = {}
    for peer in ["nickel", "jsonnet"]:
        with open(os.path.join(work, f"{peer}.json")) as f:
            peers[peer] = json.load(f)
    if peers["nickel"] != peers["jsonnet"]:
        sys.exit("nickel export and jrsonnet disagree")
    count = 0
    for tenant, objects in sorted(peers["nickel"].items())[:limit]:
        for key, obj in objects.items():
            path = os.path.join(work, "out", "k8s", "one", key + ".yaml")
            with open(path) as f:
                mine = yaml.load(f, Loader=loader)
            if mine != obj:
                sys.exit(f"{key}: jardin's object differs from the peers'\n{mine}\n{obj}")
            count += 1
    return count


def main():
    p = argparse.ArgumentParser()
    p.add_argument("sizes", nargs="*", type=int, default=[1000, 10000])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--work", default="/dev/shm/jardin-peers")
    p.add_argument("--jardin", default=os.path.join(REPO, "target", "dist", "jardin"))
    p.add_argument("--nickel", default=shutil.which("nickel") or "nickel")
    p.add_argument("--python", default=sys.executable)
    a = p.parse_args()
    rows = []
    for n in a.sizes:
        work = os.path.join(a.work, str(n))
        generate(n, work)
        cmds = commands(work, a)
        for name, cmd, setup in cmds:
            if setup:
                setup()
            measure(cmd)
        # In a process of its own: `measure` reads each command's peak
        # memory from the kernel, which counts what a child inherits from
        # this process when it forks, and the comparison reads gigabytes.
        with multiprocessing.get_context("fork").Pool(1) as pool:
            checked = pool.apply(same_objects, (work,))
        objects = sum(len(files) for _, _, files in os.walk(os.path.join(work, "out", "k8s", "one"))
                      ) - 1  # apply-order.txt
        print(f"{n} tenants: {objects} objects; {checked} of them (the first 1,000 tenants') equal in all three",
              file=sys.stderr)
        results = {name: [] for name, *_ in cmds}
        for _ in range(a.runs):
            for name, cmd, setup in cmds:
                if setup:
                    setup()
                results[name].append(measure(cmd))
        mine = results["jardin"]
        row = [f"{n:,}", f"{objects:,}"]
        for name, *_ in cmds:
            series = results[name]
            wall = statistics.median(w for w, _ in series)
            rss = statistics.median(m for _, m in series)
            row.append(f"{wall:.2f} s, {rss:,.0f} MB")
        for name in ["nickel export", "jrsonnet"]:
            ratios = [o[0] / j[0] for j, o in zip(mine, results[name])]
            row.append(f"{statistics.median(ratios):.1f}×")
        rows.append(row)
        print(" | ".join(row), file=sys.stderr)
    print("| tenants | objects | jardin build (cold) | `nickel export` | jrsonnet | jardin vs nickel | jardin vs jrsonnet |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
