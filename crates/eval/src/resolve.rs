//! Resolving a tenant's apps in Rust: the steps of `resolve` in
//! `stdlib/compile.ncl`, on the JSON of the collective, the catalog's
//! metadata and the tenant after its contracts (`jardin.settle_tenant`).
//!
//! The interpreter spent more on these few lookups than on the tenant's
//! contracts (docs/PERFORMANCE.md); here they cost microseconds. Whatever
//! is not the ordinary case (a dangling reference, a missing service) is
//! left to the full evaluation, which reports it as before. The first
//! tenant of each shape is evaluated in full too, and compared whole
//! (`shape.rs`), so a step that drifted from the stdlib's shows there.

use serde_json::{json, Map, Value};

/// One app ready to render: its instance name and its `render_input`.
pub(crate) struct ToRender {
    pub(crate) instance: String,
    pub(crate) input: Value,
}

/// A tenant resolved: its value as `compile_tenant` gives it, with every
/// app's `objects` empty, and what to render for each app.
pub(crate) struct Resolved {
    pub(crate) value: Value,
    pub(crate) apps: Vec<ToRender>,
}

/// The first field of a record by name (`%record/fields%` sorts them).
fn first_key(record: Option<&Value>) -> Value {
    record
        .and_then(Value::as_object)
        .and_then(|m| m.keys().next())
        .map_or(Value::Null, |k| Value::String(k.clone()))
}

fn field<'a>(record: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    record.and_then(|r| r.get(name))
}

fn by_name<'a>(record: Option<&'a Value>, name: &Value) -> Option<&'a Value> {
    name.as_str()
        .and_then(|n| field(record, n))
        .filter(|v| !v.is_null())
}

/// `fast.replace "-" "_"`: a PostgreSQL identifier from a namespace.
fn pg_ident(s: &str) -> String {
    s.replace('-', "_")
}

/// Resolves `settled` (`{ tenant, settings }`). `None` when an app is not
/// the ordinary case: the caller evaluates the tenant in full.
pub(crate) fn resolve(collective: &Value, catalog: &Value, settled: Value) -> Option<Resolved> {
    let Value::Object(mut settled) = settled else {
        return None;
    };
    let tenant = settled.remove("tenant")?;
    let settings = settled.remove("settings")?;
    let cluster = by_name(collective.get("clusters"), tenant.get("cluster")?);
    let plan_name = match tenant.get("plan") {
        Some(p) => p.clone(),
        None => collective.pointer("/defaults/plan")?.clone(),
    };
    let plan = by_name(collective.get("plans"), &plan_name);
    let id = tenant.get("id")?.as_str()?;
    // Single sign-on and office give an app's context names inside longer
    // strings (the realm's issuer URL): such tenants are evaluated in full.
    if tenant.pointer("/identity/sso") == Some(&Value::Bool(true)) {
        return None;
    }
    let mut apps = Map::new();
    let mut to_render = Vec::new();
    for (instance, inst) in tenant.get("apps")?.as_object()? {
        let (head, input) = resolve_app(
            collective,
            catalog,
            &tenant,
            cluster?,
            plan?,
            id,
            instance,
            inst,
            settings.get(instance)?,
        )?;
        apps.insert(instance.clone(), head);
        to_render.push(ToRender {
            instance: instance.clone(),
            input,
        });
    }
    let value = json!({ "tenant": tenant, "plan": plan_name, "apps": apps });
    Some(Resolved {
        value,
        apps: to_render,
    })
}

#[allow(clippy::too_many_arguments)]
fn resolve_app(
    collective: &Value,
    catalog: &Value,
    tenant: &Value,
    cluster: &Value,
    plan: &Value,
    id: &str,
    instance: &str,
    inst: &Value,
    settings: &Value,
) -> Option<(Value, Value)> {
    let app = inst.get("app")?.as_str()?;
    let entry = catalog.get(app)?;
    if inst.get("office") == Some(&Value::Bool(true)) {
        return None;
    }
    let version = match inst.get("version") {
        Some(v) => v.clone(),
        None => entry.pointer("/versions/default")?.clone(),
    };
    let release = by_name(entry.pointer("/versions/available"), &version)?;
    let requires = entry.get("requires")?;
    let bindings = inst.get("bindings")?;
    let services = cluster.get("services");
    let binding = |name: &str, fallback: Value| bindings.get(name).cloned().unwrap_or(fallback);
    let pg_name = if requires.get("postgres").is_some() {
        binding("postgres", first_key(field(services, "postgres")))
    } else {
        Value::Null
    };
    let wants_buckets = requires
        .get("buckets")
        .and_then(Value::as_array)
        .is_some_and(|b| !b.is_empty());
    let store_name = if wants_buckets {
        binding("object_store", first_key(field(services, "object_stores")))
    } else {
        Value::Null
    };
    let relays = collective.get("smtp_relays");
    let relay_name = if requires.get("smtp") != Some(&Value::Bool(true)) {
        Value::Null
    } else if let Some(b) = bindings.get("smtp") {
        b.clone()
    } else if let Some(relay) = tenant.pointer("/mail/relay") {
        relay.clone()
    } else {
        first_key(relays)
    };
    let pg = by_name(field(services, "postgres"), &pg_name);
    let store = by_name(field(services, "object_stores"), &store_name);
    let relay = by_name(relays, &relay_name);
    // A service asked for and not found: the full evaluation says so.
    let wants_smtp = requires.get("smtp") == Some(&Value::Bool(true));
    if requires.get("postgres").is_some() && pg.is_none()
        || wants_buckets && store.is_none()
        || wants_smtp && relay.is_none()
    {
        return None;
    }
    let size_name = match inst.get("size") {
        Some(s) => s.clone(),
        None => match plan.pointer(&format!("/sizes/{}", escape(app))) {
            Some(s) => s.clone(),
            None => plan.get("default_size")?.clone(),
        },
    };
    let is_ha = plan.get("ha")?.as_bool()?;
    let profile = by_name(entry.get("sizes"), &size_name)?;
    let profile_replicas = profile.get("replicas").cloned().unwrap_or(json!(1));
    let replicas = match inst.get("replicas") {
        Some(r) => r.clone(),
        None if is_ha => {
            let n = profile_replicas.as_u64()?;
            json!(n.max(2))
        }
        None => profile_replicas,
    };
    let ns = format!("{id}-{instance}");
    let host = inst.get("host")?.clone();
    let host_str = host.as_str()?;
    let extra_hosts = extra_hosts(entry, inst, host_str)?;
    let mut hosts = vec![host.clone()];
    hosts.extend(inst.get("aliases")?.as_array()?.iter().cloned());
    hosts.extend(extra_hosts.values().cloned());
    let zone = host_zone(tenant, host_str);
    let mail_from = match tenant.pointer("/mail/sending_domain") {
        Some(domain) => format!("noreply@{}", domain.as_str()?),
        None => format!("noreply@{}", host.as_str()?),
    };
    let (cpu, memory, storage) = (
        profile.get("cpu")?,
        profile.get("memory")?,
        profile.get("storage")?,
    );
    let head = json!({
        "app": app,
        "version": version,
        "namespace": ns,
        "host": host,
        "hosts": hosts,
        "size": size_name,
        "state": inst.get("state")?,
        "backup": inst.get("backup")?,
        "bindings": { "postgres": pg_name, "object_store": store_name, "smtp": relay_name },
        "missing_services": [],
        "rendered": true,
        "image": release.get("image")?,
        "replicas": replicas,
        "resources": { "cpu": cpu, "memory": memory, "storage": storage },
        "objects": [],
    });
    let mut app_info = Map::new();
    app_info.insert("id".into(), entry.get("id")?.clone());
    app_info.insert("version".into(), version.clone());
    for (k, v) in release.as_object()? {
        app_info.insert(k.clone(), v.clone());
    }
    let storage_classes = cluster.get("storage_classes")?;
    let ingress = cluster.get("ingress")?;
    let postgres = match pg {
        None => Value::Null,
        Some(pg) => {
            let host = match pg.get("host") {
                Some(h) => h.clone(),
                None => json!(format!(
                    "{}-rw.{}.svc",
                    pg.get("cluster")?.as_str()?,
                    pg.get("namespace")?.as_str()?
                )),
            };
            json!({ "host": host, "port": 5432, "database": pg_ident(&ns), "user": pg_ident(&ns), "secret": "db" })
        }
    };
    let mut buckets = Map::new();
    for b in requires
        .get("buckets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let purpose = b.get("purpose")?.as_str()?;
        buckets.insert(
            purpose.to_string(),
            json!({ "secret": format!("bucket-{purpose}") }),
        );
    }
    let smtp = match relay {
        None => Value::Null,
        Some(r) => json!({ "host": r.get("host")?, "port": r.get("port")?, "from": mail_from }),
    };
    // The app's own servers (crates/compiler/src/emit/services.rs).
    let app_ident = entry.get("id")?.as_str()?.replace('-', "_");
    let mariadb = match requires.get("mariadb") {
        None => Value::Null,
        Some(_) => {
            json!({ "host": "mariadb", "port": 3306, "database": app_ident, "user": app_ident, "secret": "mariadb" })
        }
    };
    let redis = match requires.get("redis") {
        None => Value::Null,
        Some(_) => json!({ "host": "redis", "port": 6379, "secret": "redis" }),
    };
    let mongodb = match requires.get("mongodb") {
        None => Value::Null,
        Some(_) => {
            json!({ "host": "mongodb-0.mongodb", "port": 27017, "replica_set": "rs0", "database": app_ident, "user": "root", "secret": "mongodb" })
        }
    };
    let www_twin = match entry.get("www_twin") {
        Some(Value::Bool(true)) => {
            let host = host.as_str()?;
            match host.strip_prefix("www.") {
                Some(apex) => json!(apex),
                None => json!(format!("www.{host}")),
            }
        }
        _ => Value::Null,
    };
    let ctx = json!({
        "name": instance,
        "tenant": { "id": id, "display_name": tenant.get("display_name")? },
        "collective": { "name": collective.get("name")?, "contact": collective.get("contact")? },
        "app": app_info,
        "namespace": ns,
        "host": head["host"],
        "hosts": head["hosts"],
        "extra_hosts": extra_hosts,
        "zone": zone,
        "selector": { "app.kubernetes.io/name": entry.get("id")?, "app.kubernetes.io/instance": ns },
        "ha": is_ha,
        "replicas": head["replicas"],
        "resources": {
            "requests": { "cpu": cpu, "memory": memory },
            "limits": { "memory": memory },
        },
        "storage": {
            "rwo": storage_classes.get("rwo")?,
            "rwx": storage_classes.get("rwx").cloned().unwrap_or(Value::Null),
            "size": storage,
        },
        "ingress": {
            "class": ingress.get("class")?,
            "issuer": ingress.get("cluster_issuer")?,
            "ipv4": ingress.get("ipv4")?,
            "namespace": ingress.get("namespace")?,
        },
        "postgres": postgres,
        "buckets": buckets,
        "smtp": smtp,
        "mariadb": mariadb,
        "redis": redis,
        "mongodb": mongodb,
        "www_twin": www_twin,
        "settings": settings,
        "sso": null,
        "office": null,
        "consumers": [],
    });
    let input = json!({ "app": app, "domain": cluster.get("domain")?, "ctx": ctx });
    Some((head, input))
}

/// The hosts of the app's other parts (`extra_hosts` in its catalog
/// entry): the instance's, else the part's name under the host's parent.
fn extra_hosts(entry: &Value, inst: &Value, host: &str) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    let Some(parts) = entry.get("extra_hosts").and_then(Value::as_object) else {
        return Some(out);
    };
    let labels: Vec<&str> = host.split('.').collect();
    let parent = if labels.len() > 2 {
        labels[1..].join(".")
    } else {
        host.to_string()
    };
    let given = inst.get("extra_hosts")?.as_object()?;
    for part in parts.keys() {
        let value = match given.get(part) {
            Some(h) => h.clone(),
            None => json!(format!("{part}.{parent}")),
        };
        out.insert(part.clone(), value);
    }
    Some(out)
}

/// The tenant's zone that holds `host` (the longest), or null.
fn host_zone(tenant: &Value, host: &str) -> Value {
    tenant
        .get("zones")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|z| {
            host == *z
                || host
                    .strip_suffix(z)
                    .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
        })
        .max_by_key(|z| z.len())
        .map_or(Value::Null, |z| json!(z))
}

/// A field name as a JSON pointer token.
pub(crate) fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}
