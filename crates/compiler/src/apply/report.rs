//! The JSON report of an apply (`--report FILE`): what happened to each
//! object, with timings, for CI artifacts and for the next run's reader.
//! Names and outcomes only: never an object's content.

use serde::Serialize;

use super::ObjectRef;

/// What happened to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Sent and, unless a dry run, ready.
    Applied,
    /// Deleted.
    Pruned,
    /// Left alone: a deletion kept back, or a wave never reached.
    Skipped,
    Failed,
}

#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub cluster: String,
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    /// The apply wave; none for deletions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave: Option<usize>,
    pub outcome: Outcome,
    /// `create`, `update`, `adopt`, `recreate`, `delete`.
    pub step: String,
    /// Why it was skipped or failed, or what the readiness wait saw last.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// From the request to ready (or to deleted).
    pub millis: u64,
}

impl Entry {
    pub fn new(cluster: &str, object: &ObjectRef, step: &str, outcome: Outcome) -> Entry {
        Entry {
            cluster: cluster.to_string(),
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            wave: None,
            outcome,
            step: step.to_string(),
            message: String::new(),
            millis: 0,
        }
    }
}

/// What happened to one DNS zone (`apply --dns`).
#[derive(Clone, Debug, Serialize)]
pub struct ZoneEntry {
    pub zone: String,
    /// `applied` (also when it had nothing to change), `skipped` (a dry
    /// run), `failed`.
    pub outcome: Outcome,
    /// RRset changes sent.
    pub changes: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    pub millis: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub jardin_version: &'static str,
    pub dry_run: bool,
    /// The outcome: `applied`, `nothing to do`, `failed`, `refused`.
    pub result: String,
    pub millis: u64,
    pub objects: Vec<Entry>,
    /// Zones, in the order they were sent: before any cluster's waves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneEntry>,
}

impl Report {
    pub fn new(dry_run: bool) -> Report {
        Report {
            jardin_version: env!("CARGO_PKG_VERSION"),
            dry_run,
            ..Report::default()
        }
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.objects.iter().filter(|e| e.outcome == outcome).count()
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string());
        s.push('\n');
        s
    }
}
