#!/usr/bin/env python3
"""Checks for the JSON schemas under crates/compiler/schemas.

Needs the PyPI package ``jsonschema`` (>= 4.18, for ``referencing``).  If it is
not importable, the script creates a virtualenv in ``$TMPDIR/jardin-schema-test-venv``
(``/tmp`` by default), installs ``jsonschema`` there with pip and re-runs itself
with that interpreter; pass ``--no-venv`` to fail instead.

Usage (from the repository root):
    python3 scripts/test-schemas.py

Checks:
  * index.json lists every schema file exactly once, under the right "apiVersion/Kind";
  * every file is in the canonical format written by scripts/extract-schemas.py;
  * (a) every schema is a valid draft 2020-12 schema and standalone (only local "#/..." $refs,
    all resolvable), generated ones carry no "description", and every object schema that
    lists properties says what to do with other properties (strict);
  * (b) a small realistic object of each kind validates;
  * (c) wrong types, unknown fields and typical typos are rejected;
  * known quirks of the upstream schemas (documented in crates/compiler/schemas/README.md) still hold.
Ends with a line "N passed, M failed"; exit status 1 if anything failed.
"""

import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "crates" / "compiler" / "schemas"


def ensure_jsonschema():
    try:
        import jsonschema  # noqa: F401
        import referencing  # noqa: F401
        return
    except ImportError:
        pass
    if "--no-venv" in sys.argv or os.environ.get("JARDIN_SCHEMA_TEST_IN_VENV"):
        sys.exit("test-schemas: the Python package 'jsonschema' (>= 4.18) is required")
    venv = Path(tempfile.gettempdir()) / "jardin-schema-test-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "jsonschema>=4.18,<5"], check=True)
    os.environ["JARDIN_SCHEMA_TEST_IN_VENV"] = "1"
    os.execv(str(python), [str(python), str(Path(__file__).resolve())] + sys.argv[1:])


ensure_jsonschema()

from jsonschema import Draft202012Validator  # noqa: E402
from referencing import Registry  # noqa: E402

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
_spec = importlib.util.spec_from_file_location("extract_schemas", REPO / "scripts" / "extract-schemas.py")
extract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(extract)

PASSED = []
FAILED = []


def check(name, condition, detail=""):
    (PASSED if condition else FAILED).append(name)
    if not condition:
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))


def load_index():
    return json.loads((SCHEMAS / "index.json").read_text(encoding="utf-8"))


def load(rel):
    return json.loads((SCHEMAS / rel).read_text(encoding="utf-8"))


def validator_for(schema):
    # An empty registry: any $ref that is not local to the document cannot be resolved.
    return Draft202012Validator(schema, registry=Registry())


def errors(key, instance):
    schema = SCHEMAS_BY_KEY[key]
    return sorted(validator_for(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))


def resolve_pointer(document, pointer):
    node = document
    for token in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


# --------------------------------------------------------------------------------------------
# index and files

INDEX = load_index()
SCHEMAS_BY_KEY = {key: load(rel) for key, rel in INDEX.items()}

on_disk = sorted(f"{p.parent.name}/{p.name}" for sub in ("k8s", "crd") for p in (SCHEMAS / sub).glob("*.json"))
check("index lists every schema file once", sorted(INDEX.values()) == on_disk,
      f"index={sorted(INDEX.values())} disk={on_disk}")
for kind_list, prefix in ((extract.KINDS, "k8s/"),):
    for api_version, kind in kind_list:
        key = f"{api_version}/{kind}"
        check(f"index has {key}", INDEX.get(key) == f"{prefix}{kind.lower()}.json", str(INDEX.get(key)))
for key in ("postgresql.cnpg.io/v1/Database", "postgresql.cnpg.io/v1/ScheduledBackup",
            "objectstorage.k8s.io/v1alpha1/BucketClaim", "objectstorage.k8s.io/v1alpha1/BucketAccess",
            "k8up.io/v1/Schedule", "cert-manager.io/v1/Certificate"):
    check(f"index has {key}", key in INDEX)
check("index.json is canonical",
      (SCHEMAS / "index.json").read_text(encoding="utf-8") == extract.dump(INDEX))

# --------------------------------------------------------------------------------------------
# (a) the schemas themselves

for key, rel in sorted(INDEX.items()):
    schema = SCHEMAS_BY_KEY[key]
    text = (SCHEMAS / rel).read_text(encoding="utf-8")
    check(f"{rel}: canonical format", text == extract.dump(schema))
    check(f"{rel}: declares draft 2020-12", schema.get("$schema") == extract.DRAFT_2020_12)
    try:
        Draft202012Validator.check_schema(schema)
        check(f"{rel}: valid draft 2020-12 schema", True)
    except Exception as error:  # jsonschema.SchemaError
        check(f"{rel}: valid draft 2020-12 schema", False, str(error)[:300])
    check(f"{rel}: apiVersion/kind match the index", extract.api_key(schema, rel) == key)
    bad_refs = []
    for node in extract.walk(schema):
        ref = node.get("$ref")
        if ref is None:
            continue
        if not ref.startswith("#/"):
            bad_refs.append(ref)
            continue
        try:
            resolve_pointer(schema, ref[1:])
        except (KeyError, IndexError, ValueError):
            bad_refs.append(ref)
    check(f"{rel}: standalone (all $refs local and resolvable)", not bad_refs, str(bad_refs[:5]))
    loose = extract.loose_object_schemas(schema)
    check(f"{rel}: strict (no object schema with properties but without additionalProperties)",
          not loose, f"{len(loose)} loose object schemas")
    if rel.startswith("k8s/"):
        described = [n for n in extract.walk(schema) if "description" in n]
        check(f"{rel}: descriptions stripped", not described)

# --------------------------------------------------------------------------------------------
# (b) realistic valid objects

LABELS = {"app.kubernetes.io/name": "shop", "app.kubernetes.io/part-of": "jardin"}
META = {"name": "shop", "namespace": "shop", "labels": LABELS}
POD_SPEC = {
    "serviceAccountName": "shop",
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{
        "name": "shop",
        "image": "ghcr.io/example/shop:1.4.2",
        "imagePullPolicy": "IfNotPresent",
        "args": ["--listen", ":8080"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "RUST_LOG", "value": "info"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-app", "key": "password"}}},
        ],
        "envFrom": [{"configMapRef": {"name": "shop-config"}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": 1, "memory": "256Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 5},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": "/data"}],
    }],
    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
}
TEMPLATE = {"metadata": {"labels": LABELS}, "spec": POD_SPEC}

VALID = {
    "v1/Namespace": {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
    "apps/v1/Deployment": {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": META,
        "spec": {"replicas": 2, "revisionHistoryLimit": 3, "selector": {"matchLabels": LABELS},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                 "template": {"metadata": {"labels": LABELS},
                              "spec": dict(POD_SPEC, volumes=POD_SPEC["volumes"] + [
                                  {"name": "data", "persistentVolumeClaim": {"claimName": "shop-data"}}])}}},
    "apps/v1/StatefulSet": {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": META,
        "spec": {"replicas": 1, "serviceName": "shop", "selector": {"matchLabels": LABELS},
                 "podManagementPolicy": "Parallel",
                 "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                 "template": TEMPLATE,
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}]}},
    "v1/Service": {
        "apiVersion": "v1", "kind": "Service", "metadata": META,
        "spec": {"type": "ClusterIP", "selector": LABELS,
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                           {"name": "metrics", "port": 9090, "targetPort": 9090}]}},
    "networking.k8s.io/v1/Ingress": {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": dict(META, annotations={"cert-manager.io/cluster-issuer": "letsencrypt"}),
        "spec": {"ingressClassName": "nginx",
                 "tls": [{"hosts": ["shop.example.org"], "secretName": "shop-tls"}],
                 "rules": [{"host": "shop.example.org", "http": {"paths": [{
                     "path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "shop", "port": {"name": "http"}}}}]}}]}},
    "policy/v1/PodDisruptionBudget": {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": META,
        "spec": {"minAvailable": 1, "selector": {"matchLabels": LABELS},
                 "unhealthyPodEvictionPolicy": "AlwaysAllow"}},
    "batch/v1/CronJob": {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": META,
        "spec": {"schedule": "17 3 * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
                 "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 3,
                 "jobTemplate": {"spec": {"backoffLimit": 2, "ttlSecondsAfterFinished": 3600,
                                          "template": {"metadata": {"labels": LABELS},
                                                       "spec": dict(POD_SPEC, restartPolicy="OnFailure")}}}}},
    "networking.k8s.io/v1/NetworkPolicy": {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": META,
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": "ingress-nginx"}}}],
                              "ports": [{"protocol": "TCP", "port": "http"}]}],
                 "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
                             "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "UDP", "port": 53}]}]}},
    "v1/Secret": {"apiVersion": "v1", "kind": "Secret", "metadata": META, "type": "Opaque",
                  "stringData": {"password": "hunter2"}, "data": {"token": "aHVudGVyMg=="}},
    "v1/ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": META,
                     "data": {"config.toml": "[server]\nport = 8080\n"}, "immutable": False},
    "v1/ServiceAccount": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": META,
                          "automountServiceAccountToken": False},
    "v1/PersistentVolumeClaim": {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": dict(META, name="shop-data"),
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard", "volumeMode": "Filesystem",
                 "resources": {"requests": {"storage": "10Gi"}}}},
    "postgresql.cnpg.io/v1/Database": {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Database",
        "metadata": {"name": "shop-db", "namespace": "shop", "labels": LABELS},
        "spec": {"name": "shop", "owner": "shop", "cluster": {"name": "pg"}, "ensure": "present",
                 "databaseReclaimPolicy": "retain", "encoding": "UTF8", "localeCollate": "C",
                 "localeCType": "C", "template": "template0",
                 "extensions": [{"name": "pg_trgm", "ensure": "present"},
                                {"name": "postgis", "ensure": "present", "version": "3.5.0", "schema": "public"}]}},
    "postgresql.cnpg.io/v1/ScheduledBackup": {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
        "metadata": {"name": "pg-daily", "namespace": "shop"},
        "spec": {"schedule": "0 30 2 * * *", "cluster": {"name": "pg"}, "backupOwnerReference": "self",
                 "method": "plugin", "immediate": True, "suspend": False, "target": "prefer-standby",
                 "pluginConfiguration": {"name": "barman-cloud.cloudnative-pg.io",
                                         "parameters": {"barmanObjectName": "pg-store"}}}},
    "objectstorage.k8s.io/v1alpha1/BucketClaim": {
        "apiVersion": "objectstorage.k8s.io/v1alpha1", "kind": "BucketClaim",
        "metadata": {"name": "shop-media", "namespace": "shop"},
        "spec": {"bucketClassName": "standard", "protocols": ["S3"]}},
    "objectstorage.k8s.io/v1alpha1/BucketAccess": {
        "apiVersion": "objectstorage.k8s.io/v1alpha1", "kind": "BucketAccess",
        "metadata": {"name": "shop-media", "namespace": "shop"},
        "spec": {"bucketClaimName": "shop-media", "bucketAccessClassName": "standard",
                 "credentialsSecretName": "shop-media-s3", "protocol": "S3"}},
    "k8up.io/v1/Schedule": {
        "apiVersion": "k8up.io/v1", "kind": "Schedule", "metadata": {"name": "shop-backup", "namespace": "shop"},
        "spec": {
            "backend": {"repoPasswordSecretRef": {"name": "shop-restic", "key": "password"},
                        "s3": {"endpoint": "https://s3.example.org", "bucket": "shop-backups",
                               "accessKeyIDSecretRef": {"name": "shop-s3", "key": "access-key-id"},
                               "secretAccessKeySecretRef": {"name": "shop-s3", "key": "secret-access-key"}}},
            "backup": {"schedule": "@daily-random", "failedJobsHistoryLimit": 2, "successfulJobsHistoryLimit": 2},
            "check": {"schedule": "0 4 * * 0"},
            "prune": {"schedule": "@weekly-random",
                      "retention": {"keepLast": 5, "keepDaily": 14, "keepWeekly": 8, "keepMonthly": 6}},
            "podSecurityContext": {"runAsUser": 10001, "runAsNonRoot": True, "fsGroup": 10001},
            "resourceRequirementsTemplate": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                             "limits": {"memory": "512Mi"}}}},
    "postgresql.cnpg.io/v1/Cluster": {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "pg", "namespace": "databases"},
        "spec": {"instances": 2, "storage": {"size": "10Gi"},
                 "managed": {"roles": [{"name": "shop", "ensure": "present", "login": True,
                                        "passwordSecret": {"name": "shop-db"}}]},
                 "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                              "parameters": {"barmanObjectName": "pg"}}]}},
    "barmancloud.cnpg.io/v1/ObjectStore": {
        "apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore",
        "metadata": {"name": "pg", "namespace": "databases"},
        "spec": {"retentionPolicy": "30d", "configuration": {
                     "destinationPath": "s3://backups/k8s/pg", "endpointURL": "https://s3.example.org",
                     "s3Credentials": {"accessKeyId": {"name": "s3", "key": "access-key-id"},
                                       "secretAccessKey": {"name": "s3", "key": "secret-access-key"}},
                     "wal": {"compression": "gzip", "encryption": "AES256"},
                     "data": {"compression": "gzip", "encryption": "AES256", "jobs": 2}}}},
    "k8up.io/v1/PreBackupPod": {
        "apiVersion": "k8up.io/v1", "kind": "PreBackupPod", "metadata": {"name": "escrow", "namespace": "shop"},
        "spec": {"backupCommand": "tar -chf - -C /escrow .", "fileExtension": ".tar",
                 "pod": {"spec": {"containers": [{"name": "escrow", "image": "busybox:1.37",
                                                  "command": ["sleep", "infinity"],
                                                  "volumeMounts": [{"name": "key", "mountPath": "/escrow/key",
                                                                    "readOnly": True}]}],
                                  "volumes": [{"name": "key", "secret": {"secretName": "key"}}]}}}},
    "cert-manager.io/v1/Certificate": {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "shop-tls", "namespace": "shop"},
        "spec": {"secretName": "shop-tls", "dnsNames": ["shop.example.org", "*.shop.example.org"],
                 "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
                 "duration": "2160h", "renewBefore": "360h0m0s",
                 "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}}},
}

check("a valid sample exists for every indexed kind", sorted(VALID) == sorted(INDEX),
      f"missing {sorted(set(INDEX) - set(VALID))}")
for key, instance in sorted(VALID.items()):
    if key in SCHEMAS_BY_KEY:
        errs = errors(key, instance)
        check(f"valid {key} validates", not errs,
              "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errs[:3]))

# --------------------------------------------------------------------------------------------
# (c) invalid objects are rejected


def mutated(key, path, value, delete=False):
    """Copy of VALID[key] with the value at path (a list of keys/indices) replaced or deleted."""
    instance = copy.deepcopy(VALID[key])
    node = instance
    for step in path[:-1]:
        node = node[step]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return instance


CONTAINER = ["spec", "template", "spec", "containers", 0]
INVALID = [
    ("Deployment replicas is a string", "apps/v1/Deployment", ["spec", "replicas"], "two"),
    ("unknown field in a Deployment's container", "apps/v1/Deployment", CONTAINER + ["imagePullPolicyy"], "Always"),
    ("unknown field in a container's resources", "apps/v1/Deployment", CONTAINER + ["resources", "request"],
     {"cpu": "1"}),
    ("unknown field in Deployment spec", "apps/v1/Deployment", ["spec", "replica"], 2),
    ("unknown field in metadata", "apps/v1/Deployment", ["metadata", "lables"], {"a": "b"}),
    ("unknown top-level field", "apps/v1/Deployment", ["specs"], {}),
    ("wrong apiVersion", "apps/v1/Deployment", ["apiVersion"], "extensions/v1beta1"),
    ("wrong kind", "apps/v1/Deployment", ["kind"], "StatefulSet"),
    ("container without name", "apps/v1/Deployment", CONTAINER + ["name"], None, True),
    ("containerPort is a string", "apps/v1/Deployment", CONTAINER + ["ports", 0, "containerPort"], "8080"),
    ("env is a map instead of a list", "apps/v1/Deployment", CONTAINER + ["env"], {"RUST_LOG": "info"}),
    ("label value is a number", "apps/v1/Deployment", ["metadata", "labels", "tier"], 1),
    ("StatefulSet without serviceName field typo", "apps/v1/StatefulSet", ["spec", "servicename"], "shop"),
    ("Service port is a string", "v1/Service", ["spec", "ports", 0, "port"], "80"),
    ("Ingress backend port typo", "networking.k8s.io/v1/Ingress",
     ["spec", "rules", 0, "http", "paths", 0, "backend", "service", "port"], {"nmae": "http"}),
    ("PodDisruptionBudget minAvailable is a boolean", "policy/v1/PodDisruptionBudget", ["spec", "minAvailable"], True),
    ("CronJob without jobTemplate", "batch/v1/CronJob", ["spec", "jobTemplate"], None, True),
    ("NetworkPolicy policyTypes is a string", "networking.k8s.io/v1/NetworkPolicy", ["spec", "policyTypes"], "Ingress"),
    ("Secret stringData value is a number", "v1/Secret", ["stringData", "port"], 5432),
    ("ConfigMap data typo", "v1/ConfigMap", ["datas"], {}),
    ("ServiceAccount automount is a string", "v1/ServiceAccount", ["automountServiceAccountToken"], "false"),
    ("PVC accessModes is a string", "v1/PersistentVolumeClaim", ["spec", "accessModes"], "ReadWriteOnce"),
    ("Namespace spec typo", "v1/Namespace", ["spec"], {"finalizer": ["kubernetes"]}),
    ("Database spec typo", "postgresql.cnpg.io/v1/Database", ["spec", "ownr"], "shop"),
    ("Database without owner", "postgresql.cnpg.io/v1/Database", ["spec", "owner"], None, True),
    ("Database reserved name", "postgresql.cnpg.io/v1/Database", ["spec", "name"], "postgres"),
    ("Database ensure not in enum", "postgresql.cnpg.io/v1/Database", ["spec", "ensure"], "exists"),
    ("Database extension typo", "postgresql.cnpg.io/v1/Database", ["spec", "extensions", 0, "versoin"], "1.6"),
    ("Database reclaim policy wrong case", "postgresql.cnpg.io/v1/Database", ["spec", "databaseReclaimPolicy"],
     "Retain"),
    ("Database metadata.name not a DNS name", "postgresql.cnpg.io/v1/Database", ["metadata", "name"], "Shop_DB"),
    ("Cluster without instances", "postgresql.cnpg.io/v1/Cluster", ["spec", "instances"], None, True),
    ("Cluster plugin without name", "postgresql.cnpg.io/v1/Cluster", ["spec", "plugins", 0, "name"], None, True),
    ("Cluster plugin parameter is a number", "postgresql.cnpg.io/v1/Cluster",
     ["spec", "plugins", 0, "parameters", "barmanObjectName"], 1),
    ("Cluster in-tree barman object store", "postgresql.cnpg.io/v1/Cluster", ["spec", "backup"],
     {"barmanObjectStore": {"destinationPath": "s3://backups/pg"}}),
    ("ObjectStore retentionPolicy without unit", "barmancloud.cnpg.io/v1/ObjectStore",
     ["spec", "retentionPolicy"], "30"),
    ("ObjectStore destinationPath not s3", "barmancloud.cnpg.io/v1/ObjectStore",
     ["spec", "configuration", "destinationPath"], "backups/pg"),
    ("ObjectStore without destinationPath", "barmancloud.cnpg.io/v1/ObjectStore",
     ["spec", "configuration", "destinationPath"], None, True),
    ("ObjectStore serverName in its configuration", "barmancloud.cnpg.io/v1/ObjectStore",
     ["spec", "configuration", "serverName"], "pg"),
    ("ObjectStore without configuration", "barmancloud.cnpg.io/v1/ObjectStore", ["spec", "configuration"], None, True),
    ("PreBackupPod typo in spec", "k8up.io/v1/PreBackupPod", ["spec", "backupCommmand"], "x"),
    ("ScheduledBackup 5-field cron", "postgresql.cnpg.io/v1/ScheduledBackup", ["spec", "schedule"], "30 2 * * *"),
    ("ScheduledBackup method not in enum", "postgresql.cnpg.io/v1/ScheduledBackup", ["spec", "method"], "barman"),
    ("ScheduledBackup plugin method without pluginConfiguration", "postgresql.cnpg.io/v1/ScheduledBackup",
     ["spec", "pluginConfiguration"], None, True),
    ("ScheduledBackup parameter is a number", "postgresql.cnpg.io/v1/ScheduledBackup",
     ["spec", "pluginConfiguration", "parameters", "x"], 1),
    ("BucketClaim protocol wrong case", "objectstorage.k8s.io/v1alpha1/BucketClaim", ["spec", "protocols"], ["s3"]),
    ("BucketClaim protocols empty", "objectstorage.k8s.io/v1alpha1/BucketClaim", ["spec", "protocols"], []),
    ("BucketClaim without class or existing bucket", "objectstorage.k8s.io/v1alpha1/BucketClaim",
     ["spec", "bucketClassName"], None, True),
    ("BucketAccess without credentialsSecretName", "objectstorage.k8s.io/v1alpha1/BucketAccess",
     ["spec", "credentialsSecretName"], None, True),
    ("BucketAccess protocol not in enum", "objectstorage.k8s.io/v1alpha1/BucketAccess", ["spec", "protocol"], "Swift"),
    ("k8up retention keepDaily is a string", "k8up.io/v1/Schedule", ["spec", "prune", "retention", "keepDaily"], "14"),
    ("k8up retention typo", "k8up.io/v1/Schedule", ["spec", "prune", "retention", "keepDayly"], 14),
    ("k8up 6-field cron", "k8up.io/v1/Schedule", ["spec", "check", "schedule"], "0 0 4 * * 0"),
    ("k8up s3 secret ref without key", "k8up.io/v1/Schedule",
     ["spec", "backend", "s3", "accessKeyIDSecretRef", "key"], None, True),
    ("k8up bad quantity", "k8up.io/v1/Schedule", ["spec", "resourceRequirementsTemplate", "limits", "memory"],
     "512 MB"),
    ("Certificate duration in days", "cert-manager.io/v1/Certificate", ["spec", "duration"], "90d"),
    ("Certificate without issuerRef", "cert-manager.io/v1/Certificate", ["spec", "issuerRef"], None, True),
    ("Certificate issuerRef typo", "cert-manager.io/v1/Certificate", ["spec", "issuerRef", "knid"], "Issuer"),
    ("Certificate rotationPolicy wrong case", "cert-manager.io/v1/Certificate",
     ["spec", "privateKey", "rotationPolicy"], "always"),
    ("Certificate dnsNames is a string", "cert-manager.io/v1/Certificate", ["spec", "dnsNames"], "shop.example.org"),
    ("Certificate without any name", "cert-manager.io/v1/Certificate", ["spec", "dnsNames"], None, True),
]
for case in INVALID:
    name, key, path, value = case[:4]
    delete = len(case) > 4 and case[4]
    check(f"invalid: {name} is rejected", bool(errors(key, mutated(key, path, value, delete))))

# --------------------------------------------------------------------------------------------
# documented quirks of the upstream Kubernetes schemas (see README): these are accepted

QUIRKS = [
    ("quantity given as a number (cpu: 0.5)", "apps/v1/Deployment", CONTAINER + ["resources", "requests", "cpu"], 0.5),
    ("quantity string is not checked (cpu: 'lots')", "apps/v1/Deployment",
     CONTAINER + ["resources", "requests", "cpu"], "lots"),
    ("int-or-string as integer (maxSurge: 1)", "apps/v1/Deployment",
     ["spec", "strategy", "rollingUpdate", "maxSurge"], 1),
    ("null for an optional field (replicas: null)", "apps/v1/Deployment", ["spec", "replicas"], None),
    ("enums are not enforced (imagePullPolicy: 'Sometimes')", "apps/v1/Deployment",
     CONTAINER + ["imagePullPolicy"], "Sometimes"),
    ("enums are not enforced (Service type: 'ClusterIp')", "v1/Service", ["spec", "type"], "ClusterIp"),
    ("apiVersion may be omitted", "apps/v1/Deployment", ["apiVersion"], None, True),
]
for case in QUIRKS:
    name, key, path, value = case[:4]
    delete = len(case) > 4 and case[4]
    errs = errors(key, mutated(key, path, value, delete))
    check(f"quirk: {name} is accepted", not errs, "; ".join(e.message[:200] for e in errs[:2]))

print(f"{len(PASSED)} passed, {len(FAILED)} failed")
sys.exit(1 if FAILED else 0)
