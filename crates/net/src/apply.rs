//! Changing a cluster: server-side apply, reads of single objects for the
//! readiness waits, deletions with a uid precondition. Kinds are resolved
//! through the server's discovery, group by group, once per run.
//!
//! Blocking calls over a runtime of its own, like the live listing: the
//! CLI drives the waves one request at a time, and the requests are few
//! (one per changed object, one per poll of an object not yet ready).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions,
    PropagationPolicy,
};
use kube::discovery::{ApiGroup, Scope};
use serde_json::Value;

use jardin_compiler::apply::ObjectRef;
use jardin_compiler::live::{KindRef, LiveObject, LiveSource};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::kube::group_of;

use crate::kube::KubeSource;

/// jardin's field manager: the owner of every field it applies.
pub const FIELD_MANAGER: &str = "jardin";

/// Kinds whose older version a cluster may serve instead, with the same
/// fields for everything jardin writes: a cluster older than 1.21 serves
/// CronJob and PodDisruptionBudget only in their beta versions.
const SAME_FIELDS_IN: &[(&str, &str, &str)] = &[
    ("batch", "CronJob", "v1beta1"),
    ("policy", "PodDisruptionBudget", "v1beta1"),
];

/// The older version a cluster may serve `group`/`kind` in instead.
pub(crate) fn served_instead(group: &str, kind: &str) -> Option<&'static str> {
    SAME_FIELDS_IN
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, _, v)| *v)
}

/// How a kind is reached on this cluster.
#[derive(Clone, Debug)]
pub struct Resolved {
    resource: ApiResource,
    namespaced: bool,
    /// Set when the cluster serves another version than the object's: the
    /// object goes out in that version.
    pub served_version: Option<String>,
}

/// Why an apply failed.
#[derive(Debug)]
pub enum ApplyError {
    /// Fields another manager owns: (manager, field) pairs.
    Conflict(Vec<(String, String)>),
    /// The server refused the object: its reasons.
    Rejected(String),
    /// The credentials may not change this object (403): a dry run is
    /// authorized as the change itself.
    Forbidden(String),
    /// The kind is not served.
    NotServed(Diagnostic),
    /// The cluster could not be reached.
    Unreachable(String),
}

/// One cluster, through a kubeconfig context.
pub struct ClusterApi {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    source: KubeSource,
    groups: Mutex<HashMap<String, Option<Arc<ApiGroup>>>>,
}

fn unreachable(context: &str, message: String) -> Diagnostic {
    Diagnostic::error(code::CLUSTER_UNREACHABLE, message).with_help(format!(
        "check the kubeconfig context \"{context}\" (`kubectl --context {context} get ns`)"
    ))
}

impl ClusterApi {
    /// Connects through `context` of `$KUBECONFIG` (its first file) or the
    /// default kubeconfig.
    pub fn connect(context: &str) -> Result<ClusterApi, Diagnostic> {
        let source = KubeSource {
            context: context.to_string(),
            kubeconfig: std::env::var_os("KUBECONFIG").map(std::path::PathBuf::from),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| unreachable(context, format!("cannot start the async runtime: {e}")))?;
        let client = runtime.block_on(source.client())?;
        Ok(ClusterApi {
            runtime,
            client,
            source,
            groups: Mutex::new(HashMap::new()),
        })
    }

    pub fn context(&self) -> &str {
        &self.source.context
    }

    /// Every object jardin manages of these kinds (as `jardin plan` reads them).
    pub fn list_managed(
        &self,
        cluster: &str,
        kinds: &[KindRef],
    ) -> Result<Vec<LiveObject>, Diagnostic> {
        self.source.list(cluster, kinds)
    }

    /// The discovery of one API group, read once.
    fn group(&self, group: &str) -> Result<Option<Arc<ApiGroup>>, Diagnostic> {
        if let Some(g) = self.groups.lock().map_err(|_| self.poisoned())?.get(group) {
            return Ok(g.clone());
        }
        let name = if group.is_empty() { "" } else { group };
        let found = match self
            .runtime
            .block_on(kube::discovery::group(&self.client, name))
        {
            Ok(g) => Some(Arc::new(g)),
            Err(kube::Error::Api(s)) if s.code == 404 => None,
            Err(kube::Error::Discovery(_)) => None,
            Err(e) => {
                return Err(unreachable(
                    self.context(),
                    format!("discovery of API group \"{group}\" failed: {e}"),
                ))
            }
        };
        self.groups
            .lock()
            .map_err(|_| self.poisoned())?
            .insert(group.to_string(), found.clone());
        Ok(found)
    }

    fn poisoned(&self) -> Diagnostic {
        unreachable(
            self.context(),
            "the discovery cache was poisoned".to_string(),
        )
    }

    /// How `api_version`/`kind` is reached on this cluster.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, Diagnostic> {
        let group = group_of(api_version);
        let version = jardin_core::kube::version_of(api_version);
        let not_served = |served: &str| {
            Diagnostic::error(
                code::KIND_NOT_SERVED,
                format!(
                    "cluster context \"{}\" does not serve {kind} in {api_version}{served}",
                    self.context()
                ),
            )
            .with_help(if group.contains('.') && !group.ends_with("k8s.io") {
                format!("install the operator that defines {kind} ({group}) before applying")
            } else {
                "jardin targets Kubernetes 1.25 or newer: upgrade the cluster".to_string()
            })
        };
        let Some(g) = self.group(group)? else {
            return Err(not_served(" (the API group is not served)"));
        };
        let in_version = |v: &str| {
            g.versioned_resources(v)
                .into_iter()
                .find(|(ar, _)| ar.kind == kind)
        };
        if let Some((resource, caps)) = in_version(version) {
            return Ok(Resolved {
                resource,
                namespaced: caps.scope == Scope::Namespaced,
                served_version: None,
            });
        }
        for (g_name, k, v) in SAME_FIELDS_IN {
            if *g_name == group && *k == kind {
                if let Some((resource, caps)) = in_version(v) {
                    return Ok(Resolved {
                        resource,
                        namespaced: caps.scope == Scope::Namespaced,
                        served_version: Some(format!("{group}/{v}")),
                    });
                }
            }
        }
        let versions: Vec<String> = g
            .versions()
            .filter(|v| in_version(v).is_some())
            .map(str::to_string)
            .collect();
        Err(not_served(&if versions.is_empty() {
            String::new()
        } else {
            format!(" (it serves {kind} in {})", versions.join(", "))
        }))
    }

    fn api(&self, resolved: &Resolved, namespace: &str) -> Api<DynamicObject> {
        if resolved.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &resolved.resource)
        } else {
            Api::all_with(self.client.clone(), &resolved.resource)
        }
    }

    /// Server-side apply of `object` as jardin. Returns the object as the
    /// server stored it (or would, in a dry run).
    pub fn apply(&self, object: &Value, dry_run: bool, force: bool) -> Result<Value, ApplyError> {
        let r = ObjectRef::of(object);
        let resolved = self
            .resolve(&r.api_version, &r.kind)
            .map_err(ApplyError::NotServed)?;
        let mut body = object.clone();
        if let Some(v) = &resolved.served_version {
            body["apiVersion"] = Value::String(v.clone());
        }
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.force = force;
        params.dry_run = dry_run;
        let api = self.api(&resolved, &r.namespace);
        match self
            .runtime
            .block_on(api.patch(&r.name, &params, &Patch::Apply(&body)))
        {
            Ok(o) => serde_json::to_value(o).map_err(|e| ApplyError::Rejected(e.to_string())),
            Err(kube::Error::Api(s)) => Err(api_error(&s)),
            Err(e) => Err(ApplyError::Unreachable(describe(&e))),
        }
    }

    /// Server-side dry-run applies of `objects`, `CONCURRENT` at a time
    /// over the client's connection: what `jardin plan` compares (one
    /// request each, and nothing stored). Results in the objects' order.
    pub fn dry_run_all(&self, objects: &[Value]) -> Vec<Result<Value, ApplyError>> {
        const CONCURRENT: usize = 16;
        let mut out = Vec::with_capacity(objects.len());
        for chunk in objects.chunks(CONCURRENT) {
            let mut tasks = tokio::task::JoinSet::new();
            let mut results: Vec<Option<Result<Value, ApplyError>>> =
                (0..chunk.len()).map(|_| None).collect();
            for (i, object) in chunk.iter().enumerate() {
                let r = ObjectRef::of(object);
                let resolved = match self.resolve(&r.api_version, &r.kind) {
                    Ok(resolved) => resolved,
                    Err(d) => {
                        results[i] = Some(Err(ApplyError::NotServed(d)));
                        continue;
                    }
                };
                let mut body = object.clone();
                if let Some(v) = &resolved.served_version {
                    body["apiVersion"] = Value::String(v.clone());
                }
                let api = self.api(&resolved, &r.namespace);
                let mut params = PatchParams::apply(FIELD_MANAGER);
                params.dry_run = true;
                tasks.spawn_on(
                    async move { (i, api.patch(&r.name, &params, &Patch::Apply(&body)).await) },
                    self.runtime.handle(),
                );
            }
            let joined = self.runtime.block_on(tasks.join_all());
            for (i, result) in joined {
                results[i] = Some(match result {
                    Ok(o) => {
                        serde_json::to_value(o).map_err(|e| ApplyError::Rejected(e.to_string()))
                    }
                    Err(kube::Error::Api(s)) => Err(api_error(&s)),
                    Err(e) => Err(ApplyError::Unreachable(describe(&e))),
                });
            }
            out.extend(results.into_iter().map(|r| {
                r.unwrap_or_else(|| Err(ApplyError::Unreachable("no answer".to_string())))
            }));
        }
        out
    }

    /// The object as it is now; None when it does not exist.
    pub fn get(&self, object: &ObjectRef) -> Result<Option<Value>, Diagnostic> {
        let resolved = self.resolve(&object.api_version, &object.kind)?;
        let api = self.api(&resolved, &object.namespace);
        match self.runtime.block_on(api.get_opt(&object.name)) {
            Ok(Some(o)) => {
                let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
                // The readiness rules read the kind.
                v["apiVersion"] = Value::String(object.api_version.clone());
                v["kind"] = Value::String(object.kind.clone());
                Ok(Some(v))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(unreachable(
                self.context(),
                format!("cannot read {object}: {}", describe(&e)),
            )),
        }
    }

    /// Deletes `object` if it still has `uid` (else the server refuses:
    /// the object was replaced since it was read). Ok(false) when it is
    /// already gone.
    pub fn delete(&self, object: &ObjectRef, uid: &str, dry_run: bool) -> Result<bool, Diagnostic> {
        let resolved = self.resolve(&object.api_version, &object.kind)?;
        let api = self.api(&resolved, &object.namespace);
        let params = DeleteParams {
            dry_run,
            preconditions: Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match self.runtime.block_on(api.delete(&object.name, &params)) {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(Diagnostic::error(
                code::DELETION_KEPT,
                format!("{object} was not deleted: its uid is no longer {uid} (it was replaced since it was read)"),
            )
            .with_help("make a new plan: the object now in the cluster is not the one that was reviewed")),
            Err(e) => Err(unreachable(
                self.context(),
                format!("cannot delete {object}: {}", describe(&e)),
            )),
        }
    }

    /// Waits (at most `timeout`) until `object` is gone: a recreate must
    /// not race its own deletion.
    pub fn wait_gone(&self, object: &ObjectRef, timeout: Duration) -> Result<bool, Diagnostic> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.get(object)?.is_none() {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The inventory parent, if it exists.
    pub fn get_parent(&self, parent: &ObjectRef) -> Result<Option<Value>, Diagnostic> {
        self.get(parent)
    }

    /// A kind to list, in the version the server prefers, for a
    /// `Kind.group` entry of the inventory.
    pub fn preferred(&self, group: &str, kind: &str) -> Result<Option<KindRef>, Diagnostic> {
        let Some(g) = self.group(group)? else {
            return Ok(None);
        };
        Ok(g.recommended_kind(kind).map(|(ar, _)| KindRef {
            api_version: ar.api_version.clone(),
            kind: ar.kind.clone(),
        }))
    }
}

/// The server's refusal, with a conflict's managers and fields.
fn api_error(s: &kube::core::Status) -> ApplyError {
    if s.code == 409 {
        let conflicts: Vec<(String, String)> = s
            .details
            .iter()
            .flat_map(|d| d.causes.iter())
            .filter(|c| c.reason == "FieldManagerConflict")
            .map(|c| (manager_of(&c.message), c.field.clone()))
            .collect();
        if !conflicts.is_empty() {
            return ApplyError::Conflict(conflicts);
        }
    }
    let causes: Vec<String> = s
        .details
        .iter()
        .flat_map(|d| d.causes.iter())
        .map(|c| {
            if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            }
        })
        .collect();
    let mut message = format!("{} ({} {})", s.message, s.code, s.reason);
    if !causes.is_empty() && !s.message.contains(&causes[0]) {
        message.push_str(": ");
        message.push_str(&causes.join("; "));
    }
    if s.code == 403 {
        return ApplyError::Forbidden(message);
    }
    ApplyError::Rejected(message)
}

/// `conflict with "kubectl-edit" using apps/v1` → `kubectl-edit`.
fn manager_of(message: &str) -> String {
    message.split('"').nth(1).unwrap_or(message).to_string()
}

// A decoding error could quote part of a body (a Secret's data): name only
// the position.
fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::SerdeError(se) => format!(
            "the response is not valid JSON (line {}, column {})",
            se.line(),
            se.column()
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_names_its_manager() {
        assert_eq!(
            manager_of("conflict with \"kubectl-edit\" using apps/v1"),
            "kubectl-edit"
        );
        assert_eq!(manager_of("odd"), "odd");
    }

    #[test]
    fn only_beta_twins_are_served_instead() {
        assert!(SAME_FIELDS_IN.iter().all(|(_, _, v)| v.contains("beta")));
    }
}
