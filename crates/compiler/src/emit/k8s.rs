//! Kubernetes objects for one tenant: the catalog's rendered objects, plus
//! what every app gets the same way (namespace, network isolation, secrets
//! generated in-cluster, databases, buckets, disruption budgets), all
//! carrying jardin's labels. Pure: no IO, no clock, no randomness.

use serde_json::{json, Map, Value};

use super::DesiredObject;
use jardin_core::facts;
use jardin_core::kube::{
    GENERATE_ANNOTATION, GENERATE_ENCODING_ANNOTATION, MANAGED_BY, REPLICATE_FROM,
    REPLICATION_ALLOWED, REPLICATION_ALLOWED_NAMESPACES, TENANT_LABEL,
};
use jardin_core::model::{Catalog, CatalogApp, Collective, CompiledApp, CompiledTenant};

/// The standard labels of an app instance's objects.
fn labels(tenant: &str, app: &CompiledApp) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("app.kubernetes.io/name".into(), json!(app.app));
    m.insert("app.kubernetes.io/instance".into(), json!(app.namespace));
    m.insert("app.kubernetes.io/part-of".into(), json!(tenant));
    m.insert(MANAGED_BY.into(), json!("jardin"));
    m.insert(TENANT_LABEL.into(), json!(tenant));
    if let Some(v) = &app.version {
        m.insert("app.kubernetes.io/version".into(), json!(v));
    }
    m
}

/// Merges `labels` into an object's metadata (the object's own win).
pub(crate) fn add_labels(object: &mut Value, labels: &Map<String, Value>) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let entry = meta.entry("labels").or_insert_with(|| json!({}));
    if let Some(existing) = entry.as_object_mut() {
        for (k, v) in labels {
            existing.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

fn object(api: &str, kind: &str, name: &str, namespace: Option<&str>) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    json!({"apiVersion": api, "kind": kind, "metadata": meta})
}

/// A Secret whose keys the in-cluster generator fills once.
fn generated_secret(
    name: &str,
    namespace: &str,
    keys: &[String],
    extra: &[(&str, String)],
) -> Value {
    let mut s = object("v1", "Secret", name, Some(namespace));
    let mut ann = Map::new();
    ann.insert(GENERATE_ANNOTATION.into(), json!(keys.join(",")));
    for (k, v) in extra {
        ann.insert((*k).into(), json!(v));
    }
    s["metadata"]["annotations"] = Value::Object(ann);
    s["type"] = json!("Opaque");
    s
}

/// The app's OIDC client secret, when it has a client in its tenant's
/// realm: generated once in its namespace, which allows the SSO service's
/// namespace to pull it (the realm import gives it to the client there).
/// Never in git, never in jardin's output.
fn oidc_secret(
    collective: &Collective,
    catalog: &Catalog,
    tenant: &jardin_core::model::Tenant,
    app: &CompiledApp,
) -> Option<Value> {
    use crate::shared;
    if !shared::has_client(collective, catalog, tenant, app) {
        return None;
    }
    let (sso, _) = shared::provider(collective, catalog, &tenant.cluster, shared::SSO)?;
    Some(generated_secret(
        shared::OIDC_SECRET,
        &app.namespace,
        &[shared::OIDC_SECRET_KEY.to_string()],
        &[
            (REPLICATION_ALLOWED, "true".to_string()),
            (REPLICATION_ALLOWED_NAMESPACES, shared::namespace(sso)),
        ],
    ))
}

/// The app's namespace, enforcing the Pod Security level its catalog entry
/// declares ("baseline" for images that must start as root).
fn namespace(app: &CompiledApp, catalog_app: &CatalogApp) -> Value {
    let mut ns = object("v1", "Namespace", &app.namespace, None);
    ns["metadata"]["labels"] = json!({
        "pod-security.kubernetes.io/enforce": catalog_app.pod_security,
        "pod-security.kubernetes.io/warn": "restricted",
    });
    ns
}

/// Default deny in both directions, then a policy per group of pods and
/// direction that allows exactly the app's resolved flows
/// (`emit::flows`): DNS, its database, its relay and object store, the
/// ingress controller, cert-manager's HTTP-01 solver, and whatever else its
/// catalog entry declares.
fn network_policies(app: &CompiledApp) -> Vec<Value> {
    let ns = app.namespace.as_str();
    let mut deny = object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "default-deny",
        Some(ns),
    );
    deny["spec"] = json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]});
    let mut out = vec![deny];
    out.extend(super::flows::policies(ns, &app.flows));
    out
}

/// Postgres name rules: identifiers without '-'.
pub(crate) fn pg_identifier(namespace: &str) -> String {
    namespace.replace('-', "_")
}

/// The database of an app on a shared CloudNativePG cluster: the role's
/// password is generated in the database namespace (a `basic-auth` Secret,
/// as CloudNativePG requires of a managed role's password), which allows
/// the app's namespace to pull it; the app's `db` Secret pulls it. It is
/// `Opaque`: a `basic-auth` Secret must be created with its data, which
/// only the replicator brings.
fn database(
    app: &CompiledApp,
    entry: &CatalogApp,
    collective: &Collective,
    cluster: &str,
) -> Vec<(Value, bool)> {
    let Some(pg_name) = &app.bindings.postgres else {
        return vec![];
    };
    let Some(pg) = collective
        .clusters
        .get(cluster)
        .and_then(|c| c.services.postgres.get(pg_name))
    else {
        return vec![];
    };
    let ident = pg_identifier(&app.namespace);
    let source_name = format!("{}-db", app.namespace);
    let mut source = generated_secret(
        &source_name,
        &pg.namespace,
        &["password".to_string()],
        &[
            (REPLICATION_ALLOWED, "true".to_string()),
            (REPLICATION_ALLOWED_NAMESPACES, app.namespace.clone()),
        ],
    );
    source["type"] = json!("kubernetes.io/basic-auth");
    source["stringData"] = json!({"username": ident});

    let mut replica = object("v1", "Secret", "db", Some(&app.namespace));
    replica["metadata"]["annotations"] =
        json!({REPLICATE_FROM: format!("{}/{}", pg.namespace, source_name)});
    replica["type"] = json!("Opaque");

    let mut db = object(
        "postgresql.cnpg.io/v1",
        "Database",
        &app.namespace,
        Some(&pg.namespace),
    );
    db["spec"] = json!({
        "name": ident,
        "owner": ident,
        "cluster": {"name": pg.cluster},
        "ensure": "present",
        "databaseReclaimPolicy": "retain",
        "encoding": "UTF8",
    });
    // Extensions the app needs, created by CloudNativePG as the superuser:
    // some (pgvector) cannot be created by the database's owner.
    let extensions: Vec<Value> = entry
        .requires
        .postgres
        .iter()
        .flat_map(|p| &p.extensions)
        .map(|e| json!({"name": e, "ensure": "present"}))
        .collect();
    if !extensions.is_empty() {
        db["spec"]["extensions"] = Value::Array(extensions);
    }
    // An app that compares text byte by byte (Synapse refuses any other
    // collation) gets a database of its own locale, whatever the cluster's:
    // only template0 may be copied with a locale other than its own.
    if entry
        .requires
        .postgres
        .as_ref()
        .is_some_and(|p| p.collation == "C")
    {
        db["spec"]["template"] = json!("template0");
        db["spec"]["localeCollate"] = json!("C");
        db["spec"]["localeCType"] = json!("C");
    }
    // (object, lives in the app namespace?)
    vec![(source, false), (replica, true), (db, false)]
}

fn buckets(
    app: &CompiledApp,
    catalog_app: &CatalogApp,
    collective: &Collective,
    cluster: &str,
) -> Vec<Value> {
    let Some(store_name) = &app.bindings.object_store else {
        return vec![];
    };
    let Some(store) = collective
        .clusters
        .get(cluster)
        .and_then(|c| c.services.object_stores.get(store_name))
    else {
        return vec![];
    };
    let mut out = Vec::new();
    for need in &catalog_app.requires.buckets {
        let mut claim = object(
            "objectstorage.k8s.io/v1alpha1",
            "BucketClaim",
            &need.purpose,
            Some(&app.namespace),
        );
        claim["spec"] = json!({"bucketClassName": store.bucket_class, "protocols": ["S3"]});
        let mut access = object(
            "objectstorage.k8s.io/v1alpha1",
            "BucketAccess",
            &need.purpose,
            Some(&app.namespace),
        );
        access["spec"] = json!({
            "bucketClaimName": need.purpose,
            "bucketAccessClassName": store.access_class.as_deref().unwrap_or(&store.bucket_class),
            "credentialsSecretName": format!("bucket-{}", need.purpose),
            "protocol": "S3",
        });
        out.push(claim);
        out.push(access);
    }
    out
}

/// A PodDisruptionBudget for every Deployment that runs more than one pod.
fn disruption_budgets(rendered: &[Value]) -> Vec<Value> {
    rendered
        .iter()
        .filter(|o| o["kind"] == "Deployment" && o["spec"]["replicas"].as_u64().unwrap_or(1) >= 2)
        .map(|d| {
            let name = d["metadata"]["name"].as_str().unwrap_or_default();
            let ns = d["metadata"]["namespace"].as_str().unwrap_or_default();
            let mut pdb = object("policy/v1", "PodDisruptionBudget", name, Some(ns));
            pdb["spec"] = json!({"minAvailable": 1, "selector": d["spec"]["selector"].clone()});
            pdb
        })
        .collect()
}

/// Every object of one tenant.
///
/// The catalog's rendered objects are moved out of `compiled`, which keeps
/// what the rules read of them (`jardin_core::facts`): the rules run after
/// every tenant is emitted.
pub(crate) fn tenant_objects(
    collective: &Collective,
    catalog: &Catalog,
    compiled: &mut CompiledTenant,
) -> Vec<DesiredObject> {
    let tenant = &compiled.tenant;
    let cluster = tenant.cluster.as_str();
    let mut out = Vec::new();
    // A tenant on an unknown cluster renders nothing (`check` says why).
    if !collective.clusters.contains_key(cluster) {
        return out;
    }
    for (instance, app) in compiled.apps.iter_mut() {
        let Some(catalog_app) = catalog.get(&app.app) else {
            continue;
        };
        if !app.rendered {
            continue;
        }
        let labels = labels(&tenant.id, app);
        // The app's own data services count as its objects: the rules
        // read their replicas, volumes and requests like the catalog's.
        if let Some(c) = collective.clusters.get(cluster) {
            app.objects
                .extend(super::services::objects(app, catalog_app, c));
        }
        app.flows = super::flows::resolve(collective, catalog, cluster, app, catalog_app);
        let mut objects: Vec<Value> = vec![namespace(app, catalog_app)];
        objects.extend(network_policies(app));
        for (name, decl) in &catalog_app.secrets {
            objects.push(generated_secret(name, &app.namespace, &decl.keys, &[]));
        }
        for s in super::services::secrets(catalog_app) {
            let extra: Vec<(&str, String)> = s
                .encoding
                .map(|e| (GENERATE_ENCODING_ANNOTATION, e.to_string()))
                .into_iter()
                .collect();
            objects.push(generated_secret(s.name, &app.namespace, &s.keys, &extra));
        }
        objects.extend(oidc_secret(collective, catalog, tenant, app));
        objects.extend(
            database(app, catalog_app, collective, cluster)
                .into_iter()
                .map(|(o, _)| o),
        );
        objects.extend(buckets(app, catalog_app, collective, cluster));
        objects.extend(disruption_budgets(&app.objects));
        app.facts = facts::of_objects(&app.objects);
        objects.append(&mut app.objects);
        for mut value in objects {
            add_labels(&mut value, &labels);
            out.push(DesiredObject::new(
                cluster,
                Some(tenant.id.clone()),
                Some(instance.clone()),
                value,
            ));
        }
    }
    out
}

/// The objects tenants share: each shared Postgres service as a complete
/// CloudNativePG `Cluster` (instances, image, storage) whose managed roles
/// are every app bound to it, on every cluster a compiled tenant runs on,
/// and a Namespace for every namespace the shared objects live in.
pub(crate) fn shared_objects(
    collective: &Collective,
    tenants: &[&CompiledTenant],
) -> Vec<DesiredObject> {
    use std::collections::{BTreeMap, BTreeSet};
    let clusters: BTreeSet<&str> = tenants.iter().map(|t| t.tenant.cluster.as_str()).collect();
    let mut roles: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for t in tenants {
        let cluster = &t.tenant.cluster;
        for app in t.apps.values().filter(|a| a.rendered) {
            let Some(pg_name) = &app.bindings.postgres else {
                continue;
            };
            let ident = pg_identifier(&app.namespace);
            roles
                .entry((cluster.clone(), pg_name.clone()))
                .or_default()
                .push(json!({
                    "name": ident,
                    "ensure": "present",
                    "login": true,
                    "passwordSecret": {"name": format!("{}-db", app.namespace)},
                    "comment": format!("jardin: {}", app.namespace),
                }));
        }
    }
    let mut out = Vec::new();
    let mut l = Map::new();
    l.insert(MANAGED_BY.into(), json!("jardin"));
    for (cluster, c) in collective
        .clusters
        .iter()
        .filter(|(id, _)| clusters.contains(id.as_str()))
    {
        for (pg_name, pg) in &c.services.postgres {
            let mut list = roles
                .remove(&(cluster.clone(), pg_name.clone()))
                .unwrap_or_default();
            list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            let mut obj = object(
                "postgresql.cnpg.io/v1",
                "Cluster",
                &pg.cluster,
                Some(&pg.namespace),
            );
            obj["spec"] = json!({
                "instances": pg.instances,
                "imageName": format!("ghcr.io/cloudnative-pg/postgresql:{}", pg.version),
                "storage": {"size": pg.storage, "storageClass": c.storage_classes.rwo},
                "managed": {"roles": list},
            });
            add_labels(&mut obj, &l);
            out.push(DesiredObject::new(cluster, None, None, obj));
        }
    }
    out
}

/// A Namespace for each namespace the shared objects live in (the
/// databases', the backups'), enforcing `restricted` like an app's.
pub(crate) fn shared_namespaces(shared: &[DesiredObject]) -> Vec<DesiredObject> {
    use std::collections::BTreeSet;
    let namespaces: BTreeSet<(&str, &str)> = shared
        .iter()
        .filter_map(|o| {
            Some((
                o.cluster.as_str(),
                o.value["metadata"]["namespace"].as_str()?,
            ))
        })
        .collect();
    let mut l = Map::new();
    l.insert(MANAGED_BY.into(), json!("jardin"));
    namespaces
        .into_iter()
        .map(|(cluster, ns)| {
            let mut obj = object("v1", "Namespace", ns, None);
            obj["metadata"]["labels"] = json!({
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            });
            add_labels(&mut obj, &l);
            DesiredObject::new(cluster, None, None, obj)
        })
        .collect()
}
