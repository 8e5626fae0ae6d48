//! Plan: what applying the desired state to the live state would change.
//!
//! ```text
//! desired objects ─seal─┐                       ┌─ render::text
//!                       ├─normalize─mask─diff─▶ Plan ─┼─ render::markdown
//! live objects ───seal──┘                       └─ render::json (the contract)
//! ```
//!
//! Secret values are sealed (`secrets`) before anything else looks at an
//! object, and only opaque tokens come out. Nothing here does IO: the CLI
//! reads the live state through `live::LiveSource` and passes it in.

pub(crate) mod diff;
pub(crate) mod normalize;
pub mod render;
pub(crate) mod secrets;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::emit::DesiredObject;
use crate::live::LiveObject;
use diff::{FieldChange, Op};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::kube::group_of;
use jardin_core::kube::TENANT_LABEL;
use normalize::IgnoreRule;
use secrets::{Keys, Sealed};

/// Version of the JSON plan (docs/PLAN.md). Bump on any incompatible change.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The identity of an object in a cluster. The API version is left out: the
/// server converts between versions of a group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct ObjectId {
    pub(crate) cluster: String,
    pub(crate) namespace: String,
    pub(crate) group: String,
    pub(crate) kind: String,
    pub(crate) name: String,
}

impl ObjectId {
    pub(crate) fn of(cluster: &str, v: &Value) -> ObjectId {
        ObjectId {
            cluster: cluster.to_string(),
            namespace: v["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            group: group_of(v["apiVersion"].as_str().unwrap_or("")).to_string(),
            kind: v["kind"].as_str().unwrap_or("").to_string(),
            name: v["metadata"]["name"].as_str().unwrap_or("").to_string(),
        }
    }
}

impl std::fmt::Display for ObjectId {
    /// `Deployment louise-michel/faire-ecole-cloud/nextcloud`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}/{}", self.kind, self.cluster, self.name)
        } else {
            write!(
                f,
                "{} {}/{}/{}",
                self.kind, self.cluster, self.namespace, self.name
            )
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Create,
    Update,
    Delete,
}

/// One object that would change. Every value in it is normalized and
/// secret-masked.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Change {
    pub(crate) action: Action,
    #[serde(flatten)]
    pub(crate) id: ObjectId,
    pub(crate) api_version: String,
    /// The tenant it belongs to; `None` for objects shared by tenants.
    pub(crate) tenant: Option<String>,
    /// Updates: every changed field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) fields: Vec<FieldChange>,
    /// Deletes: why jardin considers the object its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// Why this change needs approval, if it does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) approval: Vec<String>,
    /// Creates and updates: the object as it would be (normalized, masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) desired: Option<Value>,
    /// Updates and deletes: the hash of the live object compared (secret
    /// values as keyed digests), so that `apply` names what moved since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) live_digest: Option<String>,
    /// Updates and deletes: the object as it is (normalized, masked); shown
    /// in text diffs, not part of the JSON contract.
    #[serde(skip)]
    pub(crate) live: Option<Value>,
}

/// Counts per tenant (and in total).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub(crate) create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl<'a> std::iter::Sum<&'a Counts> for Counts {
    fn sum<I: Iterator<Item = &'a Counts>>(counts: I) -> Counts {
        counts.fold(Counts::default(), |a, c| Counts {
            create: a.create + c.create,
            update: a.update + c.update,
            delete: a.delete + c.delete,
            unchanged: a.unchanged + c.unchanged,
        })
    }
}

impl Counts {
    pub fn changes(&self) -> usize {
        self.create + self.update + self.delete
    }
    fn add(&mut self, a: Action) {
        match a {
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::Delete => self.delete += 1,
        }
    }
}

/// The key under which shared objects (no tenant) are counted.
pub(crate) const SHARED: &str = "(shared)";

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub(crate) format_version: u32,
    /// The jardin that made it: `apply` refuses a plan of another version.
    pub(crate) jardin_version: String,
    /// `--tenant`: the tenants it is restricted to (empty: all).
    pub(crate) tenants_filter: Vec<String>,
    /// blake3 of the canonical normalized desired state (`blake3:<hex>`).
    pub(crate) desired_hash: String,
    /// blake3 of the canonical normalized live state.
    pub(crate) live_hash: String,
    /// Where the live state came from, per cluster.
    pub(crate) live_sources: BTreeMap<String, String>,
    pub summary: Counts,
    pub tenants: BTreeMap<String, Counts>,
    /// Plan-wide reasons for approval (the deletion threshold).
    pub(crate) approval: Vec<String>,
    /// Sorted by tenant (shared last), then object.
    pub(crate) changes: Vec<Change>,
    /// Made against a cluster through server-side dry runs (`server_views`):
    /// `apply` makes its fresh plan the same way.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) server_side: bool,
    /// `jardin plan --dns`: each zone's saved plan (`dns::plan::SavedZone`,
    /// as JSON: plans of objects know nothing of DNS), checked again and
    /// applied by `apply` (docs/APPLY.md); absent without `--dns`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<Value>,
}

impl Plan {
    pub fn needs_approval(&self) -> bool {
        !self.approval.is_empty() || self.changes.iter().any(|c| !c.approval.is_empty())
    }
}

/// What to plan against what.
pub struct Input<'a> {
    /// Taken by value: the plan does not copy the desired state.
    pub desired: Vec<DesiredObject>,
    pub live: Vec<LiveObject>,
    pub live_sources: BTreeMap<String, String>,
    pub ignore: &'a [IgnoreRule],
    /// Every tenant with a file in the config root (filters aside).
    pub known_tenants: BTreeSet<String>,
    /// `--tenant`: only these tenants' objects are compared or deleted.
    pub tenant_filter: Vec<String>,
    /// Deleting more than this many objects needs approval…
    pub max_deletes: usize,
    /// …or more than this share (percent) of the live objects in scope.
    pub max_delete_percent: usize,
    /// `$JARDIN_PLAN_KEY`.
    pub secret_key: Option<String>,
    /// The "live" side is another desired state (`jardin diff`): nothing on
    /// it was defaulted by a server, so nothing is dropped against the other.
    pub compare_desired: bool,
    /// Against a cluster: the desired objects that exist live, as a
    /// server-side dry-run apply returns them (server defaults and other
    /// managers' fields filled in). Each is compared whole with its live
    /// object, instead of through the offline normalization; an object
    /// without a view (the server refused the dry run) is compared
    /// offline. None: every object offline (snapshots).
    pub server_views: Option<Vec<LiveObject>>,
}

/// A sealed, normalized object of one side.
struct Side {
    id: ObjectId,
    api_version: String,
    tenant: Option<String>,
    sealed: Sealed,
}

fn tenant_label(v: &Value) -> Option<String> {
    v["metadata"]["labels"][TENANT_LABEL]
        .as_str()
        .map(str::to_string)
}

/// Canonical hash of one side: objects in id order, secrets as keyed
/// digests. serde_json maps are sorted, so serialization is canonical.
fn state_hash(sides: &[&Side], keys: &Keys) -> String {
    let mut hasher = blake3::Hasher::new();
    for s in sides {
        let body = if s.sealed.secrets.is_empty() {
            serde_json::to_vec(&s.sealed.value)
        } else {
            let mut v = s.sealed.value.clone();
            secrets::replace(&mut v, &s.sealed.secrets, &|x| keys.digest(x));
            serde_json::to_vec(&v)
        }
        .unwrap_or_default();
        let id = serde_json::to_vec(&s.id).unwrap_or_default();
        hasher.update(&(id.len() as u64).to_le_bytes());
        hasher.update(&id);
        hasher.update(&(body.len() as u64).to_le_bytes());
        hasher.update(&body);
    }
    format!("blake3:{}", hasher.finalize().to_hex())
}

/// Kinds whose deletion destroys data (or everything in a namespace).
fn deletion_needs_approval(id: &ObjectId) -> Option<&'static str> {
    match (id.group.as_str(), id.kind.as_str()) {
        ("", "PersistentVolumeClaim") => {
            Some("deleting a volume claim deletes its volume and data")
        }
        ("", "Namespace") => {
            Some("deleting a namespace deletes everything in it, volumes included")
        }
        ("postgresql.cnpg.io", "Database") => {
            Some("deleting a Database object can drop the database")
        }
        ("postgresql.cnpg.io", "Cluster") => {
            Some("deleting a Postgres cluster deletes every database in it")
        }
        ("objectstorage.k8s.io", "BucketClaim") => {
            Some("deleting a bucket claim can delete the bucket and its data")
        }
        _ => None,
    }
}

/// Fields the API server refuses to change in place (the object must be
/// recreated), by group, kind and path prefix.
const IMMUTABLE: &[(&str, &str, &str)] = &[
    ("apps", "Deployment", "spec.selector"),
    ("apps", "StatefulSet", "spec.selector"),
    ("apps", "StatefulSet", "spec.serviceName"),
    ("apps", "StatefulSet", "spec.volumeClaimTemplates"),
    ("apps", "DaemonSet", "spec.selector"),
    ("batch", "Job", "spec.selector"),
    ("batch", "Job", "spec.template"),
    ("", "PersistentVolumeClaim", "spec.accessModes"),
    ("", "PersistentVolumeClaim", "spec.storageClassName"),
    ("", "PersistentVolumeClaim", "spec.volumeMode"),
    ("", "PersistentVolumeClaim", "spec.volumeName"),
    ("", "Secret", "type"),
    ("postgresql.cnpg.io", "Database", "spec.name"),
    ("objectstorage.k8s.io", "BucketClaim", "spec"),
    ("objectstorage.k8s.io", "BucketAccess", "spec"),
];

/// Bytes of a Kubernetes quantity, when it is a plain storage size.
fn quantity(v: &Value) -> Option<f64> {
    jardin_core::quantity::json_bytes(v).map(|b| b as f64)
}

fn update_approval(id: &ObjectId, fields: &[FieldChange]) -> Vec<String> {
    let mut out = Vec::new();
    for f in fields {
        let immutable = IMMUTABLE
            .iter()
            .any(|(g, k, p)| *g == id.group && *k == id.kind && diff::under(&f.path, p));
        if immutable {
            out.push(format!(
                "{} is immutable: the object must be deleted and recreated",
                f.path
            ));
        }
        // A volume can grow; it cannot shrink.
        if id.kind == "PersistentVolumeClaim"
            && diff::under(&f.path, "spec.resources.requests.storage")
        {
            let shrinks = match (
                f.before.as_ref().and_then(quantity),
                f.after.as_ref().and_then(quantity),
            ) {
                (Some(b), Some(a)) => a < b,
                _ => true,
            };
            if shrinks {
                out.push(format!(
                    "{} would shrink a volume, which Kubernetes refuses",
                    f.path
                ));
            }
        }
    }
    out.dedup();
    out
}

/// Computes the plan. Errors: the same object listed twice in the live state.
pub fn compute(input: Input<'_>) -> Result<Plan, Diagnostic> {
    let keys = Keys::new(input.secret_key.as_deref());
    let filter = &input.tenant_filter;
    let in_scope =
        |t: &Option<String>| filter.is_empty() || t.as_ref().is_some_and(|t| filter.contains(t));
    let desired = seal_desired(input.desired, input.ignore, &in_scope);
    let by_id: HashMap<&ObjectId, &Side> = desired.iter().map(|s| (&s.id, s)).collect();
    let server_side = input.server_views.is_some();
    let views = seal_views(input.server_views.unwrap_or_default(), &by_id, input.ignore);
    let live = seal_live(
        input.live,
        &by_id,
        &views,
        input.ignore,
        input.compare_desired,
        &in_scope,
    )?;
    let mut desired_sorted: Vec<&Side> = desired.iter().collect();
    desired_sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let live_refs: Vec<&Side> = live.iter().collect();
    let desired_hash = state_hash(&desired_sorted, &keys);
    let live_hash = state_hash(&live_refs, &keys);
    let tokens = keys.tokens(&desired_hash, &live_hash);
    let mask = |s: &Side| {
        let mut v = s.sealed.value.clone();
        secrets::replace(&mut v, &s.sealed.secrets, &|x| tokens.token(x));
        v
    };

    let live_by_id: HashMap<&ObjectId, &Side> = live.iter().map(|s| (&s.id, s)).collect();
    // A review (`jardin diff`) compares two desired states: nothing to
    // re-read later, so no digest.
    let review = input.compare_desired;
    let digest = |s: &Side| (!review).then(|| state_hash(&[s], &keys));
    let mut changes = creates_and_updates(&desired_sorted, &live_by_id, &views, &mask, &digest);
    let mut tenants = unchanged_per_tenant(&desired_sorted, &live_by_id, &changes);
    let deletions = deletions(&live, &by_id, &input.known_tenants, &mask, &digest);
    let approval = deletion_budget(
        deletions.len(),
        live.len(),
        input.max_deletes,
        input.max_delete_percent,
    );
    changes.extend(deletions);
    for c in &changes {
        tenants
            .entry(tenant_key(&c.tenant))
            .or_default()
            .add(c.action);
    }
    // Tenants in order, shared objects last; then by object.
    changes.sort_by(|a, b| {
        (a.tenant.is_none(), &a.tenant, &a.id).cmp(&(b.tenant.is_none(), &b.tenant, &b.id))
    });
    let summary: Counts = tenants.values().sum();
    Ok(Plan {
        format_version: FORMAT_VERSION,
        jardin_version: env!("CARGO_PKG_VERSION").to_string(),
        tenants_filter: input.tenant_filter.clone(),
        desired_hash,
        live_hash,
        live_sources: input.live_sources,
        summary,
        tenants,
        approval,
        changes,
        server_side,
        zones: Vec::new(),
    })
}

/// The tenant a change counts for in the summary: shared objects under
/// [`SHARED`].
fn tenant_key(t: &Option<String>) -> String {
    t.clone().unwrap_or_else(|| SHARED.to_string())
}

/// The desired side, sealed and normalized. Taken by value: no copy of the
/// state.
fn seal_desired(
    desired: Vec<DesiredObject>,
    ignore: &[IgnoreRule],
    in_scope: &(impl Fn(&Option<String>) -> bool + Sync),
) -> Vec<Side> {
    desired
        .into_par_iter()
        .filter(|o| in_scope(&o.tenant))
        .map(|o| {
            let id = ObjectId::of(&o.cluster, &o.value);
            let api_version = o.value["apiVersion"].as_str().unwrap_or("").to_string();
            let mut sealed = secrets::seal(o.value);
            normalize::common(&mut sealed.value);
            normalize::ignore(&mut sealed.value, &id.kind, ignore);
            Side {
                id,
                api_version,
                tenant: o.tenant,
                sealed,
            }
        })
        .collect()
}

/// The server's views of desired objects, sealed and normalized as a live
/// object is, but whole: nothing is dropped against the desired object.
fn seal_views(
    views: Vec<LiveObject>,
    by_id: &HashMap<&ObjectId, &Side>,
    ignore: &[IgnoreRule],
) -> HashMap<ObjectId, Side> {
    views
        .into_par_iter()
        .filter_map(|o| {
            let id = ObjectId::of(&o.cluster, &o.value);
            let d = by_id.get(&id)?;
            let mut sealed = secrets::seal(o.value);
            normalize::common(&mut sealed.value);
            normalize::ignore(&mut sealed.value, &id.kind, ignore);
            sealed.value["apiVersion"] = Value::String(d.api_version.clone());
            let side = Side {
                api_version: d.api_version.clone(),
                tenant: d.tenant.clone(),
                id: id.clone(),
                sealed,
            };
            Some((id, side))
        })
        .collect()
}

/// The live side, sealed and normalized against its desired counterpart
/// (whole, when the server gave its view of that counterpart), sorted; an
/// object listed twice is an error.
fn seal_live(
    live: Vec<LiveObject>,
    by_id: &HashMap<&ObjectId, &Side>,
    views: &HashMap<ObjectId, Side>,
    ignore: &[IgnoreRule],
    compare_desired: bool,
    in_scope: &(impl Fn(&Option<String>) -> bool + Sync),
) -> Result<Vec<Side>, Diagnostic> {
    let mut live: Vec<Side> = live
        .into_par_iter()
        .map(|o| {
            let id = ObjectId::of(&o.cluster, &o.value);
            let tenant = tenant_label(&o.value);
            let mut sealed = secrets::seal(o.value);
            let d = by_id.get(&id).copied();
            normalize::common(&mut sealed.value);
            normalize::ignore(&mut sealed.value, &id.kind, ignore);
            if let Some(d) = d {
                // The server answers in the version we ask for.
                sealed.value["apiVersion"] = Value::String(d.api_version.clone());
            }
            if !compare_desired && !views.contains_key(&id) {
                normalize::live_against(
                    &mut sealed.value,
                    d.map(|d| &d.sealed.value),
                    &id.group,
                    &id.kind,
                );
            }
            Side {
                api_version: sealed.value["apiVersion"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                id,
                tenant,
                sealed,
            }
        })
        .filter(|s| in_scope(&s.tenant))
        .collect();
    live.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = live.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(Diagnostic::error(
            code::LISTED_TWICE,
            format!("{} is listed twice in the live state", w[0].id),
        )
        .with_help("a snapshot directory must not hold the same object in two files"));
    }
    Ok(live)
}

/// Creates and updates: every desired object against its live counterpart.
fn creates_and_updates(
    desired: &[&Side],
    live_by_id: &HashMap<&ObjectId, &Side>,
    views: &HashMap<ObjectId, Side>,
    mask: &(impl Fn(&Side) -> Value + Sync),
    digest: &(impl Fn(&Side) -> Option<String> + Sync),
) -> Vec<Change> {
    desired
        .par_iter()
        .filter_map(|d| {
            let desired_value = || mask(d);
            // What the live object is compared with: the server's view of
            // the desired object when there is one.
            let target = views.get(&d.id).unwrap_or(d);
            match live_by_id.get(&d.id) {
                None => Some(Change {
                    action: Action::Create,
                    id: d.id.clone(),
                    api_version: d.api_version.clone(),
                    tenant: d.tenant.clone(),
                    fields: Vec::new(),
                    reason: None,
                    approval: Vec::new(),
                    desired: Some(desired_value()),
                    live_digest: None,
                    live: None,
                }),
                // Most objects hold no secret and did not change: no copy.
                Some(l)
                    if target.sealed.secrets.is_empty()
                        && l.sealed.secrets.is_empty()
                        && l.sealed.value == target.sealed.value =>
                {
                    None
                }
                Some(l) => {
                    let live_value = mask(l);
                    let fields = diff::diff(&live_value, &mask(target));
                    let desired_value = desired_value();
                    (!fields.is_empty()).then(|| Change {
                        action: Action::Update,
                        id: d.id.clone(),
                        api_version: d.api_version.clone(),
                        tenant: d.tenant.clone(),
                        approval: update_approval(&d.id, &fields),
                        fields,
                        reason: None,
                        desired: Some(desired_value),
                        live_digest: digest(l),
                        live: Some(live_value),
                    })
                }
            }
        })
        .collect()
}

/// Per tenant, the desired objects that exist live and did not change.
fn unchanged_per_tenant(
    desired: &[&Side],
    live_by_id: &HashMap<&ObjectId, &Side>,
    changes: &[Change],
) -> BTreeMap<String, Counts> {
    let mut tenants: BTreeMap<String, Counts> = BTreeMap::new();
    for d in desired {
        let c = tenants.entry(tenant_key(&d.tenant)).or_default();
        if live_by_id.contains_key(&d.id) {
            c.unchanged += 1;
        }
    }
    for c in changes {
        if c.action == Action::Update {
            if let Some(t) = tenants.get_mut(&tenant_key(&c.tenant)) {
                t.unchanged = t.unchanged.saturating_sub(1);
            }
        }
    }
    tenants
}

/// Live objects of ours that nothing desired matches, with why each is
/// considered ours. Objects jardin shares with an operator are never
/// deleted.
fn deletions(
    live: &[Side],
    by_id: &HashMap<&ObjectId, &Side>,
    known_tenants: &BTreeSet<String>,
    mask: &impl Fn(&Side) -> Value,
    digest: &impl Fn(&Side) -> Option<String>,
) -> Vec<Change> {
    let mut out = Vec::new();
    for l in live {
        if by_id.contains_key(&l.id) {
            continue;
        }
        let reason = match &l.tenant {
            _ if normalize::is_partial(&l.id.group, &l.id.kind) => continue,
            Some(t) if known_tenants.contains(t) => format!(
                "labelled app.kubernetes.io/managed-by=jardin and {TENANT_LABEL}={t}; tenant \"{t}\" no longer renders it"
            ),
            Some(t) => format!(
                "labelled app.kubernetes.io/managed-by=jardin and {TENANT_LABEL}={t}; no tenants/{t}.ncl in this config root: an orphan of a removed tenant"
            ),
            None => "labelled app.kubernetes.io/managed-by=jardin, shared by tenants, no longer rendered".to_string(),
        };
        out.push(Change {
            action: Action::Delete,
            id: l.id.clone(),
            api_version: l.api_version.clone(),
            tenant: l.tenant.clone(),
            fields: Vec::new(),
            reason: Some(reason),
            approval: deletion_needs_approval(&l.id)
                .map(str::to_string)
                .into_iter()
                .collect(),
            desired: None,
            live_digest: digest(l),
            live: Some(mask(l)),
        });
    }
    out
}

/// Why the plan as a whole needs approval: deletions over the budget, by
/// count or by share of the live objects in scope.
fn deletion_budget(deletes: usize, live: usize, max: usize, max_percent: usize) -> Vec<String> {
    let mut approval = Vec::new();
    if deletes > max {
        approval.push(format!(
            "{deletes} deletions, more than the threshold of {max}"
        ));
    }
    if live > 0 && deletes * 100 > max_percent * live {
        approval.push(format!(
            "{deletes} deletions out of {live} live objects, more than {max_percent}%"
        ));
    }
    approval
}

/// The op sign used by every renderer.
pub(crate) fn sign(op: Op) -> char {
    match op {
        Op::Add => '+',
        Op::Remove => '-',
        Op::Replace => '~',
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(group: &str, kind: &str) -> ObjectId {
        ObjectId {
            cluster: "c".into(),
            namespace: "n".into(),
            group: group.into(),
            kind: kind.into(),
            name: "x".into(),
        }
    }

    fn change(path: &str, before: Value, after: Value) -> FieldChange {
        FieldChange {
            path: path.into(),
            op: Op::Replace,
            before: Some(before),
            after: Some(after),
        }
    }

    #[test]
    fn immutable_fields_and_shrinking_volumes_need_approval() {
        let sel = change("spec.selector.matchLabels.app", json!("a"), json!("b"));
        assert_eq!(update_approval(&id("apps", "Deployment"), &[sel]).len(), 1);
        let replicas = change("spec.replicas", json!(1), json!(2));
        assert!(update_approval(&id("apps", "Deployment"), &[replicas]).is_empty());
        let grow = change(
            "spec.resources.requests.storage",
            json!("10Gi"),
            json!("20Gi"),
        );
        assert!(update_approval(&id("", "PersistentVolumeClaim"), &[grow]).is_empty());
        let shrink = change(
            "spec.resources.requests.storage",
            json!("10Gi"),
            json!("5000Mi"),
        );
        assert_eq!(
            update_approval(&id("", "PersistentVolumeClaim"), &[shrink]).len(),
            1
        );
    }

    /// A tiny deterministic generator: no dependency, same cases every run.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    fn junk(r: &mut Lcg, depth: u32) -> Value {
        match r.next() % if depth > 2 { 4 } else { 6 } {
            0 => Value::Null,
            1 => json!(r.next() % 7),
            2 => json!(["a", 1, null]),
            3 => json!("x~1/\u{1}jardin-sealed:99"),
            4 => Value::Array((0..r.next() % 3).map(|_| junk(r, depth + 1)).collect()),
            _ => {
                let mut m = serde_json::Map::new();
                for k in [
                    "name",
                    "data",
                    "spec",
                    "metadata",
                    "env",
                    "value",
                    "containers",
                ] {
                    if r.next().is_multiple_of(2) {
                        m.insert(k.into(), junk(r, depth + 1));
                    }
                }
                Value::Object(m)
            }
        }
    }

    /// Whatever the live state holds, computing a plan does not panic.
    /// A field the server defaults that the offline normalization does
    /// not know of shows as drift offline, and not with the server's view;
    /// a real change shows either way.
    #[test]
    fn server_views_hide_server_defaults_and_keep_real_changes() {
        let desired = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "namespace": "n", "labels": {TENANT_LABEL: "t"}},
            "spec": {"replicas": 1},
        });
        let live = |replicas: u32| {
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "x", "namespace": "n", "labels": {TENANT_LABEL: "t"},
                             "resourceVersion": "7", "generation": 3},
                "spec": {"replicas": replicas, "newlyDefaulted": {"mode": "On"}},
                "status": {"readyReplicas": replicas},
            })
        };
        let plan = |live_value: Value, views: Option<Vec<Value>>| {
            compute(Input {
                desired: vec![DesiredObject::new(
                    "c",
                    Some("t".into()),
                    None,
                    desired.clone(),
                )],
                live: vec![LiveObject {
                    cluster: "c".into(),
                    value: live_value,
                }],
                live_sources: BTreeMap::new(),
                ignore: &[],
                known_tenants: BTreeSet::new(),
                tenant_filter: Vec::new(),
                max_deletes: 10,
                max_delete_percent: 25,
                secret_key: None,
                compare_desired: false,
                server_views: views.map(|vs| {
                    vs.into_iter()
                        .map(|value| LiveObject {
                            cluster: "c".into(),
                            value,
                        })
                        .collect()
                }),
            })
            .unwrap()
        };
        // The server's view of the desired object: its defaults filled in.
        let view = live(1);
        assert_eq!(plan(live(1), None).summary.update, 1, "offline: drift");
        let through_server = plan(live(1), Some(vec![view.clone()]));
        assert_eq!(through_server.summary.update, 0);
        assert!(through_server.server_side);
        // Live has 2 replicas; the view (desired applied) has 1.
        let changed = plan(live(2), Some(vec![view]));
        assert_eq!(changed.summary.update, 1);
        let fields: Vec<&str> = changed.changes[0]
            .fields
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(fields, ["spec.replicas"]);
    }

    #[test]
    fn never_panics_on_odd_live_objects() {
        let mut r = Lcg(7);
        let desired: Vec<DesiredObject> = [
            "Secret",
            "Deployment",
            "Service",
            "PersistentVolumeClaim",
        ]
        .iter()
        .map(|k| {
            let mut v = junk(&mut r, 0);
            if !v.is_object() {
                v = json!({});
            }
            v["apiVersion"] = json!(if *k == "Deployment" { "apps/v1" } else { "v1" });
            v["kind"] = json!(k);
            v["metadata"] =
                json!({"name": "x", "namespace": "n", "annotations": {GENERATE_FOR_TEST: "a,b"}});
            DesiredObject::new("c", Some("t".into()), None, v)
        })
        .collect();
        for _ in 0..300 {
            let live: Vec<LiveObject> = desired
                .iter()
                .map(|d| {
                    let mut v = junk(&mut r, 0);
                    if !v.is_object() {
                        v = json!({});
                    }
                    v["apiVersion"] = d.value["apiVersion"].clone();
                    v["kind"] = d.value["kind"].clone();
                    v["metadata"] =
                        json!({"name": "x", "namespace": "n", "labels": {TENANT_LABEL: "t"}});
                    LiveObject {
                        cluster: "c".into(),
                        value: v,
                    }
                })
                .collect();
            let plan = compute(Input {
                desired: desired.clone(),
                live,
                live_sources: BTreeMap::new(),
                ignore: &[IgnoreRule {
                    kind: "*".into(),
                    pointer: "/spec/*/0".into(),
                }],
                known_tenants: BTreeSet::new(),
                tenant_filter: Vec::new(),
                max_deletes: 10,
                max_delete_percent: 25,
                secret_key: None,
                compare_desired: false,
                server_views: None,
            })
            .unwrap();
            let _ = render::text::render(&plan, true);
            let _ = render::markdown::render(&plan, 500);
            let _ = render::json::render(&plan);
        }
    }

    const GENERATE_FOR_TEST: &str = jardin_core::kube::GENERATE_ANNOTATION;
}
