//! Pure derivation: coverage → Kubernetes objects, and the details the
//! report shows (computed here once, so the report says exactly what the
//! objects do). No IO, no clock, no randomness.
//!
//! - Databases live on shared CloudNativePG clusters, which back up whole
//!   through the Barman Cloud plugin: one `ObjectStore` per cluster (the
//!   destination, the target's keys, the retention), the cluster's
//!   `spec.plugins` naming it as WAL archiver (WAL archiving gives
//!   point-in-time recovery), and one `ScheduledBackup` of `method:
//!   plugin`. The cluster follows the collective's target and schedule;
//!   its recovery window is the longest that any tenant on it asks for.
//! - Volumes, buckets and escrowed secrets of an app are backed up by one
//!   k8up `Schedule` in the app's namespace (backup, check, prune), into a
//!   restic repository of its own at `<target>/<prefix>/<cluster>/<namespace>`.
//!   k8up reads PVCs; a bucket is streamed by a `PreBackupPod` running
//!   rclone, a secret that encrypts data by a `PreBackupPod` running tar.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::schedule;
use super::{source_secret, Coverage, Engine, Kind, Method, Piece, Status};
use crate::emit::k8s::add_labels;
use crate::emit::DesiredObject;
use jardin_core::kube::{GENERATE_ANNOTATION, MANAGED_BY, TENANT_LABEL};
use jardin_core::model::{
    BackupTarget, Collective, CompiledTenant, Direction, Flow, FlowPort, Peer, Retention,
};

/// Namespace where the collective keeps the backup credentials and keys;
/// jardin replicates them from there into the namespaces that need them.
pub(crate) const BACKUP_NAMESPACE: &str = "jardin-backup";
const REPLICATE_FROM: &str = "replicator.v1.mittwald.de/replicate-from";
const REPLICATION_ALLOWED: &str = "replicator.v1.mittwald.de/replication-allowed";
const REPLICATION_NAMESPACES: &str = "replicator.v1.mittwald.de/replication-allowed-namespaces";
pub(crate) use jardin_core::kube::K8UP_BACKUP_ANNOTATION;
const RCLONE_IMAGE: &str = "docker.io/rclone/rclone:1.69";
const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:1.37";
/// Secret names in an app namespace.
pub(crate) const TARGET_SECRET: &str = "backup-target";
pub(crate) const REPO_SECRET: &str = "backup-repo";
/// The label k8up puts on the pods of its jobs (backup, check, prune).
pub(crate) const K8UP_JOB_LABEL: &str = "k8upjob";
/// The Barman Cloud plugin of CloudNativePG, as a Cluster and a
/// ScheduledBackup name it.
pub(crate) const BARMAN_CLOUD_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";
/// The API of the plugin's `ObjectStore`.
pub(crate) const OBJECT_STORE_API: &str = "barmancloud.cnpg.io/v1";
/// The label k8up gives the pods of a PreBackupPod: its name (k8up 2.x:
/// operator/backupcontroller/prebackup_utils.go, `generateDeployments`,
/// which replaces the template's labels with this one and
/// `k8up.io/backupCommandPod`).
pub(crate) const PRE_BACKUP_POD_LABEL: &str = "k8up.io/preBackupPod";

/// How long a piece is kept.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kept {
    Generations(Retention),
    Window { days: u32 },
}

/// What a covered piece gets, as the report shows it.
#[derive(Clone, Debug)]
pub(crate) struct Detail {
    /// Five-field cron (UTC).
    pub(crate) schedule: String,
    pub(crate) verify: Option<String>,
    pub(crate) kept: Kept,
    pub(crate) target: String,
    pub(crate) location: String,
    /// `s3://bucket/path` of the repository or barman destination.
    pub(crate) destination: String,
    pub(crate) endpoint: String,
    /// Output paths of the objects that implement it.
    pub(crate) objects: Vec<String>,
}

fn join_path(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split('/'))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

fn obj_path(cluster: &str, namespace: &str, kind: &str, name: &str) -> String {
    format!(
        "k8s/{cluster}/{namespace}/{}-{name}.yaml",
        kind.to_lowercase()
    )
}

/// The backup of one shared CloudNativePG cluster.
#[derive(Clone, Debug)]
pub(crate) struct PgBackup {
    pub(crate) schedule: String,
    pub(crate) pitr_days: u32,
    pub(crate) target: String,
}

/// (cluster, namespace, name) of a CloudNativePG cluster → its backup.
pub(crate) fn pg_backups(
    collective: &Collective,
    cov: &Coverage,
) -> BTreeMap<(String, String, String), PgBackup> {
    let mut out: BTreeMap<(String, String, String), PgBackup> = BTreeMap::new();
    let Some(base) = &collective.defaults.backup else {
        return out;
    };
    for p in &cov.pieces {
        let (Some(e), Some((ns, name))) = (p.effective(), &p.pg) else {
            continue;
        };
        let key = (p.cluster.clone(), ns.clone(), name.clone());
        let entry = out.entry(key).or_insert_with(|| PgBackup {
            schedule: schedule::resolve(
                &base.schedule,
                &format!("{}/{ns}/{name}", p.cluster),
                &base.window,
            ),
            pitr_days: 0,
            target: base.target.clone(),
        });
        entry.pitr_days = entry.pitr_days.max(e.policy.pitr_days).max(1);
    }
    out
}

/// What a covered piece gets; `None` when it is not covered or its target
/// is unknown (J0107 reports it).
pub(crate) fn detail(
    collective: &Collective,
    pg: &BTreeMap<(String, String, String), PgBackup>,
    p: &Piece,
) -> Option<Detail> {
    let e = p.effective()?;
    if p.kind == Kind::Database {
        let (ns, name) = p.pg.as_ref()?;
        let b = pg.get(&(p.cluster.clone(), ns.clone(), name.clone()))?;
        let t = collective.backup_targets.get(&b.target)?;
        return Some(Detail {
            schedule: b.schedule.clone(),
            verify: None,
            kept: Kept::Window { days: b.pitr_days },
            target: b.target.clone(),
            location: t.location.clone(),
            destination: pg_destination(t, &p.cluster, name),
            endpoint: t.endpoint.clone(),
            objects: vec![
                obj_path(&p.cluster, ns, "Cluster", name),
                obj_path(&p.cluster, ns, "ObjectStore", name),
                obj_path(&p.cluster, ns, "ScheduledBackup", name),
            ],
        });
    }
    let t = collective.backup_targets.get(&e.policy.target)?;
    let key = format!("{}/{}", p.tenant, p.instance);
    let mut objects = vec![obj_path(&p.cluster, &p.namespace, "Schedule", "backup")];
    match p.method {
        Method::K8upRclone => objects.push(obj_path(
            &p.cluster,
            &p.namespace,
            "PreBackupPod",
            &format!("bucket-{}", p.name),
        )),
        Method::K8upEscrow => {
            objects.push(obj_path(&p.cluster, &p.namespace, "PreBackupPod", "escrow"));
        }
        Method::K8upDump => objects.push(obj_path(
            &p.cluster,
            &p.namespace,
            "PreBackupPod",
            &format!("dump-{}", p.name),
        )),
        _ => {}
    }
    Some(Detail {
        schedule: schedule::resolve(&e.policy.schedule, &key, &e.policy.window),
        verify: Some(schedule::resolve(
            &e.policy.verify_schedule,
            &format!("{key}/check"),
            &e.policy.window,
        )),
        kept: Kept::Generations(e.policy.retention.clone()),
        target: e.policy.target.clone(),
        location: t.location.clone(),
        destination: format!("s3://{}", repo_bucket(t, &p.cluster, &p.namespace)),
        endpoint: t.endpoint.clone(),
        objects,
    })
}

fn repo_bucket(t: &BackupTarget, cluster: &str, namespace: &str) -> String {
    join_path(&[&t.bucket, &t.prefix, cluster, namespace])
}

fn pg_destination(t: &BackupTarget, cluster: &str, pg_name: &str) -> String {
    format!(
        "s3://{}",
        join_path(&[&t.bucket, &t.prefix, cluster, "postgres", pg_name])
    )
}

fn object(api: &str, kind: &str, name: &str, namespace: &str) -> Value {
    json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace}})
}

/// A Secret copied by the replicator from `jardin-backup/<source>`.
fn replica(name: &str, namespace: &str, source: &str) -> Value {
    let mut s = object("v1", "Secret", name, namespace);
    s["metadata"]["annotations"] = json!({REPLICATE_FROM: format!("{BACKUP_NAMESPACE}/{source}")});
    s["type"] = json!("Opaque");
    s
}

fn s3_refs(t: &BackupTarget, secret: &str) -> (Value, Value) {
    (
        json!({"name": secret, "key": t.credential_keys.access_key_id}),
        json!({"name": secret, "key": t.credential_keys.secret_access_key}),
    )
}

/// Restricted pod security: the app namespaces enforce it.
fn container_security() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "runAsUser": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// Streams a COSI bucket into the backup: rclone copies it to scratch space
/// with the credentials of the app's own `BucketInfo`, then tar writes it to
/// stdout, which k8up stores in restic. The sed calls read the BucketInfo
/// JSON (one line) without needing jq in the image.
fn bucket_pod(namespace: &str, purpose: &str) -> Value {
    let script = "set -e; i=/cosi/BucketInfo; v() { sed -n \"s/.*\\\"$1\\\": *\\\"\\([^\\\"]*\\)\\\".*/\\1/p\" $i | head -n 1; }; \
export RCLONE_CONFIG_SRC_TYPE=s3 RCLONE_CONFIG_SRC_PROVIDER=Other RCLONE_CONFIG_SRC_ENDPOINT=\"$(v endpoint)\" \
RCLONE_CONFIG_SRC_REGION=\"$(v region)\" RCLONE_CONFIG_SRC_ACCESS_KEY_ID=\"$(v accessKeyID)\" \
RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY=\"$(v accessSecretKey)\"; \
rm -rf /scratch/data; rclone copy --quiet \"src:$(v bucketName)\" /scratch/data; tar -cf - -C /scratch/data .";
    let mut o = object(
        "k8up.io/v1",
        "PreBackupPod",
        &format!("bucket-{purpose}"),
        namespace,
    );
    o["spec"] = json!({
        "backupCommand": "sh -c 'eval \"$JARDIN_BACKUP\"'",
        "fileExtension": ".tar",
        "pod": {"spec": {
            "containers": [{
                "name": "rclone",
                "image": RCLONE_IMAGE,
                "command": ["sleep", "infinity"],
                "env": [
                    {"name": "JARDIN_BACKUP", "value": script},
                    {"name": "RCLONE_CONFIG", "value": "/scratch/rclone.conf"},
                    {"name": "HOME", "value": "/scratch"},
                ],
                "securityContext": container_security(),
                "volumeMounts": [
                    {"name": "cosi", "mountPath": "/cosi", "readOnly": true},
                    {"name": "scratch", "mountPath": "/scratch"},
                ],
            }],
            "volumes": [
                {"name": "cosi", "secret": {"secretName": format!("bucket-{purpose}")}},
                {"name": "scratch", "emptyDir": {}},
            ],
        }},
    });
    o
}

/// Dumps a database server jardin runs for the app (`emit::services`): k8up
/// runs the engine's dump client in a pod of the server's image, which
/// reaches the server over the network and writes one consistent dump to
/// stdout. The password goes into a file in the pod's scratch space, never
/// on a command line.
/// - MariaDB: `mariadb-dump --single-transaction` reads InnoDB in one
///   snapshot without locking the app out;
/// - MongoDB: `mongodump --oplog` adds the operations made during the dump,
///   so that a restore with `--oplogReplay` is consistent at its end.
fn dump_pod(namespace: &str, state: &str, engine: Engine) -> Value {
    use crate::emit::services::{mongodb_member, MARIADB, MARIADB_IMAGE, MONGODB, MONGODB_IMAGE};
    let (image, secret, key, extension, script) = match engine {
        Engine::Mariadb => (
            MARIADB_IMAGE,
            MARIADB,
            "root-password",
            ".sql",
            format!(
                "set -e; umask 077; printf '[client]\\npassword=%s\\n' \"$DB_PASSWORD\" > /scratch/client.cnf; \
mariadb-dump --defaults-extra-file=/scratch/client.cnf --host={MARIADB} --user=root \
--single-transaction --routines --events --triggers --all-databases"
            ),
        ),
        Engine::Mongodb => (
            MONGODB_IMAGE,
            MONGODB,
            "root-password",
            ".archive.gz",
            format!(
                "set -e; umask 077; printf 'password: \"%s\"\\n' \"$DB_PASSWORD\" > /scratch/dump.yaml; \
mongodump --config=/scratch/dump.yaml --host={} --username=root --authenticationDatabase=admin \
--archive --gzip --oplog",
                mongodb_member(namespace)
            ),
        ),
    };
    let mut o = object(
        "k8up.io/v1",
        "PreBackupPod",
        &format!("dump-{state}"),
        namespace,
    );
    let mut security = container_security();
    // The image's own user (`mysql`, `mongodb`: 999).
    security["runAsUser"] = json!(999);
    o["spec"] = json!({
        "backupCommand": "sh -c 'eval \"$JARDIN_BACKUP\"'",
        "fileExtension": extension,
        "pod": {"spec": {
            "containers": [{
                "name": "dump",
                "image": image,
                "command": ["sleep", "infinity"],
                "env": [
                    {"name": "JARDIN_BACKUP", "value": script},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}},
                    {"name": "HOME", "value": "/scratch"},
                ],
                "securityContext": security,
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
            }],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
        }},
    });
    o
}

/// Escrow: the secrets that encrypt an app's data are written (tar) into the
/// same encrypted restic repository as the data, so a restore has both.
fn escrow_pod(namespace: &str, secrets: &[&str]) -> Value {
    let mut o = object("k8up.io/v1", "PreBackupPod", "escrow", namespace);
    let mounts: Vec<Value> = secrets
        .iter()
        .map(|s| json!({"name": format!("secret-{s}"), "mountPath": format!("/escrow/{s}"), "readOnly": true}))
        .collect();
    let volumes: Vec<Value> = secrets
        .iter()
        .map(|s| json!({"name": format!("secret-{s}"), "secret": {"secretName": s}}))
        .collect();
    o["spec"] = json!({
        "backupCommand": "tar -chf - -C /escrow .",
        "fileExtension": ".tar",
        "pod": {"spec": {
            "containers": [{
                "name": "escrow",
                "image": BUSYBOX_IMAGE,
                "command": ["sleep", "infinity"],
                "securityContext": container_security(),
                "volumeMounts": mounts,
            }],
            "volumes": volumes,
        }},
    });
    o
}

fn labels(tenant: Option<&str>, namespace: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(MANAGED_BY.into(), json!("jardin"));
    m.insert("app.kubernetes.io/component".into(), json!("backup"));
    if let Some(t) = tenant {
        m.insert(TENANT_LABEL.into(), json!(t));
        m.insert("app.kubernetes.io/part-of".into(), json!(t));
    }
    if let Some(ns) = namespace {
        m.insert("app.kubernetes.io/instance".into(), json!(ns));
    }
    m
}

/// Every backup object, from the coverage: the tenants' and the shared
/// ones (the pipeline emits them apart, tests look at them together).
#[cfg(test)]
pub(crate) fn objects(collective: &Collective, cov: &Coverage) -> Vec<DesiredObject> {
    let mut out = tenant_objects(collective, cov);
    merge(&mut out, shared_objects(collective, cov), cov);
    out
}

/// The backup objects of the tenants in `cov`, in their app namespaces:
/// enough to emit one tenant at a time, from that tenant's coverage.
pub(crate) fn tenant_objects(collective: &Collective, cov: &Coverage) -> Vec<DesiredObject> {
    derive(collective, cov, Scope::Tenants)
}

/// The cluster-wide backup objects (repository keys, database backups),
/// which depend on every tenant's coverage.
pub(crate) fn shared_objects(collective: &Collective, cov: &Coverage) -> Vec<DesiredObject> {
    derive(collective, cov, Scope::Shared)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Tenants,
    Shared,
}

fn derive(collective: &Collective, cov: &Coverage, scope: Scope) -> Vec<DesiredObject> {
    let mut out = Vec::new();
    // Volume and bucket pieces never read the database schedules.
    let pg = if scope == Scope::Tenants {
        BTreeMap::new()
    } else {
        pg_backups(collective, cov)
    };

    // Namespaces that read a generated repository key, per cluster.
    let mut generated_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for app in k8up_apps(collective, cov) {
        let K8upApp {
            cluster,
            tenant,
            instance,
            pieces,
            target: t,
            key,
        } = &app;
        let first = pieces[0];
        let Some(e) = first.effective() else { continue };
        let ns = first.namespace.as_str();
        let Some(d) = detail(collective, &pg, first) else {
            continue;
        };
        if !matches!(key, jardin_core::model::SecretSource::Ref(_)) {
            generated_key
                .entry(cluster.to_string())
                .or_default()
                .insert(ns.to_string());
        }
        if scope == Scope::Shared {
            continue;
        }
        let mut objs = Vec::new();
        let (cred_source, _) =
            source_secret(&t.credentials, &format!("target-{}", e.policy.target));
        objs.push(replica(TARGET_SECRET, ns, &cred_source));
        let (repo_source, repo_key) = source_secret(key, REPO_SECRET);
        objs.push(replica(REPO_SECRET, ns, &repo_source));
        let (id, secret) = s3_refs(t, TARGET_SECRET);
        let r = &e.policy.retention;
        let history = json!(2);
        let mut schedule = object("k8up.io/v1", "Schedule", "backup", ns);
        schedule["spec"] = json!({
            "backend": {
                "repoPasswordSecretRef": {"name": REPO_SECRET, "key": repo_key},
                "s3": {
                    "endpoint": t.endpoint,
                    "bucket": repo_bucket(t, cluster, ns),
                    "accessKeyIDSecretRef": id,
                    "secretAccessKeySecretRef": secret,
                },
            },
            "backup": {"schedule": d.schedule, "successfulJobsHistoryLimit": history, "failedJobsHistoryLimit": history},
            "check": {"schedule": d.verify.clone().unwrap_or_default(), "successfulJobsHistoryLimit": history, "failedJobsHistoryLimit": history},
            "prune": {
                "schedule": schedule::resolve("weekly", &format!("{tenant}/{instance}/prune"), &e.policy.window),
                "retention": {"keepDaily": r.daily, "keepWeekly": r.weekly, "keepMonthly": r.monthly},
                "successfulJobsHistoryLimit": history,
                "failedJobsHistoryLimit": history,
            },
        });
        objs.push(schedule);
        let mut secrets = Vec::new();
        for p in pieces {
            match p.method {
                Method::K8upRclone => objs.push(bucket_pod(ns, &p.name)),
                Method::K8upEscrow => secrets.push(p.name.as_str()),
                Method::K8upDump => objs.extend(p.engine.map(|e| dump_pod(ns, &p.name, e))),
                _ => {}
            }
        }
        if !secrets.is_empty() {
            objs.push(escrow_pod(ns, &secrets));
        }
        objs.extend(crate::emit::flows::policies(
            ns,
            &pod_flows(collective, &app),
        ));
        let l = labels(Some(tenant), Some(ns));
        for mut o in objs {
            add_labels(&mut o, &l);
            out.push(DesiredObject::new(
                cluster,
                Some(tenant.to_string()),
                Some(instance.to_string()),
                o,
            ));
        }
    }
    if scope == Scope::Tenants {
        return out;
    }
    // The generated repository key, once per cluster, readable by the
    // namespaces that replicate it.
    for (cluster, namespaces) in generated_key {
        let mut s = object("v1", "Secret", REPO_SECRET, BACKUP_NAMESPACE);
        s["metadata"]["annotations"] = json!({
            GENERATE_ANNOTATION: "password",
            REPLICATION_ALLOWED: "true",
            REPLICATION_NAMESPACES: namespaces.into_iter().collect::<Vec<_>>().join(","),
        });
        s["type"] = json!("Opaque");
        add_labels(&mut s, &labels(None, None));
        out.push(DesiredObject::new(&cluster, None, None, s));
    }

    // Per shared CloudNativePG cluster.
    for ((cluster, ns, name), b) in pg {
        let Some(t) = collective.backup_targets.get(&b.target) else {
            continue;
        };
        let (cred_source, _) = source_secret(&t.credentials, &format!("target-{}", b.target));
        let secret_name = format!("{TARGET_SECRET}-{}", b.target);
        let (id, secret) = s3_refs(t, &secret_name);
        // The Barman Cloud plugin (CloudNativePG's in-tree object store is
        // deprecated since 1.26 and gone in 1.31): an ObjectStore beside
        // the Cluster holds the destination, the keys and the retention;
        // the Cluster names it as its WAL archiver; base backups ask the
        // plugin for them.
        let mut store = object(OBJECT_STORE_API, "ObjectStore", &name, &ns);
        store["spec"] = json!({
            "configuration": {
                "destinationPath": pg_destination(t, &cluster, &name),
                "endpointURL": t.endpoint,
                "s3Credentials": {"accessKeyId": id, "secretAccessKey": secret},
                "wal": {"compression": "gzip", "encryption": "AES256"},
                "data": {"compression": "gzip", "encryption": "AES256", "jobs": 2},
            },
            "retentionPolicy": format!("{}d", b.pitr_days),
        });
        let mut c = object("postgresql.cnpg.io/v1", "Cluster", &name, &ns);
        c["spec"] = json!({"plugins": [{
            "name": BARMAN_CLOUD_PLUGIN,
            "isWALArchiver": true,
            "parameters": {"barmanObjectName": name},
        }]});
        let mut sb = object("postgresql.cnpg.io/v1", "ScheduledBackup", &name, &ns);
        sb["spec"] = json!({
            "schedule": schedule::with_seconds(&b.schedule),
            "cluster": {"name": name},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_CLOUD_PLUGIN},
            "backupOwnerReference": "self",
            "immediate": true,
        });
        let l = labels(None, None);
        for mut o in [store, c, sb, replica(&secret_name, &ns, &cred_source)] {
            add_labels(&mut o, &l);
            out.push(DesiredObject::new(&cluster, None, None, o));
        }
    }
    out
}

/// An app whose volumes, buckets or escrowed secrets k8up backs up: one
/// `Schedule` in its namespace, with its pods and their flows.
pub(crate) struct K8upApp<'a> {
    pub(crate) cluster: &'a str,
    pub(crate) tenant: &'a str,
    pub(crate) instance: &'a str,
    /// Its covered k8up pieces, in coverage order (never empty).
    pub(crate) pieces: Vec<&'a Piece>,
    pub(crate) target: &'a BackupTarget,
    /// The repository password.
    pub(crate) key: &'a jardin_core::model::SecretSource,
}

/// Every app that gets a k8up `Schedule`: covered non-database pieces,
/// grouped by app, whose target is known (else J0107) and whose policy has
/// a repository password (else J0504).
pub(crate) fn k8up_apps<'a>(collective: &'a Collective, cov: &'a Coverage) -> Vec<K8upApp<'a>> {
    let mut by_app: BTreeMap<(&str, &str, &str), Vec<&Piece>> = BTreeMap::new();
    for p in &cov.pieces {
        if p.kind != Kind::Database && p.effective().is_some() {
            by_app
                .entry((&p.cluster, &p.tenant, &p.instance))
                .or_default()
                .push(p);
        }
    }
    by_app
        .into_iter()
        .filter_map(|((cluster, tenant, instance), pieces)| {
            let e = pieces[0].effective()?;
            Some(K8upApp {
                cluster,
                tenant,
                instance,
                target: collective.backup_targets.get(&e.policy.target)?,
                key: e.policy.encryption_key.as_ref()?,
                pieces,
            })
        })
        .collect()
}

/// The flows of an app's backup pods. k8up's backup, check and prune pods
/// reach the repository at the target's endpoint; the backup pod also
/// lists the namespace's pods and runs the backup command in each
/// PreBackupPod through the Kubernetes API (k8up: how backups work). A
/// bucket's PreBackupPod reads the app's object store.
pub(crate) fn pod_flows(collective: &Collective, app: &K8upApp<'_>) -> Vec<Flow> {
    use crate::emit::flows;
    let Some(cluster) = collective.clusters.get(app.cluster) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut server_halves = Vec::new();
    let mut add = |group: &str,
                   pods: &BTreeMap<String, String>,
                   peer_name: &str,
                   why: &str,
                   (peer, ports): (Peer, Vec<FlowPort>)| {
        out.push(Flow {
            name: flows::flow_name(group, Direction::Egress, peer_name),
            why: why.to_string(),
            direction: Direction::Egress,
            group: group.to_string(),
            pods: pods.clone(),
            peer,
            ports,
        });
    };
    let k8up = BTreeMap::from([(K8UP_JOB_LABEL.to_string(), "true".to_string())]);
    add(
        "k8up",
        &k8up,
        "dns",
        "k8up's pods resolve the backup target's endpoint.",
        flows::dns(cluster),
    );
    for api in flows::kubernetes_api(app.cluster, cluster) {
        add(
            "k8up",
            &k8up,
            "kubernetes api",
            "k8up's backup pod lists the namespace's pods and runs each PreBackupPod's backup command through the API.",
            api,
        );
    }
    let port = flows::endpoint_port(&app.target.endpoint);
    for peer in flows::to_addresses(&app.target.addresses) {
        add(
            "k8up",
            &k8up,
            "backup target",
            "restic writes, checks and prunes the repository at the target's endpoint.",
            (
                peer,
                vec![FlowPort {
                    protocol: "TCP".into(),
                    port: Some(port),
                }],
            ),
        );
    }
    for p in app.pieces.iter().filter(|p| p.method == Method::K8upDump) {
        use crate::emit::services::{MARIADB, MARIADB_PORT, MONGODB, MONGODB_PORT};
        let (server_name, server_port, client) = match p.engine {
            Some(Engine::Mongodb) => (MONGODB, MONGODB_PORT, "mongodump"),
            _ => (MARIADB, MARIADB_PORT, "mariadb-dump"),
        };
        let name = format!("dump-{}", p.name);
        let pods = BTreeMap::from([(PRE_BACKUP_POD_LABEL.to_string(), name.clone())]);
        add(
            &name,
            &pods,
            "dns",
            &format!("{client} resolves the server's Service."),
            flows::dns(cluster),
        );
        let server = BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), p.app.clone()),
            (
                "app.kubernetes.io/instance".to_string(),
                p.namespace.clone(),
            ),
            (
                "app.kubernetes.io/component".to_string(),
                server_name.to_string(),
            ),
        ]);
        let port = vec![FlowPort {
            protocol: "TCP".into(),
            port: Some(server_port),
        }];
        add(
            &name,
            &pods,
            server_name,
            &format!("{client} reads every database from the app's server."),
            (
                Peer::Pods {
                    namespace: None,
                    labels: server.clone(),
                },
                port.clone(),
            ),
        );
        // The server's half of the same flow, in a policy of its own: the
        // app's flows to the server have theirs.
        server_halves.push(Flow {
            name: flows::flow_name(server_name, Direction::Ingress, &name),
            why: format!("The backup's {client} reads every database."),
            direction: Direction::Ingress,
            group: format!("{server_name}-{name}"),
            pods: server,
            peer: Peer::Pods {
                namespace: None,
                labels: pods.clone(),
            },
            ports: port,
        });
    }
    for p in app.pieces.iter().filter(|p| p.method == Method::K8upRclone) {
        let name = format!("bucket-{}", p.name);
        let pods = BTreeMap::from([(PRE_BACKUP_POD_LABEL.to_string(), name.clone())]);
        add(
            &name,
            &pods,
            "dns",
            "rclone resolves the object store's endpoint.",
            flows::dns(cluster),
        );
        let Some(store) = p
            .object_store
            .as_ref()
            .and_then(|s| cluster.services.object_stores.get(s))
        else {
            continue;
        };
        let port = flows::endpoint_port(&store.endpoint);
        for peer in flows::to_addresses(&store.addresses) {
            add(
                &name,
                &pods,
                "object store",
                "rclone copies the bucket from the app's object store.",
                (
                    peer,
                    vec![FlowPort {
                        protocol: "TCP".into(),
                        port: Some(port),
                    }],
                ),
            );
        }
    }
    out.extend(server_halves);
    out
}

/// Adds the flows of each app's backup pods to the app's own, where the
/// rule that checks the NetworkPolicies finds them.
pub(crate) fn declare_flows(
    collective: &Collective,
    cov: &Coverage,
    compiled: &mut CompiledTenant,
) {
    for app in k8up_apps(collective, cov) {
        if compiled.tenant.id != app.tenant {
            continue;
        }
        let flows = pod_flows(collective, &app);
        if let Some(a) = compiled.apps.get_mut(app.instance) {
            a.flows.extend(flows);
        }
    }
}

/// Adds the backup objects to the desired state: a partial `Cluster` is
/// merged into the one jardin already emits (same cluster, namespace and
/// name); a volume opted out of backups gets `k8up.io/backup: "false"` on
/// its PVC, so that k8up skips it.
pub(crate) fn merge(objects: &mut Vec<DesiredObject>, backup: Vec<DesiredObject>, cov: &Coverage) {
    let mut index: BTreeMap<(String, String, String, String), usize> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.key(), i))
        .collect();
    for o in backup {
        match index.get(&o.key()) {
            Some(&i) if o.kind() == "Cluster" => {
                if let (Some(spec), Some(add)) = (
                    objects[i].value["spec"].as_object_mut(),
                    o.value["spec"].as_object(),
                ) {
                    for (k, v) in add {
                        spec.insert(k.clone(), v.clone());
                    }
                }
            }
            _ => {
                index.insert(o.key(), objects.len());
                objects.push(o);
            }
        }
    }
    // k8up runs a Schedule's backup, check and prune pods with the
    // Schedule's pod security context only, never a container security
    // context: they cannot meet `restricted` (no way to forbid privilege
    // escalation or drop capabilities), and a namespace enforcing it
    // refuses them. A namespace k8up works in enforces `baseline`, and
    // still warns and audits against `restricted`.
    let k8up: BTreeSet<(String, String)> = objects
        .iter()
        .filter(|o| o.kind() == "Schedule" && o.value["apiVersion"] == "k8up.io/v1")
        .map(|o| (o.cluster.clone(), o.namespace().unwrap_or("").to_string()))
        .collect();
    for o in objects.iter_mut().filter(|o| o.kind() == "Namespace") {
        if k8up.contains(&(o.cluster.clone(), o.name().to_string())) {
            let labels = &mut o.value["metadata"]["labels"];
            if labels["pod-security.kubernetes.io/enforce"] == "restricted" {
                labels["pod-security.kubernetes.io/enforce"] = json!("baseline");
                labels["pod-security.kubernetes.io/audit"] = json!("restricted");
            }
        }
    }
    let excluded: BTreeSet<(String, String, String)> = cov
        .pieces
        .iter()
        .filter(|p| p.kind == Kind::Volume && matches!(p.status, Status::OptedOut { .. }))
        .map(|p| (p.cluster.clone(), p.namespace.clone(), p.name.clone()))
        .collect();
    for o in objects.iter_mut() {
        if o.kind() != "PersistentVolumeClaim" {
            continue;
        }
        let key = (
            o.cluster.clone(),
            o.namespace().unwrap_or("").to_string(),
            o.name().to_string(),
        );
        if excluded.contains(&key) {
            if let Some(meta) = o.value["metadata"].as_object_mut() {
                let ann = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(a) = ann.as_object_mut() {
                    a.insert(K8UP_BACKUP_ANNOTATION.into(), json!("false"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{Effective, Layer};
    use jardin_core::model::BackupPolicy;

    fn collective(key: Value) -> Collective {
        let mut v = crate::test_support::collective_json();
        v["defaults"]["backup"]["encryption_key"] = key;
        v["plans"] = json!({});
        v["clusters"] = json!({});
        v["backup_targets"]["offsite"]["endpoint"] = json!("https://s3.example.net");
        v["backup_targets"]["offsite"]["location"] = json!("elsewhere");
        serde_json::from_value(v).unwrap()
    }

    fn piece(c: &Collective, name: &str, kind: Kind, method: Method) -> Piece {
        let policy: BackupPolicy = c.defaults.backup.clone().unwrap();
        Piece {
            tenant: "t".into(),
            instance: "chat".into(),
            app: "synapse".into(),
            cluster: "k".into(),
            namespace: "t-chat".into(),
            name: name.into(),
            kind,
            criticality: "high".into(),
            method,
            pg: (kind == Kind::Database).then(|| ("databases".into(), "pg".into())),
            object_store: None,
            engine: None,
            status: Status::Covered(Box::new(Effective {
                policy,
                origin: [("target", Layer::Collective)].into_iter().collect(),
            })),
        }
    }

    fn every_kind(c: &Collective) -> Coverage {
        Coverage {
            pieces: vec![
                piece(c, "database", Kind::Database, Method::CnpgBarman),
                piece(c, "media", Kind::Bucket, Method::K8upRclone),
                piece(c, "data", Kind::Volume, Method::K8upVolume),
                piece(c, "signing-key", Kind::Secret, Method::K8upEscrow),
            ],
            apps: BTreeMap::new(),
        }
    }

    #[test]
    fn every_backup_object_passes_its_schema() {
        for key in [
            json!({"generate": {}}),
            json!({"ref": {"name": "repo", "key": "pw"}}),
        ] {
            let c = collective(key);
            let objects = objects(&c, &every_kind(&c));
            let kinds: BTreeSet<&str> = objects.iter().map(DesiredObject::kind).collect();
            for k in [
                "Schedule",
                "PreBackupPod",
                "ScheduledBackup",
                "Cluster",
                "ObjectStore",
                "Secret",
            ] {
                assert!(kinds.contains(k), "no {k} in {kinds:?}");
            }
            // The Cluster is a fragment (its `plugins`), merged into the
            // shared cluster jardin emits; the rest are whole objects.
            for o in objects.iter().filter(|o| o.kind() != "Cluster") {
                let v = crate::schema::validate(&o.value);
                assert!(
                    v.is_empty(),
                    "{}: {:?}",
                    o.path(),
                    v.iter().map(|v| &v.message).collect::<Vec<_>>()
                );
            }
            let escrow = objects.iter().find(|o| o.name() == "escrow").unwrap();
            assert_eq!(
                escrow.value["spec"]["pod"]["spec"]["volumes"][0]["secret"]["secretName"],
                "signing-key"
            );
        }
    }

    #[test]
    fn derivation_is_deterministic_and_cnpg_reads_six_fields() {
        let c = collective(json!({"generate": {}}));
        let cov = every_kind(&c);
        let a: Vec<Value> = objects(&c, &cov).into_iter().map(|o| o.value).collect();
        let b: Vec<Value> = objects(&c, &cov).into_iter().map(|o| o.value).collect();
        assert_eq!(a, b);
        let sb = a.iter().find(|o| o["kind"] == "ScheduledBackup").unwrap();
        assert_eq!(
            sb["spec"]["schedule"].as_str().unwrap().split(' ').count(),
            6
        );
        assert_eq!(sb["spec"]["method"], "plugin");
        assert_eq!(
            sb["spec"]["pluginConfiguration"]["name"],
            BARMAN_CLOUD_PLUGIN
        );
        let store = a.iter().find(|o| o["kind"] == "ObjectStore").unwrap();
        assert_eq!(store["spec"]["retentionPolicy"], "7d");
        assert_eq!(
            store["spec"]["configuration"]["s3Credentials"]["accessKeyId"]["name"],
            "backup-target-offsite"
        );
        // The in-tree object store is gone: the Cluster names the plugin,
        // which archives its WAL into the ObjectStore of the same name.
        let cluster = a.iter().find(|o| o["kind"] == "Cluster").unwrap();
        assert!(cluster["spec"].get("backup").is_none());
        let plugin = &cluster["spec"]["plugins"][0];
        assert_eq!(plugin["name"], BARMAN_CLOUD_PLUGIN);
        assert_eq!(plugin["isWALArchiver"], true);
        assert_eq!(
            plugin["parameters"]["barmanObjectName"],
            store["metadata"]["name"]
        );
        assert_eq!(
            store["metadata"]["namespace"],
            cluster["metadata"]["namespace"]
        );
    }

    #[test]
    fn merge_adds_backup_to_the_shared_cluster_and_skips_opted_out_volumes() {
        let c = collective(json!({"generate": {}}));
        let mut cov = every_kind(&c);
        cov.pieces[2].status = Status::OptedOut {
            reason: "rebuilt at start".into(),
        };
        let shared = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": "pg", "namespace": "databases"}, "spec": {"managed": {"roles": []}}});
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "t-chat"}, "spec": {}});
        let mut all = vec![
            DesiredObject::new("k", None, None, shared),
            DesiredObject::new("k", Some("t".into()), Some("chat".into()), pvc),
        ];
        let backup = objects(&c, &cov);
        merge(&mut all, backup, &cov);
        let clusters: Vec<&DesiredObject> = all.iter().filter(|o| o.kind() == "Cluster").collect();
        assert_eq!(clusters.len(), 1);
        assert!(clusters[0].value["spec"]["managed"].is_object());
        assert!(clusters[0].value["spec"]["plugins"].is_array());
        let pvc = all
            .iter()
            .find(|o| o.kind() == "PersistentVolumeClaim")
            .unwrap();
        assert_eq!(
            pvc.value["metadata"]["annotations"][K8UP_BACKUP_ANNOTATION],
            "false"
        );
    }
}
