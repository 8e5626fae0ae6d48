//! Live state: what runs now, read through one trait ([`LiveSource`]) with
//! two implementations: a snapshot on disk (`kubectl get -o yaml` output,
//! for tests and offline CI) and a Kubernetes cluster (`kube`, label-selected
//! lists per kind). Only this module and `apply` touch the network.
//!
//! Objects come back as raw JSON values; they may hold secret values, so
//! nothing here prints an object: `plan::secrets` seals them first.

pub mod snapshot;

use std::path::PathBuf;

use serde_json::Value;

use jardin_core::diag::Diagnostic;
use jardin_core::kube::MANAGED_BY;

/// A kind to list, as the API server names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KindRef {
    /// `apps/v1`, `v1`, `postgresql.cnpg.io/v1`, …
    pub api_version: String,
    pub kind: String,
}

/// The kinds jardin emits, listed even when the desired state has none of
/// them, so that objects of a kind no longer emitted are still found.
pub fn known_kinds() -> Vec<KindRef> {
    [
        ("v1", "Namespace"),
        ("v1", "Secret"),
        ("v1", "ConfigMap"),
        ("v1", "Service"),
        ("v1", "PersistentVolumeClaim"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "CronJob"),
        ("networking.k8s.io/v1", "Ingress"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("policy/v1", "PodDisruptionBudget"),
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("postgresql.cnpg.io/v1", "Database"),
        ("objectstorage.k8s.io/v1alpha1", "BucketClaim"),
        ("objectstorage.k8s.io/v1alpha1", "BucketAccess"),
    ]
    .into_iter()
    .map(|(a, k)| KindRef {
        api_version: a.to_string(),
        kind: k.to_string(),
    })
    .collect()
}

/// One object as it is in a cluster.
#[derive(Clone)]
pub struct LiveObject {
    pub cluster: String,
    pub value: Value,
}

// Deliberately not `Debug` over the value: it may hold Secret data.
impl std::fmt::Debug for LiveObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LiveObject({} {} {})",
            self.cluster,
            self.value["kind"].as_str().unwrap_or("?"),
            self.value["metadata"]["name"].as_str().unwrap_or("?")
        )
    }
}

/// Where the live state of clusters comes from.
pub trait LiveSource {
    /// Every object labelled `managed-by: jardin` of these kinds in `cluster`.
    fn list(&self, cluster: &str, kinds: &[KindRef]) -> Result<Vec<LiveObject>, Diagnostic>;
    /// For the plan header and its JSON (`snapshot examples/…/live`, `kube context x`).
    fn describe(&self) -> String;
}

/// What `--live` names for one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// A snapshot file or directory.
    Snapshot(PathBuf),
    /// A cluster through the kubeconfig; the context defaults to the
    /// cluster's id.
    Kube { context: Option<String> },
}

/// `--live` values: `PATH`, `CLUSTER=PATH`, `kube`, `kube:CONTEXT`,
/// `CLUSTER=kube[:CONTEXT]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveArg {
    pub cluster: Option<String>,
    pub spec: SourceSpec,
}

impl LiveArg {
    pub fn parse(s: &str) -> LiveArg {
        let (cluster, rest) = match s.split_once('=') {
            Some((c, r)) if !c.is_empty() && !c.contains('/') => (Some(c.to_string()), r),
            _ => (None, s),
        };
        let spec = if rest == "kube" {
            SourceSpec::Kube { context: None }
        } else if let Some(ctx) = rest.strip_prefix("kube:") {
            SourceSpec::Kube {
                context: Some(ctx.to_string()),
            }
        } else {
            SourceSpec::Snapshot(PathBuf::from(rest))
        };
        LiveArg { cluster, spec }
    }
}

/// Drops what no plan reads and that dominates a live object's size
/// (`managedFields`: often half the bytes), as soon as it is read.
pub fn slim(mut value: Value) -> Value {
    if let Some(Value::Object(meta)) = value.get_mut("metadata") {
        meta.remove("managedFields");
    }
    value
}

/// True when the object carries jardin's managed-by label.
pub fn is_managed(value: &Value) -> bool {
    value["metadata"]["labels"][MANAGED_BY] == "jardin"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_live_arguments() {
        assert_eq!(
            LiveArg::parse("a=kube:ctx"),
            LiveArg {
                cluster: Some("a".into()),
                spec: SourceSpec::Kube {
                    context: Some("ctx".into())
                }
            }
        );
        assert_eq!(
            LiveArg::parse("kube").spec,
            SourceSpec::Kube { context: None }
        );
        assert_eq!(
            LiveArg::parse("examples/x/live").spec,
            SourceSpec::Snapshot("examples/x/live".into())
        );
    }
}
