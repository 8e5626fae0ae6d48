//! The data services an app gets of its own, in its namespace, when its
//! catalog entry requires them (`requires.mariadb`, `requires.redis`):
//! jardin runs them the same way for every app, as it runs Postgres through
//! CloudNativePG. Their facts and sources: docs/SERVICES.md.
//!
//! Pure: the objects depend only on the instance and its cluster.

use serde_json::{json, Map, Value};

use jardin_core::kube::K8UP_BACKUP_ANNOTATION;
use jardin_core::model::{CatalogApp, Cluster, CompiledApp};
use jardin_core::quantity;

/// The MariaDB release jardin runs: the 11.8 long-term series.
pub(crate) const MARIADB_VERSION: &str = "11.8";
pub(crate) const MARIADB_IMAGE: &str = "docker.io/library/mariadb:11.8.8";
/// The official image's `mysql` user and group.
const MARIADB_UID: u32 = 999;
/// The server's Service, StatefulSet, component and Secret: one name.
pub(crate) const MARIADB: &str = "mariadb";
pub(crate) const MARIADB_PORT: u16 = 3306;

/// The MongoDB release jardin runs: the 8.0 series (supported until 2029).
pub(crate) const MONGODB_VERSION: &str = "8.0";
pub(crate) const MONGODB_IMAGE: &str = "docker.io/library/mongo:8.0.26";
/// The official image's `mongodb` user and group.
const MONGODB_UID: u32 = 999;
pub(crate) const MONGODB: &str = "mongodb";
pub(crate) const MONGODB_PORT: u16 = 27017;
/// The replica set's name: one member, which the app's driver and
/// `mongodump --oplog` need.
pub(crate) const MONGODB_REPLICA_SET: &str = "rs0";
/// The keyfile the members authenticate each other with: mongod requires
/// one with authentication on a replica set, even of one member.
const MONGODB_KEYFILE: &str = "mongodb-keyfile";

pub(crate) const REDIS_IMAGE: &str = "docker.io/library/redis:7.2.11-alpine";
/// The official image's `redis` user and group.
const REDIS_UID: u32 = 999;
pub(crate) const REDIS: &str = "redis";
pub(crate) const REDIS_PORT: u16 = 6379;

/// The servers jardin runs for an app: one pod each, on every plan (a
/// second Redis behind the same Service would hold half the data).
pub(crate) const SERVERS: [&str; 3] = [MARIADB, MONGODB, REDIS];

/// The objects of an instance's own services, in its namespace.
pub(crate) fn objects(app: &CompiledApp, entry: &CatalogApp, cluster: &Cluster) -> Vec<Value> {
    let mut out = Vec::new();
    if entry.requires.mariadb.is_some() {
        out.extend(mariadb(app, cluster));
    }
    if let Some(redis_need) = &entry.requires.redis {
        out.extend(redis(app, cluster, redis_need.persistent));
    }
    if entry.requires.mongodb.is_some() {
        out.extend(mongodb(app, cluster));
    }
    out
}

/// The Secrets the services' objects read, with their keys: generated once
/// in the cluster, like the catalog's own.
pub(crate) fn secrets(entry: &CatalogApp) -> Vec<GeneratedSecret> {
    let mut out = Vec::new();
    if entry.requires.mariadb.is_some() {
        out.push(GeneratedSecret {
            name: MARIADB,
            keys: vec!["password".into(), "root-password".into()],
            encoding: None,
        });
    }
    if entry.requires.redis.is_some() {
        // Apps that read a URL (Decidim's REDIS_URL) put the password in
        // it: only characters a URL keeps as they are.
        out.push(GeneratedSecret {
            name: REDIS,
            keys: vec!["password".into()],
            encoding: Some("base64url"),
        });
    }
    if entry.requires.mongodb.is_some() {
        // The password goes into the app's connection URL: only characters
        // a URL keeps as they are (the generator's default, base64, has
        // `+` and `/`).
        out.push(GeneratedSecret {
            name: MONGODB,
            keys: vec!["root-password".into()],
            encoding: Some("base64url"),
        });
        // A keyfile holds characters of the base64 set only (MongoDB:
        // keyfiles), which is the generator's default.
        out.push(GeneratedSecret {
            name: MONGODB_KEYFILE,
            keys: vec!["keyfile".into()],
            encoding: None,
        });
    }
    out
}

/// A Secret the in-cluster generator fills once.
pub(crate) struct GeneratedSecret {
    pub(crate) name: &'static str,
    pub(crate) keys: Vec<String>,
    /// The generator's encoding, when its default does not fit.
    pub(crate) encoding: Option<&'static str>,
}

/// The address of the replica set's one member, as its configuration
/// names it: the pod's name under the headless Service.
pub(crate) fn mongodb_member(namespace: &str) -> String {
    format!("{MONGODB}-0.{MONGODB}.{namespace}.svc:{MONGODB_PORT}")
}

/// True when `need` ("major.minor") is at most `have`, the release jardin
/// runs.
pub(crate) fn release_satisfies(need: &str, have: &str) -> bool {
    match (version_key(need), version_key(have)) {
        (Some(need), Some(have)) => need <= have,
        _ => false,
    }
}

fn version_key(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn labels(app: &CompiledApp, component: &str) -> Map<String, Value> {
    let mut l = Map::new();
    l.insert("app.kubernetes.io/name".into(), json!(app.app));
    l.insert("app.kubernetes.io/instance".into(), json!(app.namespace));
    l.insert("app.kubernetes.io/component".into(), json!(component));
    l
}

fn meta(name: &str, namespace: &str) -> Value {
    json!({"name": name, "namespace": namespace})
}

fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
}

/// The restricted profile, as every app container gets it (stdlib/k8s.ncl).
fn hardened() -> Value {
    json!({
        "runAsNonRoot": true,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

fn pod_security(uid: u32) -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

fn service(app: &CompiledApp, name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, &app.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": labels(app, name),
            "ports": [{"name": name, "port": port, "targetPort": name, "protocol": "TCP"}],
        },
    })
}

/// The app's memory and CPU, from its size.
fn app_size(app: &CompiledApp) -> (u64, u64, String) {
    let r = app.resources.as_ref();
    let mem = r
        .and_then(|r| quantity::bytes(&r.memory))
        .unwrap_or(512 << 20);
    let cpu = r.and_then(|r| quantity::cpu_millis(&r.cpu)).unwrap_or(500);
    let storage = r.map_or_else(|| "5Gi".to_string(), |r| r.storage.clone());
    (mem, cpu, storage)
}

/// One MariaDB server ([`Server`]); the app's database and user are
/// created by the image's entrypoint on the first start, from the generated
/// Secret.
fn mariadb(app: &CompiledApp, cluster: &Cluster) -> Vec<Value> {
    let health = |args: &[&str]| {
        let mut command = vec!["healthcheck.sh".to_string()];
        command.extend(args.iter().map(|a| a.to_string()));
        json!({"exec": {"command": command}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6})
    };
    let mut liveness = health(&["--connect"]);
    liveness["initialDelaySeconds"] = json!(60);
    let server = Server {
        name: MARIADB,
        uid: MARIADB_UID,
        data_dir: "/var/lib/mysql",
        init: None,
        container: json!({
            "image": MARIADB_IMAGE,
            "ports": [{"name": MARIADB, "containerPort": MARIADB_PORT, "protocol": "TCP"}],
            "env": [
                {"name": "MARIADB_DATABASE", "value": mariadb_database(app)},
                {"name": "MARIADB_USER", "value": mariadb_database(app)},
                secret_env("MARIADB_PASSWORD", MARIADB, "password"),
                secret_env("MARIADB_ROOT_PASSWORD", MARIADB, "root-password"),
                {"name": "MARIADB_AUTO_UPGRADE", "value": "1"},
            ],
            "readinessProbe": health(&["--connect", "--innodb_initialized"]),
            "livenessProbe": liveness,
        }),
        mounts: vec![json!({"name": "run", "mountPath": "/run/mysqld"})],
        volumes: vec![json!({"name": "run", "emptyDir": {}})],
    };
    vec![
        service(app, MARIADB, MARIADB_PORT),
        server.statefulset(app, cluster),
    ]
}

/// A database server's StatefulSet: one pod as the image's own user, its
/// data on a ReadWriteOnce volume of the app's storage size, half the app's
/// memory (at least 256 MiB) and a quarter of its CPU (at least 100m).
struct Server {
    name: &'static str,
    uid: u32,
    data_dir: &'static str,
    init: Option<Value>,
    /// The container, without its name, resources, hardening and mounts.
    container: Value,
    /// Mounts and volumes besides the data and /tmp.
    mounts: Vec<Value>,
    volumes: Vec<Value>,
}

impl Server {
    fn statefulset(self, app: &CompiledApp, cluster: &Cluster) -> Value {
        let (mem, cpu, storage) = app_size(app);
        let mem_mi = ((mem / 2) >> 20).max(256);
        let cpu_m = (cpu / 4).max(100);
        let mut container = self.container;
        container["name"] = json!(self.name);
        container["resources"] = json!({
            "requests": {"cpu": format!("{cpu_m}m"), "memory": format!("{mem_mi}Mi")},
            "limits": {"memory": format!("{mem_mi}Mi")},
        });
        container["securityContext"] = hardened();
        let mut mounts = vec![
            json!({"name": "data", "mountPath": self.data_dir}),
            json!({"name": "tmp", "mountPath": "/tmp"}),
        ];
        mounts.extend(self.mounts);
        container["volumeMounts"] = Value::Array(mounts);
        let mut volumes = vec![json!({"name": "tmp", "emptyDir": {}})];
        volumes.extend(self.volumes);
        let mut pod = json!({
            "automountServiceAccountToken": false,
            "securityContext": pod_security(self.uid),
            "containers": [container],
            "volumes": volumes,
        });
        if let Some(init) = self.init {
            pod["initContainers"] = json!([init]);
        }
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(self.name, &app.namespace),
            "spec": {
                "serviceName": self.name,
                "replicas": 1,
                "selector": {"matchLabels": labels(app, self.name)},
                "template": {"metadata": {"labels": labels(app, self.name)}, "spec": pod},
                // The files of a running server are no backup: k8up skips
                // the volume, and dumps the server instead (backup::derive).
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data", "annotations": {K8UP_BACKUP_ANNOTATION: "false"}},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": cluster.storage_classes.rwo,
                        "resources": {"requests": {"storage": storage}},
                    },
                }],
            },
        })
    }
}

/// One MongoDB server, the only member of replica set `rs0`, with
/// authentication: a StatefulSet of one pod on a ReadWriteOnce volume,
/// behind a headless Service (the member's name must resolve before it is
/// ready, for the replica set to form). A [`Server`], like MariaDB.
///
/// - The image's entrypoint creates the root user on the first start
///   (`MONGO_INITDB_ROOT_*`), then starts `mongod` with the arguments.
/// - mongod refuses a keyfile that others may read; a Secret's files are
///   readable by the pod's group: an init container copies it, as the
///   `mongodb` user, mode 0400.
/// - The replica set is initiated once, by the readiness probe: it asks for
///   the set's status, and initiates it when there is none. The probe's
///   password is on its command line inside the pod, never outside it.
fn mongodb(app: &CompiledApp, cluster: &Cluster) -> Vec<Value> {
    let member = mongodb_member(&app.namespace);
    let initiate = format!(
        "mongosh --quiet --host 127.0.0.1 --username root --password \"$MONGO_INITDB_ROOT_PASSWORD\" --authenticationDatabase admin --eval \
'let ok; try {{ ok = rs.status().ok }} catch (e) {{ ok = rs.initiate({{ _id: \"{MONGODB_REPLICA_SET}\", members: [{{ _id: 0, host: \"{member}\" }}] }}).ok }}; if (ok !== 1) quit(1)'"
    );
    let keyfile_dir = "/run/mongodb";
    let server = Server {
        name: MONGODB,
        uid: MONGODB_UID,
        data_dir: "/data/db",
        init: Some(json!({
            "name": "keyfile",
            "image": MONGODB_IMAGE,
            "command": ["sh", "-c", format!("cp /keyfile-secret/keyfile {keyfile_dir}/keyfile && chmod 0400 {keyfile_dir}/keyfile")],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
            "securityContext": hardened(),
            "volumeMounts": [
                {"name": "keyfile-secret", "mountPath": "/keyfile-secret", "readOnly": true},
                {"name": "keyfile", "mountPath": keyfile_dir},
            ],
        })),
        container: json!({
            "image": MONGODB_IMAGE,
            "args": [
                "--replSet", MONGODB_REPLICA_SET,
                "--bind_ip_all",
                "--keyFile", format!("{keyfile_dir}/keyfile"),
            ],
            "ports": [{"name": MONGODB, "containerPort": MONGODB_PORT, "protocol": "TCP"}],
            "env": [
                {"name": "MONGO_INITDB_ROOT_USERNAME", "value": "root"},
                secret_env("MONGO_INITDB_ROOT_PASSWORD", MONGODB, "root-password"),
                // mongosh keeps its history in HOME.
                {"name": "HOME", "value": "/tmp"},
            ],
            "readinessProbe": {
                "exec": {"command": ["sh", "-c", initiate]},
                "periodSeconds": 10,
                "timeoutSeconds": 10,
                "failureThreshold": 6,
            },
            "livenessProbe": {
                "tcpSocket": {"port": MONGODB},
                "periodSeconds": 10,
                "timeoutSeconds": 5,
                "failureThreshold": 6,
                "initialDelaySeconds": 60,
            },
        }),
        mounts: vec![json!({"name": "keyfile", "mountPath": keyfile_dir, "readOnly": true})],
        volumes: vec![
            json!({"name": "keyfile-secret", "secret": {"secretName": MONGODB_KEYFILE}}),
            json!({"name": "keyfile", "emptyDir": {}}),
        ],
    };
    let mut service = service(app, MONGODB, MONGODB_PORT);
    service["spec"]["clusterIP"] = json!("None");
    service["spec"]["publishNotReadyAddresses"] = json!(true);
    vec![service, server.statefulset(app, cluster)]
}

/// The app's database and user on its MariaDB server: the catalog id.
pub(crate) fn mariadb_database(app: &CompiledApp) -> String {
    app.app.replace('-', "_")
}

/// One Redis server with a password. Sized from the app: an eighth of its
/// memory (at least 64 MiB) and a twentieth of its CPU (at least 50m);
/// Redis stops taking writes at three quarters of it rather than be
/// killed. Persistent: an append-only file on a volume, synced every
/// second, in a StatefulSet; otherwise memory only, in a Deployment.
fn redis(app: &CompiledApp, cluster: &Cluster, persistent: bool) -> Vec<Value> {
    let (mem, cpu, storage) = app_size(app);
    let mem_mi = ((mem / 8) >> 20).max(64);
    let cpu_m = (cpu / 20).max(50);
    let mut args = vec![
        "--requirepass".to_string(),
        "$(REDIS_PASSWORD)".to_string(),
        "--maxmemory".to_string(),
        format!("{}mb", mem_mi * 3 / 4),
    ];
    if persistent {
        // Queues must not lose jobs: refuse writes when full, never evict.
        args.extend(
            [
                "--maxmemory-policy",
                "noeviction",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                "/data",
            ]
            .map(String::from),
        );
    } else {
        args.extend(["--maxmemory-policy", "allkeys-lru", "--save", ""].map(String::from));
    }
    let container = json!({
        "name": REDIS,
        "image": REDIS_IMAGE,
        "args": args,
        "ports": [{"name": REDIS, "containerPort": REDIS_PORT, "protocol": "TCP"}],
        "env": [secret_env("REDIS_PASSWORD", REDIS, "password")],
        "resources": {
            "requests": {"cpu": format!("{cpu_m}m"), "memory": format!("{mem_mi}Mi")},
            "limits": {"memory": format!("{mem_mi}Mi")},
        },
        "securityContext": hardened(),
        "readinessProbe": {"tcpSocket": {"port": REDIS}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
        "livenessProbe": {"tcpSocket": {"port": REDIS}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6, "initialDelaySeconds": 30},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    });
    // A persistent server's data is its claim's; a cache's, an emptyDir.
    let volumes = if persistent {
        json!([])
    } else {
        json!([{"name": "data", "emptyDir": {}}])
    };
    let pod = json!({
        "metadata": {"labels": labels(app, REDIS)},
        "spec": {
            "automountServiceAccountToken": false,
            "securityContext": pod_security(REDIS_UID),
            "containers": [container],
            "volumes": volumes,
        },
    });
    let workload = if persistent {
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(REDIS, &app.namespace),
            "spec": {
                "serviceName": REDIS,
                "replicas": 1,
                "selector": {"matchLabels": labels(app, REDIS)},
                "template": pod,
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": cluster.storage_classes.rwo,
                        "resources": {"requests": {"storage": redis_storage(&storage)}},
                    },
                }],
            },
        })
    } else {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(REDIS, &app.namespace),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels(app, REDIS)},
                "strategy": {"type": "Recreate"},
                "template": pod,
            },
        })
    };
    vec![service(app, REDIS, REDIS_PORT), workload]
}

/// A persistent Redis's volume: its data is at most its memory, and the
/// append-only file is rewritten at twice its size: 1 GiB is plenty for
/// every size jardin gives it, and no more than a tenth of the app's.
fn redis_storage(app_storage: &str) -> String {
    let tenth = quantity::bytes(app_storage).map_or(1 << 30, |b| b / 10);
    format!("{}Mi", (tenth.min(1 << 30) >> 20).max(256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        assert!(release_satisfies("10.6", MARIADB_VERSION));
        assert!(release_satisfies("11.8", MARIADB_VERSION));
        assert!(!release_satisfies("11.9", MARIADB_VERSION));
        assert!(!release_satisfies("12", MARIADB_VERSION));
        assert!(!release_satisfies("eleven", MARIADB_VERSION));
        assert!(release_satisfies("7.0", MONGODB_VERSION));
        assert!(!release_satisfies("8.2", MONGODB_VERSION));
    }

    #[test]
    fn redis_volume_is_a_tenth_of_the_app_between_bounds() {
        assert_eq!(redis_storage("5Gi"), "512Mi");
        assert_eq!(redis_storage("50Gi"), "1024Mi");
        assert_eq!(redis_storage("1Gi"), "256Mi");
    }
}
