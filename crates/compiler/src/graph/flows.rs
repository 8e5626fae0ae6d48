//! The network flows of the desired state, for people: per app namespace,
//! what its pods reach and what reaches them, as text, Graphviz DOT or
//! Mermaid. They are the flows every app declares (and its backup pods'),
//! resolved against its cluster: what the namespace's NetworkPolicies
//! allow, once `check` has proved that they allow exactly these.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::emit::flows::{describe_ports, peer_text};
use jardin_core::model::{Direction, Flow, Peer, TenantUnit};

/// One app namespace and its flows.
struct Namespace<'a> {
    cluster: &'a str,
    name: &'a str,
    /// `tenant/instance (catalog app)`.
    owner: String,
    flows: &'a [Flow],
}

fn namespaces(tenants: &[TenantUnit]) -> Vec<Namespace<'_>> {
    let mut out: Vec<Namespace<'_>> = tenants
        .iter()
        .flat_map(|u| {
            let t = &u.compiled.tenant;
            u.compiled
                .apps
                .iter()
                .filter(|(_, a)| a.rendered)
                .map(move |(instance, a)| Namespace {
                    cluster: &t.cluster,
                    name: &a.namespace,
                    owner: format!("{}/{instance}, {}", t.id, a.app),
                    flows: &a.flows,
                })
        })
        .collect();
    out.sort_by(|a, b| (a.cluster, a.name).cmp(&(b.cluster, b.name)));
    out
}

/// The component a peer in the app's own namespace is (`None` for a
/// peer elsewhere).
fn same_namespace(f: &Flow) -> Option<&str> {
    match &f.peer {
        Peer::Pods {
            namespace: None,
            labels,
        } => labels
            .get("app.kubernetes.io/component")
            .or_else(|| labels.get("app.kubernetes.io/name"))
            .map(String::as_str),
        _ => None,
    }
}

/// The flows, one line each, grouped by namespace:
/// `  nextcloud → postgres: pods {cnpg.io/cluster=pg} of namespace databases, TCP 5432`.
/// A flow between two components of the app is allowed on both sides and
/// shown once, from the side that opens it.
pub fn text(tenants: &[TenantUnit]) -> String {
    let mut out = String::new();
    for ns in namespaces(tenants) {
        let _ = writeln!(out, "{} {} ({})", ns.cluster, ns.name, ns.owner);
        for f in ns.flows {
            let peer = match (same_namespace(f), f.direction) {
                (Some(_), Direction::Ingress) => continue,
                (Some(c), Direction::Egress) => format!("component {c}"),
                (None, _) => peer_text(&f.peer),
            };
            let side = match f.direction {
                Direction::Egress => "to",
                Direction::Ingress => "from",
            };
            let _ = writeln!(
                out,
                "  {}: {side} {peer}, {}",
                f.name,
                describe_ports(&f.ports)
            );
        }
    }
    out
}

fn id(parts: &[&str]) -> String {
    parts
        .join("_")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The graph's nodes (per namespace, its groups of pods; the peers, once
/// each) and its edges, in the direction traffic starts.
struct Picture {
    /// cluster/namespace → (node id, label) of its groups of pods.
    groups: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// node id → label, for peers outside the namespaces.
    peers: BTreeMap<String, String>,
    /// (from, to, label)
    edges: Vec<(String, String, String)>,
}

fn picture(tenants: &[TenantUnit]) -> Picture {
    let mut p = Picture {
        groups: BTreeMap::new(),
        peers: BTreeMap::new(),
        edges: Vec::new(),
    };
    for ns in namespaces(tenants) {
        let groups = p
            .groups
            .entry((ns.cluster.to_string(), ns.name.to_string()))
            .or_default();
        for f in ns.flows {
            let group = id(&[ns.cluster, ns.name, &f.group]);
            groups.insert(group.clone(), f.group.clone());
            let peer_label = peer_text(&f.peer);
            // A peer in the same namespace is one of its groups (by its
            // component); the flow has two halves, only the egress is drawn.
            let peer = if let Some(other) = same_namespace(f) {
                if f.direction == Direction::Ingress {
                    continue;
                }
                id(&[ns.cluster, ns.name, other])
            } else {
                let peer = id(&[ns.cluster, &peer_label]);
                p.peers
                    .insert(peer.clone(), format!("{} {peer_label}", ns.cluster));
                peer
            };
            let label = describe_ports(&f.ports);
            let edge = match f.direction {
                Direction::Egress => (group, peer, label),
                Direction::Ingress => (peer, group, label),
            };
            if !p.edges.contains(&edge) {
                p.edges.push(edge);
            }
        }
    }
    p.edges.sort();
    p
}

/// Graphviz: one box per namespace, its groups of pods inside; arrows
/// read "opens connections to".
pub fn dot(tenants: &[TenantUnit]) -> String {
    let p = picture(tenants);
    let mut out = String::from(
        "digraph flows {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n",
    );
    for ((cluster, ns), groups) in &p.groups {
        let _ = writeln!(out, "  subgraph cluster_{} {{", id(&[cluster, ns]));
        let _ = writeln!(out, "    label=\"{cluster} {ns}\";");
        for (gid, label) in groups {
            let _ = writeln!(out, "    {gid} [label=\"{label}\"];");
        }
        out.push_str("  }\n");
    }
    for (pid, label) in &p.peers {
        let _ = writeln!(
            out,
            "  {pid} [label=\"{}\", shape=ellipse];",
            label.replace('"', "'")
        );
    }
    for (a, b, label) in &p.edges {
        let _ = writeln!(out, "  {a} -> {b} [label=\"{label}\"];");
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart: a subgraph per namespace; arrows read "opens
/// connections to", labelled with the ports.
pub fn mermaid(tenants: &[TenantUnit]) -> String {
    let p = picture(tenants);
    let mut out = String::from("flowchart LR\n");
    for ((cluster, ns), groups) in &p.groups {
        let _ = writeln!(out, "  subgraph {}[\"{cluster} {ns}\"]", id(&[cluster, ns]));
        for (gid, label) in groups {
            let _ = writeln!(out, "    {gid}[\"{label}\"]");
        }
        out.push_str("  end\n");
    }
    for (pid, label) in &p.peers {
        let _ = writeln!(out, "  {pid}([\"{}\"])", label.replace('"', "'"));
    }
    for (a, b, label) in &p.edges {
        let _ = writeln!(out, "  {a} -->|\"{label}\"| {b}");
    }
    out
}
