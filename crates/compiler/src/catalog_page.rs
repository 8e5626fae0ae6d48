//! A catalog app's page, made from its entry alone: what `jardin catalog
//! show APP` prints and what `docs/catalog/<app>.md` holds. The hand-written
//! docs/apps/<app>.md says why, with the upstream facts; this page says
//! what, and cannot drift from the entry.

use std::fmt::Write;

use serde_json::Value;

use jardin_core::model::{CatalogApp, Direction, StateKind};

/// The page, in Markdown.
pub fn page(app: &CatalogApp) -> String {
    let mut p = String::new();
    let _ = writeln!(p, "# {}\n", app.id);
    let _ = writeln!(p, "{}.\n", app.description);
    let _ = writeln!(
        p,
        "Generated from the catalog entry by `jardin catalog show {}`; the upstream\nfacts behind it, with their sources: [docs/apps/{}.md](../apps/{}.md).\n",
        app.id, app.id, app.id
    );
    versions(&mut p, app);
    settings(&mut p, app);
    requirements(&mut p, app);
    state(&mut p, app);
    sizes(&mut p, app);
    flows(&mut p, app);
    sources(&mut p, app);
    p
}

fn versions(p: &mut String, app: &CatalogApp) {
    let _ = writeln!(p, "## Versions\n\n| Version | Images |\n|---|---|");
    for (v, images) in app.versions.available.iter().rev() {
        let mark = if *v == app.versions.default {
            " (default)"
        } else {
            ""
        };
        let list: Vec<String> = images
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, i)| i.as_str().map(|i| format!("{k}: `{i}`")))
            .collect();
        let _ = writeln!(p, "| {v}{mark} | {} |", list.join("<br>"));
    }
    p.push('\n');
}

/// A JSON value's type, as a tenant file writes it.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Bool",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Record",
    }
}

fn settings(p: &mut String, app: &CatalogApp) {
    let _ = writeln!(p, "## Settings\n");
    if app.settings.is_empty() {
        let _ = writeln!(p, "None.\n");
        return;
    }
    let _ = writeln!(
        p,
        "In a tenant file: `apps.<name>.settings`.\n\n| Setting | Type | Default |\n|---|---|---|"
    );
    for (name, default) in &app.settings {
        if default.is_null() {
            let _ = writeln!(
                p,
                "| `{name}` | (required) | none: every instance sets it |"
            );
        } else {
            let _ = writeln!(p, "| `{name}` | {} | `{default}` |", type_of(default));
        }
    }
    p.push('\n');
}

fn requirements(p: &mut String, app: &CatalogApp) {
    let r = &app.requires;
    let mut rows: Vec<String> = Vec::new();
    if let Some(pg) = &r.postgres {
        let mut need = format!("{} or newer", pg.min_version);
        if pg.collation != "any" {
            let _ = write!(need, ", collation {}", pg.collation);
        }
        if !pg.extensions.is_empty() {
            let _ = write!(need, ", extensions {}", pg.extensions.join(", "));
        }
        rows.push(format!("| Postgres (shared, CloudNativePG) | {need} |"));
    }
    if let Some(m) = &r.mariadb {
        rows.push(format!(
            "| MariaDB (its own, docs/SERVICES.md) | {} or newer |",
            m.min_version
        ));
    }
    if let Some(m) = &r.mongodb {
        rows.push(format!(
            "| MongoDB (its own, a replica set of one, docs/SERVICES.md) | {} or newer |",
            m.min_version
        ));
    }
    if let Some(redis) = &r.redis {
        rows.push(format!(
            "| Redis (its own, docs/SERVICES.md) | {} |",
            if redis.persistent {
                "persistent (append-only file on a volume)"
            } else {
                "a cache, in memory"
            }
        ));
    }
    for b in &r.buckets {
        rows.push(format!("| S3 bucket (COSI) | purpose `{}` |", b.purpose));
    }
    if r.smtp {
        rows.push("| SMTP relay | mail |".into());
    }
    if let Some(o) = &app.oidc {
        rows.push(format!(
            "| Single sign-on (OIDC) | {}; redirect paths {} |",
            if o.required {
                "required"
            } else {
                "when the tenant has it"
            },
            o.redirect_paths
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if app.office {
        rows.push("| Office editing | when an instance sets `office = true` |".into());
    }
    if let Some(what) = &app.provides {
        rows.push(format!("| Provides | `{what}` to its cluster's tenants |"));
    }
    if app.www_twin {
        rows.push("| Hosts | the host's `www.` twin among `aliases` (J0214) |".into());
    }
    if app.matrix_server {
        rows.push(
            "| Matrix | a homeserver for its host's zone: the apex delegates to it (docs/DNS.md) |"
                .into(),
        );
    }
    for (part, what) in &app.extra_hosts {
        rows.push(format!(
            "| Host `extra_hosts.{part}` | {what} Default: `{part}.` and the host's parent domain. |"
        ));
    }
    let _ = writeln!(
        p,
        "## Requirements\n\nPod security: `{}`.\n",
        app.pod_security
    );
    if rows.is_empty() {
        let _ = writeln!(p, "No service.\n");
        return;
    }
    let _ = writeln!(p, "| Needs | What |\n|---|---|");
    for r in rows {
        let _ = writeln!(p, "{r}");
    }
    p.push('\n');
}

fn state(p: &mut String, app: &CatalogApp) {
    let _ = writeln!(
        p,
        "## State\n\nEach piece is backed up, or opted out with a reason (docs/BACKUP.md).\n"
    );
    let _ = writeln!(
        p,
        "| State | Kind | Criticality | Backed up by |\n|---|---|---|---|"
    );
    for s in &app.state {
        let (kind, how) = match s.kind {
            StateKind::Database => ("database", "CloudNativePG"),
            StateKind::Bucket => ("bucket", "k8up, rclone"),
            StateKind::Volume => ("volume", "k8up"),
            StateKind::Mariadb => ("mariadb", "k8up, mariadb-dump"),
            StateKind::Mongodb => ("mongodb", "k8up, mongodump"),
        };
        let _ = writeln!(p, "| `{}` | {kind} | {} | {how} |", s.name, s.criticality);
    }
    for (name, s) in app.secrets.iter().filter(|(_, s)| s.encrypts_data) {
        let _ = writeln!(
            p,
            "| `{name}` (Secret: {}) | secret | high | k8up, escrow |",
            s.keys.join(", ")
        );
    }
    p.push('\n');
    if !app.singletons.is_empty() {
        let _ = writeln!(
            p,
            "One replica only, on every plan: {}.\n",
            app.singletons
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

fn sizes(p: &mut String, app: &CatalogApp) {
    let _ = writeln!(
        p,
        "## Sizes\n\n| Size | CPU | Memory | Storage | Replicas |\n|---|---|---|---|---|"
    );
    for name in ["xs", "s", "m", "l", "xl"] {
        if let Some(s) = app.sizes.get(name) {
            let _ = writeln!(
                p,
                "| {name} | {} | {} | {} | {} |",
                s.cpu, s.memory, s.storage, s.replicas
            );
        }
    }
    p.push('\n');
}

fn flows(p: &mut String, app: &CatalogApp) {
    let _ = writeln!(
        p,
        "## Network flows\n\nThe namespace allows these and nothing else (with its backup's, docs/BACKUP.md).\n\n| Direction | Pods | Peer | Ports | Why |\n|---|---|---|---|---|"
    );
    for f in &app.flows {
        let dir = match f.direction {
            Direction::Egress => "out",
            Direction::Ingress => "in",
        };
        let peer = match (&f.peer[..], &f.peer_component) {
            ("component", Some(c)) => format!("`{c}`"),
            (peer, _) => peer.replace('_', " "),
        };
        let ports: Vec<String> = f
            .ports
            .iter()
            .map(|x| match x.port {
                Some(n) => format!("{n}/{}", x.protocol),
                None => x.protocol.clone(),
            })
            .collect();
        let ports = if ports.is_empty() {
            "the peer's".to_string()
        } else {
            ports.join(", ")
        };
        let pods = if f.component == "*" {
            "every pod".to_string()
        } else {
            format!("`{}`", f.component)
        };
        let _ = writeln!(p, "| {dir} | {pods} | {peer} | {ports} | {} |", f.why);
    }
    p.push('\n');
}

fn sources(p: &mut String, app: &CatalogApp) {
    let _ = writeln!(p, "## Upstream sources\n");
    if app.sources.is_empty() {
        let _ = writeln!(p, "None listed.");
        return;
    }
    for s in &app.sources {
        let _ = writeln!(p, "- {s}");
    }
}
