//! Single sign-on and office: the realms, clients and WOPI hosts jardin
//! derives for `examples/collective`, checked against what Keycloak,
//! keycloak-config-cli, Nextcloud's user_oidc and richdocuments, HedgeDoc
//! and Collabora name (docs/apps/keycloak.md, collabora.md, nextcloud.md,
//! hedgedoc.md give each source), and a host change seen in the plan.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

fn collective() -> BTreeMap<String, Value> {
    common::built_manifests(&common::repo().join("examples/collective"))
}

/// A copy of examples/collective with the first `from` of `file` replaced
/// by `to` (which must be there): the directory, and the root in it.
fn edited_collective(file: &str, from: &str, to: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("collective");
    common::copy_dir(&common::repo().join("examples/collective"), &root);
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    (tmp, root)
}

fn env(container: &Value) -> BTreeMap<String, Value> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let v = if e["value"].is_null() {
                e["valueFrom"].clone()
            } else {
                e["value"].clone()
            };
            (e["name"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn container<'a>(o: &'a Value, name: &str) -> &'a Value {
    let spec = &o["spec"]["template"]["spec"];
    spec["containers"]
        .as_array()
        .into_iter()
        .chain(spec["initContainers"].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// The realms a cluster's Keycloak imports, by realm.
fn realms(objects: &BTreeMap<String, Value>, cluster: &str) -> BTreeMap<String, Value> {
    let cm = &objects[&format!("{cluster}/jardin-sso/configmap-realms.yaml")];
    cm["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(file, text)| {
            let realm: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
            (file.trim_end_matches(".json").to_string(), realm)
        })
        .collect()
}

/// The realm import Job of a cluster (named after the realms' digest).
fn realm_import<'a>(objects: &'a BTreeMap<String, Value>, cluster: &str) -> &'a Value {
    let prefix = format!("{cluster}/jardin-sso/job-realm-import-");
    let jobs: Vec<&Value> = objects
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix))
        .map(|(_, o)| o)
        .collect();
    assert_eq!(jobs.len(), 1, "one realm import per cluster");
    jobs[0]
}

fn client<'a>(realm: &'a Value, id: &str) -> &'a Value {
    realm["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == id)
        .unwrap_or_else(|| panic!("no client {id}"))
}

/// A realm per tenant with `identity.sso`, on its own cluster's Keycloak,
/// named after the tenant, with its display name, its admins as users who
/// must set a password and verify their address, and brute-force and
/// password policies (Keycloak's RealmRepresentation fields).
#[test]
fn each_sso_tenant_gets_a_realm_on_its_cluster() {
    let objects = collective();
    let paris = realms(&objects, "louise-michel");
    let lyon = realms(&objects, "ada-lovelace");
    assert_eq!(
        paris.keys().collect::<Vec<_>>(),
        ["faire-ecole", "festival-des-possibles"]
    );
    assert_eq!(lyon.keys().collect::<Vec<_>>(), ["habitat-solidaire"]);
    let realm = &paris["festival-des-possibles"];
    assert_eq!(realm["realm"], "festival-des-possibles");
    assert_eq!(realm["displayName"], "Festival des Possibles");
    assert_eq!(realm["bruteForceProtected"], true);
    assert_eq!(realm["registrationAllowed"], false);
    assert!(realm["passwordPolicy"]
        .as_str()
        .unwrap()
        .contains("length(12)"));
    // smtpServer is a map of strings in Keycloak: the port is quoted.
    assert_eq!(realm["smtpServer"]["port"], "587");
    assert_eq!(realm["smtpServer"]["host"], "smtp.jardins-numeriques.org");
    let users: Vec<&str> = realm["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        [
            "benevoles@festivaldespossibles.org",
            "coordination@festivaldespossibles.org"
        ]
    );
    for u in realm["users"].as_array().unwrap() {
        assert_eq!(u["requiredActions"][0], "UPDATE_PASSWORD");
        assert!(u.get("credentials").is_none(), "no password in the output");
    }
    // Without `admins`, the contacts are the first users.
    let faire = &paris["faire-ecole"];
    assert_eq!(faire["users"][0]["email"], "bureau@faire-ecole.org");
}

/// Every app whose catalog entry declares OIDC gets a confidential client
/// whose redirect URIs are its hosts with the app's callback paths: user_oidc
/// answers at /apps/user_oidc/code (and under /index.php), HedgeDoc at
/// /auth/oauth2/callback. Its secret is `$(env:…)`, substituted by
/// keycloak-config-cli from a Secret generated in the app's namespace:
/// never a value in the output.
#[test]
fn each_oidc_app_gets_a_client_whose_secret_stays_in_the_cluster() {
    let objects = collective();
    let realm = &realms(&objects, "louise-michel")["faire-ecole"];
    let cloud = client(realm, "cloud");
    assert_eq!(
        cloud["redirectUris"],
        serde_json::json!([
            "https://cloud.faire-ecole.org/apps/user_oidc/code",
            "https://cloud.faire-ecole.org/index.php/apps/user_oidc/code"
        ])
    );
    assert_eq!(cloud["publicClient"], false);
    assert_eq!(cloud["protocol"], "openid-connect");
    assert_eq!(cloud["secret"], "$(env:CLIENT_SECRET_FAIRE_ECOLE_CLOUD)");
    let pad = client(realm, "pad");
    assert_eq!(
        pad["redirectUris"],
        serde_json::json!(["https://pad.faire-ecole.org/auth/oauth2/callback"])
    );
    // Synapse's callback (element-hq/synapse docs/openid.md).
    let chat = client(realm, "chat");
    assert!(chat["redirectUris"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(
            "https://matrix.faire-ecole.org/_synapse/client/oidc/callback"
        )));
    // Jitsi declares no OIDC: no client.
    assert_eq!(realm["clients"].as_array().unwrap().len(), 3);

    // Generated in the app's namespace, pulled by Keycloak's.
    let source = &objects["louise-michel/faire-ecole-cloud/secret-oidc.yaml"];
    let ann = &source["metadata"]["annotations"];
    assert_eq!(
        ann["secret-generator.v1.mittwald.de/autogenerate"],
        "client-secret"
    );
    assert_eq!(
        ann["replicator.v1.mittwald.de/replication-allowed-namespaces"],
        "jardin-sso"
    );
    assert!(source.get("data").is_none() && source.get("stringData").is_none());
    let copy = &objects["louise-michel/jardin-sso/secret-oidc-faire-ecole-cloud.yaml"];
    assert_eq!(
        copy["metadata"]["annotations"]["replicator.v1.mittwald.de/replicate-from"],
        "faire-ecole-cloud/oidc"
    );
    assert!(copy.get("data").is_none());

    // keycloak-config-cli: its variable names, and `$(env:…)` substitution.
    let job = realm_import(&objects, "louise-michel");
    let import = env(container(job, "import"));
    for name in [
        "KEYCLOAK_URL",
        "KEYCLOAK_USER",
        "KEYCLOAK_PASSWORD",
        "KEYCLOAK_AVAILABILITYCHECK_ENABLED",
        "IMPORT_FILES_LOCATIONS",
    ] {
        assert!(import.contains_key(name), "{name}: {import:?}");
    }
    assert_eq!(import["IMPORT_VARSUBSTITUTION_ENABLED"], "true");
    assert_eq!(
        import["CLIENT_SECRET_FAIRE_ECOLE_CLOUD"]["secretKeyRef"],
        serde_json::json!({"name": "oidc-faire-ecole-cloud", "key": "client-secret"})
    );
}

/// Nextcloud signs in through user_oidc: a before-starting hook (run as the
/// image's entrypoint runs them) creates or updates the provider with the
/// realm's discovery document, the secret read from the environment.
/// HedgeDoc through its CMD_OAUTH2_* settings and Keycloak's endpoints.
#[test]
fn apps_are_wired_with_the_settings_their_upstreams_name() {
    let objects = collective();
    let cloud = &objects["louise-michel/faire-ecole-cloud/deployment-nextcloud.yaml"];
    let nc = container(cloud, "nextcloud");
    let e = env(nc);
    assert_eq!(
        e["OIDC_ISSUER"],
        "https://sso.jardins-numeriques.org/realms/faire-ecole"
    );
    assert_eq!(e["OIDC_CLIENT_ID"], "cloud");
    assert_eq!(e["OIDC_CLIENT_SECRET"]["secretKeyRef"]["name"], "oidc");
    assert_eq!(e["COLLABORA_URL"], "https://office.jardins-numeriques.org");
    let mounts: BTreeSet<&str> = nc["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    assert!(mounts.contains("/docker-entrypoint-hooks.d/before-starting/50-jardin-sso.sh"));
    assert!(mounts.contains("/docker-entrypoint-hooks.d/before-starting/60-jardin-office.sh"));
    let hooks = &objects["louise-michel/faire-ecole-cloud/configmap-nextcloud-hooks.yaml"];
    let sso = hooks["data"]["50-jardin-sso.sh"].as_str().unwrap();
    assert!(sso.starts_with("#!/bin/sh\n"));
    for part in [
        "occ user_oidc:provider \"$OIDC_PROVIDER\"",
        "--clientid=\"$OIDC_CLIENT_ID\"",
        "--clientsecret-env=OIDC_CLIENT_SECRET",
        "--discoveryuri=\"$OIDC_ISSUER/.well-known/openid-configuration\"",
    ] {
        assert!(sso.contains(part), "{part}: {sso}");
    }
    let office = hooks["data"]["60-jardin-office.sh"].as_str().unwrap();
    assert!(office.contains("occ config:app:set richdocuments wopi_url --value=\"$COLLABORA_URL\""));
    assert!(office.contains("occ richdocuments:activate-config"));
    // The hooks must be executable, or the entrypoint skips them.
    let volume = cloud["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "hooks")
        .unwrap();
    assert_eq!(volume["configMap"]["defaultMode"], 0o755);

    // A tenant without SSO or office gets neither.
    let plain = &objects["louise-michel/velorution-brest-pad/deployment-hedgedoc.yaml"];
    assert!(!env(container(plain, "hedgedoc")).contains_key("CMD_OAUTH2_CLIENT_ID"));
    assert!(
        !objects.contains_key("ada-lovelace/amap-les-pousses-cloud/configmap-nextcloud-hooks.yaml")
    );

    let pad = &objects["louise-michel/faire-ecole-pad/deployment-hedgedoc.yaml"];
    let e = env(container(pad, "hedgedoc"));
    let realm = "https://sso.jardins-numeriques.org/realms/faire-ecole/protocol/openid-connect";
    assert_eq!(e["CMD_OAUTH2_AUTHORIZATION_URL"], format!("{realm}/auth"));
    assert_eq!(e["CMD_OAUTH2_TOKEN_URL"], format!("{realm}/token"));
    assert_eq!(
        e["CMD_OAUTH2_USER_PROFILE_URL"],
        format!("{realm}/userinfo")
    );
    assert_eq!(e["CMD_OAUTH2_CLIENT_ID"], "pad");
    assert_eq!(
        e["CMD_OAUTH2_CLIENT_SECRET"]["secretKeyRef"],
        serde_json::json!({"name": "oidc", "key": "client-secret"})
    );
    assert_eq!(
        e["CMD_OAUTH2_USER_PROFILE_USERNAME_ATTR"],
        "preferred_username"
    );
    assert_eq!(e["CMD_OAUTH2_USER_PROFILE_DISPLAY_NAME_ATTR"], "name");
    assert_eq!(e["CMD_OAUTH2_USER_PROFILE_EMAIL_ATTR"], "email");
    assert_eq!(e["CMD_OAUTH2_SCOPE"], "openid email profile");
}

/// Keycloak runs as its server guides say behind a TLS-terminating proxy,
/// on the shared Postgres, highly available on the cooperative plan.
#[test]
fn keycloak_runs_as_its_guides_require() {
    let objects = collective();
    let d = &objects["louise-michel/jardin-sso/deployment-keycloak.yaml"];
    assert_eq!(d["spec"]["replicas"], 2, "an HA plan runs two");
    let kc = container(d, "keycloak");
    assert_eq!(kc["args"], serde_json::json!(["start"]));
    let e = env(kc);
    assert_eq!(e["KC_HOSTNAME"], "https://sso.jardins-numeriques.org");
    assert_eq!(e["KC_PROXY_HEADERS"], "xforwarded");
    assert_eq!(e["KC_HTTP_ENABLED"], "true");
    assert_eq!(e["KC_HEALTH_ENABLED"], "true");
    assert_eq!(e["KC_DB"], "postgres");
    assert_eq!(
        e["KC_DB_URL"],
        "jdbc:postgresql://pg-paris-rw.databases.svc:5432/jardin_sso"
    );
    assert_eq!(kc["readinessProbe"]["httpGet"]["port"], "management");
    assert!(objects.contains_key("louise-michel/jardin-sso/poddisruptionbudget-keycloak.yaml"));
    assert_eq!(
        objects["ada-lovelace/jardin-sso/deployment-keycloak.yaml"]["spec"]["replicas"],
        1
    );
    // Its database is on the shared cluster, with a role of its own.
    assert!(objects.contains_key("louise-michel/databases/database-jardin-sso.yaml"));
}

/// Collabora trusts exactly the office-enabled Nextclouds of its cluster,
/// one WOPI host group each, behind the proxy's TLS; the Ingress keeps each
/// document on one server.
#[test]
fn collabora_trusts_exactly_its_clusters_office_hosts() {
    let objects = collective();
    let d = &objects["louise-michel/jardin-office/deployment-collabora.yaml"];
    let e = env(container(d, "collabora"));
    let groups: Vec<&str> = e
        .iter()
        .filter(|(k, _)| k.starts_with("aliasgroup"))
        .map(|(_, v)| v.as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        [
            "https://cloud.faire-ecole.org:443",
            "https://cloud.libraires-independants.org:443"
        ]
    );
    assert!(e["extra_params"]
        .as_str()
        .unwrap()
        .contains("--o:ssl.termination=true"));
    let lyon = env(container(
        &objects["ada-lovelace/jardin-office/deployment-collabora.yaml"],
        "collabora",
    ));
    assert_eq!(lyon["aliasgroup1"], "https://habitat-solidaire.coop:443");
    assert!(!lyon.contains_key("aliasgroup2"));
    let ingress = &objects["louise-michel/jardin-office/ingress-collabora.yaml"];
    assert_eq!(
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/upstream-hash-by"],
        "$arg_WOPISrc"
    );
    let ns = &objects["louise-michel/_cluster/namespace-jardin-office.yaml"];
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "baseline"
    );
}

/// One app's host changes: in the plan, the realm's only change is that
/// client's URIs, and no other realm changes.
#[test]
fn a_changed_host_changes_exactly_that_clients_redirect_uris_in_the_plan() {
    let (_tmp, root) = edited_collective(
        "tenants/faire-ecole.ncl",
        "pad = { app = \"hedgedoc\", host = \"pad.faire-ecole.org\" }",
        "pad = { app = \"hedgedoc\", host = \"notes.faire-ecole.org\" }",
    );
    let live = common::repo().join("examples/collective/live-unchanged");
    let (code, stdout, stderr) = common::jardin(&[
        "--no-cache",
        "plan",
        root.to_str().unwrap(),
        "--live",
        live.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 2, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let realms: Vec<&Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "ConfigMap" && c["name"] == "realms")
        .collect();
    assert_eq!(realms.len(), 1, "{stdout}");
    assert_eq!(realms[0]["cluster"], "louise-michel");
    let fields = realms[0]["fields"].as_array().unwrap();
    let paths: Vec<&str> = fields.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["data[\"faire-ecole.json\"]"], "{stdout}");
    let before: Value = serde_json::from_str(fields[0]["before"].as_str().unwrap()).unwrap();
    let after: Value = serde_json::from_str(fields[0]["after"].as_str().unwrap()).unwrap();
    // Everything but the pad's client is the same.
    let without_pad = |realm: &Value| {
        let mut r = realm.clone();
        r["clients"]
            .as_array_mut()
            .unwrap()
            .retain(|c| c["clientId"] != "pad");
        r
    };
    assert_eq!(without_pad(&before), without_pad(&after));
    let (b, a) = (client(&before, "pad"), client(&after, "pad"));
    assert_eq!(
        a["redirectUris"],
        serde_json::json!(["https://notes.faire-ecole.org/auth/oauth2/callback"])
    );
    let changed: BTreeSet<&String> = a
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| b.get(k.as_str()) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        changed.into_iter().collect::<Vec<_>>(),
        ["attributes", "redirectUris", "rootUrl"]
    );
    // The import runs again: a new Job, named after the realms' digest,
    // replaces the old one, and nothing needs approval.
    let jobs: BTreeSet<(&str, &str)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "Job")
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["cluster"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        jobs,
        BTreeSet::from([("create", "louise-michel"), ("delete", "louise-michel")]),
        "{stdout}"
    );
    assert_eq!(
        plan["approval"],
        serde_json::json!([]),
        "nothing needs approval"
    );
}

/// The graph orders app → client secret → realm import → Keycloak: the
/// import waits for Keycloak's Deployment and for every client's secret,
/// and Keycloak's database is in the backup coverage.
#[test]
fn the_realm_import_comes_after_keycloak_and_the_secrets_and_the_database_is_backed_up() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = common::jardin(&[
        "build",
        "examples/collective",
        "-o",
        out.to_str().unwrap(),
        "--no-cache",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let order = std::fs::read_to_string(out.join("k8s/louise-michel/apply-order.txt")).unwrap();
    let wave = |path: &str| -> u32 {
        order
            .lines()
            .find_map(|l| l.split_once('\t').filter(|(_, p)| *p == path))
            .map(|(w, _)| w.parse().unwrap())
            .unwrap_or_else(|| panic!("{path} not in apply-order.txt"))
    };
    let job = order
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(_, p)| p)
        .find(|p| p.starts_with("jardin-sso/job-realm-import-"))
        .unwrap();
    let import = wave(job);
    assert!(import > wave("jardin-sso/deployment-keycloak.yaml"));
    assert!(import > wave("jardin-sso/secret-oidc-faire-ecole-cloud.yaml"));
    assert!(import > wave("jardin-sso/configmap-realms.yaml"));
    assert!(
        wave("jardin-sso/secret-oidc-faire-ecole-cloud.yaml")
            > wave("faire-ecole-cloud/secret-oidc.yaml")
    );

    let coverage: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("backup/coverage.json")).unwrap())
            .unwrap();
    let keycloak: Vec<&Value> = coverage["state"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["catalog_app"] == "keycloak")
        .collect();
    assert_eq!(keycloak.len(), 2, "one per cluster");
    let ids: BTreeSet<&str> = keycloak.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "jardin@ada-lovelace/sso/database",
            "jardin@louise-michel/sso/database"
        ])
    );
    for s in keycloak {
        assert_eq!(s["state"], "database");
        assert_eq!(s["status"], "covered");
    }
}

/// An app's OIDC client secret is generated in its namespace and pulled by
/// Keycloak's: a cluster without the generator or the replicator cannot
/// give it, and J0302 says so for the client.
#[test]
fn a_client_secret_needs_the_generator_and_the_replicator() {
    let (_tmp, root) = edited_collective(
        "jardin.ncl",
        "capabilities = [\"cnpg\", \"cert-manager\", \"cosi\", \"k8up\", \"secret-generator\", \"secret-replicator\"],",
        "capabilities = [\"cnpg\", \"cert-manager\", \"cosi\", \"k8up\", \"secret-generator\"],",
    );
    let (code, _, stderr) = common::jardin(&["--no-cache", "check", root.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    // Long messages are wrapped on the terminal's width.
    let flat = stderr
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("faire-ecole/cloud: cluster \"louise-michel\" lacks secret-replicator, needed for the database password in its namespace and its OIDC client secret in the SSO service's namespace"),
        "{stderr}"
    );
}
