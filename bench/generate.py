#!/usr/bin/env python3
"""Writes a config root with N tenants for benchmarks.

Usage: bench/generate.py N OUT_DIR [--seed S]

Tenants get 3 to 5 apps each (a mix of Nextcloud, HedgeDoc and Jitsi), their
own zone, and are spread over two clusters whose capacity grows with N, so
the config passes `jardin check`. The same N and seed give the same files.
"""
import argparse
import os
import random
import shutil

BUNDLES = [
    [("cloud", "nextcloud"), ("pad", "hedgedoc"), ("meet", "jitsi")],
    [("cloud", "nextcloud"), ("pad", "hedgedoc"), ("notes", "hedgedoc"), ("meet", "jitsi")],
    [("pad", "hedgedoc"), ("meet", "jitsi"), ("wiki", "hedgedoc")],
    [("cloud", "nextcloud"), ("pad", "hedgedoc"), ("notes", "hedgedoc"), ("meet", "jitsi"), ("visio", "jitsi")],
]
SIZES = ["xs", "s", "s", "m"]


def collective(n):
    # Room for every tenant: about 12 CPUs and 24Gi per tenant at most.
    cpu = max(64, n * 12)
    mem = max(256, n * 24)
    storage = max(10, n * 200 // 1024 + 10)
    clusters = []
    for name, loc, ip in [("louise-michel", "paris", "198.51.100.10"), ("ada-lovelace", "lyon", "203.0.113.20")]:
        clusters.append(f'''    {name} = {{
      location = "{loc}",
      ingress = {{ ipv4 = ["{ip}"], hostname = "ingress.{name}.bench.example" }},
      storage_classes = {{ rwo = "ceph-rbd", rwx = "cephfs" }},
      capacity = {{ cpu = "{cpu}", memory = "{mem}Gi", storage = "{storage}Ti", nodes = 100 }},
      capabilities = ["cnpg", "cert-manager", "cosi", "k8up", "secret-generator", "secret-replicator"],
      kubernetes_api.addresses = ["10.0.0.1/32"],
      services = {{
        postgres.pg = {{ cluster = "pg-{loc}", namespace = "databases", version = 16 }},
        object_stores.s3 = {{ bucket_class = "garage-{loc}", endpoint = "https://s3.{loc}.bench.example", location = "{loc}" }},
      }},
    }},''')
    return f'''{{
  name = "Bench",
  contact = "admin@bench.example",
  defaults = {{ plan = "essentiel", backup = {{ target = "offsite", encryption_key = {{ generate = {{}} }} }} }},
  plans = {{
    essentiel = {{ quotas = {{ cpu = "16", memory = "32Gi", storage = "500Gi", buckets = 5, max_apps = 8 }} }},
    cooperative = {{ quotas = {{ cpu = "32", memory = "64Gi", storage = "1Ti", buckets = 5, max_apps = 8 }}, ha = true }},
  }},
  clusters = {{
{chr(10).join(clusters)}
  }},
  backup_targets.offsite = {{
    endpoint = "https://s3.nantes.bench.example",
    bucket = "backups",
    location = "nantes",
    credentials = {{ ref = {{ name = "backup-s3", key = "credentials" }} }},
  }},
  smtp_relays.smtp-gw = {{ host = "smtp.bench.example", password = {{ ref = {{ name = "smtp", key = "password" }} }} }},
}}
'''


def tenant(i, rng):
    tid = f"asso-{i:05d}"
    zone = f"{tid}.example.org"
    cluster = "louise-michel" if i % 2 == 0 else "ada-lovelace"
    plan = "cooperative" if i % 10 == 0 else "essentiel"
    apps = []
    for key, app in rng.choice(BUNDLES):
        size = rng.choice(SIZES)
        # A video bridge advertises its own public address (documentation range).
        extra = f', settings.media_ip = "198.51.100.{len(apps) + 1}"' if app == "jitsi" else ""
        apps.append(f'    {key} = {{ app = "{app}", host = "{key}.{zone}", size = "{size}"{extra} }},')
    return f'''{{
  id = "{tid}",
  display_name = "Association {i}",
  contacts = ["bureau@{zone}"],
  cluster = "{cluster}",
  plan = "{plan}",
  zones = ["{zone}"],
  mail = {{ sending_domain = "{zone}", relay = "smtp-gw" }},
  apps = {{
{chr(10).join(apps)}
  }},
}}
'''


def main():
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int)
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(os.path.join(a.out, "tenants"))
    with open(os.path.join(a.out, "jardin.ncl"), "w") as f:
        f.write(collective(a.n))
    for i in range(a.n):
        with open(os.path.join(a.out, "tenants", f"asso-{i:05d}.ncl"), "w") as f:
            f.write(tenant(i, rng))


if __name__ == "__main__":
    main()
