//! The dependency graph of the desired state: nodes are resources, an edge
//! `a → b` says "a needs b". It gives apply waves (what can be created
//! together, in order), the teardown order (the reverse), and cycles.
//!
//! Edges are found through indexes by identity (namespace, name, selector
//! label), never by comparing every pair of objects.

pub mod render;

use std::collections::HashMap;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use serde_json::Value;

use crate::emit::DesiredObject;

/// A resource of the graph: an emitted object, or something created from
/// one in the cluster (a certificate from an ingress, a DNS name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub tenant: Option<String>,
    /// The app instance the resource belongs to.
    pub instance: Option<String>,
    /// Index of the emitted object, if the node is one.
    pub object: Option<usize>,
}

impl Node {
    pub fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// The identity of a resource, hashed: lookups allocate nothing. A hash
/// collision is told apart by comparing the node itself (`find`).
type Key = u64;

pub struct Graph {
    pub graph: DiGraph<Node, ()>,
    index: HashMap<Key, Vec<NodeIndex>>,
}

/// A dependency cycle, in order: each node needs the next, the last needs
/// the first.
#[derive(Debug, Clone)]
pub struct Cycle(pub Vec<Node>);

fn key(cluster: &str, namespace: &str, kind: &str, name: &str) -> Key {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (cluster, namespace, kind, name).hash(&mut h);
    h.finish()
}

const WORKLOADS: [&str; 3] = ["Deployment", "StatefulSet", "CronJob"];

fn pod_spec(object: &Value) -> Option<&Value> {
    match object["kind"].as_str()? {
        "Deployment" | "StatefulSet" => Some(&object["spec"]["template"]["spec"]),
        "CronJob" => Some(&object["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
        _ => None,
    }
}

/// Names a pod refers to: (kind, name) of secrets, config maps, claims.
fn pod_references(spec: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for v in spec["volumes"].as_array().into_iter().flatten() {
        if let Some(n) = v["persistentVolumeClaim"]["claimName"].as_str() {
            out.push(("PersistentVolumeClaim", n.to_string()));
        }
        if let Some(n) = v["configMap"]["name"].as_str() {
            out.push(("ConfigMap", n.to_string()));
        }
        if let Some(n) = v["secret"]["secretName"].as_str() {
            out.push(("Secret", n.to_string()));
        }
    }
    for c in spec["containers"].as_array().into_iter().flatten() {
        for e in c["env"].as_array().into_iter().flatten() {
            if let Some(n) = e["valueFrom"]["secretKeyRef"]["name"].as_str() {
                out.push(("Secret", n.to_string()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The fields [`Graph::build`] reads, as paths; `[]` walks every item of
/// an array. Keep in step with `build`: a test compares the two graphs.
const OUTLINE: &[&[&str]] = &[
    &["kind"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &[
        "metadata",
        "annotations",
        "replicator.v1.mittwald.de/replicate-from",
    ],
    &[
        "spec",
        "template",
        "metadata",
        "labels",
        "app.kubernetes.io/component",
    ],
    &[
        "spec",
        "template",
        "spec",
        "volumes",
        "[]",
        "persistentVolumeClaim",
        "claimName",
    ],
    &[
        "spec",
        "template",
        "spec",
        "volumes",
        "[]",
        "configMap",
        "name",
    ],
    &[
        "spec",
        "template",
        "spec",
        "volumes",
        "[]",
        "secret",
        "secretName",
    ],
    &[
        "spec",
        "template",
        "spec",
        "containers",
        "[]",
        "env",
        "[]",
        "valueFrom",
        "secretKeyRef",
        "name",
    ],
    &[
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "metadata",
        "labels",
        "app.kubernetes.io/component",
    ],
    &[
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "volumes",
        "[]",
        "persistentVolumeClaim",
        "claimName",
    ],
    &[
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "volumes",
        "[]",
        "configMap",
        "name",
    ],
    &[
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "volumes",
        "[]",
        "secret",
        "secretName",
    ],
    &[
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "containers",
        "[]",
        "env",
        "[]",
        "valueFrom",
        "secretKeyRef",
        "name",
    ],
    &["spec", "cluster", "name"],
    &["spec", "managed", "roles", "[]", "passwordSecret", "name"],
    &["spec", "bucketClaimName"],
    &["spec", "credentialsSecretName"],
    &["spec", "selector", "app.kubernetes.io/component"],
    &[
        "spec",
        "selector",
        "matchLabels",
        "app.kubernetes.io/component",
    ],
    &[
        "spec", "rules", "[]", "http", "paths", "[]", "backend", "service", "name",
    ],
    &["spec", "tls", "[]", "secretName"],
    &["spec", "tls", "[]", "hosts"],
];

fn copy_path(src: &Value, dst: &mut Value, path: &[&str]) {
    match path.split_first() {
        None => *dst = src.clone(),
        Some((&"[]", rest)) => {
            let Some(items) = src.as_array() else { return };
            if !dst.is_array() {
                *dst = Value::Array(vec![Value::Null; items.len()]);
            }
            if let Some(out) = dst.as_array_mut() {
                for (s, d) in items.iter().zip(out.iter_mut()) {
                    copy_path(s, d, rest);
                }
            }
        }
        Some((key, rest)) => {
            let Some(child) = src.get(*key) else { return };
            if !dst.is_object() {
                *dst = Value::Object(serde_json::Map::new());
            }
            if let Some(m) = dst.as_object_mut() {
                let d = m.entry(key.to_string()).or_insert(Value::Null);
                copy_path(child, d, rest);
            }
        }
    }
}

/// An object reduced to what the graph reads (identity, labels that select
/// it, names it refers to): a few hundred bytes instead of the whole
/// object, so the graph of 10,000 tenants is built without holding their
/// manifests.
pub fn outline(object: &DesiredObject) -> DesiredObject {
    let mut value = Value::Object(serde_json::Map::new());
    for path in OUTLINE {
        copy_path(&object.value, &mut value, path);
    }
    DesiredObject {
        cluster: object.cluster.clone(),
        tenant: object.tenant.clone(),
        instance: object.instance.clone(),
        value,
    }
}

impl Graph {
    fn add(&mut self, node: Node) -> NodeIndex {
        if let Some(i) = self.find(&node.cluster, &node.namespace, &node.kind, &node.name) {
            return i;
        }
        let k = key(&node.cluster, &node.namespace, &node.kind, &node.name);
        let i = self.graph.add_node(node);
        self.index.entry(k).or_default().push(i);
        i
    }

    fn find(&self, cluster: &str, namespace: &str, kind: &str, name: &str) -> Option<NodeIndex> {
        self.index
            .get(&key(cluster, namespace, kind, name))?
            .iter()
            .copied()
            .find(|i| {
                let n = &self.graph[*i];
                n.cluster == cluster && n.namespace == namespace && n.kind == kind && n.name == name
            })
    }

    fn need(&mut self, from: NodeIndex, to: Option<NodeIndex>) {
        if let Some(to) = to {
            if from != to {
                self.graph.update_edge(from, to, ());
            }
        }
    }

    /// Builds the graph of a desired state.
    pub fn build(objects: &[DesiredObject]) -> Graph {
        let mut g = Graph {
            graph: DiGraph::new(),
            index: HashMap::with_capacity(objects.len() * 2),
        };
        // Index 1: every object by identity.
        for (i, o) in objects.iter().enumerate() {
            g.add(Node {
                cluster: o.cluster.clone(),
                namespace: o.namespace().unwrap_or("").to_string(),
                kind: o.kind().to_string(),
                name: o.name().to_string(),
                tenant: o.tenant.clone(),
                instance: o.instance.clone(),
                object: Some(i),
            });
        }
        // Index 2: workloads by (cluster, namespace, component label), for
        // services and disruption budgets that select them.
        let mut by_component: HashMap<(String, String, String), Vec<NodeIndex>> = HashMap::new();
        // Index 3: bucket credentials secrets → their BucketAccess.
        let mut credentials: HashMap<(String, String, String), NodeIndex> = HashMap::new();
        // Index 4: volume claims by namespace, for the backups protecting them.
        let mut claims: HashMap<(String, String), Vec<NodeIndex>> = HashMap::new();
        for o in objects {
            let ns = o.namespace().unwrap_or("");
            let Some(me) = g.find(&o.cluster, ns, o.kind(), o.name()) else {
                continue;
            };
            if WORKLOADS.contains(&o.kind()) {
                let labels = match o.kind() {
                    "CronJob" => {
                        &o.value["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
                    }
                    _ => &o.value["spec"]["template"]["metadata"]["labels"],
                };
                if let Some(c) = labels["app.kubernetes.io/component"].as_str() {
                    by_component
                        .entry((o.cluster.clone(), ns.to_string(), c.to_string()))
                        .or_default()
                        .push(me);
                }
            }
            if o.kind() == "PersistentVolumeClaim" {
                claims
                    .entry((o.cluster.clone(), ns.to_string()))
                    .or_default()
                    .push(me);
            }
            if o.kind() == "BucketAccess" {
                if let Some(s) = o.value["spec"]["credentialsSecretName"].as_str() {
                    credentials.insert((o.cluster.clone(), ns.to_string(), s.to_string()), me);
                }
            }
        }
        for o in objects {
            let (c, ns) = (o.cluster.as_str(), o.namespace().unwrap_or(""));
            let Some(me) = g.find(c, ns, o.kind(), o.name()) else {
                continue;
            };
            let v = &o.value;
            // Everything namespaced needs its namespace (when jardin owns it).
            if !ns.is_empty() {
                let n = g.find(c, "", "Namespace", ns);
                g.need(me, n);
            }
            match o.kind() {
                k if WORKLOADS.contains(&k) => {
                    if let Some(spec) = pod_spec(v) {
                        for (kind, name) in pod_references(spec) {
                            let target = if kind == "Secret" {
                                credentials
                                    .get(&(c.to_string(), ns.to_string(), name.clone()))
                                    .copied()
                            } else {
                                None
                            }
                            .or_else(|| g.find(c, ns, kind, &name));
                            g.need(me, target);
                        }
                    }
                }
                "Secret" => {
                    if let Some(from) = v["metadata"]["annotations"]
                        ["replicator.v1.mittwald.de/replicate-from"]
                        .as_str()
                    {
                        if let Some((sns, sname)) = from.split_once('/') {
                            let t = g.find(c, sns, "Secret", sname);
                            g.need(me, t);
                        }
                    }
                }
                "Database" => {
                    if let Some(cluster_name) = v["spec"]["cluster"]["name"].as_str() {
                        let t = g.find(c, ns, "Cluster", cluster_name);
                        g.need(me, t);
                    }
                }
                "Cluster" => {
                    for role in v["spec"]["managed"]["roles"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        if let Some(s) = role["passwordSecret"]["name"].as_str() {
                            let t = g.find(c, ns, "Secret", s);
                            g.need(me, t);
                        }
                    }
                }
                "BucketAccess" => {
                    if let Some(claim) = v["spec"]["bucketClaimName"].as_str() {
                        let t = g.find(c, ns, "BucketClaim", claim);
                        g.need(me, t);
                    }
                }
                "Service" | "PodDisruptionBudget" => {
                    let selector = if o.kind() == "Service" {
                        &v["spec"]["selector"]
                    } else {
                        &v["spec"]["selector"]["matchLabels"]
                    };
                    if let Some(comp) = selector["app.kubernetes.io/component"].as_str() {
                        let targets = by_component
                            .get(&(c.to_string(), ns.to_string(), comp.to_string()))
                            .cloned()
                            .unwrap_or_default();
                        for t in targets {
                            g.need(me, Some(t));
                        }
                    }
                }
                "Ingress" => {
                    for rule in v["spec"]["rules"].as_array().into_iter().flatten() {
                        for p in rule["http"]["paths"].as_array().into_iter().flatten() {
                            if let Some(s) = p["backend"]["service"]["name"].as_str() {
                                let t = g.find(c, ns, "Service", s);
                                g.need(me, t);
                            }
                        }
                    }
                    for tls in v["spec"]["tls"].as_array().into_iter().flatten() {
                        let Some(secret) = tls["secretName"].as_str() else {
                            continue;
                        };
                        // cert-manager creates this Certificate from the ingress.
                        let cert = g.add(Node {
                            cluster: c.to_string(),
                            namespace: ns.to_string(),
                            kind: "Certificate".into(),
                            name: secret.to_string(),
                            tenant: o.tenant.clone(),
                            instance: o.instance.clone(),
                            object: None,
                        });
                        g.need(me, Some(cert));
                        for host in tls["hosts"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                        {
                            // The ACME challenge needs the name to resolve.
                            let dns = g.add(Node {
                                cluster: c.to_string(),
                                namespace: String::new(),
                                kind: "DNSName".into(),
                                name: host.to_string(),
                                tenant: o.tenant.clone(),
                                instance: o.instance.clone(),
                                object: None,
                            });
                            g.need(cert, Some(dns));
                        }
                    }
                }
                "Schedule" => {
                    // A volume backup protects the claims of its namespace.
                    let protected = claims
                        .get(&(c.to_string(), ns.to_string()))
                        .cloned()
                        .unwrap_or_default();
                    for t in protected {
                        g.need(me, Some(t));
                    }
                }
                "ScheduledBackup" => {
                    if let Some(cluster_name) = v["spec"]["cluster"]["name"].as_str() {
                        let t = g.find(c, ns, "Cluster", cluster_name);
                        g.need(me, t);
                    }
                }
                _ => {}
            }
        }
        // Workloads need the database of their app (named after their namespace).
        let mut databases: HashMap<(String, String), NodeIndex> = HashMap::new();
        for o in objects.iter().filter(|o| o.kind() == "Database") {
            if let Some(i) = g.find(
                &o.cluster,
                o.namespace().unwrap_or(""),
                "Database",
                o.name(),
            ) {
                databases.insert((o.cluster.clone(), o.name().to_string()), i);
            }
        }
        for o in objects.iter().filter(|o| WORKLOADS.contains(&o.kind())) {
            let ns = o.namespace().unwrap_or("");
            let me = g.find(&o.cluster, ns, o.kind(), o.name());
            if let (Some(me), Some(db)) = (me, databases.get(&(o.cluster.clone(), ns.to_string())))
            {
                g.need(me, Some(*db));
            }
        }
        g
    }

    /// Apply waves: wave 0 needs nothing, wave n needs only earlier waves.
    /// Nodes are sorted inside a wave, so the result is deterministic.
    pub fn waves(&self) -> Result<Vec<Vec<NodeIndex>>, Cycle> {
        let order = toposort(&self.graph, None).map_err(|_| self.cycle())?;
        // toposort gives dependents before dependencies (edges point to
        // what is needed): walk it backwards.
        let mut wave: Vec<usize> = vec![0; self.graph.node_count()];
        for &n in order.iter().rev() {
            let w = self
                .graph
                .neighbors_directed(n, Direction::Outgoing)
                .map(|d| wave[d.index()] + 1)
                .max()
                .unwrap_or(0);
            wave[n.index()] = w;
        }
        let count = wave.iter().max().map_or(0, |m| m + 1);
        let mut waves: Vec<Vec<NodeIndex>> = vec![Vec::new(); count];
        for n in self.graph.node_indices() {
            waves[wave[n.index()]].push(n);
        }
        for w in &mut waves {
            w.sort_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
        }
        Ok(waves)
    }

    /// Teardown order: the apply waves, last first.
    pub fn teardown(&self) -> Result<Vec<Vec<NodeIndex>>, Cycle> {
        let mut w = self.waves()?;
        w.reverse();
        Ok(w)
    }

    /// One cycle of the graph, as a path.
    fn cycle(&self) -> Cycle {
        for scc in tarjan_scc(&self.graph) {
            if scc.len() < 2 && !scc.iter().any(|n| self.graph.contains_edge(*n, *n)) {
                continue;
            }
            // Walk inside the component from its smallest node until we return.
            let start = *scc
                .iter()
                .min_by(|a, b| self.graph[**a].cmp(&self.graph[**b]))
                .unwrap_or(&scc[0]);
            let mut path = vec![start];
            let mut at = start;
            loop {
                let next = self
                    .graph
                    .neighbors_directed(at, Direction::Outgoing)
                    .filter(|n| scc.contains(n))
                    .min_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
                match next {
                    Some(n) if n == start => break,
                    Some(n) if !path.contains(&n) => {
                        path.push(n);
                        at = n;
                    }
                    _ => break,
                }
            }
            return Cycle(path.into_iter().map(|n| self.graph[n].clone()).collect());
        }
        Cycle(Vec::new())
    }

    /// Keeps only the nodes of one tenant (and what they need).
    pub fn for_tenant(&self, tenant: &str) -> Graph {
        let keep: Vec<bool> = self
            .graph
            .node_indices()
            .map(|n| self.graph[n].tenant.as_deref() == Some(tenant))
            .collect();
        let mut g = Graph {
            graph: DiGraph::new(),
            index: HashMap::new(),
        };
        let mut map = HashMap::new();
        for n in self.graph.node_indices() {
            let needed_by_kept = self
                .graph
                .neighbors_directed(n, Direction::Incoming)
                .any(|m| keep[m.index()]);
            if keep[n.index()] || needed_by_kept {
                map.insert(n, g.add(self.graph[n].clone()));
            }
        }
        for e in self.graph.edge_indices() {
            if let Some((a, b)) = self.graph.edge_endpoints(e) {
                if let (Some(x), Some(y)) = (map.get(&a), map.get(&b)) {
                    g.graph.update_edge(*x, *y, ());
                }
            }
        }
        g
    }

    /// Test and fuzz hook: a graph from explicit nodes and edges.
    pub fn from_parts(nodes: Vec<Node>, edges: &[(usize, usize)]) -> Graph {
        let mut g = Graph {
            graph: DiGraph::new(),
            index: HashMap::new(),
        };
        let ids: Vec<NodeIndex> = nodes.into_iter().map(|n| g.add(n)).collect();
        for (a, b) in edges {
            g.need(ids[*a], Some(ids[*b]));
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: &str, name: &str) -> Node {
        Node {
            cluster: "c".into(),
            namespace: "ns".into(),
            kind: kind.into(),
            name: name.into(),
            tenant: Some("t".into()),
            instance: Some("a".into()),
            object: None,
        }
    }

    #[test]
    fn waves_put_dependencies_first() {
        // ingress → service → deployment → secret
        let g = Graph::from_parts(
            vec![
                node("Ingress", "i"),
                node("Service", "s"),
                node("Deployment", "d"),
                node("Secret", "x"),
            ],
            &[(0, 1), (1, 2), (2, 3)],
        );
        let waves = g.waves().unwrap();
        let names: Vec<Vec<&str>> = waves
            .iter()
            .map(|w| w.iter().map(|n| g.graph[*n].name.as_str()).collect())
            .collect();
        assert_eq!(names, vec![vec!["x"], vec!["d"], vec!["s"], vec!["i"]]);
        assert_eq!(g.teardown().unwrap()[0].len(), 1);
    }

    #[test]
    fn a_cycle_is_reported_with_its_whole_path() {
        let g = Graph::from_parts(
            vec![
                node("Deployment", "a"),
                node("Secret", "b"),
                node("Database", "c"),
                node("Namespace", "z"),
            ],
            &[(0, 1), (1, 2), (2, 0), (0, 3)],
        );
        let cycle = g.waves().unwrap_err();
        let names: Vec<&str> = cycle.0.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names.len(), 3);
        assert!(names.contains(&"a") && names.contains(&"b") && names.contains(&"c"));
    }
}
