//! J0850: a pod the namespace's Pod Security level would refuse.
//!
//! Every pod template jardin emits, and every pod an operator will create
//! from a jardin object, is checked against the level its namespace
//! enforces (`pod-security.kubernetes.io/enforce`), with the checks of the
//! Pod Security Standards (kubernetes.io/docs/concepts/security/
//! pod-security-standards): `baseline` forbids host namespaces, privileged
//! containers, added capabilities outside the default set, host paths and
//! ports, unconfined seccomp; `restricted` also requires non-root, no
//! privilege escalation, `RuntimeDefault` (or `Localhost`) seccomp, every
//! capability dropped, and only the volume types it lists. A violation
//! names the object, the container and the field.
//!
//! The pods operators create: k8up runs a Schedule's backup, check and
//! prune pods with the Schedule's pod security context and no container
//! security context of jardin's; a PreBackupPod is run as written.

use std::collections::HashMap;

use serde_json::Value;

use super::{Context, Rule};
use crate::emit::DesiredObject;
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::TenantUnit;

pub(super) struct PodSecurity;

impl Rule for PodSecurity {
    fn codes(&self) -> &'static [Code] {
        &[code::POD_SECURITY]
    }

    fn check(&self, _: &Context<'_>) -> Vec<Diagnostic> {
        Vec::new()
    }

    fn check_objects(&self, unit: &TenantUnit, objects: &[DesiredObject]) -> Vec<Diagnostic> {
        let levels = levels(objects);
        let mut out = Vec::new();
        for o in objects {
            let Some(ns) = o.value["metadata"]["namespace"].as_str() else {
                continue;
            };
            let Some(&level) = levels.get(ns) else {
                continue;
            };
            for (what, pod) in pods(&o.value) {
                for v in violations(&pod, level) {
                    let instance = o.instance.as_deref().unwrap_or_default();
                    let span = super::app_span(unit, instance, "app");
                    out.push(
                        Diagnostic::error(
                            code::POD_SECURITY,
                            format!(
                                "{}/{instance}: {what} of {} {ns}/{} breaks the namespace's \"{}\" Pod Security level: {v}",
                                unit.compiled.tenant.id,
                                o.value["kind"].as_str().unwrap_or_default(),
                                o.value["metadata"]["name"].as_str().unwrap_or_default(),
                                level.name(),
                            ),
                        )
                        .with_span(span.as_ref(), "this app's pods")
                        .with_help(
                            "the API server would refuse the pod: fix the catalog entry's pod spec, or declare the level the app needs (`pod_security`)",
                        ),
                    );
                }
            }
        }
        out
    }
}

/// A Pod Security Standards level.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    Baseline,
    Restricted,
}

impl Level {
    pub(super) fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// The level each of the tenant's namespaces enforces, from its Namespace
/// object; `privileged` or no label checks nothing.
pub(super) fn levels(objects: &[DesiredObject]) -> HashMap<&str, Level> {
    objects
        .iter()
        .filter(|o| o.value["kind"] == "Namespace")
        .filter_map(|o| {
            let name = o.value["metadata"]["name"].as_str()?;
            let level = match o.value["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
                .as_str()?
            {
                "restricted" => Level::Restricted,
                "baseline" => Level::Baseline,
                _ => return None,
            };
            Some((name, level))
        })
        .collect()
}

/// The pod specs an object stands for: its template, or what an operator
/// will run from it, each with a name for messages.
pub(super) fn pods(o: &Value) -> Vec<(String, Value)> {
    let spec = &o["spec"];
    match o["kind"].as_str().unwrap_or_default() {
        "Pod" => vec![("the pod".into(), spec.clone())],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            vec![("the pod template".into(), spec["template"]["spec"].clone())]
        }
        "CronJob" => vec![(
            "the pod template".into(),
            spec["jobTemplate"]["spec"]["template"]["spec"].clone(),
        )],
        "PreBackupPod" => vec![("the pre-backup pod".into(), spec["pod"]["spec"].clone())],
        // k8up's pods: its own container, with the job's pod security
        // context, else the Schedule's.
        "Schedule" => ["backup", "check", "prune"]
            .into_iter()
            .filter(|job| spec.get(*job).is_some())
            .map(|job| {
                let context = spec[job]
                    .get("podSecurityContext")
                    .or_else(|| spec.get("podSecurityContext"))
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({}));
                (
                    format!("k8up's {job} pod"),
                    serde_json::json!({"securityContext": context, "containers": [{"name": job}]}),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Capabilities `baseline` allows a container to add.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Volume types `restricted` allows.
const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// What in `pod` the level forbids, each as `field: why`.
pub(super) fn violations(pod: &Value, level: Level) -> Vec<String> {
    let mut out = Vec::new();
    let pod_ctx = &pod["securityContext"];
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[host] == true {
            out.push(format!("spec.{host}: host namespaces are forbidden"));
        }
    }
    if is_unconfined(&pod_ctx["seccompProfile"]) {
        out.push("spec.securityContext.seccompProfile: Unconfined is forbidden".into());
    }
    for v in pod["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or_default();
        if v.get("hostPath").is_some() {
            out.push(format!(
                "spec.volumes[{name}].hostPath: host paths are forbidden"
            ));
        } else if level == Level::Restricted {
            let kind = v
                .as_object()
                .and_then(|m| m.keys().find(|k| *k != "name"))
                .map(String::as_str)
                .unwrap_or_default();
            if !RESTRICTED_VOLUMES.contains(&kind) {
                out.push(format!(
                    "spec.volumes[{name}].{kind}: not a volume type restricted allows"
                ));
            }
        }
    }
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|k| pod[k].as_array().into_iter().flatten());
    for c in containers {
        let name = c["name"].as_str().unwrap_or_default();
        let ctx = &c["securityContext"];
        let at = |field: &str| format!("containers[{name}].securityContext.{field}");
        if ctx["privileged"] == true {
            out.push(format!(
                "{}: privileged containers are forbidden",
                at("privileged")
            ));
        }
        for port in c["ports"].as_array().into_iter().flatten() {
            if port["hostPort"].as_u64().is_some_and(|p| p > 0) {
                out.push(format!(
                    "containers[{name}].ports.hostPort: host ports are forbidden"
                ));
            }
        }
        if is_unconfined(&ctx["seccompProfile"]) {
            out.push(format!("{}: Unconfined is forbidden", at("seccompProfile")));
        }
        let added = ctx["capabilities"]["add"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for cap in added.iter().filter_map(Value::as_str) {
            let allowed = match level {
                Level::Baseline => BASELINE_CAPABILITIES.contains(&cap),
                Level::Restricted => cap == "NET_BIND_SERVICE",
            };
            if !allowed {
                out.push(format!(
                    "{}: adding {cap} is forbidden",
                    at("capabilities.add")
                ));
            }
        }
        if level == Level::Baseline {
            continue;
        }
        if ctx["allowPrivilegeEscalation"] != false {
            out.push(format!("{}: must be false", at("allowPrivilegeEscalation")));
        }
        let dropped = ctx["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|c| c == "ALL"));
        if !dropped {
            out.push(format!("{}: must include ALL", at("capabilities.drop")));
        }
        let non_root = ctx
            .get("runAsNonRoot")
            .or_else(|| pod_ctx.get("runAsNonRoot"));
        if non_root != Some(&Value::Bool(true)) {
            out.push(format!(
                "{}: must be true (here or in the pod's)",
                at("runAsNonRoot")
            ));
        }
        let user = ctx.get("runAsUser").or_else(|| pod_ctx.get("runAsUser"));
        if user.and_then(Value::as_u64) == Some(0) {
            out.push(format!("{}: must not be 0", at("runAsUser")));
        }
        let seccomp = ctx
            .get("seccompProfile")
            .or_else(|| pod_ctx.get("seccompProfile"));
        let confined = seccomp
            .and_then(|s| s["type"].as_str())
            .is_some_and(|t| t == "RuntimeDefault" || t == "Localhost");
        if !confined {
            out.push(format!(
                "{}: must be RuntimeDefault or Localhost (here or in the pod's)",
                at("seccompProfile")
            ));
        }
    }
    out
}

fn is_unconfined(profile: &Value) -> bool {
    profile["type"] == "Unconfined"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hardened() -> Value {
        json!({
            "securityContext": {"runAsNonRoot": true, "runAsUser": 33, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "app", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        })
    }

    #[test]
    fn a_hardened_pod_passes_both_levels() {
        assert!(violations(&hardened(), Level::Restricted).is_empty());
        assert!(violations(&hardened(), Level::Baseline).is_empty());
    }

    #[test]
    fn each_restricted_requirement_is_named() {
        let mut root = hardened();
        root["securityContext"] = json!({});
        root["containers"][0]["securityContext"] = json!({"capabilities": {"add": ["NET_ADMIN"]}});
        let v = violations(&root, Level::Restricted).join("\n");
        for field in [
            "allowPrivilegeEscalation",
            "capabilities.drop",
            "runAsNonRoot",
            "seccompProfile",
            "adding NET_ADMIN",
        ] {
            assert!(v.contains(field), "{field} missing from:\n{v}");
        }
        // baseline only refuses the added capability.
        assert_eq!(violations(&root, Level::Baseline).len(), 1);
    }

    #[test]
    fn host_access_is_refused_at_every_level() {
        let mut p = hardened();
        p["hostNetwork"] = json!(true);
        p["volumes"] = json!([{"name": "root", "hostPath": {"path": "/"}}]);
        p["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 80}]);
        p["containers"][0]["securityContext"]["privileged"] = json!(true);
        assert_eq!(violations(&p, Level::Baseline).len(), 4);
    }

    #[test]
    fn k8up_pods_get_only_the_schedule_context() {
        let schedule = json!({"kind": "Schedule", "spec": {
            "podSecurityContext": {"runAsNonRoot": true, "runAsUser": 33, "seccompProfile": {"type": "RuntimeDefault"}},
            "backup": {"schedule": "0 1 * * *"}, "prune": {"schedule": "0 5 * * 0"}}});
        let pods = pods(&schedule);
        assert_eq!(pods.len(), 2);
        // No container context can be given: restricted cannot be met...
        let v = violations(&pods[0].1, Level::Restricted);
        assert!(
            v.iter().any(|v| v.contains("allowPrivilegeEscalation")),
            "{v:?}"
        );
        // ...baseline can.
        assert!(violations(&pods[0].1, Level::Baseline).is_empty());
    }
}
