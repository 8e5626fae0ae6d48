//! Readiness of a live Kubernetes object, as returned by a GET.
//!
//! `jardin apply` polls every object of a wave with [`readiness`] and starts
//! the next wave once all of them are [`Readiness::Current`]. The rules follow
//! kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status): generic checks first
//! (deletion, observed generation, the standard `Stalled`/`Reconciling`
//! conditions), then what each built-in kind reports in its status, and for
//! anything else the conventional `Ready` condition.
//!
//! The object comes from the API server, so nothing here trusts its shape:
//! a missing or mistyped field reads as absent, a missing count as 0.

use serde_json::Value;

/// Where a live object stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Ready: the next wave may start.
    Current,
    /// Still converging; the message says on what (e.g. "2 of 3 replicas available").
    InProgress(String),
    /// Will not converge without a change (e.g. "ProgressDeadlineExceeded: ..."); the message names the condition's reason and message.
    Failed(String),
}

/// Decides whether `object` (a live object with apiVersion, kind, metadata,
/// spec, status) is ready, still converging, or stuck.
pub fn readiness(object: &Value) -> Readiness {
    if let Some(verdict) = generic_readiness(object) {
        return verdict;
    }
    let (group, kind) = group_kind(object);
    match (group, kind) {
        ("apps", "Deployment") => deployment_readiness(object),
        ("apps", "StatefulSet") => stateful_set_readiness(object),
        ("apps", "ReplicaSet") => replica_set_readiness(object),
        ("apps", "DaemonSet") => daemon_set_readiness(object),
        ("batch", "Job") => job_readiness(object),
        ("batch", "CronJob") => Readiness::Current,
        ("", "PersistentVolumeClaim") => claim_readiness(object),
        ("", "Service") => service_readiness(object),
        ("", "Pod") => pod_readiness(object),
        ("", "Namespace") => namespace_readiness(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => definition_readiness(object),
        // A PodDisruptionBudget has nothing to wait for once its generation
        // is observed, which the generic rules already checked.
        ("policy", "PodDisruptionBudget") => Readiness::Current,
        _ => ready_condition_readiness(object),
    }
}

/// The rules shared by every kind; `None` lets the per-kind rules decide.
fn generic_readiness(object: &Value) -> Option<Readiness> {
    if field(object, &["metadata", "deletionTimestamp"]).is_some_and(|stamp| !stamp.is_null()) {
        return Some(in_progress("being deleted"));
    }
    if let Some(generation) = unobserved_generation(object) {
        return Some(in_progress(format!(
            "the controller has not seen generation {generation} yet"
        )));
    }
    standard_condition_readiness(&conditions(object))
}

/// The generation the controller still has to catch up with, if any. Only
/// checked when the controller reports an observed generation at all: many
/// kinds never do.
fn unobserved_generation(object: &Value) -> Option<i64> {
    let observed = integer(field(object, &["status", "observedGeneration"])?)?;
    let generation = count(object, &["metadata", "generation"]);
    (observed < generation).then_some(generation)
}

/// kstatus's "standard conditions": `Stalled` and `Reconciling`, which any
/// controller may set and which override what the kind's status says.
fn standard_condition_readiness(conditions: &[Condition<'_>]) -> Option<Readiness> {
    if let Some(stalled) = find_true(conditions, "Stalled") {
        return Some(Readiness::Failed(stalled.describe()));
    }
    find_true(conditions, "Reconciling").map(|reconciling| in_progress(reconciling.describe()))
}

// ---------------------------------------------------------------- apps

fn deployment_readiness(object: &Value) -> Readiness {
    let conditions = conditions(object);
    if let Some(progressing) = find(&conditions, "Progressing")
        .filter(|progressing| progressing.reason == "ProgressDeadlineExceeded")
    {
        return Readiness::Failed(progressing.describe());
    }
    let wanted = count_or(object, &["spec", "replicas"], 1);
    let existing = count(object, &["status", "replicas"]);
    let updated = count(object, &["status", "updatedReplicas"]);
    let available = count(object, &["status", "availableReplicas"]);
    let ready = count(object, &["status", "readyReplicas"]);
    if updated < wanted {
        return in_progress(format!("{updated} of {wanted} replicas updated"));
    }
    if existing > updated {
        return in_progress(pending_termination(existing.saturating_sub(updated), "old"));
    }
    // A surge replica left over from the rollout still has to go.
    if existing > wanted {
        return in_progress(pending_termination(
            existing.saturating_sub(wanted),
            "extra",
        ));
    }
    if available < wanted {
        return in_progress(format!("{available} of {wanted} available"));
    }
    if ready < wanted {
        return in_progress(format!("{ready} of {wanted} ready"));
    }
    if let Some(unavailable) = find(&conditions, "Available").filter(|c| c.is_false()) {
        return in_progress(format!("not available: {}", unavailable.describe()));
    }
    Readiness::Current
}

fn stateful_set_readiness(object: &Value) -> Readiness {
    // With OnDelete the user replaces pods by hand: nothing to wait for.
    if text(object, &["spec", "updateStrategy", "type"]) == Some("OnDelete") {
        return Readiness::Current;
    }
    let wanted = count_or(object, &["spec", "replicas"], 1);
    let existing = count(object, &["status", "replicas"]);
    let ready = count(object, &["status", "readyReplicas"]);
    let current = count(object, &["status", "currentReplicas"]);
    let updated = count(object, &["status", "updatedReplicas"]);
    if existing < wanted {
        return in_progress(format!("{existing} of {wanted} replicas created"));
    }
    if ready < wanted {
        return in_progress(format!("{ready} of {wanted} ready"));
    }
    if existing > wanted {
        return in_progress(pending_termination(
            existing.saturating_sub(wanted),
            "extra",
        ));
    }
    if let Some(partition) = field(
        object,
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
    )
    .and_then(integer)
    {
        return partitioned_rollout_readiness(wanted, updated, partition);
    }
    if current < wanted {
        return in_progress(format!(
            "{current} of {wanted} replicas at the current revision"
        ));
    }
    let current_revision = text(object, &["status", "currentRevision"]).unwrap_or("");
    let update_revision = text(object, &["status", "updateRevision"]).unwrap_or("");
    if current_revision != update_revision {
        return in_progress(format!(
            "revision {update_revision} is replacing {current_revision}"
        ));
    }
    Readiness::Current
}

/// With a partition only the ordinals at or above it are updated, so the
/// rollout is done once that many replicas run the new revision (as kstatus
/// counts it; the revisions themselves then legitimately differ).
fn partitioned_rollout_readiness(wanted: i64, updated: i64, partition: i64) -> Readiness {
    let to_update = wanted.saturating_sub(partition);
    if updated < to_update {
        return in_progress(format!(
            "{updated} of {to_update} replicas updated (partition {partition})"
        ));
    }
    Readiness::Current
}

fn replica_set_readiness(object: &Value) -> Readiness {
    let conditions = conditions(object);
    // Usually a quota or admission refusal; it may clear up on its own, so
    // kstatus keeps waiting rather than failing.
    if let Some(failure) = find_true(&conditions, "ReplicaFailure") {
        return in_progress(format!("replica failure: {}", failure.describe()));
    }
    let wanted = count_or(object, &["spec", "replicas"], 1);
    let existing = count(object, &["status", "replicas"]);
    let labelled = count(object, &["status", "fullyLabeledReplicas"]);
    let available = count(object, &["status", "availableReplicas"]);
    let ready = count(object, &["status", "readyReplicas"]);
    if labelled < wanted {
        return in_progress(format!("{labelled} of {wanted} replicas labelled"));
    }
    if available < wanted {
        return in_progress(format!("{available} of {wanted} available"));
    }
    if ready < wanted {
        return in_progress(format!("{ready} of {wanted} ready"));
    }
    if existing > wanted {
        return in_progress(pending_termination(
            existing.saturating_sub(wanted),
            "extra",
        ));
    }
    Readiness::Current
}

fn daemon_set_readiness(object: &Value) -> Readiness {
    // The DaemonSet controller always reports these once it has acted, so
    // (unlike the generic rule) their absence means it has not yet.
    if integer_at(object, &["status", "observedGeneration"]).is_none() {
        return in_progress("the controller has not observed it yet");
    }
    let Some(desired) = integer_at(object, &["status", "desiredNumberScheduled"]) else {
        return in_progress("the controller has not counted the nodes yet");
    };
    let scheduled = count(object, &["status", "currentNumberScheduled"]);
    let updated = count(object, &["status", "updatedNumberScheduled"]);
    let available = count(object, &["status", "numberAvailable"]);
    let ready = count(object, &["status", "numberReady"]);
    if scheduled < desired {
        return in_progress(format!("{scheduled} of {desired} nodes scheduled"));
    }
    if updated < desired {
        return in_progress(format!("{updated} of {desired} nodes updated"));
    }
    if available < desired {
        return in_progress(format!("{available} of {desired} available"));
    }
    if ready < desired {
        return in_progress(format!("{ready} of {desired} ready"));
    }
    Readiness::Current
}

// ---------------------------------------------------------------- batch

fn job_readiness(object: &Value) -> Readiness {
    let conditions = conditions(object);
    if find_true(&conditions, "Complete").is_some() {
        return Readiness::Current;
    }
    if let Some(failed) = find_true(&conditions, "Failed") {
        return Readiness::Failed(failed.describe());
    }
    let active = count(object, &["status", "active"]);
    let succeeded = count(object, &["status", "succeeded"]);
    in_progress(format!("{active} active, {succeeded} succeeded"))
}

// ---------------------------------------------------------------- core

fn claim_readiness(object: &Value) -> Readiness {
    match text(object, &["status", "phase"]) {
        Some("Bound") => Readiness::Current,
        // The bound volume is gone: nothing brings it back by itself.
        Some("Lost") => Readiness::Failed("Lost: the bound volume no longer exists".to_owned()),
        Some(phase) => in_progress(format!("phase {phase}")),
        None => in_progress("no phase reported yet"),
    }
}

fn service_readiness(object: &Value) -> Readiness {
    if text(object, &["spec", "type"]) != Some("LoadBalancer") {
        return Readiness::Current;
    }
    let has_address = field(object, &["status", "loadBalancer", "ingress"])
        .and_then(Value::as_array)
        .is_some_and(|ingress| !ingress.is_empty());
    if has_address {
        Readiness::Current
    } else {
        in_progress("waiting for a load balancer address")
    }
}

fn pod_readiness(object: &Value) -> Readiness {
    match text(object, &["status", "phase"]) {
        Some("Succeeded") => Readiness::Current,
        Some("Failed") => Readiness::Failed(pod_failure(object)),
        Some("Running") => running_pod_readiness(object),
        Some(phase) => in_progress(format!("phase {phase}")),
        None => in_progress("no phase reported yet"),
    }
}

fn running_pod_readiness(object: &Value) -> Readiness {
    let conditions = conditions(object);
    match find(&conditions, "Ready") {
        Some(ready) if ready.is_true() => Readiness::Current,
        Some(ready) if !ready.reason.is_empty() || !ready.message.is_empty() => {
            in_progress(format!("running, not ready: {}", ready.describe()))
        }
        _ => in_progress("running, not ready"),
    }
}

/// The pod's own reason and message for failing, as `describe` would word a
/// condition.
fn pod_failure(object: &Value) -> String {
    let reason = text(object, &["status", "reason"]).unwrap_or("");
    let message = text(object, &["status", "message"]).unwrap_or("");
    reason_and_message(reason, message).unwrap_or_else(|| "the pod failed".to_owned())
}

fn namespace_readiness(object: &Value) -> Readiness {
    match text(object, &["status", "phase"]) {
        None | Some("Active") => Readiness::Current,
        Some("Terminating") => in_progress("terminating"),
        Some(phase) => in_progress(format!("phase {phase}")),
    }
}

// ---------------------------------------------------------------- apiextensions

fn definition_readiness(object: &Value) -> Readiness {
    let conditions = conditions(object);
    if let Some(refused) = find(&conditions, "NamesAccepted").filter(|c| c.is_false()) {
        return in_progress(format!("names not accepted: {}", refused.describe()));
    }
    if find_true(&conditions, "Established").is_some() {
        Readiness::Current
    } else {
        in_progress("not established yet")
    }
}

// ---------------------------------------------------------------- everything else

/// ConfigMaps, Secrets, Ingresses, custom resources...: kstatus counts an
/// object without conditions as current; a `Ready` condition, when there is
/// one, has the last word.
fn ready_condition_readiness(object: &Value) -> Readiness {
    let conditions = conditions(object);
    match find(&conditions, "Ready") {
        Some(ready) if !ready.is_true() => in_progress(format!("not ready: {}", ready.describe())),
        _ => Readiness::Current,
    }
}

// ---------------------------------------------------------------- conditions

/// One entry of `status.conditions`, with absent strings read as empty.
#[derive(Clone, Copy, Debug)]
struct Condition<'a> {
    kind: &'a str,
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

impl Condition<'_> {
    fn is_true(&self) -> bool {
        self.status == "True"
    }

    fn is_false(&self) -> bool {
        self.status == "False"
    }

    /// "Reason: message", or whichever of the two is set, or the type and
    /// status when the controller gave neither.
    fn describe(&self) -> String {
        reason_and_message(self.reason, self.message)
            .unwrap_or_else(|| format!("{} is {}", self.kind, self.status))
    }
}

/// The well-formed entries of `status.conditions`; anything else (no type,
/// not an object, not a list at all) is skipped.
fn conditions(object: &Value) -> Vec<Condition<'_>> {
    let Some(entries) = field(object, &["status", "conditions"]).and_then(Value::as_array) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            Some(Condition {
                kind: entry.get("type")?.as_str()?,
                status: string_or_empty(entry.get("status")),
                reason: string_or_empty(entry.get("reason")),
                message: string_or_empty(entry.get("message")),
            })
        })
        .collect()
}

/// The first condition of that type: a controller should not repeat one.
fn find<'c, 'a>(conditions: &'c [Condition<'a>], kind: &str) -> Option<&'c Condition<'a>> {
    conditions.iter().find(|condition| condition.kind == kind)
}

fn find_true<'c, 'a>(conditions: &'c [Condition<'a>], kind: &str) -> Option<&'c Condition<'a>> {
    find(conditions, kind).filter(|condition| condition.is_true())
}

fn reason_and_message(reason: &str, message: &str) -> Option<String> {
    match (reason.is_empty(), message.is_empty()) {
        (false, false) => Some(format!("{reason}: {message}")),
        (false, true) => Some(reason.to_owned()),
        (true, false) => Some(message.to_owned()),
        (true, true) => None,
    }
}

// ---------------------------------------------------------------- reading the object

/// The API group (the part of apiVersion before '/', "" for the core group)
/// and the kind.
fn group_kind(object: &Value) -> (&str, &str) {
    let api_version = text(object, &["apiVersion"]).unwrap_or("");
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    (group, text(object, &["kind"]).unwrap_or(""))
}

/// The value at `path`, if every step is an object holding the next key.
fn field<'a>(object: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(object, |value, key| value.get(*key))
}

fn text<'a>(object: &'a Value, path: &[&str]) -> Option<&'a str> {
    field(object, path).and_then(Value::as_str)
}

fn string_or_empty(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or("")
}

/// A JSON integer; counts beyond i64 saturate, anything else is not one.
fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_u64().map(|_| i64::MAX))
}

fn integer_at(object: &Value, path: &[&str]) -> Option<i64> {
    field(object, path).and_then(integer)
}

/// A count the controller may omit when it is zero.
fn count(object: &Value, path: &[&str]) -> i64 {
    count_or(object, path, 0)
}

fn count_or(object: &Value, path: &[&str], default: i64) -> i64 {
    integer_at(object, path).unwrap_or(default)
}

fn pending_termination(replicas: i64, which: &str) -> String {
    let noun = if replicas == 1 { "replica" } else { "replicas" };
    format!("{replicas} {which} {noun} pending termination")
}

fn in_progress(message: impl Into<String>) -> Readiness {
    Readiness::InProgress(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn is_in_progress(verdict: &Readiness) -> bool {
        matches!(verdict, Readiness::InProgress(_))
    }

    fn is_failed(verdict: &Readiness) -> bool {
        matches!(verdict, Readiness::Failed(_))
    }

    fn deployment(spec_replicas: i64, status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": spec_replicas},
            "status": status,
        })
    }

    // ---- generic rules

    #[test]
    fn an_object_being_deleted_is_in_progress() {
        let object = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"},
        });
        assert_eq!(readiness(&object), in_progress("being deleted"));
    }

    #[test]
    fn an_unobserved_generation_is_in_progress() {
        let object = deployment(
            1,
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "availableReplicas": 1, "readyReplicas": 1}),
        );
        assert_eq!(
            readiness(&object),
            in_progress("the controller has not seen generation 2 yet")
        );
    }

    #[test]
    fn an_absent_observed_generation_is_not_waited_for() {
        let object = json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"generation": 5},
            "status": {},
        });
        assert_eq!(readiness(&object), Readiness::Current);
    }

    #[test]
    fn stalled_true_fails_even_a_ready_object() {
        let object = json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "size must be positive"},
            ]},
        });
        assert_eq!(
            readiness(&object),
            Readiness::Failed("InvalidSpec: size must be positive".to_owned())
        );
    }

    #[test]
    fn reconciling_true_overrides_the_kind_rules() {
        let object = json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "status": {"conditions": [{"type": "Reconciling", "status": "True", "reason": "Working"}]},
        });
        assert_eq!(readiness(&object), in_progress("Working"));
    }

    #[test]
    fn stalled_false_is_ignored() {
        let object = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "status": {"conditions": [{"type": "Stalled", "status": "False"}]},
        });
        assert_eq!(readiness(&object), Readiness::Current);
    }

    // ---- Deployment

    #[test]
    fn a_deployment_mid_rollout_is_in_progress() {
        let object = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
                   "availableReplicas": 2, "readyReplicas": 2}),
        );
        assert_eq!(readiness(&object), in_progress("1 of 2 replicas updated"));
    }

    #[test]
    fn a_deployment_waits_for_old_replicas_to_go() {
        let object = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2,
                   "availableReplicas": 2, "readyReplicas": 2}),
        );
        assert_eq!(
            readiness(&object),
            in_progress("1 old replica pending termination")
        );
    }

    #[test]
    fn a_deployment_waits_for_availability() {
        let object = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                   "availableReplicas": 1, "readyReplicas": 2}),
        );
        assert_eq!(readiness(&object), in_progress("1 of 2 available"));
    }

    #[test]
    fn a_deployment_with_available_false_is_in_progress() {
        let object = deployment(
            1,
            json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1,
                   "availableReplicas": 1, "readyReplicas": 1,
                   "conditions": [{"type": "Available", "status": "False",
                                   "reason": "MinimumReplicasUnavailable"}]}),
        );
        assert!(is_in_progress(&readiness(&object)));
    }

    #[test]
    fn a_deployment_past_its_progress_deadline_fails() {
        let object = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1,
                   "conditions": [{"type": "Progressing", "status": "False",
                                   "reason": "ProgressDeadlineExceeded",
                                   "message": "ReplicaSet \"web-7f\" has timed out progressing."}]}),
        );
        assert_eq!(
            readiness(&object),
            Readiness::Failed(
                "ProgressDeadlineExceeded: ReplicaSet \"web-7f\" has timed out progressing."
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_rolled_out_deployment_is_current() {
        let object = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                   "availableReplicas": 2, "readyReplicas": 2,
                   "conditions": [{"type": "Available", "status": "True"},
                                  {"type": "Progressing", "status": "True",
                                   "reason": "NewReplicaSetAvailable"}]}),
        );
        assert_eq!(readiness(&object), Readiness::Current);
    }

    #[test]
    fn a_deployment_without_replicas_wants_one() {
        let object = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "spec": {},
            "status": {},
        });
        assert_eq!(readiness(&object), in_progress("0 of 1 replicas updated"));
    }

    // ---- StatefulSet

    fn stateful_set(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "generation": 1},
            "spec": spec,
            "status": status,
        })
    }

    #[test]
    fn a_stateful_set_with_a_partition_counts_only_the_partitioned_ordinals() {
        let spec = json!({"replicas": 3, "updateStrategy": {
            "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}});
        let halfway = stateful_set(
            spec.clone(),
            json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3,
                   "currentReplicas": 2, "updatedReplicas": 1,
                   "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        assert_eq!(
            readiness(&halfway),
            in_progress("1 of 2 replicas updated (partition 1)")
        );
        // Ordinal 0 stays on the old revision on purpose: that is done.
        let done = stateful_set(
            spec,
            json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3,
                   "currentReplicas": 1, "updatedReplicas": 2,
                   "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        assert_eq!(readiness(&done), Readiness::Current);
    }

    #[test]
    fn a_stateful_set_waits_for_its_revision() {
        let object = stateful_set(
            json!({"replicas": 2}),
            json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
                   "currentReplicas": 2, "updatedReplicas": 2,
                   "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        assert_eq!(
            readiness(&object),
            in_progress("revision db-2 is replacing db-1")
        );
    }

    #[test]
    fn a_stateful_set_waits_for_ready_replicas() {
        let object = stateful_set(
            json!({"replicas": 3}),
            json!({"replicas": 3, "readyReplicas": 1}),
        );
        assert_eq!(readiness(&object), in_progress("1 of 3 ready"));
    }

    #[test]
    fn a_settled_stateful_set_is_current() {
        let object = stateful_set(
            json!({"replicas": 2}),
            json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
                   "currentReplicas": 2, "updatedReplicas": 2,
                   "currentRevision": "db-2", "updateRevision": "db-2"}),
        );
        assert_eq!(readiness(&object), Readiness::Current);
    }

    #[test]
    fn an_on_delete_stateful_set_is_current_once_observed() {
        let spec = json!({"replicas": 3, "updateStrategy": {"type": "OnDelete"}});
        let observed = stateful_set(spec.clone(), json!({"observedGeneration": 1}));
        assert_eq!(readiness(&observed), Readiness::Current);
        let mut unobserved = stateful_set(spec, json!({"observedGeneration": 0}));
        unobserved["metadata"]["generation"] = json!(1);
        assert!(is_in_progress(&readiness(&unobserved)));
    }

    // ---- ReplicaSet, DaemonSet

    #[test]
    fn a_replica_set_waits_for_available_replicas() {
        let object = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "spec": {"replicas": 2},
            "status": {"replicas": 2, "fullyLabeledReplicas": 2, "availableReplicas": 1, "readyReplicas": 1},
        });
        assert_eq!(readiness(&object), in_progress("1 of 2 available"));
    }

    #[test]
    fn a_full_replica_set_is_current() {
        let object = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "spec": {"replicas": 2},
            "status": {"replicas": 2, "fullyLabeledReplicas": 2, "availableReplicas": 2, "readyReplicas": 2},
        });
        assert_eq!(readiness(&object), Readiness::Current);
    }

    fn daemon_set(status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"generation": 1},
            "status": status,
        })
    }

    #[test]
    fn a_daemon_set_waits_for_ready_nodes() {
        let object = daemon_set(json!({
            "observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
            "updatedNumberScheduled": 3, "numberAvailable": 3, "numberReady": 2,
        }));
        assert_eq!(readiness(&object), in_progress("2 of 3 ready"));
    }

    #[test]
    fn a_daemon_set_not_yet_seen_by_its_controller_is_in_progress() {
        assert!(is_in_progress(&readiness(&daemon_set(json!({})))));
        let uncounted = daemon_set(json!({"observedGeneration": 1}));
        assert!(is_in_progress(&readiness(&uncounted)));
    }

    #[test]
    fn a_daemon_set_on_every_node_is_current() {
        let object = daemon_set(json!({
            "observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
            "updatedNumberScheduled": 3, "numberAvailable": 3, "numberReady": 3,
        }));
        assert_eq!(readiness(&object), Readiness::Current);
    }

    // ---- batch

    fn job(status: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "status": status})
    }

    #[test]
    fn a_failed_job_fails() {
        let object = job(json!({"failed": 4, "conditions": [{
            "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit"}]}));
        assert_eq!(
            readiness(&object),
            Readiness::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".to_owned()
            )
        );
    }

    #[test]
    fn a_running_job_is_in_progress() {
        let object = job(json!({"active": 1, "succeeded": 2}));
        assert_eq!(readiness(&object), in_progress("1 active, 2 succeeded"));
    }

    #[test]
    fn a_complete_job_is_current() {
        let object =
            job(json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}));
        assert_eq!(readiness(&object), Readiness::Current);
    }

    #[test]
    fn a_cron_job_is_current() {
        let object = json!({"apiVersion": "batch/v1", "kind": "CronJob", "status": {}});
        assert_eq!(readiness(&object), Readiness::Current);
    }

    // ---- core

    fn claim(phase: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": phase}})
    }

    #[test]
    fn a_claim_is_in_progress_while_pending_then_current_once_bound() {
        assert_eq!(readiness(&claim("Pending")), in_progress("phase Pending"));
        assert_eq!(readiness(&claim("Bound")), Readiness::Current);
    }

    #[test]
    fn a_lost_claim_fails() {
        assert!(is_failed(&readiness(&claim("Lost"))));
    }

    fn service(kind: &str, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": kind}, "status": status})
    }

    #[test]
    fn a_load_balancer_service_waits_for_its_address() {
        let without = service("LoadBalancer", json!({"loadBalancer": {}}));
        assert_eq!(
            readiness(&without),
            in_progress("waiting for a load balancer address")
        );
        let empty = service("LoadBalancer", json!({"loadBalancer": {"ingress": []}}));
        assert!(is_in_progress(&readiness(&empty)));
        let with = service(
            "LoadBalancer",
            json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}),
        );
        assert_eq!(readiness(&with), Readiness::Current);
    }

    #[test]
    fn other_services_are_current() {
        assert_eq!(
            readiness(&service("ClusterIP", json!({}))),
            Readiness::Current
        );
        let untyped = json!({"apiVersion": "v1", "kind": "Service", "spec": {}});
        assert_eq!(readiness(&untyped), Readiness::Current);
    }

    fn pod(status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "status": status})
    }

    #[test]
    fn pod_phases() {
        assert_eq!(
            readiness(&pod(json!({"phase": "Succeeded"}))),
            Readiness::Current
        );
        assert_eq!(
            readiness(&pod(
                json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"})
            )),
            Readiness::Failed("Evicted: low on memory".to_owned())
        );
        assert_eq!(
            readiness(&pod(json!({"phase": "Pending"}))),
            in_progress("phase Pending")
        );
    }

    #[test]
    fn a_running_pod_is_current_only_when_ready() {
        let ready =
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(readiness(&ready), Readiness::Current);
        let unready = pod(json!({"phase": "Running", "conditions": [{
            "type": "Ready", "status": "False", "reason": "ContainersNotReady"}]}));
        assert_eq!(
            readiness(&unready),
            in_progress("running, not ready: ContainersNotReady")
        );
    }

    fn namespace(status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "status": status})
    }

    #[test]
    fn namespace_phases() {
        assert_eq!(
            readiness(&namespace(json!({"phase": "Active"}))),
            Readiness::Current
        );
        assert_eq!(readiness(&namespace(json!({}))), Readiness::Current);
        assert_eq!(
            readiness(&namespace(json!({"phase": "Terminating"}))),
            in_progress("terminating")
        );
    }

    // ---- apiextensions, policy

    fn definition(conditions: Value) -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "status": {"conditions": conditions},
        })
    }

    #[test]
    fn a_definition_not_yet_established_is_in_progress() {
        let pending = definition(json!([
            {"type": "NamesAccepted", "status": "True"},
            {"type": "Established", "status": "False", "reason": "Installing"},
        ]));
        assert_eq!(readiness(&pending), in_progress("not established yet"));
    }

    #[test]
    fn a_definition_with_refused_names_is_in_progress() {
        let refused = definition(json!([
            {"type": "NamesAccepted", "status": "False", "reason": "ListKindConflict"},
            {"type": "Established", "status": "True"},
        ]));
        assert_eq!(
            readiness(&refused),
            in_progress("names not accepted: ListKindConflict")
        );
    }

    #[test]
    fn an_established_definition_is_current() {
        let established = definition(json!([
            {"type": "NamesAccepted", "status": "True"},
            {"type": "Established", "status": "True"},
        ]));
        assert_eq!(readiness(&established), Readiness::Current);
    }

    #[test]
    fn a_disruption_budget_is_current_once_observed() {
        let mut budget = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"generation": 3},
            "status": {"observedGeneration": 3, "currentHealthy": 0, "desiredHealthy": 2},
        });
        assert_eq!(readiness(&budget), Readiness::Current);
        budget["status"]["observedGeneration"] = json!(2);
        assert!(is_in_progress(&readiness(&budget)));
    }

    // ---- everything else

    #[test]
    fn a_custom_resource_with_ready_false_is_in_progress() {
        let object = json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "status": {"conditions": [{"type": "Ready", "status": "False",
                                       "reason": "Issuing", "message": "waiting for the order"}]},
        });
        assert_eq!(
            readiness(&object),
            in_progress("not ready: Issuing: waiting for the order")
        );
    }

    #[test]
    fn a_custom_resource_with_ready_true_is_current() {
        let object = json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        });
        assert_eq!(readiness(&object), Readiness::Current);
    }

    #[test]
    fn objects_without_conditions_are_current() {
        for (api_version, kind) in [
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("v1", "ServiceAccount"),
            ("networking.k8s.io/v1", "Ingress"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
        ] {
            let object =
                json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
            assert_eq!(readiness(&object), Readiness::Current, "{kind}");
        }
    }

    #[test]
    fn kinds_are_matched_by_group_too() {
        // A custom "Deployment" is not apps': no replica counts to wait for.
        let object =
            json!({"apiVersion": "example.com/v1", "kind": "Deployment", "spec": {"replicas": 3}});
        assert_eq!(readiness(&object), Readiness::Current);
    }

    // ---- odd input

    #[test]
    fn odd_values_never_panic() {
        let odd_statuses = [
            json!(null),
            json!("Running"),
            json!([1, 2]),
            json!({"replicas": "3", "readyReplicas": [1], "observedGeneration": "2",
                   "conditions": {"type": "Ready"}}),
            json!({"conditions": [null, 7, "Ready", {"type": 3}, {"type": "Ready", "status": true},
                                  {"type": "Stalled"}, {"status": "True"}]}),
            json!({"replicas": i64::MAX, "updatedReplicas": i64::MIN, "availableReplicas": -4,
                   "readyReplicas": u64::MAX, "observedGeneration": -1,
                   "desiredNumberScheduled": i64::MIN, "numberReady": 1.5,
                   "phase": 4, "loadBalancer": {"ingress": {"ip": "x"}}}),
        ];
        let odd_specs = [
            json!(null),
            json!({"replicas": -2, "type": ["LoadBalancer"], "updateStrategy": "OnDelete"}),
            json!({"replicas": i64::MIN, "updateStrategy": {"rollingUpdate": {"partition": i64::MAX}}}),
            json!({"replicas": i64::MAX, "updateStrategy": {"rollingUpdate": {"partition": i64::MIN}}}),
        ];
        let kinds = [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "ReplicaSet"),
            ("apps/v1", "DaemonSet"),
            ("batch/v1", "Job"),
            ("batch/v1", "CronJob"),
            ("v1", "PersistentVolumeClaim"),
            ("v1", "Service"),
            ("v1", "Pod"),
            ("v1", "Namespace"),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            ("policy/v1", "PodDisruptionBudget"),
            ("example.com/v1", "Widget"),
        ];
        for (api_version, kind) in kinds {
            for spec in &odd_specs {
                for status in &odd_statuses {
                    let object = json!({
                        "apiVersion": api_version,
                        "kind": kind,
                        "metadata": {"generation": "7", "deletionTimestamp": null},
                        "spec": spec,
                        "status": status,
                    });
                    let _ = readiness(&object);
                }
            }
        }
        for whole in [
            json!(null),
            json!(42),
            json!("Deployment"),
            json!([{"kind": "Pod"}]),
            json!({}),
            json!({"apiVersion": 1, "kind": ["Pod"], "metadata": "m", "status": 0}),
            json!({"apiVersion": "/", "kind": ""}),
        ] {
            let _ = readiness(&whole);
        }
    }
}
