//! Apply: what `jardin apply` sends, in which order, what it deletes, and
//! what it keeps back. Nothing here does IO: jardin-net talks to the
//! clusters, the CLI drives and waits.
//!
//! ```text
//! fresh plan ─┐
//! desired ────┼─ schedule ─▶ per cluster: waves of objects to send,
//! graph ──────┤               deletions in reverse order, deletions kept back,
//! live ───────┘               the inventory (ApplySet) to write
//! ```
//!
//! The schedule comes from a plan made just now against the live state
//! (`verify` checks it is the reviewed one), never from a plan file.

pub mod inventory;
pub mod report;
pub mod status;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde_json::Value;

use crate::emit::DesiredObject;
use crate::live::LiveObject;
use crate::plan::{Action, ObjectId, Plan};
use inventory::Members;
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::kube::group_of;

/// An object in a cluster, as the API addresses it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn of(v: &Value) -> ObjectRef {
        let s = |x: &Value| x.as_str().unwrap_or("").to_string();
        ObjectRef {
            api_version: s(&v["apiVersion"]),
            kind: s(&v["kind"]),
            namespace: s(&v["metadata"]["namespace"]),
            name: s(&v["metadata"]["name"]),
        }
    }

    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }

    /// `KIND/NAMESPACE/NAME`, or `KIND/NAME`: what `--recreate` takes.
    pub fn path(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Why an object is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Create,
    Update,
    /// Unchanged, but not yet in jardin's inventory: sent to label it.
    Adopt,
    /// An immutable field changed: deleted, then created (`--recreate`).
    Recreate,
}

/// An object to send. Its value may hold secret values: it has no `Debug`
/// that prints it, and nothing prints it.
pub struct Send {
    pub object: ObjectRef,
    pub step: Step,
    pub tenant: Option<String>,
    pub value: Value,
}

impl fmt::Debug for Send {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Send({:?} {})", self.step, self.object)
    }
}

/// An object to delete, and the uid it must still have.
#[derive(Clone, Debug)]
pub struct Prune {
    pub object: ObjectRef,
    pub uid: String,
    pub tenant: Option<String>,
}

/// A deletion the plan proposed that apply does not do, and why.
#[derive(Clone, Debug)]
pub struct Kept {
    pub object: ObjectRef,
    pub reason: String,
}

/// Everything to do in one cluster.
#[derive(Debug, Default)]
pub struct ClusterSchedule {
    pub cluster: String,
    /// Objects to send, wave by wave; empty waves are left out.
    pub waves: Vec<Vec<Send>>,
    /// Deletions, in order: dependents first.
    pub prunes: Vec<Prune>,
    pub kept: Vec<Kept>,
    /// The members of every desired object of the cluster, changed or not.
    pub members: Members,
    /// Desired objects left as they are.
    pub unchanged: usize,
}

impl ClusterSchedule {
    pub fn is_empty(&self) -> bool {
        self.waves.is_empty() && self.prunes.is_empty()
    }

    pub fn sends(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }
}

/// What the flags allow.
#[derive(Debug, Default)]
pub struct Grants {
    /// `--recreate KIND/NAMESPACE/NAME`.
    pub recreate: BTreeSet<String>,
    /// `--allow-delete-state`.
    pub delete_state: bool,
}

/// Why nothing is touched.
#[derive(Debug)]
pub enum Refusal {
    /// A flag would allow it (exit code 3).
    Approval(Vec<Diagnostic>),
    /// Nothing allows it (exit code 1).
    Error(Diagnostic),
}

/// Immutable-field changes are flagged by the plan with this phrase.
const IMMUTABLE_PHRASE: &str = "is immutable";

fn id_ref(id: &ObjectId, api_version: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.to_string(),
        kind: id.kind.clone(),
        namespace: id.namespace.clone(),
        name: id.name.clone(),
    }
}

/// Plans the apply of `plan` (made just now) to its clusters. `desired` and
/// `waves` are the compilation's objects and their apply waves (same
/// order); `live` what the plan was made against.
pub fn schedule(
    plan: &Plan,
    desired: Vec<DesiredObject>,
    waves: &[usize],
    live: &[LiveObject],
    grants: &Grants,
) -> Result<Vec<ClusterSchedule>, Refusal> {
    let changes: HashMap<&ObjectId, &crate::plan::Change> =
        plan.changes.iter().map(|c| (&c.id, c)).collect();
    let live_by_id: HashMap<ObjectId, &LiveObject> = live
        .iter()
        .map(|l| (ObjectId::of(&l.cluster, &l.value), l))
        .collect();
    let mut approvals: Vec<Diagnostic> = plan
        .approval
        .iter()
        .map(|a| {
            Diagnostic::error(code::APPLY_NEEDS_APPROVAL, a.clone()).with_help(
                "review the deletions; raise --max-deletes / --max-delete-percent to allow them",
            )
        })
        .collect();
    let in_scope = |t: &Option<String>| {
        plan.tenants_filter.is_empty()
            || t.as_ref().is_some_and(|t| plan.tenants_filter.contains(t))
    };

    let mut clusters: BTreeMap<String, ClusterSchedule> = BTreeMap::new();
    for cluster in plan.live_sources.keys() {
        clusters.insert(
            cluster.clone(),
            ClusterSchedule {
                cluster: cluster.clone(),
                ..ClusterSchedule::default()
            },
        );
    }
    let mut by_wave: BTreeMap<(String, usize), Vec<Send>> = BTreeMap::new();
    for (o, wave) in desired.into_iter().zip(waves.iter().copied()) {
        let Some(cs) = clusters.get_mut(&o.cluster) else {
            continue;
        };
        cs.members = cs.members.union(&Members::of([&o.value]));
        if !in_scope(&o.tenant) {
            continue;
        }
        let id = ObjectId::of(&o.cluster, &o.value);
        let object = ObjectRef::of(&o.value);
        let step = match changes.get(&id) {
            Some(c) if c.action == Action::Create => Step::Create,
            Some(c) => match update_step(c, &object, grants) {
                Ok(step) => step,
                Err(d) => {
                    approvals.push(d);
                    continue;
                }
            },
            None => match live_by_id.get(&id) {
                Some(l) if !inventory::is_member(&l.value) => Step::Adopt,
                _ => {
                    cs.unchanged += 1;
                    continue;
                }
            },
        };
        let mut value = o.value;
        inventory::label_member(&mut value);
        by_wave.entry((o.cluster, wave)).or_default().push(Send {
            object,
            step,
            tenant: o.tenant,
            value,
        });
    }
    for ((cluster, _), sends) in by_wave {
        if let Some(cs) = clusters.get_mut(&cluster) {
            cs.waves.push(sends);
        }
    }

    for c in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        let Some(cs) = clusters.get_mut(&c.id.cluster) else {
            continue;
        };
        let object = id_ref(&c.id, &c.api_version);
        match deletion(c, live_by_id.get(&c.id).copied(), grants) {
            Ok(uid) => cs.prunes.push(Prune {
                object,
                uid,
                tenant: c.tenant.clone(),
            }),
            Err(reason) => cs.kept.push(Kept { object, reason }),
        }
    }
    for cs in clusters.values_mut() {
        cs.prunes.sort_by_key(|p| {
            (
                deletion_rank(p.object.group(), &p.object.kind),
                p.object.clone(),
            )
        });
        if everything_deleted(cs) {
            return Err(Refusal::Error(
                Diagnostic::error(
                    code::APPLY_DELETES_EVERYTHING,
                    format!(
                        "the plan deletes all {} objects jardin manages in cluster \"{}\" and creates nothing there",
                        cs.prunes.len() + cs.kept.len(),
                        cs.cluster
                    ),
                )
                .with_help("check the config root and the cluster (--live, the kubeconfig context): an empty config is almost always a mistake"),
            ));
        }
    }
    if approvals.is_empty() {
        Ok(clusters.into_values().collect())
    } else {
        Err(Refusal::Approval(approvals))
    }
}

/// How an update goes out: in place, or deleted and created again when an
/// immutable field changes and `--recreate` names the object.
fn update_step(
    c: &crate::plan::Change,
    object: &ObjectRef,
    grants: &Grants,
) -> Result<Step, Diagnostic> {
    let Some(reason) = c.approval.first() else {
        return Ok(Step::Update);
    };
    let immutable = c.approval.iter().all(|a| a.contains(IMMUTABLE_PHRASE));
    if immutable && grants.recreate.contains(&object.path()) {
        return Ok(Step::Recreate);
    }
    let help = if immutable {
        format!(
            "the server cannot change it in place: give --recreate {} to delete and create it again (its pods restart; a volume claim loses its data)",
            object.path()
        )
    } else {
        "change the config: Kubernetes refuses this change".to_string()
    };
    Err(Diagnostic::error(
        code::APPLY_NEEDS_APPROVAL,
        format!("{} {}: {reason}", c.id.cluster, object.path()),
    )
    .with_help(help))
}

/// The uid to delete with, or why the deletion is kept back.
fn deletion(
    c: &crate::plan::Change,
    live: Option<&LiveObject>,
    grants: &Grants,
) -> Result<String, String> {
    let Some(live) = live else {
        return Err("not found in the live state".to_string());
    };
    if !inventory::is_member(&live.value) {
        return Err(format!(
            "not in jardin's inventory (no {} label): it was applied by another tool or before `jardin apply`; delete it by hand if it is no longer needed",
            jardin_core::kube::APPLYSET_PART_OF
        ));
    }
    if let Some(why) = c.approval.first() {
        if !grants.delete_state {
            return Err(format!("{why}; --allow-delete-state allows it"));
        }
    }
    live.value["metadata"]["uid"]
        .as_str()
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "the live object has no uid".to_string())
}

/// Deletions go dependents first: workloads, then what they use, then
/// state, namespaces last.
fn deletion_rank(group: &str, kind: &str) -> u8 {
    match (group, kind) {
        (_, "CronJob" | "Job" | "Deployment" | "StatefulSet" | "DaemonSet") => 0,
        (_, "Ingress" | "Service" | "NetworkPolicy" | "PodDisruptionBudget") => 1,
        ("postgresql.cnpg.io", "Database" | "ScheduledBackup") => 2,
        (_, "ConfigMap" | "Secret" | "ServiceAccount" | "Role" | "RoleBinding") => 3,
        ("objectstorage.k8s.io", "BucketAccess") => 3,
        (_, "Schedule" | "Backup") => 3,
        ("objectstorage.k8s.io", "BucketClaim") => 4,
        ("postgresql.cnpg.io", _) | ("barmancloud.cnpg.io", _) => 5,
        ("", "PersistentVolumeClaim") => 6,
        ("apiextensions.k8s.io", _) => 8,
        ("", "Namespace") => 9,
        _ => 4,
    }
}

/// True when the cluster would keep nothing of jardin's: deletions, and
/// nothing desired there.
fn everything_deleted(cs: &ClusterSchedule) -> bool {
    cs.prunes.len() + cs.kept.len() > 0 && cs.members.group_kinds.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_deleted_before_what_they_use() {
        let order = [
            ("", "Namespace"),
            ("", "PersistentVolumeClaim"),
            ("", "Secret"),
            ("apps", "Deployment"),
            ("", "Service"),
        ];
        let mut sorted = order.to_vec();
        sorted.sort_by_key(|(g, k)| deletion_rank(g, k));
        assert_eq!(
            sorted.iter().map(|(_, k)| *k).collect::<Vec<_>>(),
            [
                "Deployment",
                "Service",
                "Secret",
                "PersistentVolumeClaim",
                "Namespace"
            ]
        );
    }

    #[test]
    fn recreate_paths_read_like_kubectl() {
        let o = ObjectRef::of(&serde_json::json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "t"}
        }));
        assert_eq!(o.path(), "StatefulSet/t/db");
        assert_eq!(o.group(), "apps");
    }
}
