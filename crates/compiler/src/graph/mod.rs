//! The dependency graph of the desired state: nodes are resources, an edge
//! `a → b` says "a needs b". It gives apply waves (what can be created
//! together, in order), and cycles.
//!
//! Edges are found through indexes by identity (namespace, name, selector
//! label), never by comparing every pair of objects.

pub mod flows;
pub mod render;

// A fast hash for the graph's indexes: hundreds of thousands of lookups,
// keys made by jardin itself (no untrusted input to guard against).
use foldhash::HashMap;
use foldhash::HashMapExt;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use serde_json::Value;

use crate::emit::DesiredObject;

/// A resource of the graph: an emitted object, or something created from
/// one in the cluster (a certificate from an ingress, a DNS name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub(crate) cluster: Shared,
    pub(crate) namespace: Shared,
    pub(crate) kind: Shared,
    pub(crate) name: Shared,
    pub(crate) tenant: Option<Shared>,
    /// The app instance the resource belongs to.
    pub(crate) instance: Option<Shared>,
    /// Index of the emitted object, if the node is one.
    pub(crate) object: Option<usize>,
}

impl Node {
    pub(crate) fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// A string that many nodes and outlines hold: a cluster, a kind, a
/// namespace, a tenant, a name such as `default-deny`. Each is kept once
/// per worker thread ([`shared`]): at 10,000 tenants the graph holds
/// 600,000 nodes, and each would otherwise own six copies.
pub(crate) type Shared = std::sync::Arc<str>;

thread_local! {
    static STRINGS: std::cell::RefCell<std::collections::HashSet<Shared>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

/// The one copy of `s` this thread holds.
pub(crate) fn shared(s: &str) -> Shared {
    STRINGS.with(|strings| {
        let mut strings = strings.borrow_mut();
        if let Some(found) = strings.get(s) {
            return found.clone();
        }
        let new: Shared = s.into();
        strings.insert(new.clone());
        new
    })
}

/// The identity of a resource, hashed: lookups allocate nothing. A hash
/// collision is told apart by comparing the node itself (`find`).
type Key = u64;

pub struct Graph {
    pub(crate) graph: DiGraph<Node, ()>,
    index: HashMap<Key, Vec<NodeIndex>>,
    /// Each node's position among all nodes sorted, computed once: waves
    /// and renderings list nodes in that order.
    rank: std::sync::OnceLock<Vec<u32>>,
}

/// A dependency cycle, in order: each node needs the next, the last needs
/// the first.
#[derive(Debug, Clone)]
pub struct Cycle(pub Vec<Node>);

fn key(cluster: &str, namespace: &str, kind: &str, name: &str) -> Key {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one((cluster, namespace, kind, name))
}

const WORKLOADS: [&str; 4] = ["Deployment", "StatefulSet", "CronJob", "Job"];
const COMPONENT: &str = "app.kubernetes.io/component";

fn pod_template(object: &Value) -> Option<&Value> {
    match object["kind"].as_str()? {
        "Deployment" | "StatefulSet" | "Job" => Some(&object["spec"]["template"]),
        "CronJob" => Some(&object["spec"]["jobTemplate"]["spec"]["template"]),
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
    let containers = spec["containers"].as_array().into_iter().flatten();
    let init = spec["initContainers"].as_array().into_iter().flatten();
    for c in containers.chain(init) {
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

/// What a render function says a workload needs that its references do
/// not show, such as a client of another component's API (the realm import
/// of Keycloak's): `jardin.dev/needs: "Deployment/keycloak"`, objects of the
/// same namespace, comma separated.
pub(crate) const NEEDS_ANNOTATION: &str = "jardin.dev/needs";

fn declared_needs(object: &Value) -> Vec<(&'static str, String)> {
    let Some(list) = object["metadata"]["annotations"][NEEDS_ANNOTATION].as_str() else {
        return Vec::new();
    };
    list.split(',')
        .filter_map(|need| {
            let (kind, name) = need.trim().split_once('/')?;
            let kind = WORKLOADS
                .iter()
                .chain(&["Service", "ConfigMap", "Secret"])
                .find(|k| **k == kind)?;
            Some((*kind, name.to_string()))
        })
        .collect()
}

fn str_at(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// An object reduced to what the graph needs: its identity, the label
/// that selects it or that it selects, and the names it refers to. A few
/// strings instead of the whole object, so that the graph of 10,000
/// tenants is built without holding their manifests.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outline {
    /// The object's node; the graph numbers it (`object`) when it is built.
    pub(crate) node: Node,
    /// Workloads: their pods' component label.
    component: Option<String>,
    /// Services and disruption budgets: the component they select.
    selects: Option<String>,
    /// Objects of the same namespace this one needs: (kind, name). A
    /// workload's secrets go through the bucket credentials first.
    refs: Vec<(&'static str, String)>,
    /// A Secret copied from another namespace: (namespace, name).
    replicated_from: Option<(String, String)>,
    /// A BucketAccess: the Secret its credentials are written to.
    credentials: Option<String>,
    /// An Ingress: its TLS secrets with their hosts.
    tls: Vec<(String, Vec<String>)>,
}

impl Outline {
    pub(crate) fn of(object: &DesiredObject) -> Outline {
        let v = &object.value;
        let kind = object.kind();
        let mut o = Outline {
            node: Node {
                cluster: shared(&object.cluster),
                namespace: shared(object.namespace().unwrap_or("")),
                kind: shared(kind),
                name: shared(object.name()),
                tenant: object.tenant.as_deref().map(shared),
                instance: object.instance.as_deref().map(shared),
                object: None,
            },
            ..Outline::default()
        };
        match kind {
            k if WORKLOADS.contains(&k) => {
                if let Some(t) = pod_template(v) {
                    o.component = str_at(&t["metadata"]["labels"][COMPONENT]);
                    o.refs = pod_references(&t["spec"]);
                    o.refs.extend(declared_needs(v));
                }
            }
            "Secret" => {
                o.replicated_from = v["metadata"]["annotations"][jardin_core::kube::REPLICATE_FROM]
                    .as_str()
                    .and_then(|f| f.split_once('/'))
                    .map(|(ns, name)| (ns.to_string(), name.to_string()));
            }
            "Database" | "ScheduledBackup" => {
                o.refs
                    .extend(str_at(&v["spec"]["cluster"]["name"]).map(|c| ("Cluster", c)));
            }
            "Cluster" => {
                for role in v["spec"]["managed"]["roles"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    o.refs
                        .extend(str_at(&role["passwordSecret"]["name"]).map(|s| ("Secret", s)));
                }
                // The Barman Cloud plugin reads its ObjectStore when the
                // Cluster names it.
                for plugin in v["spec"]["plugins"].as_array().into_iter().flatten() {
                    o.refs.extend(
                        str_at(&plugin["parameters"]["barmanObjectName"])
                            .map(|s| ("ObjectStore", s)),
                    );
                }
            }
            "ObjectStore" => {
                let creds = &v["spec"]["configuration"]["s3Credentials"];
                for key in ["accessKeyId", "secretAccessKey"] {
                    o.refs
                        .extend(str_at(&creds[key]["name"]).map(|s| ("Secret", s)));
                }
            }
            "BucketAccess" => {
                o.refs
                    .extend(str_at(&v["spec"]["bucketClaimName"]).map(|c| ("BucketClaim", c)));
                o.credentials = str_at(&v["spec"]["credentialsSecretName"]);
            }
            "Service" => o.selects = str_at(&v["spec"]["selector"][COMPONENT]),
            "PodDisruptionBudget" => {
                o.selects = str_at(&v["spec"]["selector"]["matchLabels"][COMPONENT]);
            }
            "Ingress" => {
                for rule in v["spec"]["rules"].as_array().into_iter().flatten() {
                    for p in rule["http"]["paths"].as_array().into_iter().flatten() {
                        o.refs.extend(
                            str_at(&p["backend"]["service"]["name"]).map(|s| ("Service", s)),
                        );
                    }
                }
                for tls in v["spec"]["tls"].as_array().into_iter().flatten() {
                    let Some(secret) = str_at(&tls["secretName"]) else {
                        continue;
                    };
                    let hosts = tls["hosts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(str_at)
                        .collect();
                    o.tls.push((secret, hosts));
                }
            }
            _ => {}
        }
        o
    }

    /// `k8s/<cluster>/<namespace or _cluster>/<kind>-<name>.yaml`, as
    /// [`DesiredObject::path`].
    pub(crate) fn path(&self) -> String {
        let n = &self.node;
        let ns = if n.namespace.is_empty() {
            "_cluster"
        } else {
            &n.namespace
        };
        format!(
            "k8s/{}/{ns}/{}-{}.yaml",
            n.cluster,
            n.kind.to_lowercase(),
            n.name
        )
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
                *n.cluster == *cluster
                    && *n.namespace == *namespace
                    && *n.kind == *kind
                    && *n.name == *name
            })
    }

    fn need(&mut self, from: NodeIndex, to: Option<NodeIndex>) {
        if let Some(to) = to {
            if from != to {
                self.graph.update_edge(from, to, ());
            }
        }
    }

    /// Builds the graph of a desired state, from its objects' outlines.
    pub(crate) fn build(objects: &[Outline]) -> Graph {
        let mut g = Graph {
            graph: DiGraph::with_capacity(objects.len() * 5 / 4, objects.len() * 2),
            index: HashMap::with_capacity(objects.len() * 2),
            rank: std::sync::OnceLock::new(),
        };
        // Index 1: every object by identity; `me[i]` is object i's node.
        let me: Vec<NodeIndex> = objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                g.add(Node {
                    object: Some(i),
                    ..o.node.clone()
                })
            })
            .collect();
        // Index 2: workloads by (cluster, namespace, component label), for
        // services and disruption budgets that select them.
        let mut by_component: HashMap<(&str, &str, &str), Vec<NodeIndex>> = HashMap::new();
        // Index 3: bucket credentials secrets → their BucketAccess.
        let mut credentials: HashMap<(&str, &str, &str), NodeIndex> = HashMap::new();
        // Index 4: volume claims by namespace, for the backups protecting them.
        let mut claims: HashMap<(&str, &str), Vec<NodeIndex>> = HashMap::new();
        // Index 5: databases by (cluster, name): a workload needs the
        // database named after its namespace.
        let mut databases: HashMap<(&str, &str), NodeIndex> = HashMap::new();
        for (o, &me) in objects.iter().zip(&me) {
            let (c, ns) = (o.node.cluster.as_ref(), o.node.namespace.as_ref());
            if let Some(comp) = &o.component {
                by_component.entry((c, ns, comp)).or_default().push(me);
            }
            match o.node.kind.as_ref() {
                "PersistentVolumeClaim" => claims.entry((c, ns)).or_default().push(me),
                "Database" => {
                    databases.insert((c, &o.node.name), me);
                }
                _ => {}
            }
            if let Some(s) = &o.credentials {
                credentials.insert((c, ns, s), me);
            }
        }
        for (o, &me) in objects.iter().zip(&me) {
            let (c, ns) = (o.node.cluster.as_ref(), o.node.namespace.as_ref());
            // Everything namespaced needs its namespace (when jardin owns it).
            if !ns.is_empty() {
                let n = g.find(c, "", "Namespace", ns);
                g.need(me, n);
            }
            let workload = WORKLOADS.contains(&o.node.kind.as_ref());
            for (kind, name) in &o.refs {
                let via_credentials = if workload && *kind == "Secret" {
                    credentials.get(&(c, ns, name.as_str())).copied()
                } else {
                    None
                };
                let target = via_credentials.or_else(|| g.find(c, ns, kind, name));
                g.need(me, target);
            }
            if let Some((sns, sname)) = &o.replicated_from {
                let t = g.find(c, sns, "Secret", sname);
                g.need(me, t);
            }
            if let Some(comp) = &o.selects {
                for t in by_component
                    .get(&(c, ns, comp.as_str()))
                    .into_iter()
                    .flatten()
                {
                    g.need(me, Some(*t));
                }
            }
            for (secret, hosts) in &o.tls {
                // cert-manager creates this Certificate from the ingress.
                let cert = g.add(Node {
                    cluster: o.node.cluster.clone(),
                    namespace: o.node.namespace.clone(),
                    kind: shared("Certificate"),
                    name: shared(secret),
                    tenant: o.node.tenant.clone(),
                    instance: o.node.instance.clone(),
                    object: None,
                });
                g.need(me, Some(cert));
                for host in hosts {
                    // The ACME challenge needs the name to resolve.
                    let dns = g.add(Node {
                        cluster: o.node.cluster.clone(),
                        namespace: shared(""),
                        kind: shared("DNSName"),
                        name: shared(host),
                        tenant: o.node.tenant.clone(),
                        instance: o.node.instance.clone(),
                        object: None,
                    });
                    g.need(cert, Some(dns));
                }
            }
            if &*o.node.kind == "Schedule" {
                // A volume backup protects the claims of its namespace.
                for t in claims.get(&(c, ns)).into_iter().flatten() {
                    g.need(me, Some(*t));
                }
            }
            if workload {
                if let Some(db) = databases.get(&(c, ns)) {
                    g.need(me, Some(*db));
                }
            }
        }
        g
    }

    /// Each node's position when all nodes are sorted (by cluster,
    /// namespace, kind, name): sorting 700,000 nodes by their strings once,
    /// in parallel, instead of once per use.
    pub(crate) fn rank(&self) -> &[u32] {
        self.rank.get_or_init(|| {
            use rayon::prelude::*;
            let mut order: Vec<NodeIndex> = self.graph.node_indices().collect();
            order.par_sort_unstable_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
            let mut rank = vec![0; order.len()];
            for (r, n) in order.iter().enumerate() {
                rank[n.index()] = r as u32;
            }
            rank
        })
    }

    /// Apply waves: wave 0 needs nothing, wave n needs only earlier waves.
    /// Nodes are sorted inside a wave, so the result is deterministic.
    pub(crate) fn waves(&self) -> Result<Vec<Vec<NodeIndex>>, Cycle> {
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
        let rank = self.rank();
        for w in &mut waves {
            w.sort_unstable_by_key(|n| rank[n.index()]);
        }
        Ok(waves)
    }

    /// Each emitted object's apply wave, by object index (the order of
    /// the compilation's `objects`): what `jardin apply` sends
    /// together and waits for.
    pub fn object_waves(&self, objects: usize) -> Result<Vec<usize>, Cycle> {
        let mut out = vec![0; objects];
        for (w, nodes) in self.waves()?.iter().enumerate() {
            for n in nodes {
                if let Some(slot) = self.graph[*n].object.and_then(|i| out.get_mut(i)) {
                    *slot = w;
                }
            }
        }
        Ok(out)
    }

    /// The cycle that prevents any apply order, if there is one: what a
    /// check needs, without the waves' sorting.
    pub(crate) fn acyclic(&self) -> Result<(), Cycle> {
        toposort(&self.graph, None)
            .map(|_| ())
            .map_err(|_| self.cycle())
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
            rank: std::sync::OnceLock::new(),
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
    #[cfg(test)]
    pub(crate) fn from_parts(nodes: Vec<Node>, edges: &[(usize, usize)]) -> Graph {
        let mut g = Graph {
            graph: DiGraph::new(),
            index: HashMap::new(),
            rank: std::sync::OnceLock::new(),
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

    fn object(value: serde_json::Value) -> Outline {
        Outline::of(&DesiredObject::new(
            "c",
            Some("t".into()),
            Some("a".into()),
            value,
        ))
    }

    /// Every kind of link the outline carries ends up as an edge.
    #[test]
    fn outlines_link_what_objects_need() {
        use serde_json::json;
        let m = |kind: &str, name: &str| json!({"kind": kind, "metadata": {"name": name, "namespace": "ns"}});
        let mut deployment = m("Deployment", "web");
        deployment["spec"] = json!({"template": {
            "metadata": {"labels": {"app.kubernetes.io/component": "web"}},
            "spec": {
                "volumes": [{"persistentVolumeClaim": {"claimName": "data"}}, {"configMap": {"name": "conf"}}],
                "containers": [{"env": [{"valueFrom": {"secretKeyRef": {"name": "bucket-files"}}}]}],
            },
        }});
        let mut service = m("Service", "web");
        service["spec"] = json!({"selector": {"app.kubernetes.io/component": "web"}});
        let mut ingress = m("Ingress", "web");
        ingress["spec"] = json!({
            "rules": [{"http": {"paths": [{"backend": {"service": {"name": "web"}}}]}}],
            "tls": [{"secretName": "web-tls", "hosts": ["a.example.org"]}],
        });
        let mut access = m("BucketAccess", "files");
        access["spec"] =
            json!({"bucketClaimName": "files", "credentialsSecretName": "bucket-files"});
        let mut db = m("Database", "ns");
        db["spec"] = json!({"cluster": {"name": "pg"}});
        let mut copy = m("Secret", "db");
        copy["metadata"]["annotations"] =
            json!({"replicator.v1.mittwald.de/replicate-from": "ns/source"});
        let objects: Vec<Outline> = [
            json!({"kind": "Namespace", "metadata": {"name": "ns"}}),
            deployment,
            service,
            ingress,
            access,
            db,
            copy,
            m("PersistentVolumeClaim", "data"),
            m("ConfigMap", "conf"),
            m("BucketClaim", "files"),
            m("Cluster", "pg"),
            m("Secret", "source"),
            m("Schedule", "backup"),
        ]
        .into_iter()
        .map(object)
        .collect();
        let g = Graph::build(&objects);
        let mut edges: Vec<String> = g
            .graph
            .edge_indices()
            .filter_map(|e| g.graph.edge_endpoints(e))
            .filter(|(_, b)| &*g.graph[*b].kind != "Namespace")
            .map(|(a, b)| format!("{} -> {}", g.graph[a].label(), g.graph[b].label()))
            .collect();
        edges.sort();
        assert_eq!(
            edges,
            [
                "BucketAccess/ns/files -> BucketClaim/ns/files",
                "Certificate/ns/web-tls -> DNSName/a.example.org",
                "Database/ns/ns -> Cluster/ns/pg",
                "Deployment/ns/web -> BucketAccess/ns/files",
                "Deployment/ns/web -> ConfigMap/ns/conf",
                "Deployment/ns/web -> Database/ns/ns",
                "Deployment/ns/web -> PersistentVolumeClaim/ns/data",
                "Ingress/ns/web -> Certificate/ns/web-tls",
                "Ingress/ns/web -> Service/ns/web",
                "Schedule/ns/backup -> PersistentVolumeClaim/ns/data",
                "Secret/ns/db -> Secret/ns/source",
                "Service/ns/web -> Deployment/ns/web",
            ]
        );
        // Every namespaced object needs its namespace.
        let ns = g.find("c", "", "Namespace", "ns").unwrap();
        assert_eq!(
            g.graph.neighbors_directed(ns, Direction::Incoming).count(),
            12
        );
    }

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
            .map(|w| w.iter().map(|n| g.graph[*n].name.as_ref()).collect())
            .collect();
        assert_eq!(names, vec![vec!["x"], vec!["d"], vec!["s"], vec!["i"]]);
        let teardown: Vec<_> = g.waves().unwrap().into_iter().rev().collect();
        assert_eq!(teardown[0].len(), 1);
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
        let names: Vec<&str> = cycle.0.iter().map(|n| n.name.as_ref()).collect();
        assert_eq!(names.len(), 3);
        assert!(names.contains(&"a") && names.contains(&"b") && names.contains(&"c"));
        // A check, which wants no waves, finds the same cycle.
        let same: Vec<String> = match g.acyclic() {
            Err(c) => c.0.into_iter().map(|n| n.name.to_string()).collect(),
            Ok(()) => Vec::new(),
        };
        assert_eq!(same, names);
        assert!(Graph::from_parts(vec![node("Secret", "b")], &[])
            .acyclic()
            .is_ok());
    }
}
