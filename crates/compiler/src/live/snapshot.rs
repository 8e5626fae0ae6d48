//! A snapshot of live state on disk: the output of
//! `kubectl get <kinds> -A -l app.kubernetes.io/managed-by=jardin -o yaml`
//! (a `List`), several such files, or plain multi-document YAML/JSON.
//!
//! Layout: a directory with one entry per cluster (`live/<cluster>/` holding
//! files, or `live/<cluster>.yaml`), or `--live CLUSTER=PATH` for one.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{is_managed, KindRef, LiveObject, LiveSource};
use jardin_core::code;
use jardin_core::diag::Diagnostic;

pub struct Snapshot {
    cluster: String,
    files: Vec<PathBuf>,
    shown: String,
}

fn error(message: String) -> Diagnostic {
    Diagnostic::error(code::SNAPSHOT_UNREADABLE, message).with_help(
        "a snapshot is the output of `kubectl get <kinds> -A -l app.kubernetes.io/managed-by=jardin -o yaml`; see docs/PLAN.md",
    )
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| error(format!("cannot read snapshot {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    Ok(files)
}

impl Snapshot {
    /// The snapshot of `cluster` under `path`. When `explicit`, `path` is
    /// that cluster's file or directory; otherwise it holds one entry per
    /// cluster.
    pub fn for_cluster(path: &Path, cluster: &str, explicit: bool) -> Result<Self, Diagnostic> {
        let target = if explicit {
            path.to_path_buf()
        } else {
            let dir = path.join(cluster);
            let file = path.join(format!("{cluster}.yaml"));
            if dir.is_dir() {
                dir
            } else if file.is_file() {
                file
            } else {
                return Err(Diagnostic::error(
                    code::NO_LIVE_SOURCE,
                    format!(
                        "the snapshot {} has no entry for cluster \"{cluster}\"",
                        path.display()
                    ),
                )
                .with_help(format!(
                    "add {}/{cluster}/ (an empty directory if nothing runs there), or pass --live {cluster}=FILE",
                    path.display()
                )));
            }
        };
        let files = if target.is_dir() {
            yaml_files(&target)?
        } else if target.is_file() {
            vec![target.clone()]
        } else {
            return Err(error(format!(
                "snapshot {} does not exist",
                target.display()
            )));
        };
        Ok(Snapshot {
            cluster: cluster.to_string(),
            files,
            shown: target.display().to_string(),
        })
    }
}

/// The objects of one document: a `List`'s items, or the object itself.
fn objects_of(doc: Value, file: &Path, out: &mut Vec<Value>) -> Result<(), Diagnostic> {
    if doc.is_null() {
        return Ok(());
    }
    let kind = doc["kind"].as_str().unwrap_or("").to_string();
    if kind == "List" || (kind.ends_with("List") && doc.get("items").is_some()) {
        let Value::Object(mut map) = doc else {
            return Ok(());
        };
        let items = match map.remove("items") {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(error(format!(
                    "{}: `items` of a {kind} is not a list",
                    file.display()
                )))
            }
        };
        // A typed list (`DeploymentList`) from the API leaves out the
        // items' own apiVersion and kind.
        let item_kind = kind.strip_suffix("List").unwrap_or("").to_string();
        let api_version = map.get("apiVersion").cloned();
        for (i, mut item) in items.into_iter().enumerate() {
            if !item.is_object() {
                return Err(error(format!(
                    "{}: item {i} is not an object",
                    file.display()
                )));
            }
            if item.get("kind").is_none() && !item_kind.is_empty() {
                item["kind"] = Value::String(item_kind.clone());
                if let Some(a) = &api_version {
                    item["apiVersion"] = a.clone();
                }
            }
            check_object(&item, file, i)?;
            out.push(item);
        }
        return Ok(());
    }
    check_object(&doc, file, 0)?;
    out.push(doc);
    Ok(())
}

// Only names and positions go into messages: an object may be a Secret.
fn check_object(v: &Value, file: &Path, index: usize) -> Result<(), Diagnostic> {
    let ok =
        v["apiVersion"].is_string() && v["kind"].is_string() && v["metadata"]["name"].is_string();
    if ok {
        Ok(())
    } else {
        Err(error(format!(
            "{}: object {index} has no apiVersion, kind or metadata.name",
            file.display()
        )))
    }
}

/// Parses one snapshot file (YAML, several documents, or JSON).
pub(crate) fn parse(text: &str, file: &Path) -> Result<Vec<Value>, Diagnostic> {
    let mut out = Vec::new();
    // `kubectl get -o json`: serde_json is several times faster than YAML
    // and holds no event buffer (docs/PERFORMANCE.md).
    if file.extension().is_some_and(|e| e == "json") {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            error(format!(
                "{}: not valid JSON at line {}, column {}",
                file.display(),
                e.line(),
                e.column()
            ))
        })?;
        objects_of(value, file, &mut out)?;
        return Ok(out);
    }
    for doc in yaml_serde::Deserializer::from_str(text) {
        // Parsing into an untyped value can only fail on syntax; the error
        // names a position, never a value.
        let value = Value::deserialize(doc).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            error(format!("{}: not valid YAML{at}", file.display()))
        })?;
        objects_of(value, file, &mut out)?;
    }
    Ok(out)
}

/// The live objects of `cluster` in the text of one snapshot file: those
/// of `kinds` that carry jardin's label, as [`Snapshot`] lists them. `file`
/// names the file in messages, and its extension (`.json` or not) chooses
/// the parser. Public for the fuzz targets (`fuzz/`), which feed it
/// arbitrary text: it must give objects or a diagnostic, never panic.
pub fn read_objects(
    text: &str,
    file: &Path,
    cluster: &str,
    kinds: &[KindRef],
) -> Result<Vec<LiveObject>, Diagnostic> {
    let mut out = Vec::new();
    for value in parse(text, file)? {
        // Same filter as the cluster source: our label, listed kinds.
        let kind = value["kind"].as_str().unwrap_or("");
        let group = jardin_core::kube::group_of(value["apiVersion"].as_str().unwrap_or(""));
        let listed = kinds
            .iter()
            .any(|k| k.kind == kind && jardin_core::kube::group_of(&k.api_version) == group);
        if is_managed(&value) && listed {
            out.push(LiveObject {
                cluster: cluster.to_string(),
                value: super::slim(value),
            });
        }
    }
    Ok(out)
}

impl LiveSource for Snapshot {
    fn list(&self, cluster: &str, kinds: &[KindRef]) -> Result<Vec<LiveObject>, Diagnostic> {
        let mut out = Vec::new();
        for file in &self.files {
            let text = std::fs::read_to_string(file)
                .map_err(|e| error(format!("cannot read {}: {e}", file.display())))?;
            out.extend(read_objects(&text, file, cluster, kinds)?);
        }
        debug_assert_eq!(cluster, self.cluster);
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("snapshot {}", self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_typed_lists_and_documents() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n---\nkind: DeploymentList\napiVersion: apps/v1\nmetadata: {resourceVersion: '1'}\nitems:\n- metadata: {name: d, namespace: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
        let objs = parse(text, Path::new("x.yaml")).unwrap();
        assert_eq!(objs.len(), 3);
        assert_eq!(objs[1]["kind"], "Deployment");
        assert_eq!(objs[1]["apiVersion"], "apps/v1");
    }

    #[test]
    fn bad_yaml_names_a_position_not_a_value() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: c2VjcmV0}\n  oops: [\n";
        let err = parse(text, Path::new("x.yaml")).unwrap_err();
        assert!(!err.message.contains("c2VjcmV0"), "{}", err.message);
    }

    #[test]
    fn reads_kubectl_json() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]}"#;
        assert_eq!(parse(text, Path::new("x.json")).unwrap().len(), 1);
        let err = parse("{\"data\": \"c2VjcmV0\"", Path::new("x.json")).unwrap_err();
        assert!(!err.message.contains("c2VjcmV0"), "{}", err.message);
    }

    #[test]
    fn odd_input_gives_errors_not_panics() {
        for text in [
            "",
            "---\n---\n",
            "- a\n- b\n",
            "kind: List\nitems: 5\n",
            "kind: List\nitems: [1, null]\n",
            "kind: SecretList\nitems: [{metadata: {name: 3}}]\n",
            "apiVersion: v1\nkind: Secret\n",
            "{\"kind\": \"List\", \"items\": [{\"kind\": \"Secret\"}]}",
            "a: &x [*x]\n",
            "\u{0}\u{1}: [",
            "key: !!binary aGVsbG8=\n",
        ] {
            let _ = parse(text, Path::new("x.yaml"));
        }
    }
}
