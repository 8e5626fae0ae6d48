//! WordPress, Discourse and the data services jardin runs for apps
//! (MariaDB, Redis), as their upstreams require: properties of the built
//! output of `examples/collective`, each with its source (docs/apps/*.md
//! and docs/SERVICES.md give more).

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

fn collective() -> BTreeMap<String, Value> {
    common::built_manifests(&common::repo().join("examples/collective"))
}

/// The objects of one app instance's namespace, by file name.
fn namespace<'a>(objects: &'a BTreeMap<String, Value>, ns: &str) -> BTreeMap<&'a str, &'a Value> {
    let found: BTreeMap<&str, &Value> = objects
        .iter()
        .filter_map(|(p, o)| {
            let (dir, file) = p.rsplit_once('/')?;
            dir.ends_with(&format!("/{ns}")).then_some((file, o))
        })
        .collect();
    assert!(!found.is_empty(), "no objects in namespace {ns}");
    found
}

fn pod_spec(o: &Value) -> &Value {
    if o["kind"] == "CronJob" {
        &o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    } else {
        &o["spec"]["template"]["spec"]
    }
}

fn container<'a>(o: &'a Value, name: &str) -> &'a Value {
    pod_spec(o)["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn env<'a>(c: &'a Value, name: &str) -> &'a Value {
    c["env"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {}", c["name"]))
}

/// The names of a container's variables, in order.
fn env_names(c: &Value) -> Vec<&str> {
    c["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect()
}

fn secret_ref(c: &Value, name: &str) -> (String, String) {
    let r = &env(c, name)["valueFrom"]["secretKeyRef"];
    (
        r["name"].as_str().unwrap_or_default().to_string(),
        r["key"].as_str().unwrap_or_default().to_string(),
    )
}

/// WordPress reaches the database that MariaDB's entrypoint creates on its
/// first start: the same database, user and password (the image's
/// `WORDPRESS_DB_*`, MariaDB's `MARIADB_DATABASE`, `_USER`, `_PASSWORD`,
/// docker-library/wordpress wp-config-docker.php, MariaDB/mariadb-docker
/// docker-entrypoint.sh), and the Secret both read is generated.
#[test]
fn wordpress_reaches_the_database_mariadb_creates() {
    let objects = collective();
    let ns = namespace(&objects, "chorale-la-lyre-site");
    let wp = container(ns["deployment-wordpress.yaml"], "wordpress");
    let db = container(ns["statefulset-mariadb.yaml"], "mariadb");
    assert_eq!(env(wp, "WORDPRESS_DB_HOST")["value"], "mariadb:3306");
    assert_eq!(
        env(wp, "WORDPRESS_DB_NAME")["value"],
        env(db, "MARIADB_DATABASE")["value"]
    );
    assert_eq!(
        env(wp, "WORDPRESS_DB_USER")["value"],
        env(db, "MARIADB_USER")["value"]
    );
    assert_eq!(
        secret_ref(wp, "WORDPRESS_DB_PASSWORD"),
        secret_ref(db, "MARIADB_PASSWORD")
    );
    assert_eq!(
        secret_ref(db, "MARIADB_PASSWORD"),
        ("mariadb".into(), "password".into())
    );
    let secret = ns["secret-mariadb.yaml"];
    let keys = secret["metadata"]["annotations"]["secret-generator.v1.mittwald.de/autogenerate"]
        .as_str()
        .unwrap();
    assert_eq!(keys, "password,root-password");
    let service = ns["service-mariadb.yaml"];
    assert_eq!(service["spec"]["ports"][0]["port"], 3306);
}

/// The official MariaDB image runs as its `mysql` user (uid 999) without
/// root: its entrypoint then skips chown and gosu. The socket directory and
/// /tmp are writable; `healthcheck.sh --connect --innodb_initialized` is
/// its readiness (MariaDB/mariadb-docker: Dockerfile, docker-entrypoint.sh,
/// healthcheck.sh). k8up must not copy the files of the running server.
#[test]
fn mariadb_runs_as_its_own_user_under_restricted() {
    let objects = collective();
    let ns = namespace(&objects, "chorale-la-lyre-site");
    let sts = ns["statefulset-mariadb.yaml"];
    let pod = pod_spec(sts);
    assert_eq!(pod["securityContext"]["runAsUser"], 999);
    assert_eq!(pod["securityContext"]["fsGroup"], 999);
    let c = container(sts, "mariadb");
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    for path in ["/var/lib/mysql", "/run/mysqld", "/tmp"] {
        assert!(mounts.contains(&path), "{path} not writable: {mounts:?}");
    }
    assert_eq!(
        c["readinessProbe"]["exec"]["command"],
        serde_json::json!(["healthcheck.sh", "--connect", "--innodb_initialized"])
    );
    assert_eq!(env(c, "MARIADB_AUTO_UPGRADE")["value"], "1");
    let claim = &sts["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["metadata"]["annotations"]["k8up.io/backup"], "false");
    assert_eq!(c["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
}

/// The database is backed up by a dump: k8up runs the PreBackupPod's
/// command and stores its output (k8up: PreBackupPod). `mariadb-dump` is the
/// client's name in the 11.x images, `--single-transaction` reads InnoDB
/// in one snapshot (mariadb.com: mariadb-dump). k8up labels the pod
/// `k8up.io/preBackupPod: <name>` (k8up: prebackup_utils.go): the
/// NetworkPolicies select it by that label, both ways.
#[test]
fn mariadb_is_dumped_by_a_pod_that_may_reach_it() {
    let objects = collective();
    let ns = namespace(&objects, "chorale-la-lyre-site");
    let dump = ns["prebackuppod-dump-database.yaml"];
    let c = &dump["spec"]["pod"]["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        container(ns["statefulset-mariadb.yaml"], "mariadb")["image"]
    );
    let script = env(c, "JARDIN_BACKUP")["value"].as_str().unwrap();
    assert!(script.contains("mariadb-dump"), "{script}");
    assert!(script.contains("--single-transaction"), "{script}");
    assert!(
        !script.contains("--password="),
        "the password is on a command line: {script}"
    );
    assert_eq!(dump["spec"]["fileExtension"], ".sql");
    let egress = ns["networkpolicy-allow-dump-database-egress.yaml"];
    assert_eq!(
        egress["spec"]["podSelector"]["matchLabels"]["k8up.io/preBackupPod"],
        "dump-database"
    );
    let reaches = egress["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| {
            r["ports"][0]["port"] == 3306
                && r["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                    == "mariadb"
        });
    assert!(reaches, "{egress}");
    let ingress = ns["networkpolicy-allow-mariadb-dump-database-ingress.yaml"];
    let admits = ingress["spec"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| {
            r["from"][0]["podSelector"]["matchLabels"]["k8up.io/preBackupPod"] == "dump-database"
        });
    assert!(admits, "{ingress}");
}

/// WordPress: the keys and salts are the same for every replica and every
/// start (docker-library/wordpress wp-config-docker.php: unset, they are
/// random per wp-config.php); wp-cron runs from a CronJob, not on page
/// loads (WordPress: wp-config DISABLE_WP_CRON, wp-cron.php); the twin
/// (www) is redirected by the ingress, not served (ingress-nginx:
/// from-to-www-redirect), and its certificate covers both names.
#[test]
fn wordpress_keeps_its_salts_runs_its_cron_and_redirects_its_twin() {
    let objects = collective();
    let ns = namespace(&objects, "chorale-la-lyre-site");
    let wp = container(ns["deployment-wordpress.yaml"], "wordpress");
    for salt in [
        "AUTH_KEY",
        "SECURE_AUTH_KEY",
        "LOGGED_IN_KEY",
        "NONCE_KEY",
        "AUTH_SALT",
        "SECURE_AUTH_SALT",
        "LOGGED_IN_SALT",
        "NONCE_SALT",
    ] {
        let (secret, _) = secret_ref(wp, &format!("WORDPRESS_{salt}"));
        assert_eq!(secret, "salts", "{salt}");
    }
    let extra = env(wp, "WORDPRESS_CONFIG_EXTRA")["value"].as_str().unwrap();
    assert!(extra.contains("define('DISABLE_WP_CRON', true)"), "{extra}");
    assert!(extra.contains("WP_HOME"), "{extra}");
    let cron = ns["cronjob-wp-cron.yaml"];
    let command = container(cron, "cron")["command"].to_string();
    assert!(
        command.contains("http://wordpress:8080/wp-cron.php"),
        "{command}"
    );
    let ingress = ns["ingress-wordpress.yaml"];
    assert_eq!(
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/from-to-www-redirect"],
        "true"
    );
    let rules: Vec<&str> = ingress["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["host"].as_str())
        .collect();
    assert_eq!(rules, ["lalyre.org"]);
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"],
        serde_json::json!(["lalyre.org", "www.lalyre.org"])
    );
}

/// Discourse reads its settings from DISCOURSE_* variables (no
/// discourse.conf), reaches Postgres over TCP (an empty
/// DISCOURSE_DB_SOCKET), and needs hstore, pg_trgm and pgvector, which its
/// own setup creates as the superuser (discourse_docker:
/// postgres.template.yml): CloudNativePG's Database creates them. Sidekiq
/// runs apart from unicorn, on Discourse's queues in their order
/// (bin/docker/sidekiq); Redis keeps the queues (append-only file).
#[test]
fn discourse_gets_its_extensions_its_queues_and_its_workers() {
    let objects = collective();
    let ns = namespace(&objects, "festival-des-possibles-forum");
    let web = container(ns["deployment-discourse.yaml"], "discourse");
    assert_eq!(env(web, "DISCOURSE_DB_SOCKET")["value"], "");
    assert_eq!(env(web, "UNICORN_BIND_ALL")["value"], "true");
    assert_eq!(env(web, "UNICORN_SIDEKIQS")["value"], "0");
    assert_eq!(env(web, "DISCOURSE_REDIS_HOST")["value"], "redis");
    assert_eq!(
        env(web, "DISCOURSE_HOSTNAME")["value"],
        "forum.festivaldespossibles.org"
    );
    assert_eq!(web["readinessProbe"]["httpGet"]["path"], "/srv/status");
    // 128 hex characters, or Discourse keeps a key of its own in Redis
    // (GlobalSetting.safe_secret_key_base); the generator cuts its hex to
    // `length` (kubernetes-secret-generator: secret_string.go).
    assert_eq!(
        secret_ref(web, "DISCOURSE_SECRET_KEY_BASE"),
        ("secret-key-base".into(), "value".into())
    );
    let key = &ns["secret-secret-key-base.yaml"]["metadata"]["annotations"];
    assert_eq!(key["secret-generator.v1.mittwald.de/encoding"], "hex");
    assert_eq!(key["secret-generator.v1.mittwald.de/length"], "128");
    let sidekiq = container(ns["deployment-sidekiq.yaml"], "sidekiq")["command"].to_string();
    assert!(
        sidekiq.contains("sidekiq -q critical -q low -q default -q ultra_low"),
        "{sidekiq}"
    );
    let redis = container(ns["statefulset-redis.yaml"], "redis")["args"].to_string();
    assert!(redis.contains("\"--appendonly\",\"yes\""), "{redis}");
    assert!(redis.contains("noeviction"), "{redis}");
    let db = objects
        .iter()
        .find(|(p, o)| {
            o["kind"] == "Database" && p.ends_with("/database-festival-des-possibles-forum.yaml")
        })
        .map(|(_, o)| o)
        .expect("the forum's database");
    let extensions: Vec<&str> = db["spec"]["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(extensions, ["hstore", "pg_trgm", "vector"]);
}

/// Discourse signs in with the tenant's realm through its bundled OIDC
/// plugin, whose settings its DISCOURSE_ variables set, and whose callback
/// is /auth/oidc/callback (discourse: plugins/discourse-openid-connect).
#[test]
fn discourse_signs_in_with_the_realm() {
    let objects = collective();
    let ns = namespace(&objects, "festival-des-possibles-forum");
    let web = container(ns["deployment-discourse.yaml"], "discourse");
    assert_eq!(
        env(web, "DISCOURSE_OPENID_CONNECT_ENABLED")["value"],
        "true"
    );
    let discovery = env(web, "DISCOURSE_OPENID_CONNECT_DISCOVERY_DOCUMENT")["value"]
        .as_str()
        .unwrap();
    assert!(
        discovery.ends_with("/realms/festival-des-possibles/.well-known/openid-configuration"),
        "{discovery}"
    );
    assert_eq!(
        secret_ref(web, "DISCOURSE_OPENID_CONNECT_CLIENT_SECRET").0,
        "oidc"
    );
    let realms = objects
        .iter()
        .filter(|(_, o)| o["kind"] == "ConfigMap")
        .map(|(_, o)| o.to_string())
        .find(|s| s.contains("forum.festivaldespossibles.org/auth/oidc/callback"));
    assert!(realms.is_some(), "no client with the forum's redirect URI");
}

/// MongoDB for Rocket.Chat: a replica set (`--replSet rs0`, every official
/// deployment's, and what `mongodump --oplog` needs), with authentication,
/// which on a replica set requires a keyfile that only mongod's user may
/// read (MongoDB: internal authentication); a Secret's files are readable
/// by the pod's group, so an init container copies it with mode 0400. The
/// member's name resolves through a headless Service before it is ready
/// (the set forms from it). The keyfile holds base64 characters (the
/// generator's default); the root password goes into a URL, so it is
/// base64url.
#[test]
fn mongodb_is_a_replica_set_with_a_keyfile_only_it_reads() {
    let objects = collective();
    let ns = namespace(&objects, "habitat-solidaire-chat");
    let sts = ns["statefulset-mongodb.yaml"];
    let c = container(sts, "mongodb");
    let args = c["args"].to_string();
    assert!(args.contains("\"--replSet\",\"rs0\""), "{args}");
    assert!(
        args.contains("\"--keyFile\",\"/run/mongodb/keyfile\""),
        "{args}"
    );
    assert_eq!(pod_spec(sts)["securityContext"]["runAsUser"], 999);
    let init = &pod_spec(sts)["initContainers"][0];
    let copy = init["command"][2].as_str().unwrap();
    assert!(copy.contains("chmod 0400 /run/mongodb/keyfile"), "{copy}");
    let probe = c["readinessProbe"]["exec"]["command"][2].as_str().unwrap();
    assert!(probe.contains("rs.initiate"), "{probe}");
    assert!(
        probe.contains("host: \"mongodb-0.mongodb.habitat-solidaire-chat.svc:27017\""),
        "{probe}"
    );
    let service = ns["service-mongodb.yaml"];
    assert_eq!(service["spec"]["clusterIP"], "None");
    assert_eq!(service["spec"]["publishNotReadyAddresses"], true);
    let annotations = |f: &str| ns[f]["metadata"]["annotations"].clone();
    assert_eq!(
        annotations("secret-mongodb.yaml")["secret-generator.v1.mittwald.de/encoding"],
        "base64url"
    );
    assert!(annotations("secret-mongodb-keyfile.yaml")
        .get("secret-generator.v1.mittwald.de/encoding")
        .is_none());
    let dump = env(
        &ns["prebackuppod-dump-database.yaml"]["spec"]["pod"]["spec"]["containers"][0],
        "JARDIN_BACKUP",
    )["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        dump.contains("mongodump") && dump.contains("--oplog") && dump.contains("--archive"),
        "{dump}"
    );
    assert!(
        !dump.contains("--password"),
        "the password is on a command line: {dump}"
    );
}

/// Rocket.Chat: MONGO_URL names the replica set and reaches its member;
/// Kubernetes substitutes `$(MONGO_PASSWORD)` only when that variable comes
/// first. The first admin is created from ADMIN_* and the setup wizard is
/// closed, so that no visitor claims the workspace
/// (apps/meteor/server/startup/initialData.ts). One instance: the
/// Community edition passes no events between instances. Uploads go through
/// Rocket.Chat to the bucket (FileUpload_S3_Proxy_*).
#[test]
fn rocketchat_reaches_its_replica_set_and_owns_its_workspace() {
    let objects = collective();
    let ns = namespace(&objects, "habitat-solidaire-chat");
    let d = ns["deployment-rocketchat.yaml"];
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(pod_spec(d)["securityContext"]["runAsUser"], 65533);
    let c = container(d, "rocketchat");
    let url = env(c, "MONGO_URL")["value"].as_str().unwrap();
    assert!(url.contains("@mongodb-0.mongodb:27017/"), "{url}");
    assert!(url.contains("replicaSet=rs0"), "{url}");
    let names = env_names(c);
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("MONGO_PASSWORD") < pos("MONGO_URL"));
    assert_eq!(
        secret_ref(c, "MONGO_PASSWORD"),
        ("mongodb".into(), "root-password".into())
    );
    assert_eq!(
        secret_ref(c, "ADMIN_PASS"),
        ("admin".into(), "password".into())
    );
    assert_eq!(
        env(c, "OVERWRITE_SETTING_Show_Setup_Wizard")["value"],
        "completed"
    );
    for proxy in ["Uploads", "Avatars", "UserDataFiles"] {
        assert_eq!(
            env(c, &format!("OVERWRITE_SETTING_FileUpload_S3_Proxy_{proxy}"))["value"],
            "true"
        );
    }
    assert_eq!(env(c, "Accounts_OAuth_Custom_Keycloak")["value"], "true");
    assert_eq!(
        secret_ref(c, "Accounts_OAuth_Custom_Keycloak_secret").0,
        "oidc"
    );
    let realms = objects
        .iter()
        .filter(|(_, o)| o["kind"] == "ConfigMap")
        .map(|(_, o)| o.to_string())
        .find(|s| s.contains("chat.habitat-solidaire.coop/_oauth/keycloak"));
    assert!(realms.is_some(), "no client with the chat's redirect URI");
}

/// Synapse refuses a database whose LC_COLLATE or LC_CTYPE is not `C`
/// (element-hq/synapse docs/postgres.md): its Database is created so, from
/// template0, whatever the cluster's own locale.
#[test]
fn synapse_database_sorts_byte_by_byte() {
    let objects = collective();
    let (_, db) = objects
        .iter()
        .find(|(_, o)| o["kind"] == "Database" && o["metadata"]["name"] == "faire-ecole-chat")
        .expect("the Database of faire-ecole/chat");
    assert_eq!(db["spec"]["encoding"], "UTF8");
    assert_eq!(db["spec"]["localeCollate"], "C");
    assert_eq!(db["spec"]["localeCType"], "C");
    assert_eq!(db["spec"]["template"], "template0");
    // Only the app that needs it: Nextcloud's database keeps the default.
    let (_, other) = objects
        .iter()
        .find(|(_, o)| o["kind"] == "Database" && o["metadata"]["name"] == "faire-ecole-cloud")
        .unwrap();
    assert!(other["spec"].get("localeCollate").is_none());
}

/// Synapse runs as the user its image's start.py switches to (991), not
/// through start.py (which would call gosu as root: docker/start.py), with
/// no `UID`/`GID` variables, and its configuration from the file the init
/// container writes.
#[test]
fn synapse_runs_as_its_own_user_from_the_written_config() {
    let objects = collective();
    let ns = namespace(&objects, "faire-ecole-chat");
    let deploy = ns["deployment-synapse.yaml"];
    let spec = pod_spec(deploy);
    assert_eq!(spec["securityContext"]["runAsUser"], 991);
    assert_eq!(spec["securityContext"]["fsGroup"], 991);
    assert_eq!(deploy["spec"]["replicas"], 1, "one main process");
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate");
    let synapse = container(deploy, "synapse");
    let command: Vec<&str> = synapse["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        command,
        [
            "python",
            "-m",
            "synapse.app.homeserver",
            "--config-path",
            "/run/synapse/homeserver.yaml"
        ]
    );
    let names = env_names(synapse);
    assert!(!names.contains(&"UID") && !names.contains(&"GID"));
    assert_eq!(synapse["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(synapse["readinessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(synapse["readinessProbe"]["httpGet"]["port"], "http");
    assert_eq!(synapse["ports"][0]["containerPort"], 8008);
    // What `restricted` asks of a pod (the namespace itself is `baseline`
    // for k8up's backup pods, which read the volume as root).
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        synapse["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        synapse["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
}

/// The init container's script, run by the real Python on the built
/// ConfigMap: it writes a complete configuration with every secret from the
/// environment, and a signing key in Synapse's format (`ed25519 <id>
/// <unpadded base64 of a 32-byte seed>`: signedjson's
/// decode_signing_key_base64) that is the same at every start and differs
/// with another seed.
#[test]
fn synapse_configure_writes_the_config_and_a_stable_signing_key() {
    let objects = collective();
    let ns = namespace(&objects, "faire-ecole-chat");
    let config: Value = serde_json::from_str(
        ns["configmap-synapse.yaml"]["data"]["homeserver.json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["server_name"], "faire-ecole.org");
    assert_eq!(config["public_baseurl"], "https://matrix.faire-ecole.org/");
    assert_eq!(config["serve_server_wellknown"], true);
    assert_eq!(config["listeners"][0]["x_forwarded"], true);
    assert_eq!(config["listeners"][0]["port"], 8008);
    assert_eq!(config["database"]["name"], "psycopg2");
    assert_eq!(config["database"]["args"]["dbname"], "faire_ecole_chat");
    assert!(
        config["database"]["args"].get("password").is_none(),
        "no secret in the ConfigMap"
    );
    let provider = &config["oidc_providers"][0];
    assert_eq!(
        provider["issuer"],
        "https://sso.jardins-numeriques.org/realms/faire-ecole"
    );
    assert!(provider.get("client_secret").is_none());
    let init = &pod_spec(ns["deployment-synapse.yaml"])["initContainers"][0];
    let script = init["command"][2].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (etc, run) = (dir.path().join("etc"), dir.path().join("run"));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(etc.join("homeserver.json"), config.to_string()).unwrap();
    let script = script
        .replace("/etc/synapse", etc.to_str().unwrap())
        .replace("/run/synapse", run.to_str().unwrap());
    let configure = |seed: &str| {
        let out = std::process::Command::new("python3")
            .args(["-c", &script])
            .env_clear()
            .env("DB_PASSWORD", "db-pw")
            .env("MACAROON_SECRET_KEY", "mac")
            .env("FORM_SECRET", "form")
            .env("REGISTRATION_SHARED_SECRET", "reg")
            .env("OIDC_CLIENT_SECRET", "oidc-secret")
            .env("SIGNING_SEED", seed)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written: Value =
            serde_json::from_slice(&std::fs::read(run.join("homeserver.yaml")).unwrap()).unwrap();
        let key = std::fs::read_to_string(run.join("signing.key")).unwrap();
        (written, key)
    };
    let (written, key) = configure("seed-one");
    assert_eq!(written["database"]["args"]["password"], "db-pw");
    assert_eq!(written["macaroon_secret_key"], "mac");
    assert_eq!(written["form_secret"], "form");
    assert_eq!(written["registration_shared_secret"], "reg");
    assert_eq!(written["oidc_providers"][0]["client_secret"], "oidc-secret");
    assert_eq!(written["signing_key_path"], "/run/synapse/signing.key");
    let fields: Vec<&str> = key.trim_end().split(' ').collect();
    assert_eq!(fields.len(), 3, "{key}");
    assert_eq!(fields[0], "ed25519");
    assert!(fields[1].starts_with("a_"));
    let seed = fields[2];
    assert_eq!(seed.len(), 43, "32 bytes, unpadded");
    assert!(!seed.contains('='));
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(seed)
        .expect("unpadded base64");
    assert_eq!(bytes.len(), 32);
    assert_eq!(configure("seed-one").1, key, "the same key at every start");
    assert_ne!(configure("seed-two").1, key);
}

/// Delegation (element-hq/synapse docs/delegate.md; Matrix spec,
/// "Resolving server names"): the zone apex routes the well-known paths to
/// Synapse and resolves to the ingress; Element's config.json names the
/// homeserver (element-hq/element-web docs/config.md), on a host of its
/// own, and nginx listens where its Service points (ELEMENT_WEB_PORT).
#[test]
fn synapse_is_delegated_from_the_apex_and_element_finds_it() {
    let dir = common::built(&common::repo().join("examples/collective"));
    let out = dir.path().join("out");
    let read = |p: &str| -> Value {
        yaml_serde::from_str(&std::fs::read_to_string(out.join(p)).unwrap()).unwrap()
    };
    let ns = "k8s/louise-michel/faire-ecole-chat";
    let delegation = read(&format!("{ns}/ingress-delegation.yaml"));
    let rule = &delegation["spec"]["rules"][0];
    assert_eq!(rule["host"], "faire-ecole.org");
    let paths: Vec<&str> = rule["http"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["backend"]["service"]["name"], "synapse");
            p["path"].as_str().unwrap()
        })
        .collect();
    assert!(paths.contains(&"/.well-known/matrix"));
    assert!(
        !paths.contains(&"/"),
        "the rest of the apex is not Synapse's"
    );
    assert_eq!(delegation["spec"]["tls"][0]["hosts"][0], "faire-ecole.org");
    let zone = std::fs::read_to_string(out.join("dns/faire-ecole.org.zone")).unwrap();
    assert!(
        zone.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&"@") && f.contains(&"A") && f.get(4) == Some(&"198.51.100.10")
        }),
        "the apex points at the ingress:\n{zone}"
    );
    let element: Value = serde_json::from_str(
        read(&format!("{ns}/configmap-element.yaml"))["data"]["config.json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let hs = &element["default_server_config"]["m.homeserver"];
    assert_eq!(hs["base_url"], "https://matrix.faire-ecole.org");
    assert_eq!(hs["server_name"], "faire-ecole.org");
    let ingress = read(&format!("{ns}/ingress-element.yaml"));
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "element.faire-ecole.org"
    );
    let deploy = read(&format!("{ns}/deployment-element.yaml"));
    let c = container(&deploy, "element");
    assert_eq!(env(c, "ELEMENT_WEB_PORT")["value"], "8080");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert_eq!(pod_spec(&deploy)["securityContext"]["runAsUser"], 101);
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    for path in ["/app/config.json", "/etc/nginx/conf.d", "/tmp"] {
        assert!(mounts.contains(&path), "{path} in {mounts:?}");
    }
}

/// Decidim's migrations enable pg_trgm (decidim-proposals,
/// decidim-initiatives) and ltree (decidim-assemblies), which CloudNativePG
/// creates in its database; its jobs go to Sidekiq (QUEUE_ADAPTER, the
/// generator's `--queue sidekiq`, decidim/docker Dockerfile) through
/// REDIS_URL, into which Kubernetes puts a password that needs no escaping.
#[test]
fn decidim_gets_its_extensions_and_its_queue() {
    let objects = collective();
    let (_, db) = objects
        .iter()
        .find(|(_, o)| {
            o["kind"] == "Database" && o["metadata"]["name"] == "libraires-independants-congres"
        })
        .expect("the Database of libraires-independants/congres");
    let extensions: Vec<&str> = db["spec"]["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(extensions.contains(&"pg_trgm") && extensions.contains(&"ltree"));
    let ns = namespace(&objects, "libraires-independants-congres");
    for deploy in ["deployment-decidim.yaml", "deployment-sidekiq.yaml"] {
        let name = ns[deploy]["metadata"]["name"].as_str().unwrap();
        let c = container(ns[deploy], name);
        assert_eq!(env(c, "QUEUE_ADAPTER")["value"], "sidekiq");
        assert_eq!(
            env(c, "REDIS_URL")["value"],
            "redis://:$(REDIS_PASSWORD)@redis:6379/0"
        );
        // Kubernetes expands $(VAR) only from variables defined before it.
        let names = env_names(c);
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(at("REDIS_PASSWORD") < at("REDIS_URL"));
    }
    let redis = ns["secret-redis.yaml"];
    assert_eq!(
        redis["metadata"]["annotations"]["secret-generator.v1.mittwald.de/encoding"],
        "base64url"
    );
    let sidekiq = container(ns["deployment-sidekiq.yaml"], "sidekiq");
    assert_eq!(
        sidekiq["command"],
        serde_json::json!(["bundle", "exec", "sidekiq", "-C", "config/sidekiq.yml"])
    );
}

/// The image's files are root's alone (Rails writes config/master.key
/// with mode 0600, decidim/docker builds as root): the pods run as root,
/// so the namespace enforces `baseline`, and the containers keep nothing
/// of root's powers. SECRET_KEY_BASE derives the key of the attributes
/// Decidim encrypts (decidim-core attribute_encryptor.rb): it is escrowed.
#[test]
fn decidim_runs_as_root_without_powers_and_escrows_its_key() {
    let objects = collective();
    let ns = namespace(&objects, "libraires-independants-congres");
    let ns_obj = objects
        .iter()
        .find(|(_, o)| {
            o["kind"] == "Namespace" && o["metadata"]["name"] == "libraires-independants-congres"
        })
        .unwrap()
        .1;
    assert_eq!(
        ns_obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "baseline"
    );
    for (file, name) in [
        ("deployment-decidim.yaml", "decidim"),
        ("deployment-sidekiq.yaml", "sidekiq"),
        ("cronjob-decidim-daily.yaml", "rake"),
    ] {
        let c = container(ns[file], name);
        let sc = &c["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{file}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{file}");
        assert_eq!(
            sc["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{file}"
        );
        assert!(pod_spec(ns[file])["securityContext"]
            .get("runAsUser")
            .is_none());
    }
    let escrow = ns["prebackuppod-escrow.yaml"].to_string();
    assert!(escrow.contains("secret-key-base"), "{escrow}");
}

/// An organization's secondary hosts redirect to its host
/// (decidim-core middleware/current_organization.rb): every host of the
/// instance is routed, and the bootstrap gives the aliases to the
/// organization; the scheduled tasks of Decidim's install guide run.
#[test]
fn decidim_serves_its_secondary_hosts_and_runs_its_tasks() {
    let objects = collective();
    let ns = namespace(&objects, "libraires-independants-congres");
    let hosts: Vec<&str> = ns["ingress-decidim.yaml"]["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["host"].as_str())
        .collect();
    assert_eq!(
        hosts,
        [
            "congres.libraires-independants.org",
            "participer.libraires-independants.org"
        ]
    );
    let migrate = &pod_spec(ns["deployment-decidim.yaml"])["initContainers"][0];
    assert_eq!(
        env(migrate, "JARDIN_HOSTS")["value"],
        "congres.libraires-independants.org participer.libraires-independants.org"
    );
    let daily = container(ns["cronjob-decidim-daily.yaml"], "rake").to_string();
    for task in [
        "decidim:metrics:all",
        "decidim:open_data:export",
        "decidim:reminders:all",
    ] {
        assert!(daily.contains(task), "{task}");
    }
    let steps = ns["cronjob-decidim-steps.yaml"];
    assert_eq!(steps["spec"]["schedule"], "*/15 * * * *");
}
