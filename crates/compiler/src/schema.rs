//! Schema validation of every emitted object against the JSON schema of its
//! kind (Kubernetes 1.33 and the CRDs we emit), before anything is written.
//! The schemas are embedded; `scripts/extract-schemas.py` regenerates them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

include!(concat!(env!("OUT_DIR"), "/schema_files.rs"));

/// A schema violation, without source location (the caller adds it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the object, e.g. `/spec/replicas`.
    pub path: String,
    pub message: String,
}

type Validators = BTreeMap<String, Result<jsonschema::Validator, String>>;

fn validators() -> &'static Validators {
    static VALIDATORS: OnceLock<Validators> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let files: BTreeMap<&str, &str> = SCHEMA_FILES.iter().copied().collect();
        let index: BTreeMap<String, String> = files
            .get("index.json")
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        index
            .into_iter()
            .map(|(kind, file)| {
                let compiled = files
                    .get(file.as_str())
                    .ok_or_else(|| format!("schema file {file} is missing"))
                    .and_then(|text| serde_json::from_str::<Value>(text).map_err(|e| e.to_string()))
                    .and_then(|schema| {
                        jsonschema::draft202012::options()
                            .should_validate_formats(true)
                            .build(&schema)
                            .map_err(|e| e.to_string())
                    });
                (kind, compiled)
            })
            .collect()
    })
}

/// `apiVersion/Kind` of an object, the key of its schema.
pub(crate) fn kind_key(object: &Value) -> String {
    let api = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    format!("{api}/{kind}")
}

/// Validates one object; an unknown kind is itself a violation, so nothing
/// unchecked is ever written.
pub fn validate(object: &Value) -> Vec<Violation> {
    let key = kind_key(object);
    match validators().get(&key) {
        None => vec![Violation {
            path: String::new(),
            message: format!("no schema for kind {key}: jardin emits only kinds it can validate"),
        }],
        Some(Err(e)) => vec![Violation {
            path: String::new(),
            message: format!("schema for {key} is broken: {e}"),
        }],
        // Nearly every object is valid: the cheap yes/no check first, the
        // errors (with their paths and messages) only for the rest.
        Some(Ok(v)) if v.is_valid(object) => Vec::new(),
        Some(Ok(v)) => {
            let mut out: Vec<Violation> = v
                .iter_errors(object)
                .map(|e| Violation {
                    path: e.instance_path().to_string(),
                    message: e.to_string(),
                })
                .collect();
            out.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
            out.dedup();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_embedded_schema_compiles() {
        for (kind, v) in validators() {
            assert!(v.is_ok(), "{kind}: {:?}", v.as_ref().err());
        }
        assert!(validators().len() >= 18);
    }

    #[test]
    fn rejects_wrong_types_and_unknown_fields() {
        let good = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}});
        assert!(validate(&good).is_empty());
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
            "spec": {"replicas": "two", "selector": {}, "template": {"spec": {"containers": [{"name": "c", "imagePullPolicyy": "x"}]}}}});
        let v = validate(&bad);
        assert!(v.iter().any(|v| v.path == "/spec/replicas"), "{v:?}");
        assert!(
            v.iter()
                .any(|v| v.path.starts_with("/spec/template/spec/containers/0")),
            "{v:?}"
        );
        assert_eq!(
            validate(&json!({"apiVersion": "x/v1", "kind": "Y"})).len(),
            1
        );
    }
}
