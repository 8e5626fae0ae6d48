//! Structural comparison of two normalized objects, per field path.
//!
//! Paths read like kubectl's: `spec.template.spec.containers[name=web].image`,
//! `metadata.labels["app.kubernetes.io/version"]`, `spec.ports[0].port`.
//! Lists whose items all have a unique `name` are matched by name (as
//! Kubernetes merges them), other lists of objects by position, lists of
//! scalars as a whole.

use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Op {
    /// Set by us, absent live.
    Add,
    /// Present live, not set by us (and not a known default).
    Remove,
    Replace,
}

/// One changed field. Values are normalized and secret-masked.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct FieldChange {
    pub(crate) path: String,
    pub(crate) op: Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) after: Option<Value>,
}

fn simple_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn key_segment(path: &str, k: &str) -> String {
    if simple_key(k) {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    } else {
        format!("{path}[{}]", Value::String(k.to_string()))
    }
}

/// The names of a list's items, when every item has a unique `name`.
fn names(items: &[Value]) -> Option<Vec<&str>> {
    let names: Vec<&str> = items
        .iter()
        .map(|i| i.get("name").and_then(Value::as_str))
        .collect::<Option<_>>()?;
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    (sorted.len() == names.len()).then_some(names)
}

/// Every field that differs from `live` to `desired`, in path order.
pub(crate) fn diff(live: &Value, desired: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(live, desired, String::new(), &mut out);
    out
}

fn walk(live: &Value, desired: &Value, path: String, out: &mut Vec<FieldChange>) {
    if live == desired {
        return;
    }
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            let mut keys: Vec<&String> = l.keys().chain(d.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = key_segment(&path, k);
                pair(l.get(k), d.get(k), p, out);
            }
        }
        (Value::Array(l), Value::Array(d)) if l.iter().chain(d).any(Value::is_object) => {
            if let (Some(ln), Some(dn)) = (names(l), names(d)) {
                // By name, in desired order, then live-only names.
                for (i, name) in dn.iter().enumerate() {
                    let p = format!("{path}[name={name}]");
                    match ln.iter().position(|n| n == name) {
                        Some(j) => walk(&l[j], &d[i], p, out),
                        None => out.push(FieldChange {
                            path: p,
                            op: Op::Add,
                            before: None,
                            after: Some(d[i].clone()),
                        }),
                    }
                }
                for (j, name) in ln.iter().enumerate() {
                    if !dn.contains(name) {
                        out.push(FieldChange {
                            path: format!("{path}[name={name}]"),
                            op: Op::Remove,
                            before: Some(l[j].clone()),
                            after: None,
                        });
                    }
                }
            } else {
                for i in 0..l.len().max(d.len()) {
                    let p = format!("{path}[{i}]");
                    pair(l.get(i), d.get(i), p, out);
                }
            }
        }
        _ => out.push(FieldChange {
            path,
            op: Op::Replace,
            before: Some(live.clone()),
            after: Some(desired.clone()),
        }),
    }
}

/// True when `path` is `prefix` or lies below it.
pub(crate) fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// One member present on either side: recurse, or record an addition or a
/// removal.
fn pair(live: Option<&Value>, desired: Option<&Value>, path: String, out: &mut Vec<FieldChange>) {
    match (live, desired) {
        (Some(lv), Some(dv)) => walk(lv, dv, path, out),
        (None, Some(dv)) => out.push(FieldChange {
            path,
            op: Op::Add,
            before: None,
            after: Some(dv.clone()),
        }),
        (Some(lv), None) => out.push(FieldChange {
            path,
            op: Op::Remove,
            before: Some(lv.clone()),
            after: None,
        }),
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_by_name_and_key() {
        let live = json!({"metadata":{"labels":{"app.kubernetes.io/version":"1"}},"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}});
        let desired = json!({"metadata":{"labels":{"app.kubernetes.io/version":"2"}},"spec":{"containers":[{"name":"b","image":"y"},{"name":"a","image":"z"}]}});
        let paths: Vec<String> = diff(&live, &desired).into_iter().map(|c| c.path).collect();
        assert_eq!(
            paths,
            vec![
                "metadata.labels[\"app.kubernetes.io/version\"]".to_string(),
                "spec.containers[name=a].image".to_string(),
            ]
        );
    }

    #[test]
    fn under_is_segment_aware() {
        assert!(under("spec.selector.matchLabels", "spec.selector"));
        assert!(!under("spec.selectorX", "spec.selector"));
    }
}
