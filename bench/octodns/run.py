#!/usr/bin/env python3
"""octodns-sync planning the same 1,000 zones as jardin's DNS bench.

jardin's figure comes from `crates/jardin/tests/dns_knot.rs` (bench_plan_1000_zones):
1,000 tenants, each with its own zone benchNNNN.org, three apps (one at the
apex) and a sending domain, served by one Knot DNS on 127.0.0.1 over TCP with
TSIG (hmac-sha256). This script measures octoDNS computing the same plan:

1. writes the same jardin config root as the Rust bench (same tenants, same
   zones) and runs `jardin build` on it: OUT/dns/<zone>.zone are the desired
   zones, read by octodns-bind's ZoneFileSource (dnspython parses them; the
   `; owner` comments and `$TTL` lines are plain master-file syntax);
2. starts knotd on 127.0.0.1 on a free port (config, storage, rundir in a
   temp dir) with a TSIG key allowed to transfer and update, serving the
   1,000 zones with only SOA + NS ("fresh zones, all creates");
3. runs `octodns-sync --config-file CONFIG` without --doit (plan only):
   ZoneFileSource as source, octodns-bind's Rfc2136Provider (AXFR to read,
   RFC 2136 to write) as target, for the 1,000 zones;
4. applies that plan with `octodns-sync --doit` (timed too), then plans
   again: "no changes";
5. restarts knotd with jardin's zone files as its master files (the zones
   as `jardin dns apply` leaves them) and plans once more: "no changes";
6. prints Markdown tables: wall time and peak RSS (os.wait4) of each run.

Unless --no-jardin, it also times `jardin -v dns plan` (warm evaluation
cache, after two `jardin check`) against the same Knot in steps 3 and 5, so
both tools are measured in one session. The config differs from the Rust
bench's in one line: the cluster's capacity is raised (see write_jardin_ncl).

Requirements (install them first, e.g. in a venv; this script installs
nothing):

    pip install -r bench/octodns/requirements.txt   # octodns, octodns-bind
    apt-get install knot knot-dnsutils              # knotd

Usage:

    python3 bench/octodns/run.py [--jardin PATH] [--octodns-sync PATH]
                                 [--zones 1000] [--max-workers 1] [--no-jardin] [--keep]

Network: only 127.0.0.1. knotd is killed by PID at the end, also on error.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The Rust bench's test key (crates/jardin/tests/dns_knot.rs, SECRET).
SECRET = "ZGVhZGJlZWYtdGhpcy1pcy10aGUtdGVzdC1zZWNyZXQtMzI="
KEY = "jardin"


def zone_names(n):
    return [f"bench{i:04}.org" for i in range(n)]


def initial_zone(apex):
    # Same as initial_zone() in crates/jardin/tests/dns_knot.rs.
    return (
        f"$ORIGIN {apex}.\n$TTL 3600\n"
        "@ 3600 IN SOA ns1.example.net. hostmaster.example.net. 1 3600 900 1209600 300\n"
        "@ 3600 IN NS ns1.example.net.\n"
    )


def write_jardin_ncl(root, names, server):
    # The only difference from the Rust bench: at 633e407 `jardin check`
    # rejects its config with J0811 (cluster "potager" cannot hold 1,000
    # tenants: CPU 1000 asked of 16), so the capacity is raised here. It
    # changes no DNS record.
    zones = "".join(f'    "{z}" = primary,\n' for z in names)
    (root / "jardin.ncl").write_text(
        f'let primary = {{ provider = "rfc2136", server = "{server}", '
        'nameservers = ["ns1.example.net"], tsig = { name = "jardin", '
        'secret = { external = "env:JARDIN_TEST_TSIG" } } } in\n'
        '(import "collective.ncl") & {\n  plans.small.quotas.max_apps = 10,\n'
        '  clusters.potager.capacity = { cpu | force = "4000", memory | force = "16Ti", '
        'storage | force = "1000Ti" },\n'
        f"  zones = {{\n{zones}  }},\n}}\n"
    )


def write_jardin_root(root, names, server):
    """The config root of bench_plan_1000_zones (see write_jardin_ncl)."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "examples/errors/_shared/collective.ncl", root / "collective.ncl")
    write_jardin_ncl(root, names, server)
    (root / "tenants").mkdir()
    for i, z in enumerate(names):
        (root / f"tenants/t{i:04}.ncl").write_text(
            f'{{ id = "t{i:04}", display_name = "T{i}", cluster = "potager", zones = ["{z}"],\n'
            f'  mail = {{ sending_domain = "{z}", relay = "relay" }},\n'
            f'  apps = {{ pad = {{ app = "hedgedoc", host = "pad.{z}" }}, '
            f'meet = {{ app = "jitsi", host = "meet.{z}" }}, '
            f'site = {{ app = "hedgedoc", host = "{z}" }} }} }}\n'
        )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soa_ok(port, apex):
    """True when 127.0.0.1:port answers NOERROR with one answer to SOA apex."""
    qid = os.getpid() & 0xFFFF
    q = struct.pack(">HHHHHH", qid, 0x0000, 1, 0, 0, 0)
    for label in apex.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", 6, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        try:
            s.sendto(q, ("127.0.0.1", port))
            r, _ = s.recvfrom(4096)
        except OSError:
            return False
    rid, flags, _, an, _, _ = struct.unpack(">HHHHHH", r[:12])
    return rid == qid and flags & 0xF == 0 and an == 1


class Knot:
    """knotd serving `zones` (apex -> master file text); kill() by PID."""

    def __init__(self, work, zones):
        self.dir = work / "knot"
        for sub in ["run", "db", "zones"]:
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for apex, text in zones.items():
            (self.dir / "zones" / f"{apex}.zone").write_text(text)
        self.port = free_port()
        d = self.dir
        # Same settings as Knot::start in crates/jardin/tests/dns_knot.rs.
        conf = (
            f'server:\n  rundir: "{d / "run"}"\n  listen: 127.0.0.1@{self.port}\n'
            f'database:\n  storage: "{d / "db"}"\n'
            "log:\n  - target: stderr\n    any: warning\n"
            f"key:\n  - id: {KEY}\n    algorithm: hmac-sha256\n    secret: {SECRET}\n"
            f"acl:\n  - id: {KEY}\n    key: {KEY}\n    action: [transfer, update]\n"
            f'template:\n  - id: default\n    storage: "{d / "zones"}"\n    file: "%s.zone"\n'
            f"    acl: {KEY}\n    zonefile-sync: -1\n    zonefile-load: whole\n"
            "    journal-content: changes\n    semantic-checks: on\n"
            "zone:\n" + "".join(f"  - domain: {apex}\n" for apex in zones)
        )
        (d / "knot.conf").write_text(conf)
        knotd = shutil.which("knotd") or "/usr/sbin/knotd"
        self.log = open(d / "knotd.log", "w")
        self.proc = subprocess.Popen(
            [knotd, "-c", str(d / "knot.conf")], stdout=subprocess.DEVNULL, stderr=self.log
        )
        deadline = time.monotonic() + 60
        for apex in zones:
            while not soa_ok(self.port, apex):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"knotd exited: see {d / 'knotd.log'}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"knotd did not load {apex}")
                time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def octodns_config(path, zonedir, port, names, max_workers):
    # octoDNS's YAML loader wants the keys of each mapping in (natural) order.
    lines = [
        "---",
        "manager:",
        f"  max_workers: {max_workers}",
        "providers:",
        "  jardin:",
        "    class: octodns_bind.ZoneFileSource",
        f"    directory: {zonedir}",
        "    file_extension: .zone",
        "  knot:",
        "    class: octodns_bind.Rfc2136Provider",
        "    host: 127.0.0.1",
        "    key_algorithm: hmac-sha256",
        f"    key_name: {KEY}",
        "    key_secret: env/OCTODNS_TSIG_SECRET",
        f"    port: {port}",
        "zones:",
    ]
    for z in names:
        lines += [f"  {z}.:", "    sources:", "    - jardin", "    targets:", "    - knot"]
    path.write_text("\n".join(lines) + "\n")


def timed(argv, log, env=None):
    """Runs argv; returns (exit code, wall seconds, peak RSS in MiB)."""
    with open(log, "w") as out:
        t = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_maxrss / 1024


def plan_summary(log):
    """From octoDNS's log: zones the target read, and the changes it planned
    (its per-zone "plan:   Creates=N, Updates=N, Deletes=N" lines; a zone
    with nothing to do logs none)."""
    text = Path(log).read_text()
    zones = len(re.findall(r"\] plan: desired=", text))
    kinds = {"creates": 0, "updates": 0, "deletes": 0}
    for c, u, d in re.findall(r"\] plan:\s+Creates=(\d+), Updates=(\d+), Deletes=(\d+)", text):
        kinds["creates"] += int(c)
        kinds["updates"] += int(u)
        kinds["deletes"] += int(d)
    return zones, kinds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zones", type=int, default=1000)
    ap.add_argument("--jardin", default=os.environ.get("JARDIN", str(REPO / "target/dist/jardin")))
    ap.add_argument("--octodns-sync", default=shutil.which("octodns-sync"))
    ap.add_argument("--max-workers", type=int, default=1, help="octoDNS manager.max_workers (its default is 1)")
    ap.add_argument("--no-jardin", dest="with_jardin", action="store_false",
                    help="do not also time `jardin -v dns plan` against the same Knot")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, configs)")
    args = ap.parse_args()
    if not args.octodns_sync:
        sys.exit("octodns-sync not found: pip install -r bench/octodns/requirements.txt, or --octodns-sync PATH")
    sync = args.octodns_sync
    version = subprocess.run([sync, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        from importlib.metadata import version as pkg_version

        bind_version = pkg_version("octodns-bind")
    except Exception:
        bind_version = subprocess.run(
            [str(Path(sync).parent / "python"), "-c", "import octodns_bind; print(octodns_bind.__version__)"],
            capture_output=True, text=True,
        ).stdout.strip() or "?"

    work = Path(tempfile.mkdtemp(prefix="octodns-bench-"))
    names = zone_names(args.zones)
    knot = None
    rows = []
    jrows = []
    try:
        # 1. The desired zones, written by jardin from the bench's config.
        root = work / "root"
        write_jardin_root(root, names, "127.0.0.1:53")
        out = work / "out"
        t = time.monotonic()
        subprocess.run(
            [args.jardin, "-q", "--cache-dir", str(work / "cache"), "build", str(root), "-o", str(out)],
            check=True,
        )
        print(f"jardin build: {time.monotonic() - t:.1f} s (not part of the figures)", file=sys.stderr)
        zonedir = out / "dns"
        missing = [z for z in names if not (zonedir / f"{z}.zone").exists()]
        if missing:
            raise RuntimeError(f"jardin build wrote no zone for {missing[:3]}")
        records = sum(
            1
            for z in names
            for line in (zonedir / f"{z}.zone").read_text().splitlines()
            if line and not line.startswith((";", "$"))
        )

        # 2. Knot with fresh zones (SOA + NS).
        knot = Knot(work, {z: initial_zone(z) for z in names})
        cfg = work / "octodns.yaml"
        octodns_config(cfg, zonedir, knot.port, names, args.max_workers)
        env = dict(os.environ, OCTODNS_TSIG_SECRET=SECRET)
        argv = [sync, "--config-file", str(cfg)]

        jenv = dict(os.environ, JARDIN_TEST_TSIG=SECRET)
        jardin = [args.jardin, "--color", "never", "--cache-dir", str(work / "cache")]

        def run_jardin(label, expect, log):
            """`jardin -v dns plan` against the running Knot, warm cache (as
            the Rust bench: two `jardin check` first)."""
            write_jardin_ncl(root, names, f"127.0.0.1:{knot.port}")
            subprocess.run(jardin + ["-q", "check", str(root)], check=True, env=jenv)
            code, wall, rss = timed(jardin + ["-q", "check", str(root)], work / "check.log", jenv)
            if code != 0:
                raise RuntimeError(f"jardin check exited {code}, see {work / 'check.log'}")
            jrows.append(("`jardin check`, warm cache (the compile every command pays)", wall, rss, "", ""))
            code, wall, rss = timed(jardin + ["-v", "dns", "plan", str(root)], work / log, jenv)
            if code != expect:
                raise RuntimeError(f"{label}: jardin exited {code}, not {expect}, see {work / log}")
            text = (work / log).read_text()
            m = re.search(r"^planned (\d+) zones in (\S+)", text, re.M)
            # Records to add, ownership markers included (its "N to add"
            # summary counts them apart).
            adds = len(re.findall(r"^  \+ ", text, re.M))
            jrows.append((label, wall, rss, m.group(2) if m else "?", adds))
            print(f"{label}: {wall:.2f} s, {rss:.0f} MiB, {m.group(0) if m else '?'}", file=sys.stderr)

        def run(label, extra, log):
            code, wall, rss = timed(argv + extra, work / log, env)
            if code != 0:
                raise RuntimeError(f"{label}: octodns-sync exited {code}, see {work / log}")
            zones, kinds = plan_summary(work / log)
            if zones != args.zones:
                raise RuntimeError(f"{label}: octoDNS planned {zones} zones, not {args.zones}, see {work / log}")
            n = sum(kinds.values())
            rows.append((label, wall, rss, n, kinds))
            print(f"{label}: {wall:.2f} s, {rss:.0f} MiB, {n} changes {kinds}", file=sys.stderr)
            return n

        # Python startup and imports alone, for scale.
        py = Path(sync).parent / "python"
        py = str(py) if py.exists() else sys.executable
        code, wall, rss = timed([py, "-c", "import octodns.manager, octodns_bind"], work / "import.log")
        if code == 0:
            rows.append(("python startup + `import octodns.manager, octodns_bind`", wall, rss, "", {}))

        # 3. Plan against fresh zones: every record but the root NS is a create.
        if args.with_jardin:
            run_jardin("`jardin dns plan`, fresh zones (all creates)", 2, "jardin-fresh.log")
        n_fresh = run("plan, fresh zones (all creates)", [], "plan-fresh.log")
        if n_fresh == 0:
            raise RuntimeError("octoDNS planned nothing against fresh zones")
        # 4. Apply, then plan again: nothing to do.
        run(f"apply (`--doit`), {args.zones} zones", ["--doit"], "apply.log")
        n_clean = run("plan, after apply (no changes)", [], "plan-clean.log")
        if n_clean != 0:
            raise RuntimeError(f"octoDNS still plans {n_clean} changes after apply, see {work / 'plan-clean.log'}")
        # 5. Knot serving the zones as jardin writes them (its zone files as
        #    master files, multi-string TXT markers kept): nothing to do either.
        knot.kill()
        knot = Knot(work / "written", {z: (zonedir / f"{z}.zone").read_text() for z in names})
        octodns_config(cfg, zonedir, knot.port, names, args.max_workers)
        n_jardin = run("plan, zones as jardin writes them (no changes)", [], "plan-jardin.log")
        if args.with_jardin:
            run_jardin("`jardin dns plan`, zones as jardin writes them (no changes)", 0, "jardin-clean.log")
        if n_jardin != 0:
            raise RuntimeError(f"octoDNS plans {n_jardin} changes against jardin's zones, see {work / 'plan-jardin.log'}")

        # 6. The table.
        print()
        print(f"octoDNS {version.split()[-1]}, octodns-bind {bind_version}, "
              f"{args.zones} zones, {records} records in the zone files (SOA and NS included), "
              f"manager.max_workers={args.max_workers}")
        print()
        print("| octodns-sync | wall time | peak RSS | changes |")
        print("|---|---|---|---|")
        for label, wall, rss, n, kinds in rows:
            detail = ", ".join(f"{v} {k}" for k, v in kinds.items() if v)
            print(f"| {label} | {wall:.2f} s | {rss:.0f} MiB | {n}{' (' + detail + ')' if detail else ''} |")
        if jrows:
            print()
            print("| jardin (release binary, warm evaluation cache) | wall time | peak RSS | AXFR + diff (`-v`) | records to add |")
            print("|---|---|---|---|---|")
            for label, wall, rss, axfr, adds in jrows:
                print(f"| {label} | {wall:.2f} s | {rss:.0f} MiB | {axfr} | {adds} |")
    finally:
        if knot:
            knot.kill()
        if args.keep:
            print(f"work dir kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
