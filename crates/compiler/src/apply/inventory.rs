//! The inventory of what `jardin apply` put in a cluster, as a kubectl
//! ApplySet (KEP-3659): one parent object per cluster, whose annotations
//! list the group-kinds and namespaces of its members, and members labelled
//! `applyset.kubernetes.io/part-of: <id>`. `kubectl apply --prune
//! --applyset=secret/jardin-applyset -n jardin-system` reads the same set.
//!
//! The parent is a Secret (kubectl's default parent kind) in a namespace of
//! its own, so that no tenant namespace has to exist for it, and carries no
//! `managed-by: jardin` label: the plan never sees it as an orphan.

use std::collections::BTreeSet;

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use jardin_core::kube::group_of;

pub const PARENT_NAMESPACE: &str = "jardin-system";
pub const PARENT_NAME: &str = "jardin-applyset";
const ID_LABEL: &str = "applyset.kubernetes.io/id";
const TOOLING: &str = "applyset.kubernetes.io/tooling";
const GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
const NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";

/// The ApplySet id of the parent: `applyset-<base64url(sha256(name.namespace.kind.group))>-v1`,
/// as the ApplySet specification defines it (a Secret's group is empty).
pub fn id() -> String {
    let digest = Sha256::digest(format!("{PARENT_NAME}.{PARENT_NAMESPACE}.Secret.").as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// What the parent lists: the group-kinds of its members (`Deployment.apps`,
/// `Secret`) and the namespaces they live in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Members {
    pub group_kinds: BTreeSet<String>,
    pub namespaces: BTreeSet<String>,
}

/// `Kind.group`, or `Kind` for the core group.
pub fn group_kind(api_version: &str, kind: &str) -> String {
    match group_of(api_version) {
        "" => kind.to_string(),
        g => format!("{kind}.{g}"),
    }
}

/// `(group, kind)` of a `Kind.group` entry.
pub fn split_group_kind(gk: &str) -> (&str, &str) {
    gk.split_once('.').map_or(("", gk), |(k, g)| (g, k))
}

impl Members {
    /// The members of these objects.
    pub fn of<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Members {
        let mut m = Members::default();
        for o in objects {
            m.group_kinds.insert(group_kind(
                o["apiVersion"].as_str().unwrap_or(""),
                o["kind"].as_str().unwrap_or(""),
            ));
            if let Some(ns) = o["metadata"]["namespace"].as_str() {
                m.namespaces.insert(ns.to_string());
            }
        }
        m.namespaces.remove(PARENT_NAMESPACE);
        m
    }

    /// What the parent as read from the cluster lists; nothing when it does
    /// not exist yet.
    pub fn from_parent(parent: Option<&Value>) -> Members {
        let list = |key: &str| -> BTreeSet<String> {
            parent
                .and_then(|p| p["metadata"]["annotations"][key].as_str())
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Members {
            group_kinds: list(GROUP_KINDS),
            namespaces: list(NAMESPACES),
        }
    }

    pub fn union(&self, other: &Members) -> Members {
        Members {
            group_kinds: self
                .group_kinds
                .union(&other.group_kinds)
                .cloned()
                .collect(),
            namespaces: self.namespaces.union(&other.namespaces).cloned().collect(),
        }
    }

    /// The parent Secret listing these members, to apply.
    pub fn parent(&self) -> Value {
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": PARENT_NAME,
                "namespace": PARENT_NAMESPACE,
                "labels": { ID_LABEL: id() },
                "annotations": {
                    TOOLING: format!("jardin/v{}", env!("CARGO_PKG_VERSION")),
                    GROUP_KINDS: join(&self.group_kinds),
                    NAMESPACES: join(&self.namespaces),
                },
            },
        })
    }
}

/// The namespace holding the parent, to create before it.
pub fn parent_namespace() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": PARENT_NAMESPACE },
    })
}

/// Marks an object as a member.
pub fn label_member(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(
                jardin_core::kube::APPLYSET_PART_OF.to_string(),
                Value::String(id()),
            );
        }
    }
}

/// True when the live object is a member of jardin's ApplySet.
pub fn is_member(object: &Value) -> bool {
    object["metadata"]["labels"][jardin_core::kube::APPLYSET_PART_OF].as_str() == Some(&id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_follows_the_applyset_formula() {
        let id = id();
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"), "{id}");
        // sha256 is 32 bytes: 43 characters of unpadded base64url.
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        assert!(!id.contains('=') && !id.contains('+') && !id.contains('/'));
    }

    #[test]
    fn members_round_trip_through_the_parent() {
        let objects = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "t1"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t1"}}),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "db"}}),
        ];
        let m = Members::of(&objects);
        assert_eq!(
            m.group_kinds.iter().map(String::as_str).collect::<Vec<_>>(),
            ["Cluster.postgresql.cnpg.io", "Deployment.apps", "Namespace"]
        );
        let parent = m.parent();
        assert_eq!(Members::from_parent(Some(&parent)), m);
        assert_eq!(Members::from_parent(None), Members::default());
        assert_eq!(
            split_group_kind("Cluster.postgresql.cnpg.io"),
            ("postgresql.cnpg.io", "Cluster")
        );
        assert_eq!(split_group_kind("Namespace"), ("", "Namespace"));
    }

    #[test]
    fn members_are_labelled_and_recognised() {
        let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert!(!is_member(&o));
        label_member(&mut o);
        assert!(is_member(&o));
    }
}
