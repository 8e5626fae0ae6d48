//! J0860–J0861: the NetworkPolicies of an app's namespace allow every flow
//! the app declares, and nothing else.
//!
//! The proof reads the emitted NetworkPolicy objects alone, with the
//! semantics the API documents (kubernetes.io/docs/concepts/services-
//! networking/network-policies): a pod selected by no policy of a direction
//! is not isolated in it (everything is allowed); a policy applies in the
//! directions of its `policyTypes`; a rule's empty or absent peer list or
//! port list allows every peer or port; a peer is pods (a `podSelector`
//! alone: the policy's namespace; with a `namespaceSelector`: the
//! namespaces it selects) or an `ipBlock` minus its exceptions. The
//! declared flows are the app's, resolved against its cluster
//! (`emit::flows`), and its backup pods' (`backup::derive::pod_flows`);
//! the pods are the ones the namespace's objects will run (workload
//! templates, k8up's pods for a Schedule and each PreBackupPod,
//! cert-manager's HTTP-01 solver for an Ingress it serves).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::Value;

use super::{Context, Rule};
use crate::backup::derive::{K8UP_JOB_LABEL, PRE_BACKUP_POD_LABEL};
use crate::emit::flows::{
    describe_ports as describe_flow_ports, labels_text, peer_text, ACME_SOLVER_LABEL,
};
use crate::emit::DesiredObject;
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::{Direction, Flow, FlowPort, Peer, TenantUnit};

pub(super) struct NetworkFlows;

impl Rule for NetworkFlows {
    fn codes(&self) -> &'static [Code] {
        &[code::NETWORK_FLOW_BLOCKED, code::NETWORK_FLOW_UNDECLARED]
    }

    fn check(&self, _: &Context<'_>) -> Vec<Diagnostic> {
        Vec::new()
    }

    fn check_objects(&self, unit: &TenantUnit, objects: &[DesiredObject]) -> Vec<Diagnostic> {
        let tenant = &unit.compiled.tenant.id;
        let mut out = Vec::new();
        for (instance, app) in unit.compiled.apps.iter().filter(|(_, a)| a.rendered) {
            let ns = Namespace::of(&app.namespace, objects.iter().map(|o| &o.value));
            let span = super::app_span(unit, instance, "app");
            for flow in &app.flows {
                for why in ns.blocked(flow) {
                    out.push(
                        Diagnostic::error(
                            code::NETWORK_FLOW_BLOCKED,
                            format!(
                                "{tenant}/{instance}: the NetworkPolicies of namespace {} block the flow \"{}\" ({}): {why}",
                                ns.name,
                                flow.name,
                                describe_flow_ports(&flow.ports)
                            ),
                        )
                        .with_span(span.as_ref(), "this app needs the flow")
                        .with_note(format!("the flow is needed because: {}", flow.why))
                        .with_help(
                            "jardin writes the namespace's policies from the flows the catalog entry declares: check that the flow's `component` names one the app runs and that the cluster model has the addresses it needs",
                        ),
                    );
                }
            }
            for extra in ns.undeclared(&app.flows) {
                out.push(
                    Diagnostic::error(
                        code::NETWORK_FLOW_UNDECLARED,
                        format!(
                            "{tenant}/{instance}: {} allows {}, which no declared flow needs",
                            extra.policy, extra.what
                        ),
                    )
                    .with_span(span.as_ref(), "this app's namespace")
                    .with_help(
                        "declare the flow in the catalog entry's `flows` (with why the app needs it), or narrow the policy to what is declared",
                    ),
                );
            }
        }
        out
    }
}

/// A pod the namespace will run, by its labels.
#[derive(Clone, Debug)]
pub(crate) struct Pod {
    pub(crate) labels: BTreeMap<String, String>,
    /// Which pods, for messages: `the pods of Deployment web`.
    pub(crate) what: String,
}

/// One namespace: its pods and its NetworkPolicies, parsed.
pub(crate) struct Namespace<'a> {
    pub(crate) name: &'a str,
    pub(crate) pods: Vec<Pod>,
    policies: Vec<Policy>,
}

/// Something a policy allows that no flow declares.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Extra {
    /// `NetworkPolicy ns/name`, or what is missing.
    pub(crate) policy: String,
    pub(crate) what: String,
}

impl<'a> Namespace<'a> {
    /// The namespace `name` as `objects` (any objects: those of other
    /// namespaces are skipped) make it.
    pub(crate) fn of(name: &'a str, objects: impl Iterator<Item = &'a Value>) -> Self {
        let mut pods = Vec::new();
        let mut policies = Vec::new();
        let mut solver = false;
        for o in objects.filter(|o| o["metadata"]["namespace"] == name) {
            let kind = o["kind"].as_str().unwrap_or_default();
            let obj_name = o["metadata"]["name"].as_str().unwrap_or_default();
            let template = match kind {
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                    Some(&o["spec"]["template"]["metadata"]["labels"])
                }
                "CronJob" => {
                    Some(&o["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])
                }
                "Pod" => Some(&o["metadata"]["labels"]),
                _ => None,
            };
            if let Some(labels) = template {
                pods.push(Pod {
                    labels: string_map(labels),
                    what: format!("the pods of {kind} {obj_name}"),
                });
            }
            match kind {
                "Schedule" if o["apiVersion"] == "k8up.io/v1" => pods.push(Pod {
                    labels: BTreeMap::from([(K8UP_JOB_LABEL.to_string(), "true".to_string())]),
                    what: format!("k8up's pods for Schedule {obj_name}"),
                }),
                // k8up replaces a PreBackupPod's labels with its own (k8up 2.x:
                // operator/backupcontroller/prebackup_utils.go).
                "PreBackupPod" => pods.push(Pod {
                    labels: BTreeMap::from([
                        ("k8up.io/backupCommandPod".to_string(), "true".to_string()),
                        (PRE_BACKUP_POD_LABEL.to_string(), obj_name.to_string()),
                    ]),
                    what: format!("the pod of PreBackupPod {obj_name}"),
                }),
                "Ingress" => {
                    let a = &o["metadata"]["annotations"];
                    solver |= a.get("cert-manager.io/cluster-issuer").is_some()
                        || a.get("cert-manager.io/issuer").is_some();
                }
                "NetworkPolicy" => policies.push(Policy::parse(o)),
                _ => {}
            }
        }
        if solver {
            pods.push(Pod {
                labels: BTreeMap::from([(ACME_SOLVER_LABEL.to_string(), "true".to_string())]),
                what: "cert-manager's HTTP-01 solver pods".into(),
            });
        }
        Namespace {
            name,
            pods,
            policies,
        }
    }

    /// Why `flow` is not allowed, once per pod and port it is blocked for;
    /// empty when it is allowed.
    pub(crate) fn blocked(&self, flow: &Flow) -> Vec<String> {
        if let Peer::Unknown { missing } = &flow.peer {
            return vec![missing.clone()];
        }
        let wanted = Selector::labels(&flow.pods);
        let pods: Vec<Pod> = self
            .pods
            .iter()
            .filter(|p| wanted.matches(&p.labels))
            .cloned()
            .collect();
        if pods.is_empty() {
            // Allowed or not, the flow reaches no pod that runs: the pods
            // that need it carry other labels (a misspelt component).
            let components: BTreeSet<&str> = self
                .pods
                .iter()
                .filter_map(|p| p.labels.get("app.kubernetes.io/component"))
                .map(String::as_str)
                .collect();
            return vec![format!(
                "no pod of the namespace carries the labels {} it is declared for (the namespace's components: {})",
                labels_text(&flow.pods),
                if components.is_empty() {
                    "none".to_string()
                } else {
                    components.into_iter().collect::<Vec<_>>().join(", ")
                }
            )];
        }
        let ports = declared_ports(&flow.ports);
        let dir = flow.direction;
        let mut out = Vec::new();
        for pod in &pods {
            let selecting: Vec<&Policy> = self
                .policies
                .iter()
                .filter(|p| p.rules(dir).is_some() && p.pods.matches(&pod.labels))
                .collect();
            if selecting.is_empty() {
                continue; // not isolated: allowed (and reported as more than declared)
            }
            for port in &ports {
                let allowed = selecting.iter().any(|p| {
                    p.rules(dir).into_iter().flatten().any(|r| {
                        r.peers_cover(&flow.peer, self.name) && ports_cover(&r.ports, port.as_ref())
                    })
                });
                if !allowed {
                    let names: Vec<&str> = selecting.iter().map(|p| p.name.as_str()).collect();
                    out.push(format!(
                        "no rule of {} (the {} policies selecting {}) allows {} {} {}",
                        names.join(", "),
                        dir.as_str(),
                        pod.what,
                        port.as_ref().map_or("every port".into(), PortSel::text),
                        match dir {
                            Direction::Egress => "to",
                            Direction::Ingress => "from",
                        },
                        peer_text(&flow.peer),
                    ));
                }
            }
        }
        out
    }

    /// What the policies allow that no flow of `flows` declares, and the
    /// pods no policy isolates.
    pub(crate) fn undeclared(&self, flows: &[Flow]) -> Vec<Extra> {
        let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for pod in &self.pods {
            for dir in [Direction::Ingress, Direction::Egress] {
                let isolated = self
                    .policies
                    .iter()
                    .any(|p| p.rules(dir).is_some() && p.pods.matches(&pod.labels));
                if !isolated {
                    out.entry((
                        "no NetworkPolicy".into(),
                        format!("every {} flow (no policy isolates them)", dir.as_str()),
                    ))
                    .or_default()
                    .insert(pod.what.clone());
                }
            }
        }
        for policy in &self.policies {
            for dir in [Direction::Ingress, Direction::Egress] {
                for rule in policy.rules(dir).into_iter().flatten() {
                    let every = [PolicyPeer::Everything];
                    let peers = rule.peers.as_deref().unwrap_or(&every);
                    let ports: Vec<Option<&PortSel>> = match &rule.ports {
                        None => vec![None],
                        Some(ps) => ps.iter().map(Some).collect(),
                    };
                    for pod in self.pods.iter().filter(|p| policy.pods.matches(&p.labels)) {
                        for peer in peers {
                            for port in &ports {
                                let declared = flows.iter().any(|f| {
                                    f.direction == dir
                                        && Selector::labels(&f.pods).matches(&pod.labels)
                                        && declared_covers(&f.peer, peer, self.name)
                                        && declared_ports_cover(&f.ports, *port)
                                });
                                if !declared {
                                    out.entry((
                                        format!("NetworkPolicy {}/{}", self.name, policy.name),
                                        format!(
                                            "{} {} {} on {}",
                                            dir.as_str(),
                                            match dir {
                                                Direction::Egress => "to",
                                                Direction::Ingress => "from",
                                            },
                                            peer.text(),
                                            port.map_or("every port".into(), PortSel::text),
                                        ),
                                    ))
                                    .or_default()
                                    .insert(pod.what.clone());
                                }
                            }
                        }
                    }
                }
            }
        }
        out.into_iter()
            .map(|((policy, what), pods)| Extra {
                policy,
                what: format!(
                    "{what} for {}",
                    pods.into_iter().collect::<Vec<_>>().join(", ")
                ),
            })
            .collect()
    }
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

fn declared_ports(ports: &[FlowPort]) -> Vec<Option<PortSel>> {
    if ports.is_empty() {
        return vec![None];
    }
    ports
        .iter()
        .map(|p| {
            Some(PortSel {
                protocol: p.protocol.clone(),
                port: p.port.map(PortValue::Number),
                end: None,
            })
        })
        .collect()
}

/// A label selector: `matchLabels` and `matchExpressions`; empty matches
/// everything.
#[derive(Clone, Debug, Default)]
struct Selector {
    labels: BTreeMap<String, String>,
    expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn parse(v: &Value) -> Selector {
        Selector {
            labels: string_map(&v["matchLabels"]),
            expressions: v["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    (
                        e["key"].as_str().unwrap_or_default().to_string(),
                        e["operator"].as_str().unwrap_or_default().to_string(),
                        e["values"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect(),
                    )
                })
                .collect(),
        }
    }

    fn labels(l: &BTreeMap<String, String>) -> Selector {
        Selector {
            labels: l.clone(),
            expressions: Vec::new(),
        }
    }

    /// Whether a pod (or namespace) with `labels` is selected.
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| {
                let v = labels.get(k);
                match op.as_str() {
                    "In" => v.is_some_and(|v| values.contains(v)),
                    "NotIn" => v.is_none_or(|v| !values.contains(v)),
                    "Exists" => v.is_some(),
                    "DoesNotExist" => v.is_none(),
                    _ => false,
                }
            })
    }

    /// Whether everything it selects carries `required`.
    fn requires(&self, required: &BTreeMap<String, String>) -> bool {
        required.iter().all(|(k, v)| {
            self.labels.get(k) == Some(v)
                || self.expressions.iter().any(|(ek, op, values)| {
                    ek == k && op == "In" && values == std::slice::from_ref(v)
                })
        })
    }

    fn text(&self) -> String {
        if self.expressions.is_empty() {
            labels_text(&self.labels)
        } else {
            let mut parts: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            parts.extend(
                self.expressions
                    .iter()
                    .map(|(k, op, v)| format!("{k} {op} ({})", v.join(", "))),
            );
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// A network, in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Net {
    v6: bool,
    addr: u128,
    len: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (a, l) = s.split_once('/')?;
        let len: u8 = l.parse().ok()?;
        let (v6, addr, bits) = match a.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => (false, u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (true, u128::from(v6), 128),
        };
        (len <= bits).then(|| Net {
            v6,
            addr: mask(addr, len, bits),
            len,
        })
    }

    fn bits(self) -> u8 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    fn contains(self, o: Net) -> bool {
        self.v6 == o.v6 && self.len <= o.len && mask(o.addr, self.len, self.bits()) == self.addr
    }

    fn overlaps(self, o: Net) -> bool {
        self.contains(o) || o.contains(self)
    }
}

fn mask(addr: u128, len: u8, bits: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let keep = u32::from(len);
    let drop = u32::from(bits) - keep;
    (addr >> drop) << drop
}

/// `outer` minus its exceptions holds all of `inner` minus its own.
fn block_contains(outer: (&str, &[String]), inner: (&str, &[String])) -> bool {
    let (Some(o), Some(i)) = (Net::parse(outer.0), Net::parse(inner.0)) else {
        return false;
    };
    let inner_except: Vec<Net> = inner.1.iter().filter_map(|e| Net::parse(e)).collect();
    o.contains(i)
        && outer
            .1
            .iter()
            .filter_map(|e| Net::parse(e))
            .filter(|e| e.overlaps(i))
            .all(|e| i.contains(e) && inner_except.iter().any(|x| x.contains(e)))
}

/// A peer of a policy rule.
#[derive(Debug)]
enum PolicyPeer {
    /// An empty or absent peer list: every peer.
    Everything,
    Pods {
        /// `None`: the policy's own namespace.
        namespaces: Option<Selector>,
        pods: Selector,
    },
    Block {
        cidr: String,
        except: Vec<String>,
    },
}

impl PolicyPeer {
    fn parse(v: &Value) -> PolicyPeer {
        if let Some(b) = v.get("ipBlock") {
            return PolicyPeer::Block {
                cidr: b["cidr"].as_str().unwrap_or_default().to_string(),
                except: b["except"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect(),
            };
        }
        PolicyPeer::Pods {
            namespaces: v.get("namespaceSelector").map(Selector::parse),
            pods: v
                .get("podSelector")
                .map(Selector::parse)
                .unwrap_or_default(),
        }
    }

    fn text(&self) -> String {
        match self {
            PolicyPeer::Everything => "every peer".into(),
            PolicyPeer::Pods { namespaces, pods } => {
                let ns = match namespaces {
                    None => "the same namespace".to_string(),
                    Some(s)
                        if s.expressions.is_empty()
                            && s.labels.len() == 1
                            && s.labels.contains_key("kubernetes.io/metadata.name") =>
                    {
                        format!("namespace {}", s.labels["kubernetes.io/metadata.name"])
                    }
                    Some(s) if s.labels.is_empty() && s.expressions.is_empty() => {
                        "every namespace".to_string()
                    }
                    Some(s) => format!("namespaces {}", s.text()),
                };
                if pods.labels.is_empty() && pods.expressions.is_empty() {
                    format!("every pod of {ns}")
                } else {
                    format!("pods {} of {ns}", pods.text())
                }
            }
            PolicyPeer::Block { cidr, except } if except.is_empty() => cidr.clone(),
            PolicyPeer::Block { cidr, except } => format!("{cidr} except {}", except.join(", ")),
        }
    }
}

fn namespace_labels(ns: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.to_string())])
}

/// The policy's peer reaches everything the declared peer is.
fn policy_covers(policy: &PolicyPeer, declared: &Peer, own: &str) -> bool {
    match (policy, declared) {
        (PolicyPeer::Everything, _) => true,
        (PolicyPeer::Pods { namespaces, pods }, Peer::Pods { namespace, labels }) => {
            let target = namespace.as_deref().unwrap_or(own);
            let ns_ok = match namespaces {
                None => target == own,
                Some(s) => s.matches(&namespace_labels(target)),
            };
            ns_ok && pods.matches(labels)
        }
        (PolicyPeer::Block { cidr, except }, Peer::Block { cidr: c, except: e }) => {
            block_contains((cidr, except), (c, e))
        }
        _ => false,
    }
}

/// The declared peer holds everything the policy's peer reaches.
fn declared_covers(declared: &Peer, policy: &PolicyPeer, own: &str) -> bool {
    match (declared, policy) {
        (Peer::Pods { namespace, labels }, PolicyPeer::Pods { namespaces, pods }) => {
            let target = namespace.as_deref().unwrap_or(own);
            let ns_ok = match namespaces {
                None => target == own,
                Some(s) => s.requires(&namespace_labels(target)),
            };
            ns_ok && pods.requires(labels)
        }
        (Peer::Block { cidr, except }, PolicyPeer::Block { cidr: c, except: e }) => {
            block_contains((cidr, except), (c, e))
        }
        _ => false,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PortValue {
    Number(u16),
    Named(String),
}

/// A port of a rule: a protocol, and a port (a range with `endPort`) or
/// every port of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PortSel {
    protocol: String,
    port: Option<PortValue>,
    end: Option<u16>,
}

impl PortSel {
    fn parse(v: &Value) -> PortSel {
        PortSel {
            protocol: v["protocol"].as_str().unwrap_or("TCP").to_string(),
            port: match &v["port"] {
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .map(PortValue::Number),
                Value::String(s) => Some(PortValue::Named(s.clone())),
                _ => None,
            },
            end: v["endPort"].as_u64().and_then(|n| u16::try_from(n).ok()),
        }
    }

    fn text(&self) -> String {
        match (&self.port, self.end) {
            (None, _) => format!("every {} port", self.protocol),
            (Some(PortValue::Number(p)), Some(e)) => format!("{} {p}-{e}", self.protocol),
            (Some(PortValue::Number(p)), None) => format!("{} {p}", self.protocol),
            (Some(PortValue::Named(n)), _) => format!("{} port \"{n}\"", self.protocol),
        }
    }

    fn covers(&self, inner: &PortSel) -> bool {
        if self.protocol != inner.protocol {
            return false;
        }
        match (&self.port, &inner.port) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(PortValue::Number(a)), Some(PortValue::Number(b))) => {
                let (a_end, b_end) = (self.end.unwrap_or(*a), inner.end.unwrap_or(*b));
                a <= b && b_end <= a_end
            }
            (Some(PortValue::Named(a)), Some(PortValue::Named(b))) => a == b,
            _ => false,
        }
    }
}

/// A rule's ports (`None`: every port) hold `port` (`None`: every port).
fn ports_cover(rule: &Option<Vec<PortSel>>, port: Option<&PortSel>) -> bool {
    match (rule, port) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(ps), Some(p)) => ps.iter().any(|r| r.covers(p)),
    }
}

/// A flow's ports (empty: every port) hold the rule's `port`.
fn declared_ports_cover(flow: &[FlowPort], port: Option<&PortSel>) -> bool {
    if flow.is_empty() {
        return true;
    }
    let Some(port) = port else {
        return false;
    };
    declared_ports(flow)
        .iter()
        .flatten()
        .any(|d| d.covers(port))
}

/// One rule of a policy: `None` lists allow everything.
#[derive(Debug)]
struct PolicyRule {
    peers: Option<Vec<PolicyPeer>>,
    ports: Option<Vec<PortSel>>,
}

impl PolicyRule {
    fn parse(v: &Value, side: &str) -> PolicyRule {
        let list = |v: &Value| v.as_array().filter(|a| !a.is_empty()).cloned();
        PolicyRule {
            peers: list(&v[side]).map(|a| a.iter().map(PolicyPeer::parse).collect()),
            ports: list(&v["ports"]).map(|a| a.iter().map(PortSel::parse).collect()),
        }
    }

    fn peers_cover(&self, declared: &Peer, own: &str) -> bool {
        match &self.peers {
            None => true,
            Some(ps) => ps.iter().any(|p| policy_covers(p, declared, own)),
        }
    }
}

/// A NetworkPolicy: the pods it selects, and its rules in each direction
/// it applies to (`None`: it does not apply).
#[derive(Debug)]
struct Policy {
    name: String,
    pods: Selector,
    ingress: Option<Vec<PolicyRule>>,
    egress: Option<Vec<PolicyRule>>,
}

impl Policy {
    fn parse(o: &Value) -> Policy {
        let spec = &o["spec"];
        // Without policyTypes: Ingress, and Egress when it has egress rules.
        let types: Vec<String> = match spec["policyTypes"].as_array() {
            Some(t) => t
                .iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect(),
            None => {
                let mut t = vec!["Ingress".to_string()];
                if spec.get("egress").is_some() {
                    t.push("Egress".into());
                }
                t
            }
        };
        let rules = |field: &str, side: &str, ty: &str| {
            types.iter().any(|t| t == ty).then(|| {
                spec[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| PolicyRule::parse(r, side))
                    .collect()
            })
        };
        Policy {
            name: o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            pods: Selector::parse(&spec["podSelector"]),
            ingress: rules("ingress", "from", "Ingress"),
            egress: rules("egress", "to", "Egress"),
        }
    }

    fn rules(&self, dir: Direction) -> Option<&Vec<PolicyRule>> {
        match dir {
            Direction::Ingress => self.ingress.as_ref(),
            Direction::Egress => self.egress.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NS: &str = "t-app";

    fn web() -> BTreeMap<String, String> {
        BTreeMap::from([("app.kubernetes.io/component".to_string(), "web".to_string())])
    }

    fn deployment() -> Value {
        json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
            "spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/component": "web"}}}}})
    }

    fn deny() -> Value {
        json!({"kind": "NetworkPolicy", "metadata": {"name": "default-deny", "namespace": NS},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    }

    fn egress(rules: Value) -> Value {
        json!({"kind": "NetworkPolicy", "metadata": {"name": "allow-web-egress", "namespace": NS},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "web"}},
                     "policyTypes": ["Egress"], "egress": rules}})
    }

    fn flow(peer: Peer, ports: Vec<FlowPort>) -> Flow {
        Flow {
            name: "web → x".into(),
            why: "a test".into(),
            direction: Direction::Egress,
            group: "web".into(),
            pods: web(),
            peer,
            ports,
        }
    }

    fn tcp(p: u16) -> FlowPort {
        FlowPort {
            protocol: "TCP".into(),
            port: Some(p),
        }
    }

    fn postgres() -> Peer {
        Peer::Pods {
            namespace: Some("databases".into()),
            labels: BTreeMap::from([("cnpg.io/cluster".to_string(), "pg".to_string())]),
        }
    }

    fn to_postgres() -> Value {
        json!([{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "databases"}},
                        "podSelector": {"matchLabels": {"cnpg.io/cluster": "pg"}}}],
                "ports": [{"port": 5432, "protocol": "TCP"}]}])
    }

    fn ns(objects: &[Value]) -> Namespace<'_> {
        Namespace::of(NS, objects.iter())
    }

    #[test]
    fn exactly_the_declared_flow_passes() {
        let objects = [deployment(), deny(), egress(to_postgres())];
        let n = ns(&objects);
        let f = flow(postgres(), vec![tcp(5432)]);
        assert!(n.blocked(&f).is_empty());
        assert!(n.undeclared(&[f]).is_empty(), "{:?}", n.undeclared(&[]));
    }

    #[test]
    fn a_missing_port_or_peer_blocks_the_flow() {
        let objects = [deployment(), deny(), egress(to_postgres())];
        let n = ns(&objects);
        let other_port = flow(postgres(), vec![tcp(5433)]);
        let why = n.blocked(&other_port);
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("default-deny, allow-web-egress"), "{why:?}");
        assert!(why[0].contains("TCP 5433"), "{why:?}");
        let other_cluster = flow(
            Peer::Pods {
                namespace: Some("databases".into()),
                labels: BTreeMap::from([("cnpg.io/cluster".to_string(), "other".to_string())]),
            },
            vec![tcp(5432)],
        );
        assert_eq!(n.blocked(&other_cluster).len(), 1);
        // Ingress is not egress.
        let mut inbound = flow(postgres(), vec![tcp(5432)]);
        inbound.direction = Direction::Ingress;
        assert_eq!(n.blocked(&inbound).len(), 1);
        // A flow declared for pods that do not run reaches nothing.
        let mut elsewhere = flow(postgres(), vec![tcp(5432)]);
        elsewhere.pods =
            BTreeMap::from([("app.kubernetes.io/component".to_string(), "wbe".to_string())]);
        let why = n.blocked(&elsewhere);
        assert!(
            why[0].contains("the namespace's components: web"),
            "{why:?}"
        );
        // An unknown address is never allowed, and says what to set.
        let unknown = flow(
            Peer::Unknown {
                missing: "set kubernetes_api".into(),
            },
            vec![],
        );
        assert_eq!(n.blocked(&unknown), vec!["set kubernetes_api".to_string()]);
    }

    #[test]
    fn a_namespace_selector_alone_is_more_than_its_pods() {
        let objects = [
            deployment(),
            deny(),
            egress(
                json!([{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "databases"}}}],
                           "ports": [{"port": 5432, "protocol": "TCP"}]}]),
            ),
        ];
        let n = ns(&objects);
        let f = flow(postgres(), vec![tcp(5432)]);
        assert!(n.blocked(&f).is_empty(), "a wider peer allows the flow");
        let extra = n.undeclared(&[f]);
        assert_eq!(extra.len(), 1, "{extra:?}");
        assert!(
            extra[0].what.contains("every pod of namespace databases"),
            "{extra:?}"
        );
        assert_eq!(extra[0].policy, "NetworkPolicy t-app/allow-web-egress");
        // Every namespace is more still.
        let objects = [
            deployment(),
            deny(),
            egress(
                json!([{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"cnpg.io/cluster": "pg"}}}],
                           "ports": [{"port": 5432}]}]),
            ),
        ];
        let n = ns(&objects);
        assert_eq!(n.undeclared(&[flow(postgres(), vec![tcp(5432)])]).len(), 1);
    }

    #[test]
    fn empty_peer_and_port_lists_allow_everything() {
        let objects = [
            deployment(),
            deny(),
            egress(json!([{"ports": [{"port": 5432}]}])),
        ];
        let n = ns(&objects);
        let f = flow(postgres(), vec![tcp(5432)]);
        assert!(n.blocked(&f).is_empty());
        let extra = n.undeclared(std::slice::from_ref(&f));
        assert_eq!(extra.len(), 1);
        assert!(
            extra[0]
                .what
                .starts_with("egress to every peer on TCP 5432"),
            "{extra:?}"
        );

        let objects = [
            deployment(),
            deny(),
            egress(json!([{"to": [], "ports": []}])),
        ];
        let n = ns(&objects);
        let extra = n.undeclared(std::slice::from_ref(&f));
        assert!(
            extra[0]
                .what
                .starts_with("egress to every peer on every port"),
            "{extra:?}"
        );

        let objects = [
            deployment(),
            deny(),
            egress(
                json!([{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "databases"}},
                                   "podSelector": {"matchLabels": {"cnpg.io/cluster": "pg"}}}]}]),
            ),
        ];
        let n = ns(&objects);
        let extra = n.undeclared(std::slice::from_ref(&f));
        assert!(extra[0].what.contains("on every port"), "{extra:?}");
    }

    #[test]
    fn a_pod_no_policy_isolates_may_do_anything() {
        let objects = [deployment()];
        let n = ns(&objects);
        let f = flow(postgres(), vec![tcp(5432)]);
        assert!(n.blocked(&f).is_empty());
        let extra = n.undeclared(&[f]);
        assert_eq!(extra.len(), 2, "{extra:?}");
        assert!(extra.iter().all(|e| e.policy == "no NetworkPolicy"));
    }

    #[test]
    fn ip_blocks_and_their_exceptions() {
        let public = || Peer::Block {
            cidr: "0.0.0.0/0".into(),
            except: vec!["10.0.0.0/8".into(), "192.168.0.0/16".into()],
        };
        let https = egress(
            json!([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "192.168.0.0/16"]}}],
                                   "ports": [{"port": 443, "protocol": "TCP"}]}]),
        );
        let objects = [deployment(), deny(), https];
        let n = ns(&objects);
        // One address inside the block is allowed...
        let one = flow(
            Peer::Block {
                cidr: "198.51.100.7/32".into(),
                except: vec![],
            },
            vec![tcp(443)],
        );
        assert!(n.blocked(&one).is_empty());
        // ...one in an exception is not...
        let private = flow(
            Peer::Block {
                cidr: "10.1.2.3/32".into(),
                except: vec![],
            },
            vec![tcp(443)],
        );
        assert_eq!(n.blocked(&private).len(), 1);
        // ...and declaring one address does not cover the whole block.
        assert_eq!(n.undeclared(std::slice::from_ref(&one)).len(), 1);
        assert!(n.undeclared(&[flow(public(), vec![tcp(443)])]).is_empty());
        // A declared block without the exceptions covers the policy's.
        let all = flow(
            Peer::Block {
                cidr: "0.0.0.0/0".into(),
                except: vec![],
            },
            vec![tcp(443)],
        );
        assert!(n.undeclared(&[all]).is_empty());
        // A policy block with fewer exceptions than declared is more.
        let wider = egress(
            json!([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                                   "ports": [{"port": 443, "protocol": "TCP"}]}]),
        );
        let objects = [deployment(), deny(), wider];
        assert_eq!(
            ns(&objects)
                .undeclared(&[flow(public(), vec![tcp(443)])])
                .len(),
            1
        );
        // IPv6 never falls inside IPv4.
        assert!(!Net::parse("0.0.0.0/0")
            .unwrap()
            .contains(Net::parse("2001:db8::/32").unwrap()));
        assert!(Net::parse("2001:db8::/32")
            .unwrap()
            .contains(Net::parse("2001:db8:1::1/128").unwrap()));
    }

    #[test]
    fn port_ranges_protocols_and_every_port() {
        let range = PortSel::parse(&json!({"port": 10000, "endPort": 10100, "protocol": "UDP"}));
        assert!(range.covers(&PortSel::parse(&json!({"port": 10050, "protocol": "UDP"}))));
        assert!(!range.covers(&PortSel::parse(&json!({"port": 10050}))));
        assert!(!range.covers(&PortSel::parse(&json!({"port": 10200, "protocol": "UDP"}))));
        let every_udp = PortSel::parse(&json!({"protocol": "UDP"}));
        assert!(every_udp.covers(&range));
        assert!(!range.covers(&every_udp));
        // A flow to every UDP port covers a rule with one...
        let any_udp = [FlowPort {
            protocol: "UDP".into(),
            port: None,
        }];
        assert!(declared_ports_cover(&any_udp, Some(&range)));
        // ...but no rule without ports.
        assert!(!declared_ports_cover(&any_udp, None));
    }

    #[test]
    fn selectors_with_expressions() {
        let sel = Selector::parse(&json!({"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web"]},
            {"key": "canary", "operator": "DoesNotExist"}]}));
        let mut l = BTreeMap::from([("tier".to_string(), "web".to_string())]);
        assert!(sel.matches(&l));
        assert!(sel.requires(&l));
        l.insert("canary".into(), "yes".into());
        assert!(!sel.matches(&l));
        let notin = Selector::parse(
            &json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}),
        );
        assert!(notin.matches(&BTreeMap::new()));
        assert!(!notin.requires(&BTreeMap::from([("tier".to_string(), "web".to_string())])));
    }

    #[test]
    fn operator_pods_are_found() {
        let objects = [
            json!({"apiVersion": "k8up.io/v1", "kind": "Schedule", "metadata": {"name": "backup", "namespace": NS}}),
            json!({"kind": "PreBackupPod", "metadata": {"name": "bucket-data", "namespace": NS}}),
            json!({"kind": "Ingress", "metadata": {"name": "web", "namespace": NS,
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}}}),
            json!({"kind": "CronJob", "metadata": {"name": "cron", "namespace": NS},
                "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"c": "cron"}}}}}}}),
            json!({"kind": "Deployment", "metadata": {"name": "elsewhere", "namespace": "other"}}),
        ];
        let n = ns(&objects);
        let what: Vec<&str> = n.pods.iter().map(|p| p.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "k8up's pods for Schedule backup",
                "the pod of PreBackupPod bucket-data",
                "the pods of CronJob cron",
                "cert-manager's HTTP-01 solver pods"
            ]
        );
    }

    #[test]
    fn policy_types_default_from_the_rules() {
        let p = Policy::parse(
            &json!({"metadata": {"name": "p"}, "spec": {"podSelector": {}, "egress": []}}),
        );
        assert!(p.ingress.is_some() && p.egress.is_some());
        let p = Policy::parse(&json!({"metadata": {"name": "p"}, "spec": {"podSelector": {}}}));
        assert!(p.ingress.is_some() && p.egress.is_none());
    }
}
