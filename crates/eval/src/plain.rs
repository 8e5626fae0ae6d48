//! Plain-data tenants: the `Tenant` contract checked in Rust.
//!
//! Most tenant files are one record literal: strings, whole numbers,
//! booleans, arrays and records, nothing computed. For such a file, what
//! the interpreter's `settle_tenant` gives (the `Tenant` contract of
//! `stdlib/model.ncl` with its defaults) is a fixed function of the
//! literal, and running it was a third of a build's time
//! (docs/PERFORMANCE.md). Here it costs microseconds.
//!
//! This module accepts only what it is sure the contract accepts, and
//! gives exactly the interpreter's value and source map. Anything else (a
//! computed value, a field it does not know, a value the contract might
//! refuse) goes to the interpreter, which also gives the diagnostics: a
//! tenant in error never takes this path. The apps' settings contracts are
//! the catalog's own: each distinct app and settings pair is settled by the
//! interpreter once (`jardin.settle_settings`). The first tenant of each
//! skeleton (its fields, without their values) is settled by both, and
//! compared (`lib.rs`); the tests compare them on every example tenant and
//! on random tenants (`plain_settle` in `lib.rs`), and `tests/shapes.rs`
//! builds every example and random tenants both ways.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use nickel_lang_core::ast::{Ast, AstAlloc, Node, StringChunk};
use nickel_lang_core::files::Files;
use nickel_lang_core::parser::{grammar::TermParser, lexer::Lexer, ErrorTolerantParser};
use nickel_lang_core::position::TermPos;
use regex::Regex;
use serde_json::{Map, Value};

/// Deeper than a tenant file nests: beyond, the interpreter decides.
const MAX_DEPTH: usize = 24;

/// The regular expressions of `stdlib/contracts.ncl`, in the syntax the
/// interpreter compiles them with (the same `regex` crate); a test checks
/// that the stdlib still writes each of them.
pub(crate) const DNS_LABEL: &str = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
pub(crate) const HOSTNAME: &str =
    "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$";
pub(crate) const EMAIL: &str = "^[^@\\s]+@([a-z0-9-]+\\.)+[a-z0-9-]+$";

static DNS_LABEL_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(DNS_LABEL).expect("valid"));
static HOSTNAME_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(HOSTNAME).expect("valid"));
static EMAIL_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(EMAIL).expect("valid"));

/// A value written literally, with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    span: Range<usize>,
    node: Written,
    /// A record made of a dotted field (`a.b = v`): the interpreter's
    /// source map of those depends on the contract around them, so only
    /// `settings.<name> = v` is settled here.
    dotted: bool,
}

#[derive(Debug, Clone)]
enum Written {
    Scalar(Value),
    Array(Vec<Literal>),
    /// Fields in the order written, each with where its name is.
    Record(Vec<Field>),
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    name_span: Range<usize>,
    value: Literal,
}

impl Literal {
    fn to_json(&self) -> Value {
        match &self.node {
            Written::Scalar(v) => v.clone(),
            Written::Array(items) => Value::Array(items.iter().map(Literal::to_json).collect()),
            Written::Record(fields) => Value::Object(
                fields
                    .iter()
                    .map(|f| (f.name.clone(), f.value.to_json()))
                    .collect(),
            ),
        }
    }

    fn field(&self, name: &str) -> Option<&Literal> {
        match &self.node {
            Written::Record(fields) => fields.iter().find(|f| f.name == name).map(|f| &f.value),
            _ => None,
        }
    }

    fn fields(&self) -> Option<&[Field]> {
        match &self.node {
            Written::Record(fields) => Some(fields),
            _ => None,
        }
    }

    fn string(&self) -> Option<&str> {
        match &self.node {
            Written::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// What the skeleton key is made of: the fields and array lengths,
    /// without names of app instances or any value.
    fn skeleton(&self, out: &mut String, instances: bool) {
        if self.dotted {
            out.push('.');
        }
        match &self.node {
            Written::Scalar(v) => out.push(match v {
                Value::String(_) => 's',
                Value::Number(_) => 'n',
                Value::Bool(_) => 'b',
                _ => 'z',
            }),
            Written::Array(items) => {
                out.push('[');
                for item in items {
                    item.skeleton(out, false);
                }
                out.push(']');
            }
            Written::Record(fields) => {
                out.push('{');
                for f in fields {
                    if !instances {
                        out.push_str(&f.name);
                    }
                    out.push('=');
                    f.value.skeleton(out, !instances && f.name == "apps");
                    out.push(',');
                }
                out.push('}');
            }
        }
    }
}

fn range(pos: TermPos) -> Option<Range<usize>> {
    match pos {
        TermPos::Original(s) | TermPos::Inherited(s) => Some(s.start.to_usize()..s.end.to_usize()),
        TermPos::None => None,
    }
}

/// Parses `text` as one record literal of plain data, or `None`.
pub(crate) fn parse(text: &str) -> Option<Literal> {
    let alloc = AstAlloc::new();
    let mut files = Files::empty();
    let id = files.add("tenant", text);
    // Nickel's lexer has known panics (a lone carriage return in a string,
    // found by the tenant fuzz target): caught as the interpreter's are, and
    // the interpreter then reports the file.
    let ast = crate::nickel::interpreter(|| {
        TermParser::new()
            .parse_strict(&alloc, id, Lexer::new(text))
            .ok()
    })
    .ok()??;
    let literal = literal(&ast, text, 0)?;
    matches!(literal.node, Written::Record(_)).then_some(literal)
}

fn literal(ast: &Ast<'_>, text: &str, depth: usize) -> Option<Literal> {
    if depth > MAX_DEPTH {
        return None;
    }
    let span = range(ast.pos)?;
    let node = match &ast.node {
        Node::Null => Written::Scalar(Value::Null),
        Node::Bool(b) => Written::Scalar(Value::Bool(*b)),
        Node::String(s) => Written::Scalar(Value::String(s.to_string())),
        // A string without interpolation, written in double quotes (a
        // multi-line string's indentation is the interpreter's to strip).
        Node::StringChunks(chunks) if text.get(span.clone())?.starts_with('"') => {
            let mut s = String::new();
            for chunk in chunks.iter() {
                match chunk {
                    StringChunk::Literal(part) => s.push_str(part),
                    StringChunk::Expr(..) => return None,
                }
            }
            Written::Scalar(Value::String(s))
        }
        // Whole numbers as written: a fraction or an exponent is the
        // interpreter's to read.
        Node::Number(_) => {
            let written = text.get(span.clone())?;
            if written.is_empty()
                || written.len() > 15
                || !written.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Written::Scalar(Value::from(written.parse::<u64>().ok()?))
        }
        Node::Array(items) => Written::Array(
            items
                .iter()
                .map(|item| literal(item, text, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Node::Record(record) => {
            if !record.includes.is_empty() || record.open {
                return None;
            }
            let mut fields: Vec<Field> = Vec::with_capacity(record.field_defs.len());
            for def in record.field_defs.iter() {
                if !def.metadata.is_empty() {
                    return None;
                }
                let idents = def
                    .path
                    .iter()
                    .map(|e| e.try_as_ident())
                    .collect::<Option<Vec<_>>>()?;
                let mut value = literal(def.value.as_ref()?, text, depth + 1)?;
                // `a.b.c = v` is `a = { b = { c = v } }`: each inner record
                // spans from its field's name to the value's end.
                for ident in idents.iter().skip(1).rev() {
                    let name_span = range(ident.pos)?;
                    value = Literal {
                        span: name_span.start..value.span.end,
                        node: Written::Record(vec![Field {
                            name: ident.label().to_string(),
                            name_span,
                            value,
                        }]),
                        dotted: true,
                    };
                }
                let first = idents.first()?;
                let name = first.label().to_string();
                // Two definitions of one field merge: the interpreter's.
                if fields.iter().any(|f| f.name == name) {
                    return None;
                }
                fields.push(Field {
                    name,
                    name_span: range(first.pos)?,
                    value,
                });
            }
            Written::Record(fields)
        }
        _ => return None,
    };
    Some(Literal {
        span,
        node,
        dotted: false,
    })
}

/// True when no record in `lit` is made of a dotted field.
fn undotted(lit: &Literal) -> bool {
    !lit.dotted
        && match &lit.node {
            Written::Scalar(_) => true,
            Written::Array(items) => items.iter().all(undotted),
            Written::Record(fields) => fields.iter().all(|f| undotted(&f.value)),
        }
}

/// A plain tenant after the `Tenant` contract: the value `settle_tenant`
/// gives (`{ tenant, settings }`), its source map's spans, and its
/// skeleton.
pub(crate) struct Settled {
    pub(crate) value: Value,
    pub(crate) spans: Vec<(String, Range<usize>)>,
    pub(crate) skeleton: String,
}

/// Checks `tenant` against the `Tenant` contract and fills in its
/// defaults; `settings(app, settings)` settles one app's settings.
/// `None` when the interpreter must decide.
pub(crate) fn settle(
    tenant: &Literal,
    mut settings: impl FnMut(&str, &Value) -> Option<Value>,
) -> Option<Settled> {
    let mut out = Map::new();
    let mut spans = Vec::new();
    spans.push((String::new(), tenant.span.clone()));
    let mut settled_settings = Map::new();
    for field in tenant.fields()? {
        let value = &field.value;
        let path = field.name.as_str();
        if path != "apps" && !undotted(value) || value.dotted {
            return None;
        }
        let json = match path {
            "id" => string_where(value, |s| DNS_LABEL_RE.is_match(s))?,
            "display_name" | "cluster" | "plan" => string_where(value, |_| true)?,
            "state" => string_where(value, |s| ["active", "suspended", "archived"].contains(&s))?,
            "contacts" => array_of(value, is_email)?,
            "zones" => array_of(value, is_hostname)?,
            "mail" => {
                let fields = value.fields()?;
                if fields.len() != 2 {
                    return None;
                }
                string_where(value.field("sending_domain")?, is_hostname)?;
                string_where(value.field("relay")?, |_| true)?;
                value.to_json()
            }
            "identity" => {
                let mut identity = Map::new();
                identity.insert("sso".into(), Value::Bool(false));
                for f in value.fields()? {
                    let v = match f.name.as_str() {
                        "sso" => boolean(&f.value)?,
                        "admins" => array_of(&f.value, is_email)?,
                        _ => return None,
                    };
                    identity.insert(f.name.clone(), v);
                }
                Value::Object(identity)
            }
            "apps" => {
                let mut apps = Map::new();
                for inst in value.fields()? {
                    if !DNS_LABEL_RE.is_match(&inst.name) {
                        return None;
                    }
                    let app = app_instance(&inst.value)?;
                    let settled = settings(app["app"].as_str()?, &app["settings"])?;
                    settled_settings.insert(inst.name.clone(), settled);
                    apps.insert(inst.name.clone(), app);
                }
                Value::Object(apps)
            }
            // `backup` (a partial policy) and anything unknown.
            _ => return None,
        };
        out.insert(field.name.clone(), json);
    }
    for required in ["id", "display_name", "cluster"] {
        if !out.contains_key(required) {
            return None;
        }
    }
    let defaults = [
        ("contacts", Value::Array(vec![])),
        ("state", Value::from("active")),
        ("zones", Value::Array(vec![])),
        ("backup", Value::Object(Map::new())),
        ("identity", serde_json::json!({ "sso": false })),
        ("apps", Value::Object(Map::new())),
    ];
    for (name, default) in defaults {
        out.entry(name).or_insert(default);
    }
    map_spans(tenant, "", Place::Tenant, &mut spans);
    let mut skeleton = String::new();
    tenant.skeleton(&mut skeleton, false);
    let mut value = Map::new();
    value.insert("tenant".into(), Value::Object(out));
    value.insert("settings".into(), Value::Object(settled_settings));
    Some(Settled {
        value: Value::Object(value),
        spans,
        skeleton,
    })
}

/// One app instance after `AppInstance`.
fn app_instance(inst: &Literal) -> Option<Value> {
    let mut out = Map::new();
    if inst.dotted {
        return None;
    }
    for f in inst.fields()? {
        let v = &f.value;
        // `settings.<name> = v`, one level: its field keeps the user's name.
        let settings_field = f.name == "settings"
            && v.fields()
                .is_some_and(|fs| fs.iter().all(|f| undotted(&f.value)));
        if !(undotted(v) || settings_field) {
            return None;
        }
        let json = match f.name.as_str() {
            "app" | "version" => string_where(v, |_| true)?,
            "host" => string_where(v, is_hostname)?,
            "aliases" => array_of(v, is_hostname)?,
            "extra_hosts" => {
                for h in v.fields()? {
                    string_where(&h.value, is_hostname)?;
                }
                v.to_json()
            }
            "size" => string_where(v, |s| ["xs", "s", "m", "l", "xl"].contains(&s))?,
            "replicas" => match &v.node {
                Written::Scalar(Value::Number(n))
                    if n.as_u64().is_some_and(|n| n <= 4_294_967_295) =>
                {
                    v.to_json()
                }
                _ => return None,
            },
            "bindings" => {
                for b in v.fields()? {
                    if !["postgres", "object_store", "smtp"].contains(&b.name.as_str()) {
                        return None;
                    }
                    string_where(&b.value, |_| true)?;
                }
                v.to_json()
            }
            "settings" => {
                v.fields()?;
                v.to_json()
            }
            "backup" => string_where(v, |s| s == "inherit")?,
            "state" => string_where(v, |s| ["active", "suspended"].contains(&s))?,
            "office" => boolean(v)?,
            // `secrets` (secret sources) and anything unknown.
            _ => return None,
        };
        out.insert(f.name.clone(), json);
    }
    for required in ["app", "host"] {
        if !out.contains_key(required) {
            return None;
        }
    }
    let defaults = [
        ("aliases", Value::Array(vec![])),
        ("extra_hosts", Value::Object(Map::new())),
        ("bindings", Value::Object(Map::new())),
        ("settings", Value::Object(Map::new())),
        ("secrets", Value::Object(Map::new())),
        ("backup", Value::from("inherit")),
        ("state", Value::from("active")),
        ("office", Value::Bool(false)),
    ];
    for (name, default) in defaults {
        out.entry(name).or_insert(default);
    }
    Some(Value::Object(out))
}

fn string_where(v: &Literal, ok: impl Fn(&str) -> bool) -> Option<Value> {
    let s = v.string()?;
    ok(s).then(|| Value::String(s.to_string()))
}

fn boolean(v: &Literal) -> Option<Value> {
    match &v.node {
        Written::Scalar(b @ Value::Bool(_)) => Some(b.clone()),
        _ => None,
    }
}

fn array_of(v: &Literal, ok: impl Fn(&str) -> bool) -> Option<Value> {
    match &v.node {
        Written::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|item| string_where(item, &ok))
                .collect::<Option<_>>()?,
        )),
        _ => None,
    }
}

/// `c.Hostname`: at most 253 characters (the regex admits only ASCII, where
/// characters are bytes).
fn is_hostname(s: &str) -> bool {
    s.len() <= 253 && HOSTNAME_RE.is_match(s)
}

fn is_email(s: &str) -> bool {
    EMAIL_RE.is_match(s)
}

/// Where a record is in a settled tenant, for what the interpreter's source
/// map keeps of it (found by comparing, and pinned by the tests): the
/// fields of `Tenant`, `AppInstance` and `bindings`, and of `identity`
/// written with one field, come out with the contract's names, not the
/// user's; an empty array, and an empty record inside an app instance,
/// without a position.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Tenant,
    Apps,
    Instance,
    Identity { names: bool },
    InInstance { names: bool },
    Elsewhere,
}

impl Place {
    fn keeps_names(self) -> bool {
        match self {
            Place::Tenant | Place::Instance => false,
            Place::Identity { names } | Place::InInstance { names } => names,
            Place::Apps | Place::Elsewhere => true,
        }
    }

    fn of_field(self, name: &str, value: &Literal) -> Place {
        let names = value.fields().is_none_or(|fields| fields.len() >= 2);
        match (self, name) {
            (Place::Tenant, "apps") => Place::Apps,
            (Place::Tenant, "identity") => Place::Identity { names },
            (Place::Apps, _) => Place::Instance,
            (Place::Instance, "bindings") => Place::InInstance { names: false },
            (Place::Instance | Place::InInstance { .. }, _) => Place::InInstance { names: true },
            _ => Place::Elsewhere,
        }
    }
}

/// The spans the interpreter's source map has for `lit` at `path`.
fn map_spans(lit: &Literal, path: &str, place: Place, spans: &mut Vec<(String, Range<usize>)>) {
    let positionless = match &lit.node {
        Written::Array(items) => items.is_empty(),
        Written::Record(fields) => fields.is_empty() && matches!(place, Place::InInstance { .. }),
        Written::Scalar(_) => false,
    };
    if !path.is_empty() && !positionless {
        spans.push((path.to_string(), lit.span.clone()));
    }
    match &lit.node {
        Written::Scalar(_) => {}
        Written::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                map_spans(item, &format!("{path}.{i}"), Place::Elsewhere, spans);
            }
        }
        Written::Record(fields) => {
            for f in fields {
                let at = if path.is_empty() {
                    f.name.clone()
                } else {
                    format!("{path}.{}", f.name)
                };
                if place.keeps_names() {
                    spans.push((format!("{at}#name"), f.name_span.clone()));
                }
                map_spans(&f.value, &at, place.of_field(&f.name, &f.value), spans);
            }
        }
    }
}

/// A value the first worker to need it computes, while the others wait.
type Cell<T> = Arc<OnceLock<T>>;

/// An app's settings after its contract, or `None` when it refused them.
type Settings = Cell<Option<Value>>;

/// What a session learns about plain tenants, shared by every worker
/// thread: each app's settings once settled, each skeleton once checked.
#[derive(Default)]
pub(crate) struct Memo {
    /// By app and settings (as JSON text).
    settings: Mutex<HashMap<(String, String), Settings>>,
    skeletons: Mutex<HashMap<blake3::Hash, Cell<bool>>>,
    in_rust: AtomicUsize,
    by_interpreter: AtomicUsize,
    disagreements: Mutex<Vec<String>>,
}

impl Memo {
    /// The settled settings of `app`: the first caller computes them, the
    /// others wait.
    pub(crate) fn settings(
        &self,
        app: &str,
        settings: &Value,
        compute: impl FnOnce() -> Option<Value>,
    ) -> Option<Value> {
        let key = (app.to_string(), settings.to_string());
        let cell = lock(&self.settings).entry(key).or_default().clone();
        cell.get_or_init(compute).clone()
    }

    /// Whether tenants of `skeleton` may be settled in Rust: the first one
    /// is compared with the interpreter (`check`).
    pub(crate) fn agreed(&self, skeleton: &str, check: impl FnOnce() -> bool) -> bool {
        let key = blake3::hash(skeleton.as_bytes());
        let cell = lock(&self.skeletons).entry(key).or_default().clone();
        *cell.get_or_init(check)
    }

    pub(crate) fn count(&self, in_rust: bool) {
        let counter = if in_rust {
            &self.in_rust
        } else {
            &self.by_interpreter
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn disagreed(&self, tenant: String) {
        lock(&self.disagreements).push(tenant);
    }

    /// (tenants settled in Rust, by the interpreter, where the two disagreed)
    pub(crate) fn report(&self) -> (usize, usize, Vec<String>) {
        let mut disagreements = lock(&self.disagreements).clone();
        disagreements.sort();
        (
            self.in_rust.load(Ordering::Relaxed),
            self.by_interpreter.load(Ordering::Relaxed),
            disagreements,
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stdlib_writes_the_same_regexes() {
        let contracts = crate::embedded::NICKEL_FILES
            .iter()
            .find(|(path, _)| *path == "jardin/contracts.ncl")
            .map(|(_, text)| *text)
            .expect("contracts.ncl is embedded");
        for re in [DNS_LABEL, HOSTNAME, EMAIL] {
            // As a Nickel string literal: each backslash doubled.
            let written = format!("\"{}\"", re.replace('\\', "\\\\"));
            assert!(
                contracts.contains(&written),
                "{written} not in contracts.ncl"
            );
        }
    }

    #[test]
    fn only_plain_records_are_literals() {
        assert!(parse("{ a = 1, b = [\"x\", true, null], c.d = { e = 2 } }").is_some());
        for text in [
            "let x = 1 in { a = x }",
            "{ a = \"%{\"x\"}\" }",
            "{ a = 1.5 }",
            "{ a = -1 }",
            "{ a | String = \"x\" }",
            "{ a = 'tag }",
            "{ a.b = 1, a.c = 2 }",
            "{ a = 1, .. }",
            "[1]",
            "{ a = 1 } | { a | Number }",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn a_parser_panic_is_not_a_literal() {
        // The lexer asserts on a lone carriage return inside a string.
        assert!(parse("{ id = \"pad.\r\0x\" }").is_none());
    }

    #[test]
    fn a_dotted_field_is_a_nested_record() {
        let lit = parse("{ a.b = \"x\" }").expect("plain");
        assert_eq!(lit.to_json(), serde_json::json!({ "a": { "b": "x" } }));
        let a = lit.field("a").expect("a");
        assert_eq!(a.span, 4..11);
    }
}
