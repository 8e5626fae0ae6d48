//! Normalization: both sides of a comparison are brought to the same form
//! before they are compared, so that a plan shows what jardin would change
//! and nothing else.
//!
//! 1. [`common`] (both sides): drop `status`, server-set metadata
//!    (`managedFields`, `resourceVersion`, `uid`, `generation`,
//!    `creationTimestamp`, …) and kubectl's last-applied annotation.
//! 2. [`ignore`] (both sides): the collective's reviewed ignore list
//!    (`plan.ignore` in jardin.ncl), fields that controllers own.
//! 3. [`live_against`] (live side, knowing the desired object): drop fields
//!    the API server or a known controller fills in, when our manifest does
//!    not set them ([`DEFAULTS`]); keep only what we set for kinds jardin
//!    shares with an operator ([`PARTIAL_KINDS`]); drop Secret data the
//!    in-cluster generator or replicator owns.
//!
//! Pointers are JSON pointers (`~1` for `/`) where a `*` segment matches any
//! key or array item.

use std::sync::OnceLock;

use serde_json::{json, Value};

use jardin_core::kube::{GENERATE_ANNOTATION, REPLICATE_FROM};
pub(crate) use jardin_core::model::IgnoreRule;

/// Kinds whose spec an operator fills far beyond what jardin sets (a shared
/// CloudNativePG `Cluster`: its defaults, its status-driven fields). Only
/// the fields we set are compared, and such an object, which holds every
/// tenant's database, is never deleted by a plan.
pub(crate) const PARTIAL_KINDS: &[(&str, &str)] = &[("postgresql.cnpg.io", "Cluster")];

pub(crate) fn is_partial(group: &str, kind: &str) -> bool {
    PARTIAL_KINDS.iter().any(|(g, k)| *g == group && *k == kind)
}

/// A field the API server (or a controller jardin relies on) sets when the
/// manifest does not. `value`: dropped only when the live value is this
/// one (used where any other value would be a real edit).
pub(crate) struct Default {
    pub(crate) kinds: &'static [&'static str],
    /// The JSON pointer, split once (this table is walked for every live object).
    segments: Vec<String>,
    pub(crate) value: Option<Value>,
}

const POD_TEMPLATE_KINDS: &[(&str, &str)] = &[
    ("Deployment", "/spec/template/spec"),
    ("StatefulSet", "/spec/template/spec"),
    ("DaemonSet", "/spec/template/spec"),
    ("Job", "/spec/template/spec"),
    ("CronJob", "/spec/jobTemplate/spec/template/spec"),
];

/// Fields defaulted inside a pod spec, relative to it.
fn pod_defaults() -> Vec<(String, Option<Value>)> {
    let mut v: Vec<(String, Option<Value>)> = vec![
        ("/restartPolicy".into(), None),
        ("/terminationGracePeriodSeconds".into(), None),
        ("/dnsPolicy".into(), None),
        ("/schedulerName".into(), None),
        ("/securityContext".into(), Some(json!({}))),
        ("/volumes/*/configMap/defaultMode".into(), None),
        ("/volumes/*/secret/defaultMode".into(), None),
        ("/volumes/*/projected/defaultMode".into(), None),
    ];
    for list in ["containers", "initContainers"] {
        for f in [
            "terminationMessagePath",
            "terminationMessagePolicy",
            "imagePullPolicy",
            "ports/*/protocol",
            "env/*/valueFrom/fieldRef/apiVersion",
        ] {
            v.push((format!("/{list}/*/{f}"), None));
        }
        v.push((format!("/{list}/*/resources"), Some(json!({}))));
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            for f in [
                "timeoutSeconds",
                "periodSeconds",
                "successThreshold",
                "failureThreshold",
                "httpGet/scheme",
            ] {
                v.push((format!("/{list}/*/{probe}/{f}"), None));
            }
        }
    }
    v
}

/// The table of server-defaulted and controller-owned fields.
pub(crate) fn defaults() -> &'static [Default] {
    static TABLE: OnceLock<Vec<Default>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::new();
        let mut add = |kinds: &'static [&'static str], pointer: &str, value: Option<Value>| {
            t.push(Default {
                kinds,
                segments: segments(pointer),
                value,
            })
        };
        // Every kind: finalizers are set by controllers (pvc-protection, cosi, cnpg).
        add(&["*"], "/metadata/finalizers", None);
        for (kind, prefix) in POD_TEMPLATE_KINDS {
            let kinds: &'static [&'static str] = match *kind {
                "Deployment" => &["Deployment"],
                "StatefulSet" => &["StatefulSet"],
                "DaemonSet" => &["DaemonSet"],
                "Job" => &["Job"],
                _ => &["CronJob"],
            };
            for (p, v) in pod_defaults() {
                add(kinds, &format!("{prefix}{p}"), v);
            }
        }
        for p in [
            "/spec/replicas",
            "/spec/revisionHistoryLimit",
            "/spec/progressDeadlineSeconds",
            "/spec/strategy",
            "/spec/strategy/rollingUpdate",
            "/metadata/annotations/deployment.kubernetes.io~1revision",
        ] {
            add(&["Deployment"], p, None);
        }
        for p in [
            "/spec/replicas",
            "/spec/revisionHistoryLimit",
            "/spec/podManagementPolicy",
            "/spec/updateStrategy",
            "/spec/persistentVolumeClaimRetentionPolicy",
        ] {
            add(&["StatefulSet"], p, None);
        }
        for p in [
            "/spec/concurrencyPolicy",
            "/spec/failedJobsHistoryLimit",
            "/spec/successfulJobsHistoryLimit",
            "/spec/suspend",
        ] {
            add(&["CronJob"], p, None);
        }
        for p in [
            "/spec/clusterIP",
            "/spec/clusterIPs",
            "/spec/sessionAffinity",
            "/spec/ipFamilies",
            "/spec/ipFamilyPolicy",
            "/spec/internalTrafficPolicy",
            "/spec/externalTrafficPolicy",
            "/spec/allocateLoadBalancerNodePorts",
            "/spec/ports/*/protocol",
            "/spec/ports/*/targetPort",
            "/spec/ports/*/nodePort",
        ] {
            add(&["Service"], p, None);
        }
        add(&["Service"], "/spec/type", Some(json!("ClusterIP")));
        for p in [
            "/spec/volumeName",
            "/spec/volumeMode",
            "/spec/storageClassName",
            "/metadata/annotations/pv.kubernetes.io~1bind-completed",
            "/metadata/annotations/pv.kubernetes.io~1bound-by-controller",
            "/metadata/annotations/volume.beta.kubernetes.io~1storage-provisioner",
            "/metadata/annotations/volume.kubernetes.io~1storage-provisioner",
            "/metadata/annotations/volume.kubernetes.io~1selected-node",
        ] {
            add(&["PersistentVolumeClaim"], p, None);
        }
        add(
            &["Namespace"],
            "/metadata/labels/kubernetes.io~1metadata.name",
            None,
        );
        add(&["Namespace"], "/spec/finalizers", None);
        // The secret generator and replicator record what they did.
        for p in [
            "/metadata/annotations/secret-generator.v1.mittwald.de~1autogenerate-generated-at",
            "/metadata/annotations/secret-generator.v1.mittwald.de~1secure",
            "/metadata/annotations/secret-generator.v1.mittwald.de~1type",
            "/metadata/annotations/replicator.v1.mittwald.de~1replicated-at",
            "/metadata/annotations/replicator.v1.mittwald.de~1replicated-from-version",
            "/metadata/annotations/replicator.v1.mittwald.de~1replicated-keys",
        ] {
            add(&["Secret"], p, None);
        }
        t
    })
}

/// Splits a JSON pointer into unescaped segments.
pub(crate) fn segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Step 1, both sides.
pub(crate) fn common(value: &mut Value) {
    let Value::Object(obj) = value else {
        return;
    };
    obj.remove("status");
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.remove(k);
        }
        if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
            ann.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
        // `jardin apply` marks what it applied as a member of its ApplySet:
        // bookkeeping, not configuration.
        if let Some(Value::Object(labels)) = meta.get_mut("labels") {
            labels.remove(jardin_core::kube::APPLYSET_PART_OF);
        }
        for k in ["annotations", "labels"] {
            if meta
                .get(k)
                .is_some_and(|v| v.as_object().is_some_and(|m| m.is_empty()) || v.is_null())
            {
                meta.remove(k);
            }
        }
    }
    // `creationTimestamp: null` in pod and job templates.
    strip_template_timestamps(value);
    // The API server leaves out empty lists and nulls (`ports: []`).
    drop_empty_lists(value);
}

fn drop_empty_lists(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty)));
            map.values_mut().for_each(drop_empty_lists);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_lists),
        _ => {}
    }
}

fn strip_template_timestamps(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "metadata" {
                    if let Value::Object(m) = v {
                        if m.get("creationTimestamp").is_some_and(Value::is_null) {
                            m.remove("creationTimestamp");
                        }
                    }
                }
                strip_template_timestamps(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_template_timestamps),
        _ => {}
    }
}

/// Removes every field matching `pointer` (with `*` segments).
fn remove_matching(value: &mut Value, segs: &[String]) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = if first == "*" {
                map.keys().cloned().collect()
            } else {
                vec![first.clone()]
            };
            for k in keys {
                if rest.is_empty() {
                    map.remove(&k);
                } else if let Some(child) = map.get_mut(&k) {
                    remove_matching(child, rest);
                }
            }
        }
        Value::Array(items) => {
            if rest.is_empty() {
                if first == "*" {
                    items.clear();
                } else if let Ok(i) = first.parse::<usize>() {
                    if i < items.len() {
                        items.remove(i);
                    }
                }
            } else {
                for (i, child) in items.iter_mut().enumerate() {
                    if first == "*" || first.parse::<usize>().ok() == Some(i) {
                        remove_matching(child, rest);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Step 2, both sides: the collective's ignore list.
pub(crate) fn ignore(value: &mut Value, kind: &str, rules: &[IgnoreRule]) {
    for r in rules.iter().filter(|r| r.kind == "*" || r.kind == kind) {
        remove_matching(value, &segments(&r.pointer));
    }
}

/// The item of `desired` (an array) that corresponds to `live_item` at
/// index `i`: by `name` when items have one, else by position.
fn counterpart<'a>(desired: Option<&'a Value>, live_item: &Value, i: usize) -> Option<&'a Value> {
    let items = desired?.as_array()?;
    match live_item.get("name").and_then(Value::as_str) {
        Some(name) => items.iter().find(|d| d["name"] == name),
        None => items.get(i),
    }
}

/// Drops from `live` the fields matching `segs` that `desired` does not set
/// (and whose value is `expected`, when given).
fn drop_unset(
    live: &mut Value,
    desired: Option<&Value>,
    segs: &[String],
    expected: Option<&Value>,
) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    match live {
        Value::Object(map) => {
            let keys: Vec<String> = if first == "*" {
                map.keys().cloned().collect()
            } else {
                vec![first.clone()]
            };
            for k in keys {
                let d = desired.and_then(|d| d.get(&k));
                if rest.is_empty() {
                    let matches = expected.is_none_or(|e| map.get(&k) == Some(e));
                    if d.is_none() && matches {
                        map.remove(&k);
                    }
                } else if let Some(child) = map.get_mut(&k) {
                    drop_unset(child, d, rest, expected);
                }
            }
        }
        Value::Array(items) if !rest.is_empty() => {
            for (i, child) in items.iter_mut().enumerate() {
                if first == "*" || first.parse::<usize>().ok() == Some(i) {
                    let d = counterpart(desired, child, i);
                    drop_unset(child, d, rest, expected);
                }
            }
        }
        _ => {}
    }
}

/// Removes empty maps from `live` that `desired` does not have (left over
/// once defaults are gone, such as a Namespace's `spec: {}`).
fn drop_empty_unset(live: &mut Value, desired: Option<&Value>) {
    if let Value::Object(map) = live {
        let keys: Vec<String> = map.keys().cloned().collect();
        for k in keys {
            let d = desired.and_then(|d| d.get(&k));
            if let Some(child) = map.get_mut(&k) {
                drop_empty_unset(child, d);
                if d.is_none() && child.as_object().is_some_and(|m| m.is_empty()) {
                    map.remove(&k);
                }
            }
        }
    } else if let Value::Array(items) = live {
        for (i, child) in items.iter_mut().enumerate() {
            let d = counterpart(desired, child, i);
            drop_empty_unset(child, d);
        }
    }
}

/// Keeps in `live` only the paths `desired` sets. List items are matched
/// by name (else position); live items with no counterpart stay, so that a
/// removed item shows.
fn keep_only_desired(live: &mut Value, desired: &Value) {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            l.retain(|k, _| d.contains_key(k));
            for (k, v) in l.iter_mut() {
                if let Some(dv) = d.get(k) {
                    keep_only_desired(v, dv);
                }
            }
        }
        (Value::Array(items), d @ Value::Array(_)) => {
            for (i, item) in items.iter_mut().enumerate() {
                if let Some(dv) = counterpart(Some(d), item, i) {
                    keep_only_desired(item, dv);
                }
            }
        }
        _ => {}
    }
}

/// Step 3, live side, against its desired object (`None` for an object
/// that would be deleted).
pub(crate) fn live_against(live: &mut Value, desired: Option<&Value>, group: &str, kind: &str) {
    if let Some(d) = desired {
        if is_partial(group, kind) {
            keep_only_desired(live, d);
            return;
        }
    }
    for def in defaults()
        .iter()
        .filter(|d| d.kinds.iter().any(|k| *k == "*" || *k == kind))
    {
        drop_unset(live, desired, &def.segments, def.value.as_ref());
    }
    if kind == "Secret" {
        secret_data_owned_elsewhere(live, desired);
    }
    drop_empty_unset(live, desired);
}

/// Secret keys generated or replicated in the cluster: their live data is
/// not ours when our manifest does not set it.
fn secret_data_owned_elsewhere(live: &mut Value, desired: Option<&Value>) {
    let Some(d) = desired else {
        return;
    };
    let annotations = &d["metadata"]["annotations"];
    let generated: Vec<&str> = annotations[GENERATE_ANNOTATION]
        .as_str()
        .map(|s| s.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let replicated = annotations[REPLICATE_FROM].is_string();
    let Some(Value::Object(data)) = live.get_mut("data") else {
        return;
    };
    data.retain(|k, _| {
        let set_by_us = d["data"].get(k).is_some();
        set_by_us || !(replicated || generated.contains(&k.as_str()))
    });
    if data.is_empty() && d.get("data").is_none() {
        if let Value::Object(obj) = live {
            obj.remove("data");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_defaults_only_when_unset() {
        let desired = json!({"kind":"Deployment","spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"a","image":"x"}]}}}});
        let mut live = json!({"kind":"Deployment","spec":{"replicas":1,"revisionHistoryLimit":10,"template":{"spec":{"dnsPolicy":"ClusterFirst","securityContext":{},"containers":[{"name":"a","image":"x","imagePullPolicy":"IfNotPresent","resources":{}}]}}}});
        live_against(&mut live, Some(&desired), "apps", "Deployment");
        assert_eq!(
            live,
            json!({"kind":"Deployment","spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"a","image":"x"}]}}}})
        );
    }

    #[test]
    fn non_default_values_stay() {
        let desired = json!({"spec":{"template":{"spec":{"containers":[]}}}});
        let mut live = json!({"spec":{"template":{"spec":{"securityContext":{"runAsUser":0},"containers":[]}}}});
        live_against(&mut live, Some(&desired), "apps", "Deployment");
        assert_eq!(
            live["spec"]["template"]["spec"]["securityContext"]["runAsUser"],
            0
        );
    }

    #[test]
    fn ignore_list_matches_wildcards() {
        let mut v = json!({"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"x","a":"b"}}}}});
        ignore(
            &mut v,
            "Deployment",
            &[IgnoreRule {
                kind: "*".into(),
                pointer: "/spec/*/metadata/annotations/kubectl.kubernetes.io~1restartedAt".into(),
            }],
        );
        assert_eq!(
            v,
            json!({"spec":{"template":{"metadata":{"annotations":{"a":"b"}}}}})
        );
    }
}
