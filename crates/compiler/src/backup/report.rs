//! The coverage report: `backup/coverage.json` (a contract: a plan diffs two
//! of them, so every entry has a stable `id` and entries are sorted by it)
//! and the table `jardin backup coverage` prints.

use serde::{Deserialize, Serialize};

use super::derive::{self, Kept};
use super::{Coverage, Gap, Status};
use jardin_core::model::{Collective, Retention};

pub(crate) const FORMAT_VERSION: u32 = 1;
pub const PATH: &str = "backup/coverage.json";

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Report {
    pub(crate) format_version: u32,
    pub summary: Summary,
    /// One entry per piece of state, sorted by `id`.
    pub(crate) state: Vec<Entry>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Summary {
    pub(crate) total: usize,
    pub(crate) covered: usize,
    pub(crate) opted_out: usize,
    pub uncovered: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct Entry {
    /// `<tenant>/<app>/<state>`: stable across builds, the key of a diff.
    pub(crate) id: String,
    pub(crate) tenant: String,
    pub(crate) app: String,
    pub(crate) catalog_app: String,
    pub(crate) cluster: String,
    pub(crate) namespace: String,
    pub(crate) state: String,
    pub(crate) kind: String,
    pub(crate) criticality: String,
    /// `covered`, `opted-out` or `uncovered`.
    pub(crate) status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) reason: Option<String>,
    /// For a piece whose backup is there but cannot run: what stands in
    /// the way (a pod refused, a flow blocked, a credential missing).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub(crate) blocked_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) backup: Option<Backup>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct Backup {
    pub(crate) method: String,
    /// Five-field cron, UTC.
    pub(crate) schedule: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) verify: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) retention: Option<Retention>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) pitr_days: Option<u32>,
    pub(crate) target: String,
    pub(crate) location: String,
    pub(crate) destination: String,
    /// Output paths of the objects that do it.
    pub(crate) objects: Vec<String>,
}

pub(crate) fn build(collective: &Collective, cov: &Coverage) -> Report {
    let pg = derive::pg_backups(collective, cov);
    let mut state: Vec<Entry> = cov
        .pieces
        .iter()
        .map(|p| {
            let (status, reason) = match &p.status {
                Status::Covered(_) => ("covered", None),
                Status::OptedOut { reason, .. } => ("opted-out", Some(reason.clone())),
                Status::Uncovered(_) => ("uncovered", None),
            };
            let blocked_by = match &p.status {
                Status::Uncovered(Gap::CannotRun(why)) => why.clone(),
                Status::Uncovered(Gap::NoSchedule { why, .. }) => vec![why.clone()],
                _ => Vec::new(),
            };
            let backup = derive::detail(collective, &pg, p).map(|d| {
                let (retention, pitr_days) = match d.kept {
                    Kept::Generations(r) => (Some(r), None),
                    Kept::Window { days } => (None, Some(days)),
                };
                Backup {
                    method: p.method.as_str().to_string(),
                    schedule: d.schedule,
                    verify: d.verify,
                    retention,
                    pitr_days,
                    target: d.target,
                    location: d.location,
                    destination: d.destination,
                    objects: d.objects,
                }
            });
            Entry {
                id: p.id(),
                tenant: p.tenant.clone(),
                app: p.instance.clone(),
                catalog_app: p.app.clone(),
                cluster: p.cluster.clone(),
                namespace: p.namespace.clone(),
                state: p.name.clone(),
                kind: p.kind.as_str().to_string(),
                criticality: p.criticality.clone(),
                status: status.to_string(),
                reason,
                blocked_by,
                backup,
            }
        })
        .collect();
    state.sort_by(|a, b| a.id.cmp(&b.id));
    let count = |s: &str| state.iter().filter(|e| e.status == s).count();
    Report {
        format_version: FORMAT_VERSION,
        summary: Summary {
            total: state.len(),
            covered: count("covered"),
            opted_out: count("opted-out"),
            uncovered: count("uncovered"),
        },
        state,
    }
}

pub(crate) fn to_json(r: &Report) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(r).unwrap_or_default();
    v.push(b'\n');
    v
}

/// The table: per tenant and app, each piece of state, how it is backed up,
/// how often, how long it is kept, where to.
pub fn table(r: &Report) -> String {
    let header = [
        "TENANT",
        "APP",
        "STATE",
        "KIND",
        "HOW",
        "WHEN (UTC)",
        "KEPT",
        "WHERE",
    ];
    let rows: Vec<[String; 8]> = r
        .state
        .iter()
        .map(|e| {
            let (how, when, kept, place) = match (&e.backup, e.status.as_str()) {
                (Some(b), _) => (
                    b.method.clone(),
                    b.schedule.clone(),
                    match (&b.retention, b.pitr_days) {
                        (Some(r), _) => super::retention_text(r),
                        (None, Some(d)) => format!("PITR {d}d"),
                        _ => String::new(),
                    },
                    format!("{} ({})", b.target, b.location),
                ),
                (None, "opted-out") => (
                    "opted out".into(),
                    "-".into(),
                    "-".into(),
                    e.reason.clone().unwrap_or_default(),
                ),
                (None, _) if !e.blocked_by.is_empty() => (
                    "CANNOT RUN".into(),
                    "-".into(),
                    "-".into(),
                    e.blocked_by.join("; "),
                ),
                (None, _) => ("NOT BACKED UP".into(), "-".into(), "-".into(), "-".into()),
            };
            [
                e.tenant.clone(),
                e.app.clone(),
                e.state.clone(),
                e.kind.clone(),
                how,
                when,
                kept,
                place,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(String::from));
    for row in &rows {
        out.push_str(&line(row));
    }
    let s = &r.summary;
    out.push_str(&format!(
        "\n{} pieces of state: {} covered, {} opted out, {} not backed up\n",
        s.total, s.covered, s.opted_out, s.uncovered
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_summarizes() {
        let r = Report {
            format_version: 1,
            summary: Summary {
                total: 1,
                covered: 0,
                opted_out: 0,
                uncovered: 1,
            },
            state: vec![Entry {
                id: "t/cloud/data".into(),
                tenant: "t".into(),
                app: "cloud".into(),
                catalog_app: "nextcloud".into(),
                cluster: "c".into(),
                namespace: "t-cloud".into(),
                state: "data".into(),
                kind: "bucket".into(),
                criticality: "high".into(),
                status: "uncovered".into(),
                reason: None,
                blocked_by: Vec::new(),
                backup: None,
            }],
        };
        let t = table(&r);
        assert!(t.starts_with("TENANT  APP    STATE"), "{t}");
        assert!(t.contains("NOT BACKED UP"));
        assert!(t.contains("1 pieces of state: 0 covered, 0 opted out, 1 not backed up"));
        let json = to_json(&r);
        let back: Report = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, r);
    }
}
