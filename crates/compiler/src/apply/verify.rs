//! Applying exactly what was reviewed: a saved plan is never executed as
//! it is written. `apply` compiles the config and reads the clusters again,
//! makes a fresh plan, and goes on only when the fresh plan is the saved
//! one: same jardin, same scope, same config (desired hash), same live
//! state (live hash). What is applied comes from the fresh plan, so an
//! edited plan file can change nothing but the answer "refused".

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::plan::{Plan, FORMAT_VERSION};
use jardin_core::code;
use jardin_core::diag::Diagnostic;

/// The fields of a saved JSON plan that identify what it was made from.
#[derive(Debug, Deserialize)]
pub struct SavedPlan {
    format_version: u32,
    #[serde(default)]
    jardin_version: String,
    #[serde(default)]
    tenants_filter: Vec<String>,
    desired_hash: String,
    live_hash: String,
    live_sources: BTreeMap<String, String>,
    #[serde(default)]
    changes: Vec<SavedChange>,
    /// Compared through server-side dry runs: the fresh plan is too.
    #[serde(default)]
    server_side: bool,
    /// `jardin plan --dns`: the zones, checked again by `dns::verify`.
    #[serde(default)]
    zones: Vec<crate::dns::plan::SavedZone>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct SavedChange {
    action: String,
    cluster: String,
    namespace: String,
    group: String,
    kind: String,
    name: String,
    #[serde(default)]
    fields: Vec<Value>,
    #[serde(default)]
    live_digest: Option<String>,
}

impl SavedPlan {
    /// Reads a plan file's text. A file that is not a jardin plan is an error.
    pub fn parse(text: &str, file: &str) -> Result<SavedPlan, Diagnostic> {
        // Only the version first: a plan of another format may not parse.
        let version = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v["format_version"].as_u64());
        if let Some(v) = version {
            if v != u64::from(FORMAT_VERSION) {
                return Err(refused(format!(
                    "{file} is a plan of format {v}; this jardin reads format {FORMAT_VERSION}"
                )));
            }
        }
        serde_json::from_str(text).map_err(|e| {
            Diagnostic::error(
                code::PLAN_NOT_READ,
                format!(
                    "{file} is not a jardin plan (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
            .with_help("give the file `jardin plan … -o PLAN` wrote")
        })
    }

    /// The clusters it covers, with the source each was read from.
    pub fn live_sources(&self) -> &BTreeMap<String, String> {
        &self.live_sources
    }

    /// Whether it was made through server-side dry runs (`--compare server`).
    pub fn server_side(&self) -> bool {
        self.server_side
    }

    /// The zones it plans (`jardin plan --dns`); empty without.
    pub fn zones(&self) -> &[crate::dns::plan::SavedZone] {
        &self.zones
    }

    /// The `--tenant` filter it was made with.
    pub fn tenants(&self) -> &[String] {
        &self.tenants_filter
    }
}

fn refused(message: String) -> Diagnostic {
    Diagnostic::error(code::PLAN_STALE, message).with_help(
        "make the plan again (`jardin plan … -o PLAN`), review it, and apply the new one",
    )
}

/// Ok when the fresh plan is the one that was saved; else what differs.
pub fn same_plan(saved: &SavedPlan, fresh: &Plan) -> Result<(), Diagnostic> {
    let _ = saved.format_version;
    if saved.jardin_version != fresh.jardin_version {
        return Err(refused(format!(
            "the plan was made by jardin {}, this is jardin {}",
            if saved.jardin_version.is_empty() {
                "(unknown)"
            } else {
                &saved.jardin_version
            },
            fresh.jardin_version
        )));
    }
    if saved.tenants_filter != fresh.tenants_filter
        || saved.live_sources.keys().ne(fresh.live_sources.keys())
    {
        return Err(refused(format!(
            "the plan covers clusters [{}] and tenants [{}]; this apply covers clusters [{}] and tenants [{}]",
            saved.live_sources.keys().cloned().collect::<Vec<_>>().join(", "),
            saved.tenants_filter.join(", "),
            fresh.live_sources.keys().cloned().collect::<Vec<_>>().join(", "),
            fresh.tenants_filter.join(", "),
        )));
    }
    if saved.desired_hash != fresh.desired_hash {
        return Err(refused(
            "the config is not the one the plan was made from (its desired state differs): the plan belongs to another revision".to_string(),
        ));
    }
    if saved.live_hash != fresh.live_hash {
        let moved = moved(saved, fresh);
        let what = if moved.is_empty() {
            "objects the plan leaves alone changed".to_string()
        } else {
            moved.join("; ")
        };
        return Err(refused(format!(
            "the live state changed since the plan was made: {what}"
        )));
    }
    Ok(())
}

/// What moved, as the difference between the saved and the fresh changes.
fn moved(saved: &SavedPlan, fresh: &Plan) -> Vec<String> {
    let key = |c: &SavedChange| {
        (
            c.cluster.clone(),
            c.namespace.clone(),
            c.group.clone(),
            c.kind.clone(),
            c.name.clone(),
        )
    };
    let fresh_changes: Vec<SavedChange> = fresh
        .changes
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect();
    let saved_by: BTreeMap<_, &SavedChange> = saved.changes.iter().map(|c| (key(c), c)).collect();
    let fresh_by: BTreeMap<_, &SavedChange> = fresh_changes.iter().map(|c| (key(c), c)).collect();
    let name = |k: &(String, String, String, String, String)| {
        if k.1.is_empty() {
            format!("{} {}/{}", k.3, k.0, k.4)
        } else {
            format!("{} {}/{}/{}", k.3, k.0, k.1, k.4)
        }
    };
    let mut out = Vec::new();
    for (k, s) in &saved_by {
        match fresh_by.get(k) {
            None => out.push(format!(
                "{} ({} planned) now matches the config",
                name(k),
                s.action
            )),
            Some(f) if f != s => out.push(format!(
                "{} changed live ({} planned, now {})",
                name(k),
                s.action,
                f.action
            )),
            Some(_) => {}
        }
    }
    for (k, f) in &fresh_by {
        if !saved_by.contains_key(k) {
            out.push(format!("{} changed live (now a {})", name(k), f.action));
        }
    }
    out
}
