//! Rendering once per app shape.
//!
//! Most tenants' apps differ only in names: the tenant's id, the app's
//! host, its namespace, its database's name. A render function's output
//! depends on the rest (app, version, size, settings, plan, bindings: the
//! *shape*) and only copies or interpolates the names. So each distinct
//! shape is rendered once, with every name replaced by a placeholder, and
//! each tenant's names are put back in Rust: the interpreter runs once per
//! shape instead of once per tenant.
//!
//! A render function that inspects a name (its length, a part of it, a
//! comparison) would make that wrong. The first tenant of each shape is
//! therefore also evaluated in full, and the shape is used only if the two
//! agree byte for byte; placeholders that come out cut or changed also mark
//! the shape. An app with such a shape is rendered per tenant from then on,
//! and `jardin -v` names it (docs/CONFIG.md, "Staying on the fast path").

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};

/// Opens and closes a placeholder: characters of Unicode's private use
/// area, which no name of a valid config holds (an input that holds them is
/// rendered in full).
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// Where the names are in a render context (JSON pointers). Everything else
/// in the context is the shape. `/hosts` and `/extra_hosts` are every host; `/smtp/from` is two
/// names around its `@`, so that splitting an address at `@` stays on the
/// fast path.
const NAME_SLOTS: &[&str] = &[
    "/tenant/id",
    "/tenant/display_name",
    "/name",
    "/namespace",
    "/host",
    "/www_twin",
    "/zone",
    "/selector/app.kubernetes.io~1instance",
    "/postgres/database",
    "/postgres/user",
];

/// How tenants' apps are rendered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RenderMode {
    /// Once per shape, checked against one full evaluation per shape.
    #[default]
    Shapes,
    /// Every tenant in full: the reference the shapes are tested against.
    PerTenant,
}

/// A render input with its names taken out.
pub(crate) struct Abstracted {
    pub(crate) key: blake3::Hash,
    /// The input with placeholders, as the shape's render reads it.
    pub(crate) input: Value,
    /// The names, by placeholder number.
    pub(crate) names: Vec<String>,
}

/// Takes the names out of a tenant's `render_input` (`{ app, domain, ctx }`).
/// `None` when the input already holds a placeholder character.
pub(crate) fn abstract_input(real: &Value) -> Option<Abstracted> {
    if holds_marks(real) {
        return None;
    }
    let mut input = real.clone();
    let mut names: Vec<String> = Vec::new();
    let ctx = input.get_mut("ctx")?;
    for slot in NAME_SLOTS {
        if let Some(v) = ctx.pointer_mut(slot) {
            replace_name(v, &mut names);
        }
    }
    if let Some(Value::Array(hosts)) = ctx.get_mut("hosts") {
        for h in hosts {
            replace_name(h, &mut names);
        }
    }
    if let Some(Value::Object(parts)) = ctx.get_mut("extra_hosts") {
        for h in parts.values_mut() {
            replace_name(h, &mut names);
        }
    }
    if let Some(from) = ctx.pointer_mut("/smtp/from") {
        if let Some((local, domain)) = from.as_str().and_then(|s| s.split_once('@')) {
            if !domain.contains('@') {
                let joined = format!(
                    "{}@{}",
                    placeholder(number(local, &mut names)),
                    placeholder(number(domain, &mut names))
                );
                *from = Value::String(joined);
            }
        }
    }
    let bytes = serde_json::to_vec(&input).ok()?;
    Some(Abstracted {
        key: blake3::hash(&bytes),
        input,
        names,
    })
}

fn replace_name(v: &mut Value, names: &mut Vec<String>) {
    if let Value::String(s) = v {
        let n = number(s, names);
        *v = Value::String(placeholder(n));
    }
}

/// The placeholder number of a name: equal names share one, so that a
/// render comparing two of them sees what it would see with the real ones.
fn number(name: &str, names: &mut Vec<String>) -> usize {
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_string());
            names.len() - 1
        }
    }
}

fn placeholder(n: usize) -> String {
    format!("{OPEN}{n}{CLOSE}")
}

fn holds_marks(v: &Value) -> bool {
    let marked = |s: &str| s.contains([OPEN, CLOSE]);
    match v {
        Value::String(s) => marked(s),
        Value::Array(a) => a.iter().any(holds_marks),
        Value::Object(m) => m.iter().any(|(k, v)| marked(k) || holds_marks(v)),
        _ => false,
    }
}

/// True when every placeholder in a rendered shape came out whole, with a
/// number it was given: a cut, changed or merged one means the render
/// function took a name apart.
pub(crate) fn placeholders_whole(v: &Value, names: usize) -> bool {
    let whole = |s: &str| {
        let mut rest = s;
        while let Some(i) = rest.find([OPEN, CLOSE]) {
            let after = &rest[i..];
            let Some(body) = after.strip_prefix(OPEN) else {
                return false;
            };
            let Some(end) = body.find(CLOSE) else {
                return false;
            };
            match body[..end].parse::<usize>() {
                Ok(n) if n < names && body[..end] == n.to_string() => {}
                _ => return false,
            }
            rest = &body[end + CLOSE.len_utf8()..];
        }
        true
    };
    match v {
        Value::String(s) => whole(s),
        Value::Array(a) => a.iter().all(|v| placeholders_whole(v, names)),
        Value::Object(m) => m
            .iter()
            .all(|(k, v)| whole(k) && placeholders_whole(v, names)),
        _ => true,
    }
}

/// A rendered shape with a tenant's names put back.
pub(crate) fn substitute(v: &Value, names: &[String]) -> Value {
    match v {
        Value::String(s) => Value::String(substitute_str(s, names)),
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, names)).collect()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(substitute_str(k, names), substitute(v, names));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn substitute_str(s: &str, names: &[String]) -> String {
    if !s.contains(OPEN) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 32);
    let mut rest = s;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let body = &rest[i + OPEN.len_utf8()..];
        let end = body.find(CLOSE).unwrap_or(body.len());
        let name = body[..end].parse::<usize>().ok().and_then(|n| names.get(n));
        // `placeholders_whole` vouched for every placeholder; anything
        // else is kept as it is.
        match name {
            Some(name) => out.push_str(name),
            None => out.push_str(&rest[i..i + OPEN.len_utf8() + end]),
        }
        rest = body.get(end + CLOSE.len_utf8()..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// A rendered shape, ready to take a tenant's names: the parts without a
/// placeholder are kept whole and cloned as they are (a map's clone is one
/// bulk copy, where rebuilding it inserts key by key).
pub(crate) enum Template {
    Plain(Value),
    Text(String),
    Array(Vec<Template>),
    Object(Vec<(String, Template)>),
}

impl Template {
    pub(crate) fn of(v: &Value) -> Template {
        if !holds_marks(v) {
            return Template::Plain(v.clone());
        }
        match v {
            Value::String(s) => Template::Text(s.clone()),
            Value::Array(a) => Template::Array(a.iter().map(Template::of).collect()),
            Value::Object(m) => Template::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Template::of(v)))
                    .collect(),
            ),
            other => Template::Plain(other.clone()),
        }
    }

    /// The shape with `names` put back.
    pub(crate) fn fill(&self, names: &[String]) -> Value {
        match self {
            Template::Plain(v) => v.clone(),
            Template::Text(s) => Value::String(substitute_str(s, names)),
            Template::Array(a) => Value::Array(a.iter().map(|t| t.fill(names)).collect()),
            Template::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, t)| (substitute_str(k, names), t.fill(names)))
                    .collect(),
            ),
        }
    }
}

/// What rendering a shape gave.
pub(crate) enum Shape {
    /// The objects, with placeholders; checked against one tenant.
    Ready(Template),
    /// Rendered per tenant: see [`Fallback`].
    PerTenant,
}

/// Why an app is rendered per tenant, and the first tenant that showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub reason: String,
    pub tenant: String,
}

/// The shapes rendered for one collective, shared by every worker thread.
#[derive(Default)]
pub(crate) struct Shapes {
    cells: Mutex<HashMap<blake3::Hash, Arc<OnceLock<Shape>>>>,
    per_tenant_apps: Mutex<BTreeMap<String, Fallback>>,
    from_shapes: AtomicUsize,
    in_full: AtomicUsize,
}

impl Shapes {
    /// The cell of a shape: the first caller renders it, the others wait.
    pub(crate) fn cell(&self, key: blake3::Hash) -> Arc<OnceLock<Shape>> {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        cells.entry(key).or_default().clone()
    }

    pub(crate) fn is_per_tenant(&self, app: &str) -> bool {
        self.per_tenant_apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(app)
    }

    /// Renders `app` per tenant from now on; the first reason given stays.
    pub(crate) fn fall_back(&self, app: &str, fallback: Fallback) {
        self.per_tenant_apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(app.to_string())
            .or_insert(fallback);
    }

    pub(crate) fn count(&self, from_shape: usize, in_full: usize) {
        self.from_shapes.fetch_add(from_shape, Ordering::Relaxed);
        self.in_full.fetch_add(in_full, Ordering::Relaxed);
    }

    pub(crate) fn report(&self) -> ShapeReport {
        let cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        ShapeReport {
            shapes: cells.len(),
            apps_from_shapes: self.from_shapes.load(Ordering::Relaxed),
            apps_in_full: self.in_full.load(Ordering::Relaxed),
            per_tenant_apps: self
                .per_tenant_apps
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            ..ShapeReport::default()
        }
    }
}

/// What `jardin -v` says about shapes after a compilation.
#[derive(Debug, Clone, Default)]
pub struct ShapeReport {
    /// Distinct shapes met (rendered, or found to need per-tenant rendering).
    pub shapes: usize,
    /// App instances whose objects came from a shape.
    pub apps_from_shapes: usize,
    /// App instances evaluated in full: the first of each shape, checked
    /// against it, and those of apps rendered per tenant.
    pub apps_in_full: usize,
    /// Apps rendered per tenant, and why.
    pub per_tenant_apps: BTreeMap<String, Fallback>,
    /// Tenants whose contracts were checked in Rust (plain data; the
    /// first of each skeleton by the interpreter too), and by the
    /// interpreter alone.
    pub tenants_settled_in_rust: usize,
    pub tenants_settled_by_interpreter: usize,
    /// Tenants where the two disagreed (a bug in jardin).
    pub settle_disagreements: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(id: &str, host: &str) -> Value {
        json!({
            "app": "pads",
            "domain": "cluster.local",
            "ctx": {
                "tenant": { "id": id, "display_name": "Les Amis" },
                "name": "pad",
                "namespace": format!("{id}-pad"),
                "host": host,
                "hosts": [host, format!("www.{host}")],
                "selector": { "app.kubernetes.io/instance": format!("{id}-pad") },
                "postgres": { "database": format!("{id}_pad"), "user": format!("{id}_pad"), "port": 5432 },
                "smtp": { "from": format!("noreply@{host}") },
                "settings": { "theme": "dark" },
            }
        })
    }

    #[test]
    fn tenants_that_differ_only_in_names_share_a_shape() {
        let a = abstract_input(&input("amis", "pad.amis.org")).unwrap();
        let b = abstract_input(&input("velo", "pad.velo.org")).unwrap();
        assert_eq!(a.key, b.key);
        assert_eq!(a.input, b.input);
        assert_ne!(a.names, b.names);
        let mut other = input("amis", "pad.amis.org");
        other["ctx"]["settings"]["theme"] = json!("light");
        assert_ne!(abstract_input(&other).unwrap().key, a.key);
    }

    #[test]
    fn names_come_back_in_values_and_keys() {
        let a = abstract_input(&input("amis", "pad.amis.org")).unwrap();
        let ns = a.input["ctx"]["namespace"].as_str().unwrap().to_string();
        let host = a.input["ctx"]["host"].as_str().unwrap().to_string();
        let rendered = json!([{ "metadata": { "namespace": ns, "labels": { format!("x/{ns}"): "1" } },
                               "spec": { "url": format!("https://{host}/") } }]);
        assert!(placeholders_whole(&rendered, a.names.len()));
        let back = substitute(&rendered, &a.names);
        assert_eq!(
            back,
            json!([{ "metadata": { "namespace": "amis-pad", "labels": { "x/amis-pad": "1" } },
                     "spec": { "url": "https://pad.amis.org/" } }])
        );
    }

    #[test]
    fn a_template_fills_in_what_substitute_does() {
        let a = abstract_input(&input("amis", "pad.amis.org")).unwrap();
        let ns = a.input["ctx"]["namespace"].as_str().unwrap().to_string();
        let rendered = json!([{ "kind": "Service", "metadata": { "namespace": ns, "labels": { format!("x/{ns}"): "1", "y": "2" } },
                               "spec": { "ports": [{ "port": 80 }] } }]);
        assert_eq!(
            Template::of(&rendered).fill(&a.names),
            substitute(&rendered, &a.names)
        );
    }

    #[test]
    fn an_address_split_at_its_at_sign_stays_whole() {
        let a = abstract_input(&input("amis", "pad.amis.org")).unwrap();
        let from = a.input["ctx"]["smtp"]["from"].as_str().unwrap();
        let (local, domain) = from.split_once('@').unwrap();
        let rendered = json!({ "user": local, "domain": domain });
        assert!(placeholders_whole(&rendered, a.names.len()));
        assert_eq!(
            substitute(&rendered, &a.names),
            json!({ "user": "noreply", "domain": "pad.amis.org" })
        );
    }

    #[test]
    fn a_name_taken_apart_is_seen() {
        let a = abstract_input(&input("amis", "pad.amis.org")).unwrap();
        let host = a.input["ctx"]["host"].as_str().unwrap();
        let cut: String = host.chars().skip(1).collect();
        assert!(!placeholders_whole(&json!({ "x": cut }), a.names.len()));
        let unknown = format!("{OPEN}99{CLOSE}");
        assert!(!placeholders_whole(&json!([unknown]), a.names.len()));
        let padded = format!("{OPEN}01{CLOSE}");
        assert!(!placeholders_whole(&json!([padded]), a.names.len()));
    }

    #[test]
    fn an_input_that_holds_a_placeholder_character_is_rendered_in_full() {
        let mut v = input("amis", "pad.amis.org");
        v["ctx"]["settings"]["theme"] = json!(format!("{OPEN}0{CLOSE}"));
        assert!(abstract_input(&v).is_none());
    }

    #[test]
    fn equal_names_share_a_placeholder() {
        let a = abstract_input(&input("amis", "pad.amis.org")).unwrap();
        let ctx = &a.input["ctx"];
        assert_eq!(ctx["host"], ctx["hosts"][0]);
        assert_eq!(
            ctx["namespace"],
            ctx["selector"]["app.kubernetes.io/instance"]
        );
    }
}
