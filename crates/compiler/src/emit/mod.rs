//! Emit: the desired state, as objects and files. Pure functions from the
//! model to objects (`k8s`), and one function that writes a whole output
//! directory atomically (`write`).

pub(crate) mod flows;
pub(crate) mod k8s;
pub(crate) mod services;
pub mod write;
pub(crate) mod yaml;

use serde_json::Value;

/// One object of the desired state, with what it belongs to.
#[derive(Clone, Debug)]
pub struct DesiredObject {
    pub cluster: String,
    pub(crate) tenant: Option<String>,
    /// The app instance (key in the tenant's `apps`) that produced it.
    pub(crate) instance: Option<String>,
    pub value: Value,
}

impl DesiredObject {
    pub(crate) fn new(
        cluster: &str,
        tenant: Option<String>,
        instance: Option<String>,
        value: Value,
    ) -> Self {
        DesiredObject {
            cluster: cluster.to_string(),
            tenant,
            instance,
            value,
        }
    }

    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    /// The tenant it belongs to; None for what tenants share.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    pub(crate) fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }

    pub(crate) fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"].as_str()
    }

    /// `k8s/<cluster>/<namespace or _cluster>/<kind>-<name>.yaml`
    pub(crate) fn path(&self) -> String {
        format!(
            "k8s/{}/{}/{}-{}.yaml",
            self.cluster,
            self.namespace().unwrap_or("_cluster"),
            self.kind().to_lowercase(),
            self.name()
        )
    }

    /// The identity of the object in its cluster.
    pub(crate) fn key(&self) -> (String, String, String, String) {
        (
            self.cluster.clone(),
            self.namespace().unwrap_or("").to_string(),
            self.kind().to_string(),
            self.name().to_string(),
        )
    }
}

/// Serializes an object as YAML. Keys are sorted (serde_json's map is a
/// BTreeMap here), so the same object always gives the same bytes.
pub(crate) fn to_yaml(value: &Value) -> String {
    yaml::to_string(value)
}
