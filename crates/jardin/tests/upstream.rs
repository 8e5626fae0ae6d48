//! Each app as its upstream requires: properties of the built output of
//! `examples/collective` that the apps' own images, charts and operators
//! need, each with its source (the apps' pages in docs/apps/ give more).
//! Every test here failed on the output before the requirement was met.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

/// The built manifests of examples/collective, by path below `k8s/`.
fn collective() -> BTreeMap<String, Value> {
    let objects = common::built_manifests(&common::repo().join("examples/collective"));
    assert!(objects.len() > 200, "{}", objects.len());
    objects
}

fn of_kind<'a>(
    objects: &'a BTreeMap<String, Value>,
    kind: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    objects.iter().filter(move |(_, o)| o["kind"] == kind)
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .map(|e| &e["value"])
}

fn containers(o: &Value) -> Vec<&Value> {
    let spec = if o["kind"] == "CronJob" {
        &o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    } else {
        &o["spec"]["template"]["spec"]
    };
    spec["containers"]
        .as_array()
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

/// The database password reaches the app through the secret replicator
/// pulling it: the app's `db` Secret names its source (`replicate-from`),
/// and the source allows that namespace (kubernetes-replicator's README,
/// "pull-based replication"). The app's copy is `Opaque`: the API server
/// refuses a `kubernetes.io/basic-auth` Secret created without its
/// `username` or `password` (core/v1 validation), and only the replicator
/// brings the data.
#[test]
fn database_passwords_are_pulled_by_the_app_namespace() {
    let objects = collective();
    let mut seen = 0;
    for (path, db) in of_kind(&objects, "Secret").filter(|(p, _)| p.ends_with("/secret-db.yaml")) {
        seen += 1;
        assert_eq!(db["type"], "Opaque", "{path}");
        let from = db["metadata"]["annotations"]["replicator.v1.mittwald.de/replicate-from"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: no replicate-from"));
        let (ns, name) = from.split_once('/').unwrap();
        let (_, source) = objects
            .iter()
            .find(|(_, o)| {
                o["kind"] == "Secret"
                    && o["metadata"]["namespace"] == ns
                    && o["metadata"]["name"] == name
            })
            .unwrap_or_else(|| panic!("{path}: source {from} is not emitted"));
        let ann = &source["metadata"]["annotations"];
        assert_eq!(
            ann["replicator.v1.mittwald.de/replication-allowed"], "true",
            "{from}"
        );
        assert_eq!(
            ann["replicator.v1.mittwald.de/replication-allowed-namespaces"],
            db["metadata"]["namespace"],
            "{from}"
        );
        assert!(
            ann.get("replicator.v1.mittwald.de/replicate-to").is_none(),
            "{from} pushes a copy"
        );
        // CloudNativePG reads a managed role's password from a basic-auth Secret.
        assert_eq!(source["type"], "kubernetes.io/basic-auth", "{from}");
        assert!(source["stringData"]["username"].is_string(), "{from}");
    }
    assert!(seen >= 10, "{seen}");
}

/// Nextcloud's entrypoint installs by copying /usr/src/nextcloud (config/
/// and its `*.config.php` included) into /var/www/html, as www-data. A file
/// mounted into /var/www/html/config makes the container runtime create
/// config/ as root first, and the installation cannot write config.php
/// (nextcloud/docker, `entrypoint.sh`). And a liveness restart during the
/// first installation leaves it unfinished for good: the FPM container
/// has a startup probe.
#[test]
fn nextcloud_can_install() {
    let objects = collective();
    let mut seen = 0;
    for (path, o) in objects.iter().filter(|(_, o)| {
        (o["kind"] == "Deployment" || o["kind"] == "CronJob")
            && o["metadata"]["labels"]["app.kubernetes.io/name"] == "nextcloud"
    }) {
        for c in containers(o) {
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                let at = m["mountPath"].as_str().unwrap();
                assert!(!at.starts_with("/var/www/html/config"), "{path}: {at}");
            }
        }
        if o["kind"] == "Deployment" && o["metadata"]["name"] == "nextcloud" {
            seen += 1;
            let fpm = containers(o)
                .into_iter()
                .find(|c| c["name"] == "nextcloud")
                .unwrap();
            assert!(
                fpm["volumeMounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["mountPath"] == "/usr/src/nextcloud/config/objectstore.config.php"),
                "{path}"
            );
            let startup = &fpm["startupProbe"];
            let seconds = startup["failureThreshold"].as_u64().unwrap()
                * startup["periodSeconds"].as_u64().unwrap();
            assert!(seconds >= 600, "{path}: {seconds} s to install");
        }
    }
    assert!(seen >= 4, "{seen}");
}

/// The Secret key an env var of `container` is read from.
fn secret_ref<'a>(container: &'a Value, name: &str) -> Option<(&'a str, &'a str)> {
    let e = container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)?;
    let r = &e["valueFrom"]["secretKeyRef"];
    Some((r["name"].as_str()?, r["key"].as_str()?))
}

/// Nextcloud on more than one replica shares sessions and file locks
/// through Redis (nextcloud/docker README "Redis Memory Caching"; admin
/// manual "Transactional file locking", "Memory caching"): `REDIS_HOST`,
/// `REDIS_HOST_PORT` and `REDIS_HOST_PASSWORD` make the image's
/// `redis.config.php` set `memcache.distributed` and `memcache.locking`,
/// and its entrypoint write the PHP session handler into
/// `/usr/local/etc/php/conf.d/redis-session.ini`, a directory only root can
/// write to: the file is an emptyDir's, created by an init container as the
/// pod's user (nextcloud/helm#187). The password is generated in the
/// cluster, URL-safe (the entrypoint puts it in `session.save_path`'s
/// query string, which PHP URL-decodes), and Redis requires the same one.
/// The background jobs take the same locks.
#[test]
fn nextcloud_on_two_replicas_shares_sessions_and_locks_through_redis() {
    let objects = collective();
    let mut seen = 0;
    let mut replicated = 0;
    for (path, d) in of_kind(&objects, "Deployment").filter(|(_, o)| {
        o["metadata"]["labels"]["app.kubernetes.io/name"] == "nextcloud"
            && o["metadata"]["name"] == "nextcloud"
    }) {
        seen += 1;
        if d["spec"]["replicas"].as_u64().unwrap() >= 2 {
            replicated += 1;
        }
        let dir = path.rsplit_once('/').unwrap().0;
        let ns = d["metadata"]["namespace"].as_str().unwrap();
        let fpm = containers(d)
            .into_iter()
            .find(|c| c["name"] == "nextcloud")
            .unwrap();

        // REDIS_HOST names a Service of the namespace, on REDIS_HOST_PORT,
        // whose pods run Redis.
        let host = env(fpm, "REDIS_HOST")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{path}: no REDIS_HOST"));
        let service_name = host
            .strip_suffix(&format!(".{ns}.svc.cluster.local"))
            .unwrap_or_else(|| panic!("{path}: REDIS_HOST {host} is not a Service of {ns}"));
        let service = &objects
            .get(&format!("{dir}/service-{service_name}.yaml"))
            .unwrap_or_else(|| panic!("{path}: no Service {service_name}"));
        let port = env(fpm, "REDIS_HOST_PORT").and_then(Value::as_str).unwrap();
        let service_port = service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| port.parse::<u64>().is_ok_and(|n| p["port"] == n))
            .unwrap_or_else(|| panic!("{path}: Service {service_name} has no port {port}"));
        let selector = service["spec"]["selector"].as_object().unwrap();
        let (redis_path, redis) = of_kind(&objects, "Deployment")
            .find(|(_, o)| {
                o["metadata"]["namespace"] == ns
                    && selector
                        .iter()
                        .all(|(k, v)| &o["spec"]["template"]["metadata"]["labels"][k] == v)
            })
            .unwrap_or_else(|| panic!("{path}: no pods behind Service {service_name}"));
        assert_eq!(redis["spec"]["replicas"], 1, "{redis_path}");
        assert_eq!(
            redis["spec"]["strategy"]["type"], "Recreate",
            "{redis_path}"
        );
        let server = containers(redis)[0];
        assert!(
            server["image"].as_str().unwrap().contains("/redis:"),
            "{redis_path}"
        );
        assert!(
            server["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| { p["containerPort"] == 6379 && p["name"] == service_port["targetPort"] }),
            "{redis_path}: the Service's target port is not Redis's"
        );
        assert!(
            server["readinessProbe"].is_object() && server["livenessProbe"].is_object(),
            "{redis_path}"
        );
        let pod = &redis["spec"]["template"]["spec"]["securityContext"];
        assert_eq!(pod["runAsNonRoot"], true, "{redis_path}");
        assert_eq!(
            server["securityContext"]["readOnlyRootFilesystem"], true,
            "{redis_path}"
        );

        // The password: a generated, URL-safe Secret key, read by the app
        // and required by the server.
        let (secret, key) = secret_ref(fpm, "REDIS_HOST_PASSWORD")
            .unwrap_or_else(|| panic!("{path}: REDIS_HOST_PASSWORD is not from a Secret"));
        let generated = &objects
            .get(&format!("{dir}/secret-{secret}.yaml"))
            .unwrap_or_else(|| panic!("{path}: Secret {secret} is not emitted"))["metadata"]
            ["annotations"];
        assert!(
            generated["secret-generator.v1.mittwald.de/autogenerate"]
                .as_str()
                .is_some_and(|keys| keys.split(',').any(|k| k.trim() == key)),
            "{path}: {secret}/{key} is not generated"
        );
        assert!(
            matches!(
                generated["secret-generator.v1.mittwald.de/encoding"].as_str(),
                Some("base64url" | "hex")
            ),
            "{path}: {secret}/{key} may hold a `+`, which PHP reads as a space"
        );
        let args: Vec<&str> = server["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let required = args
            .iter()
            .position(|a| *a == "--requirepass")
            .map(|i| args[i + 1])
            .unwrap_or_else(|| panic!("{redis_path}: Redis requires no password"));
        let var = required
            .strip_prefix("$(")
            .and_then(|v| v.strip_suffix(')'))
            .unwrap();
        assert_eq!(secret_ref(server, var), Some((secret, key)), "{redis_path}");

        // The session handler's file is writable by the pod's user.
        let mount = fpm["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == "/usr/local/etc/php/conf.d/redis-session.ini")
            .unwrap_or_else(|| panic!("{path}: redis-session.ini is in a root-owned directory"));
        assert_ne!(mount["readOnly"], true, "{path}");
        let spec = &d["spec"]["template"]["spec"];
        let volume = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap();
        assert!(volume["emptyDir"].is_object(), "{path}: {volume}");
        // A subPath that does not exist yet is created as a directory.
        let sub = mount["subPath"].as_str().unwrap();
        let init = spec["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                c["volumeMounts"].as_array().into_iter().flatten().any(|m| {
                    m["name"] == mount["name"]
                        && c["command"].as_array().is_some_and(|cmd| {
                            cmd[0] == "touch"
                                && cmd.last().unwrap().as_str()
                                    == Some(&format!("{}/{sub}", m["mountPath"].as_str().unwrap()))
                        })
                })
            })
            .unwrap_or_else(|| panic!("{path}: nothing creates {sub} before FPM starts"));
        assert!(init["securityContext"]["runAsUser"].is_null(), "{path}");
        assert_eq!(spec["securityContext"]["runAsUser"], 33, "{path}");

        // The background jobs use the same Redis.
        let cron = &objects[&format!("{dir}/cronjob-nextcloud-cron.yaml")];
        let job = containers(cron)[0];
        for name in ["REDIS_HOST", "REDIS_HOST_PORT"] {
            assert_eq!(env(job, name), env(fpm, name), "{dir}: cron {name}");
        }
        assert_eq!(
            secret_ref(job, "REDIS_HOST_PASSWORD"),
            Some((secret, key)),
            "{dir}"
        );
    }
    assert!(seen >= 6, "{seen}");
    assert!(
        replicated >= 1,
        "no Nextcloud runs two replicas in the example"
    );
}

/// Jitsi: the web container's nginx resolves the XMPP server with its own
/// `resolver`, which ignores the pod's search domains (docker-jitsi-meet,
/// web `meet.conf`), so the BOSH URL names prosody's full Service name.
/// The bridge advertises the address clients reach it at, its
/// LoadBalancer's (`JVB_ADVERTISE_IPS`; STUN would report the node's
/// outbound address and is off).
#[test]
fn jitsi_components_reach_each_other_and_clients_reach_the_bridge() {
    let objects = collective();
    let mut seen = 0;
    for (path, web) in
        of_kind(&objects, "Deployment").filter(|(p, _)| p.ends_with("/deployment-web.yaml"))
    {
        if web["metadata"]["labels"]["app.kubernetes.io/name"] != "jitsi" {
            continue;
        }
        seen += 1;
        let ns = web["metadata"]["namespace"].as_str().unwrap();
        let bosh = env(containers(web)[0], "XMPP_BOSH_URL_BASE")
            .and_then(Value::as_str)
            .unwrap();
        assert_eq!(
            bosh,
            format!("http://prosody.{ns}.svc.cluster.local:5280"),
            "{path}"
        );
        let dir = path.rsplit_once('/').unwrap().0;
        let jvb = &objects[&format!("{dir}/deployment-jvb.yaml")];
        let advertised = env(containers(jvb)[0], "JVB_ADVERTISE_IPS")
            .and_then(Value::as_str)
            .unwrap();
        let service = &objects[&format!("{dir}/service-jvb.yaml")];
        assert_eq!(service["spec"]["type"], "LoadBalancer");
        assert_eq!(service["spec"]["loadBalancerIP"], advertised, "{dir}");
        assert_eq!(
            env(containers(jvb)[0], "JVB_DISABLE_STUN"),
            Some(&Value::from("true"))
        );
    }
    assert!(seen >= 5, "{seen}");
}

/// cert-manager answers HTTP-01 challenges from a solver pod it starts in
/// the namespace of the Ingress, listening on 8089 (cert-manager's HTTP01
/// docs): the ingress controller must reach it through the namespace's
/// default-deny policy.
#[test]
fn every_namespace_with_an_ingress_lets_the_acme_solver_in() {
    let objects = collective();
    let mut seen = 0;
    for (path, ingress) in of_kind(&objects, "Ingress") {
        seen += 1;
        let ns = ingress["metadata"]["namespace"].as_str().unwrap();
        let solver = objects.values().find(|o| {
            o["kind"] == "NetworkPolicy"
                && o["metadata"]["namespace"] == ns
                && o["spec"]["podSelector"]["matchLabels"]["acme.cert-manager.io/http01-solver"]
                    == "true"
        });
        let solver = solver.unwrap_or_else(|| panic!("{path}: no policy lets the solver in"));
        let rule = &solver["spec"]["ingress"][0];
        assert_eq!(rule["ports"][0]["port"], 8089, "{path}");
        assert_eq!(
            rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "ingress-nginx",
            "{path}"
        );
    }
    assert!(seen >= 15, "{seen}");
}

/// HedgeDoc 1.x keeps each note's live state in its one process: two
/// instances on one database corrupt notes (HedgeDoc's FAQ), so it runs one
/// pod, replaced (never overlapped) on update, even on a highly available
/// plan. Its health endpoint is `/_health` (the image's healthcheck);
/// `/status` queries the database.
#[test]
fn hedgedoc_runs_one_instance() {
    let objects = collective();
    let mut seen = 0;
    for (path, d) in of_kind(&objects, "Deployment")
        .filter(|(_, o)| o["metadata"]["labels"]["app.kubernetes.io/name"] == "hedgedoc")
    {
        seen += 1;
        assert_eq!(d["spec"]["replicas"], 1, "{path}");
        assert_eq!(d["spec"]["strategy"]["type"], "Recreate", "{path}");
        let probe = &containers(d)[0]["livenessProbe"]["httpGet"]["path"];
        assert_eq!(probe, "/_health", "{path}");
        let dir = path.rsplit_once('/').unwrap().0;
        assert!(
            !objects.contains_key(&format!("{dir}/poddisruptionbudget-hedgedoc.yaml")),
            "{dir}"
        );
    }
    assert!(seen >= 5, "{seen}");
}

/// k8up's backup pod lists the pods of its namespace and runs each
/// PreBackupPod's backup command through the Kubernetes API before it backs
/// up (k8up: PreBackupPod, backup command annotation); its pods carry
/// `k8upjob: "true"` (k8up's job labels). Behind the namespace's
/// default-deny policy, a policy must let them reach the API server's
/// endpoints (the cluster's `kubernetes_api`: a NetworkPolicy sees the
/// endpoint after the Service address is translated), the backup target,
/// and DNS; and a bucket's PreBackupPod (labelled by k8up with its name)
/// must reach the object store.
#[test]
fn backup_pods_reach_the_kubernetes_api_and_their_repository() {
    let objects = collective();
    let mut seen = 0;
    for (path, schedule) in of_kind(&objects, "Schedule") {
        seen += 1;
        let ns = schedule["metadata"]["namespace"].as_str().unwrap();
        let cluster = path.split('/').next().unwrap();
        let api = if cluster == "louise-michel" {
            "10.10.0.11/32"
        } else {
            "10.20.0.11/32"
        };
        let policies: Vec<&Value> = of_kind(&objects, "NetworkPolicy")
            .map(|(_, p)| p)
            .filter(|p| {
                p["metadata"]["namespace"] == ns
                    && p["spec"]["podSelector"]["matchLabels"]["k8upjob"] == "true"
            })
            .collect();
        let egress: Vec<&Value> = policies
            .iter()
            .flat_map(|p| p["spec"]["egress"].as_array().unwrap())
            .collect();
        let reaches = |cidr: &str, port: u64| {
            egress.iter().any(|r| {
                r["to"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["ipBlock"]["cidr"] == cidr)
                    && r["ports"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["port"] == port)
            })
        };
        assert!(
            reaches(api, 6443),
            "{path}: k8up cannot reach the API at {api}"
        );
        assert!(
            reaches("192.0.2.80/32", 443),
            "{path}: k8up cannot reach the backup target"
        );
        assert!(
            egress.iter().any(|r| r["ports"][0]["port"] == 53),
            "{path}: k8up cannot resolve names"
        );
        let dir = path.rsplit_once('/').unwrap().0;
        if objects.contains_key(&format!("{dir}/prebackuppod-bucket-data.yaml")) {
            let rclone = &objects[&format!("{dir}/networkpolicy-allow-bucket-data-egress.yaml")];
            assert_eq!(
                rclone["spec"]["podSelector"]["matchLabels"]["k8up.io/preBackupPod"], "bucket-data",
                "{dir}"
            );
        }
    }
    assert!(seen >= 10, "{seen}");
}
