//! The upstream CustomResourceDefinitions of the operators whose objects
//! jardin emits (CloudNativePG, k8up, COSI), and their adaptation to the
//! Kubernetes 1.20 API server of `kube_apiserver.rs`.
//!
//! They are read, at test time, from `<repo>/../shared/crds/` (CI has the
//! same `shared/` next to its clone), never copied into the repository:
//! see the README there for their versions and upstream paths.
//!
//! A 1.20 server refuses them as published. `adapt_for_1_20` changes the
//! parsed YAML (parsed by `yaml_serde`) as that README says, and counts
//! what it changed:
//!
//! - every `x-kubernetes-validations` (CEL rules, 1.25+) is dropped;
//! - every empty string default (`default: ""`) is dropped;
//! - a `x-kubernetes-list-type: map` list one of whose keys has just lost
//!   its default (and is not required) becomes `atomic`, without its
//!   `x-kubernetes-list-map-keys`;
//! - a CRD whose group ends in `k8s.io` gets the annotation
//!   `api-approved.kubernetes.io: "unapproved, test only"`.
//!
//! Include it with `#[path = "support/crds.rs"] mod crds;`. `install`
//! server-side applies the adapted CRDs through kube-rs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Map, Value};

/// The annotation a CRD of a `*.k8s.io` group needs (KEP-1111), and the
/// value that says it is not an approved Kubernetes API.
pub(crate) const APPROVAL_ANNOTATION: &str = "api-approved.kubernetes.io";
pub(crate) const APPROVAL_VALUE: &str = "unapproved, test only";

/// One upstream CRD: as published, and as a 1.20 server accepts it.
#[derive(Clone, Debug)]
pub(crate) struct UpstreamCrd {
    /// The file it comes from, e.g. `cnpg-v1.27.4-clusters.yaml`.
    pub(crate) file: String,
    /// `metadata.name`, e.g. `clusters.postgresql.cnpg.io`.
    pub(crate) name: String,
    pub(crate) group: String,
    pub(crate) kind: String,
    /// The versions it serves, e.g. `["v1"]`.
    pub(crate) served: Vec<String>,
    /// As published.
    pub(crate) original: Value,
    /// As a 1.20 server accepts it.
    pub(crate) adapted: Value,
    pub(crate) changes: Changes,
}

/// What `adapt_for_1_20` changed in one CRD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// `x-kubernetes-validations` dropped (each one a list of CEL rules).
    pub(crate) validations: usize,
    /// Empty string defaults dropped.
    pub(crate) empty_defaults: usize,
    /// Map lists made atomic because a key lost its default.
    pub(crate) atomic_lists: usize,
    /// The `api-approved.kubernetes.io` annotation added.
    pub(crate) approval: bool,
}

impl std::fmt::Display for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} x-kubernetes-validations dropped, {} empty defaults dropped, {} map lists made atomic{}",
            self.validations,
            self.empty_defaults,
            self.atomic_lists,
            if self.approval {
                ", api-approved annotation added"
            } else {
                ""
            }
        )
    }
}

impl UpstreamCrd {
    /// True if this CRD serves `apiVersion` (`group/version`) `kind`.
    pub(crate) fn serves(&self, api_version: &str, kind: &str) -> bool {
        match api_version.split_once('/') {
            Some((group, version)) => {
                group == self.group && kind == self.kind && self.served.iter().any(|v| v == version)
            }
            None => false,
        }
    }

    /// The published `openAPIV3Schema` of one version.
    pub(crate) fn schema(&self, version: &str) -> Option<&Value> {
        self.original["spec"]["versions"]
            .as_array()?
            .iter()
            .find(|v| v["name"] == version)?
            .pointer("/schema/openAPIV3Schema")
    }
}

/// `<repo>/../shared/crds`, where the upstream CRDs are; a panic (never a
/// skip) when it is missing.
pub(crate) fn dir(repo: &Path) -> PathBuf {
    let dir = repo.join("../shared/crds");
    if !dir.join("README.md").is_file() {
        panic!(
            "upstream CRDs not found in {}: the tests read them from `shared/crds/` next to \
             the repository's clone (never from a copy inside it)",
            dir.display()
        );
    }
    dir
}

/// Every CRD of every `*.yaml` file in `dir`, sorted by file, adapted.
pub(crate) fn load(dir: &Path) -> Vec<UpstreamCrd> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for doc in parse_documents(&text).unwrap_or_else(|e| panic!("{file}: {e}")) {
            if doc["kind"] != "CustomResourceDefinition" {
                continue;
            }
            let mut adapted = doc.clone();
            let changes = adapt_for_1_20(&mut adapted);
            let text = |p: &str| {
                doc.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let served = doc["spec"]["versions"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .filter(|v| v["served"] != false)
                        .filter_map(|v| v["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push(UpstreamCrd {
                file: file.clone(),
                name: text("/metadata/name"),
                group: text("/spec/group"),
                kind: text("/spec/names/kind"),
                served,
                original: doc,
                adapted,
                changes,
            });
        }
    }
    assert!(!out.is_empty(), "no CRD in {}", dir.display());
    out
}

/// Every non-empty document of a YAML stream, each parsed by `yaml_serde`
/// (a line `---` at column 0 always separates documents: inside a block
/// scalar it would be indented).
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().unwrap();
            doc.push_str(line);
            doc.push('\n');
        }
    }
    let mut out = Vec::new();
    for doc in docs {
        let value: Value = yaml_serde::from_str(&doc).map_err(|e| e.to_string())?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// Changes one parsed CRD so that a 1.20 API server accepts it (see the
/// header), and says what it changed.
pub(crate) fn adapt_for_1_20(crd: &mut Value) -> Changes {
    let mut changes = Changes::default();
    if let Some(versions) = crd
        .pointer_mut("/spec/versions")
        .and_then(Value::as_array_mut)
    {
        for version in versions {
            if let Some(schema) = version.pointer_mut("/schema/openAPIV3Schema") {
                adapt_schema(schema, &mut changes);
            }
        }
    }
    // The pre-v1 place of the schema, in case a file still has it.
    if let Some(schema) = crd.pointer_mut("/spec/validation/openAPIV3Schema") {
        adapt_schema(schema, &mut changes);
    }
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    if group == "k8s.io" || group.ends_with(".k8s.io") {
        let metadata = crd
            .as_object_mut()
            .expect("a CRD is an object")
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let annotations = metadata
            .as_object_mut()
            .expect("metadata is an object")
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = annotations.as_object_mut() {
            if !a.contains_key(APPROVAL_ANNOTATION) {
                a.insert(APPROVAL_ANNOTATION.into(), APPROVAL_VALUE.into());
                changes.approval = true;
            }
        }
    }
    changes
}

/// One JSONSchemaProps node and, through its sub-schemas (never through
/// `default`, `enum` or `example`, which are values), every node below it.
fn adapt_schema(node: &mut Value, changes: &mut Changes) {
    let Some(obj) = node.as_object_mut() else {
        return;
    };
    if obj.remove("x-kubernetes-validations").is_some() {
        changes.validations += 1;
    }
    if obj.get("default").is_some_and(is_empty_string) {
        obj.remove("default");
        changes.empty_defaults += 1;
    }

    // The list-map keys of this node that lose their default below and are
    // not required.
    let mut keys_losing_default = Vec::new();
    if obj.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
        let items = obj.get("items").unwrap_or(&Value::Null);
        let required = strings(items.get("required"));
        for key in strings(obj.get("x-kubernetes-list-map-keys")) {
            let default = items.pointer(&format!("/properties/{key}/default"));
            if default.is_some_and(is_empty_string) && !required.contains(&key) {
                keys_losing_default.push(key);
            }
        }
    }

    for map in ["properties", "patternProperties", "definitions"] {
        if let Some(props) = obj.get_mut(map).and_then(Value::as_object_mut) {
            for p in props.values_mut() {
                adapt_schema(p, changes);
            }
        }
    }
    for single in ["items", "additionalProperties", "additionalItems", "not"] {
        match obj.get_mut(single) {
            Some(Value::Array(schemas)) => {
                schemas.iter_mut().for_each(|s| adapt_schema(s, changes))
            }
            Some(s @ Value::Object(_)) => adapt_schema(s, changes),
            _ => {}
        }
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        if let Some(schemas) = obj.get_mut(combinator).and_then(Value::as_array_mut) {
            schemas.iter_mut().for_each(|s| adapt_schema(s, changes));
        }
    }

    if !keys_losing_default.is_empty() {
        obj.insert("x-kubernetes-list-type".into(), "atomic".into());
        obj.remove("x-kubernetes-list-map-keys");
        changes.atomic_lists += 1;
    }
}

fn is_empty_string(v: &Value) -> bool {
    v.as_str() == Some("")
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Server-side applies every adapted upstream CRD and waits until each is
/// Established (a CRD the server refuses is a panic: the test cannot say
/// anything about the objects of its kind).
pub(crate) async fn install(client: &kube::Client, crds: &[UpstreamCrd], manager: &str) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(manager).force();
    for crd in crds {
        if let Err(e) = api
            .patch(&crd.name, &params, &Patch::Apply(&crd.adapted))
            .await
        {
            panic!(
                "the 1.20 server refuses the upstream CRD {} ({}, adapted: {}): {}",
                crd.name, crd.file, crd.changes, e
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for crd in crds {
        loop {
            let got = api.get(&crd.name).await.unwrap();
            let conditions = got
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            if conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "CRD {} not Established after 30 s: {conditions:?}",
                crd.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adaptation() {
        let mut crd = json!({
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "things.example.k8s.io"},
            "spec": {"group": "example.k8s.io", "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
                "type": "object",
                "x-kubernetes-validations": [{"rule": "true"}],
                "properties": {"spec": {"type": "object", "properties": {
                    "env": {"type": "array", "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "properties": {
                                "name": {"type": "string", "default": ""},
                                "value": {"type": "string", "default": "x"}}}},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map",
                              "x-kubernetes-list-map-keys": ["port"],
                              "items": {"type": "object", "required": ["port"], "properties": {
                                  "port": {"type": "integer"},
                                  "name": {"type": "string", "default": ""}}}}}}}}}}]}
        });
        let c = adapt_for_1_20(&mut crd);
        assert_eq!(
            c,
            Changes {
                validations: 1,
                empty_defaults: 2,
                atomic_lists: 1,
                approval: true
            }
        );
        let spec = crd
            .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties")
            .unwrap();
        assert_eq!(spec["env"]["x-kubernetes-list-type"], "atomic");
        assert!(spec["env"].get("x-kubernetes-list-map-keys").is_none());
        assert_eq!(spec["env"]["items"]["properties"]["value"]["default"], "x");
        assert_eq!(spec["ports"]["x-kubernetes-list-type"], "map");
        assert_eq!(
            crd["metadata"]["annotations"][APPROVAL_ANNOTATION],
            APPROVAL_VALUE
        );
    }
}
