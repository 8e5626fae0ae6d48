#!/usr/bin/env python3
"""Turns a `jardin build` output into a believable live snapshot: what
`kubectl get <kinds> -A -l app.kubernetes.io/managed-by=jardin -o yaml
--show-managed-fields` would print for a cluster that runs it.

    jardin build examples/collective -o /tmp/out
    scripts/make-live-snapshot.py /tmp/out examples/collective/live --edits collective
    scripts/make-live-snapshot.py /tmp/out examples/collective/live-unchanged

For every object it adds what the API server and controllers add: uid,
resourceVersion, generation, creationTimestamp, managedFields (jardin's
server-side apply plus the controllers' status updates), status, server
defaults (imagePullPolicy, dnsPolicy, clusterIP, …), generated Secret data
and the secret generator's and replicator's annotations. Everything is
derived from a hash of the object's identity: the same input gives the same
bytes. Writes one `List` per cluster: OUT/<cluster>/list.yaml.

`--edits collective` then applies the realistic drift that the golden plan
of examples/collective shows (see EDITS below). `--kube DIR` also writes the
same objects as recorded API list responses (one JSON file per kind, in the
API server's exact shape) for the kube client test.
"""
import argparse
import base64
import copy
import hashlib
import json
import os
import sys

import yaml

T0 = "2026-09-14T08:%02d:%02dZ"


def h(*parts):
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def uid(ident):
    x = h("uid", ident)
    return f"{x[0:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}"


def stamp(ident, salt="t"):
    n = int(h(salt, ident)[:4], 16)
    return T0 % ((n // 60) % 60, n % 60)


def fields_v1(value):
    """The FieldsV1 set of a value, as server-side apply records it."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out["f:" + k] = fields_v1(v) if isinstance(v, (dict, list)) and v else {}
        return out
    if isinstance(value, list):
        out = {}
        for item in value:
            if isinstance(item, dict) and "name" in item:
                key = "k:" + json.dumps({"name": item["name"]}, separators=(",", ":"))
                sub = fields_v1(item)
                sub["."] = {}
                out[key] = sub
            elif isinstance(item, dict) and "containerPort" in item:
                key = "k:" + json.dumps({"containerPort": item["containerPort"], "protocol": item.get("protocol", "TCP")}, separators=(",", ":"))
                out[key] = dict(fields_v1(item), **{".": {}})
            else:
                out["v:" + json.dumps(item, separators=(",", ":"))] = {}
        return out
    return {}


def pod_defaults(spec):
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        image = c.get("image", "")
        c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        if c.get("ports") == []:
            del c["ports"]
        if c.get("env") == []:
            del c["env"]
        for p in c.get("ports", []):
            p.setdefault("protocol", "TCP")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe in c:
                pr = c[probe]
                pr.setdefault("timeoutSeconds", 1)
                pr.setdefault("periodSeconds", 10)
                pr.setdefault("successThreshold", 1)
                pr.setdefault("failureThreshold", 3)
                if "httpGet" in pr:
                    pr["httpGet"].setdefault("scheme", "HTTP")
    for v in spec.get("volumes", []):
        for k in ("configMap", "secret"):
            if k in v:
                v[k].setdefault("defaultMode", 420)


def server_side(obj, cluster):
    """What the API server and the controllers add to an applied object."""
    kind = obj["kind"]
    meta = obj["metadata"]
    ident = f"{cluster}/{meta.get('namespace', '')}/{kind}/{meta['name']}"
    applied = copy.deepcopy(obj)
    meta["uid"] = uid(ident)
    meta["resourceVersion"] = str(100000 + int(h("rv", ident)[:6], 16) % 900000)
    meta["creationTimestamp"] = stamp(ident)
    if kind not in ("Namespace", "Secret", "ConfigMap", "Service"):
        meta["generation"] = 1 + int(h("gen", ident)[:2], 16) % 4
    managed = [{
        "apiVersion": obj["apiVersion"],
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1({k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}),
        "manager": "jardin",
        "operation": "Apply",
        "time": stamp(ident, "apply"),
    }]
    spec = obj.get("spec", {})
    if kind == "Namespace":
        meta["labels"]["kubernetes.io/metadata.name"] = meta["name"]
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    elif kind == "Deployment":
        meta.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(meta["generation"])
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type") == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
        spec["template"]["metadata"]["creationTimestamp"] = None
        pod_defaults(spec["template"]["spec"])
        n = spec["replicas"]
        obj["status"] = {
            "availableReplicas": n, "observedGeneration": meta["generation"], "readyReplicas": n,
            "replicas": n, "updatedReplicas": n,
            "conditions": [
                {"lastTransitionTime": stamp(ident, "c1"), "lastUpdateTime": stamp(ident, "c1"), "message": "Deployment has minimum availability.", "reason": "MinimumReplicasAvailable", "status": "True", "type": "Available"},
                {"lastTransitionTime": stamp(ident), "lastUpdateTime": stamp(ident, "c2"), "message": f"ReplicaSet \"{meta['name']}-{h('rs', ident)[:10]}\" has successfully progressed.", "reason": "NewReplicaSetAvailable", "status": "True", "type": "Progressing"},
            ],
        }
        managed.append({"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}, "f:status": {"f:availableReplicas": {}, "f:conditions": {}, "f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}}}, "manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": stamp(ident, "c2")})
    elif kind == "CronJob":
        jt = spec["jobTemplate"]
        jt.setdefault("metadata", {})["creationTimestamp"] = None
        jt["spec"]["template"]["metadata"]["creationTimestamp"] = None
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("failedJobsHistoryLimit", 1)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("suspend", False)
        pod_defaults(jt["spec"]["template"]["spec"])
        obj["status"] = {"lastScheduleTime": "2026-09-14T09:05:00Z", "lastSuccessfulTime": "2026-09-14T09:05:41Z"}
    elif kind == "Service":
        # A headless Service keeps "None": the server allocates no address.
        ip = spec.get("clusterIP") or "10.43.%d.%d" % (int(h("ip", ident)[:2], 16), int(h("ip", ident)[2:4], 16) % 254 + 1)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec["ipFamilies"] = ["IPv4"]
        spec["ipFamilyPolicy"] = "SingleStack"
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("type", "ClusterIP")
        for p in spec.get("ports", []):
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p["port"])
        if spec["type"] == "LoadBalancer":
            spec["allocateLoadBalancerNodePorts"] = True
            spec["externalTrafficPolicy"] = "Cluster"
            for i, p in enumerate(spec.get("ports", [])):
                p["nodePort"] = 30000 + int(h("np", ident, str(i))[:4], 16) % 2767
            obj["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.%d" % (100 + int(h("lb", ident)[:2], 16) % 100), "ipMode": "VIP"}]}}
        else:
            obj["status"] = {"loadBalancer": {}}
    elif kind == "PersistentVolumeClaim":
        ann = meta.setdefault("annotations", {})
        ann["pv.kubernetes.io/bind-completed"] = "yes"
        ann["pv.kubernetes.io/bound-by-controller"] = "yes"
        prov = "rbd.csi.ceph.com" if cluster == "louise-michel" else "driver.longhorn.io"
        ann["volume.beta.kubernetes.io/storage-provisioner"] = prov
        ann["volume.kubernetes.io/storage-provisioner"] = prov
        meta["finalizers"] = ["kubernetes.io/pvc-protection"]
        spec.setdefault("volumeMode", "Filesystem")
        spec["volumeName"] = "pvc-" + uid(ident)
        obj["status"] = {"accessModes": spec.get("accessModes", []), "capacity": {"storage": spec["resources"]["requests"]["storage"]}, "phase": "Bound"}
    elif kind == "Ingress":
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.10" if cluster == "louise-michel" else "203.0.113.20"}]}}
    elif kind == "PodDisruptionBudget":
        obj["status"] = {"currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2, "observedGeneration": meta["generation"],
                         "conditions": [{"lastTransitionTime": stamp(ident), "message": "", "observedGeneration": meta["generation"], "reason": "SufficientPods", "status": "True", "type": "DisruptionAllowed"}]}
    elif kind == "Secret":
        secret_data(obj, ident)
    elif kind == "Database":
        meta["finalizers"] = ["cnpg.io/deleteDatabaseFinalizer"]
        obj["status"] = {"applied": True, "observedGeneration": meta["generation"]}
    elif kind == "Cluster":
        # A shared CloudNativePG cluster: what jardin applies (instances,
        # image, storage, roles, backup) plus what the operator defaults.
        roles = spec.get("managed", {}).get("roles", [])
        defaults = {
            "affinity": {"podAntiAffinityType": "preferred"},
            "bootstrap": {"initdb": {"database": "app", "encoding": "UTF8", "localeCType": "C", "localeCollate": "C", "owner": "app"}},
            "enablePDB": True,
            "enableSuperuserAccess": False,
            "failoverDelay": 0,
            "logLevel": "info",
            "maxSyncReplicas": 0,
            "minSyncReplicas": 0,
            "postgresql": {"parameters": {"max_connections": "400", "shared_buffers": "2GB"}},
            "primaryUpdateMethod": "restart",
            "primaryUpdateStrategy": "unsupervised",
        }
        obj["spec"] = {**defaults, **spec}
        obj["spec"]["storage"] = {"resizeInUseVolumes": True, **spec.get("storage", {})}
        for r in roles:
            r.setdefault("connectionLimit", -1)
            r.setdefault("inherit", True)
        obj["status"] = {"instances": spec.get("instances", 1), "readyInstances": spec.get("instances", 1), "phase": "Cluster in healthy state", "currentPrimary": meta["name"] + "-1",
                         "managedRolesStatus": {"byStatus": {"reconciled": sorted(r["name"] for r in roles)}}}
    elif kind == "BucketClaim":
        meta["finalizers"] = ["cosi.objectstorage.k8s.io/bucketclaim-protection"]
        obj["status"] = {"bucketName": "bc-" + uid(ident), "bucketReady": True}
    elif kind == "BucketAccess":
        meta["finalizers"] = ["cosi.objectstorage.k8s.io/bucketaccess-protection"]
        obj["status"] = {"accessGranted": True, "accountID": "ba-" + uid(ident)}
    meta["managedFields"] = managed
    return obj


def fake_secret(ident, key, n=32):
    """A stand-in for a generated value: deterministic, random-looking."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    raw = hashlib.sha256(("secret/" + ident + "/" + key).encode()).digest()
    raw += hashlib.sha256(raw).digest()
    return "".join(alphabet[b % len(alphabet)] for b in raw[:n])


def b64(s):
    return base64.b64encode(s.encode()).decode()


def secret_data(obj, ident):
    meta = obj["metadata"]
    ann = meta.setdefault("annotations", {})
    data = {}
    for k, v in obj.pop("stringData", {}).items():
        data[k] = b64(v)
    gen = ann.get("secret-generator.v1.mittwald.de/autogenerate")
    if gen:
        for k in gen.split(","):
            data.setdefault(k.strip(), b64(fake_secret(ident, k.strip())))
        ann["secret-generator.v1.mittwald.de/autogenerate-generated-at"] = stamp(ident, "gen")
        ann["secret-generator.v1.mittwald.de/secure"] = "yes"
        ann["secret-generator.v1.mittwald.de/type"] = "string"
    src = ann.get("replicator.v1.mittwald.de/replicate-from")
    if src:
        ns, name = src.split("/")
        cluster = ident.split("/")[0]
        src_ident = f"{cluster}/{ns}/Secret/{name}"
        data["password"] = b64(fake_secret(src_ident, "password"))
        data["username"] = b64(ident.split("/")[1].replace("-", "_"))
        ann["replicator.v1.mittwald.de/replicated-at"] = stamp(ident, "rep")
        ann["replicator.v1.mittwald.de/replicated-from-version"] = str(100000 + int(h("rv", src_ident)[:6], 16) % 900000)
        ann["replicator.v1.mittwald.de/replicated-keys"] = "password,username"
    if data:
        obj["data"] = dict(sorted(data.items()))


def find(objs, cluster, ns, kind, name):
    for o in objs[cluster]:
        m = o["metadata"]
        if o["kind"] == kind and m["name"] == name and m.get("namespace", "") == ns:
            return o
    sys.exit(f"edit target not found: {cluster}/{ns}/{kind}/{name}")


def edits_collective(objs):
    """The drift the golden plan of examples/collective shows."""
    lm, al = "louise-michel", "ada-lovelace"
    # 1. Missing: the pad of velorution-brest lost its Ingress (deleted by hand).
    objs[lm].remove(find(objs, lm, "velorution-brest-pad", "Ingress", "hedgedoc"))
    # 2. Changed fields: faire-ecole's Nextcloud was scaled down and pinned
    #    to the previous image by hand during an incident.
    d = find(objs, lm, "faire-ecole-cloud", "Deployment", "nextcloud")
    d["spec"]["replicas"] = 1
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["image"] = c["image"].replace("31.0.9", "31.0.8")
    for e in c["env"]:
        if e["name"] == "PHP_MEMORY_LIMIT":
            e["value"] = "1G"
    d["status"]["replicas"] = d["status"]["readyReplicas"] = d["status"]["availableReplicas"] = d["status"]["updatedReplicas"] = 1
    # …and `kubectl rollout restart` left its annotation (ignored by the
    # collective's plan.ignore: not a change).
    d["spec"]["template"]["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = "2026-09-14T10:12:03Z"
    # 3. The ConfigMap of habitat-solidaire's Nextcloud was edited live.
    cm = find(objs, al, "habitat-solidaire-cloud", "ConfigMap", "nextcloud")
    for k, v in cm["data"].items():
        if "client_max_body_size" in v:
            cm["data"][k] = v.replace("client_max_body_size 10G", "client_max_body_size 512M")
            break
    # 4. A namespace's Pod Security level was lowered by hand.
    ns = find(objs, lm, "", "Namespace", "festival-des-possibles-cloud")
    ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
    # 5. A Secret whose data we set differs: the database role's username.
    s = find(objs, al, "databases", "Secret", "le-zinc-pad-db")
    s["data"]["username"] = b64("le_zinc_pad_old")
    # 6. An extra label added by hand, which jardin does not set.
    svc = find(objs, al, "le-zinc-pad", "Service", "hedgedoc")
    svc["metadata"]["labels"]["debug"] = "true"
    # 7. An orphan: the pad of a tenant whose file was removed.
    orphan = copy.deepcopy(find(objs, lm, "velorution-brest-pad", "Deployment", "hedgedoc"))
    m = orphan["metadata"]
    m["namespace"] = "atelier-paysan-pad"
    for labels in (m["labels"], orphan["spec"]["selector"]["matchLabels"], orphan["spec"]["template"]["metadata"]["labels"]):
        for k in list(labels):
            if labels[k] == "velorution-brest-pad":
                labels[k] = "atelier-paysan-pad"
            if labels[k] == "velorution-brest":
                labels[k] = "atelier-paysan"
    m["uid"] = uid("orphan")
    objs[lm].append(orphan)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", help="output directory of `jardin build`")
    ap.add_argument("out", help="snapshot directory to write (one subdirectory per cluster)")
    ap.add_argument("--edits", choices=["collective"], help="apply the drift of a golden example")
    ap.add_argument("--kube", metavar="DIR", help="also write recorded API list responses here")
    args = ap.parse_args()
    k8s = os.path.join(args.build, "k8s")
    objs = {}
    for cluster in sorted(os.listdir(k8s)):
        objs[cluster] = []
        for dirpath, _, files in sorted(os.walk(os.path.join(k8s, cluster))):
            for f in sorted(x for x in files if x.endswith(".yaml")):
                with open(os.path.join(dirpath, f)) as fh:
                    objs[cluster].append(server_side(yaml.safe_load(fh), cluster))
    if args.edits == "collective":
        edits_collective(objs)
    for cluster, items in objs.items():
        items.sort(key=lambda o: (o["apiVersion"], o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        d = os.path.join(args.out, cluster)
        os.makedirs(d, exist_ok=True)
        doc = {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
        with open(os.path.join(d, "list.yaml"), "w") as fh:
            yaml.safe_dump(doc, fh, sort_keys=True, default_flow_style=False, width=1000)
        if args.kube:
            write_kube(args.kube, cluster, items)


def plural(kind):
    k = kind.lower()
    if k.endswith("s"):
        return k + "es"
    if k.endswith("y"):
        return k[:-1] + "ies"
    return k + "s"


def write_kube(root, cluster, items):
    """Recorded list responses: the path of the list URL, the JSON body."""
    groups = {}
    for o in items:
        groups.setdefault((o["apiVersion"], o["kind"]), []).append(o)
    d = os.path.join(root, cluster)
    os.makedirs(d, exist_ok=True)
    for (api, kind), objs in sorted(groups.items()):
        base = "/api/v1" if api == "v1" else f"/apis/{api}"
        body = {
            "kind": kind + "List",
            "apiVersion": api,
            "metadata": {"resourceVersion": str(200000 + int(h("list", cluster, kind)[:4], 16))},
            # The API server leaves out each item's apiVersion and kind.
            "items": [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in objs],
        }
        name = (base + "/" + plural(kind)).strip("/").replace("/", "_") + ".json"
        with open(os.path.join(d, name), "w") as fh:
            json.dump(body, fh, sort_keys=True, separators=(",", ":"))
            fh.write("\n")


if __name__ == "__main__":
    main()
