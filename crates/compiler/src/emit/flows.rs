//! Network flows: the flows a catalog entry declares, resolved against the
//! app's cluster (namespaces, pod labels, addresses and ports the model
//! knows), and the NetworkPolicies that allow exactly them. Pure.
//!
//! `check::network_flows` proves, from the policies alone, that they allow
//! every resolved flow and nothing more.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use jardin_core::model::{
    CatalogApp, Cluster, Collective, CompiledApp, Direction, Flow, FlowNeed, FlowPort, Peer,
};

/// Private and shared address space (RFC 1918, RFC 6598): "public
/// addresses" are every IPv4 address but these, so that a flow to the
/// internet never reaches the cluster's own pods, nodes or services.
pub(crate) const PRIVATE_RANGES: [&str; 4] = [
    "10.0.0.0/8",
    "100.64.0.0/10",
    "172.16.0.0/12",
    "192.168.0.0/16",
];

/// The label cert-manager puts on the HTTP-01 solver pods it starts in the
/// namespace of the Ingress it answers for.
pub(crate) const ACME_SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";

/// Every public IPv4 address.
pub(crate) fn public() -> Peer {
    Peer::Block {
        cidr: "0.0.0.0/0".into(),
        except: PRIVATE_RANGES.iter().map(|s| s.to_string()).collect(),
    }
}

fn tcp(port: u16) -> FlowPort {
    FlowPort {
        protocol: "TCP".into(),
        port: Some(port),
    }
}

/// The port of an endpoint URL: its own, else its scheme's (443 unless
/// `http://`).
pub(crate) fn endpoint_port(endpoint: &str) -> u16 {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // `[::1]:9000` or `host:9000`; a bare IPv6 address has no port.
    let port = match host_port.rsplit_once(':') {
        Some((host, p)) if !host.ends_with(':') && (!host.contains(':') || host.ends_with(']')) => {
            p.parse().ok()
        }
        _ => None,
    };
    port.unwrap_or(if scheme == "http" { 80 } else { 443 })
}

/// One flow per address (a peer outside the cluster), or one to every
/// public address when the model lists none.
pub(crate) fn to_addresses(addresses: &[String]) -> Vec<Peer> {
    if addresses.is_empty() {
        return vec![public()];
    }
    addresses
        .iter()
        .map(|a| Peer::Block {
            cidr: a.clone(),
            except: Vec::new(),
        })
        .collect()
}

/// The DNS flow of some pods: UDP and TCP 53 to the cluster's DNS pods.
pub(crate) fn dns(cluster: &Cluster) -> (Peer, Vec<FlowPort>) {
    (
        Peer::Pods {
            namespace: Some(cluster.dns.namespace.clone()),
            labels: cluster.dns.labels.clone(),
        },
        vec![
            FlowPort {
                protocol: "UDP".into(),
                port: Some(53),
            },
            tcp(53),
        ],
    )
}

/// The Kubernetes API, as pods reach it.
pub(crate) fn kubernetes_api(cluster_name: &str, cluster: &Cluster) -> Vec<(Peer, Vec<FlowPort>)> {
    match &cluster.kubernetes_api {
        Some(api) if !api.addresses.is_empty() => api
            .addresses
            .iter()
            .map(|a| {
                (
                    Peer::Block {
                        cidr: a.clone(),
                        except: Vec::new(),
                    },
                    vec![tcp(api.port)],
                )
            })
            .collect(),
        _ => vec![(
            Peer::Unknown {
                missing: format!(
                    "the cluster model does not say where the Kubernetes API listens: set `clusters.{cluster_name}.kubernetes_api` (the addresses and port of `kubectl get endpoints kubernetes`)"
                ),
            },
            Vec::new(),
        )],
    }
}

/// The labels of one component's pods (`*`: every pod of the app).
fn component_labels(app: &CompiledApp, component: &str) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), app.app.clone()),
        (
            "app.kubernetes.io/instance".to_string(),
            app.namespace.clone(),
        ),
    ]);
    if component != "*" {
        l.insert("app.kubernetes.io/component".into(), component.to_string());
    }
    l
}

fn group_name(app: &CompiledApp, component: &str) -> String {
    if component == "*" {
        app.app.clone()
    } else {
        component.to_string()
    }
}

fn declared_ports(need: &FlowNeed) -> Vec<FlowPort> {
    need.ports
        .iter()
        .map(|p| FlowPort {
            protocol: p.protocol.clone(),
            port: p.port,
        })
        .collect()
}

/// The flows of one app instance, resolved against its cluster.
pub(crate) fn resolve(
    collective: &Collective,
    catalog: &jardin_core::model::Catalog,
    cluster_name: &str,
    app: &CompiledApp,
    entry: &CatalogApp,
) -> Vec<Flow> {
    let Some(cluster) = collective.clusters.get(cluster_name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for need in &entry.flows {
        let mut pods = component_labels(app, &need.component);
        let mut group = group_name(app, &need.component);
        let mut direction = need.direction;
        let peers: Vec<(Peer, Vec<FlowPort>)> = match need.peer.as_str() {
            "dns" => vec![dns(cluster)],
            "postgres" => app
                .bindings
                .postgres
                .as_ref()
                .and_then(|p| cluster.services.postgres.get(p))
                .map(|pg| {
                    // CloudNativePG labels every instance of a cluster.
                    vec![(
                        Peer::Pods {
                            namespace: Some(pg.namespace.clone()),
                            labels: BTreeMap::from([(
                                "cnpg.io/cluster".to_string(),
                                pg.cluster.clone(),
                            )]),
                        },
                        vec![tcp(5432)],
                    )]
                })
                .unwrap_or_default(),
            "smtp" => app
                .bindings
                .smtp
                .as_ref()
                .and_then(|r| collective.smtp_relays.get(r))
                .map(|r| {
                    to_addresses(&r.addresses)
                        .into_iter()
                        .map(|p| (p, vec![tcp(r.port)]))
                        .collect()
                })
                .unwrap_or_default(),
            "object_store" => app
                .bindings
                .object_store
                .as_ref()
                .and_then(|s| cluster.services.object_stores.get(s))
                .map(|s| {
                    let port = endpoint_port(&s.endpoint);
                    to_addresses(&s.addresses)
                        .into_iter()
                        .map(|p| (p, vec![tcp(port)]))
                        .collect()
                })
                .unwrap_or_default(),
            "kubernetes_api" => kubernetes_api(cluster_name, cluster),
            "ingress_controller" => vec![(
                Peer::Pods {
                    namespace: Some(cluster.ingress.namespace.clone()),
                    labels: BTreeMap::new(),
                },
                declared_ports(need),
            )],
            "acme_http01" => {
                // The solver's pods, not the app's: the ingress controller
                // reaches them on the port cert-manager's solver listens on.
                pods = BTreeMap::from([(ACME_SOLVER_LABEL.to_string(), "true".to_string())]);
                group = "acme-http01-solver".into();
                direction = Direction::Ingress;
                vec![(
                    Peer::Pods {
                        namespace: Some(cluster.ingress.namespace.clone()),
                        labels: BTreeMap::new(),
                    },
                    vec![tcp(8089)],
                )]
            }
            "internet" => vec![(public(), declared_ports(need))],
            // A shared service, at its public host: the cluster's ingress
            // addresses, and the ingress controller's pods, which the
            // service proxy reaches directly for traffic to those
            // addresses from inside the cluster.
            what @ ("sso" | "office") => {
                if crate::shared::provider(collective, catalog, cluster_name, what).is_none() {
                    continue;
                }
                let mut peers = vec![(
                    Peer::Pods {
                        namespace: Some(cluster.ingress.namespace.clone()),
                        labels: BTreeMap::new(),
                    },
                    vec![tcp(443)],
                )];
                let hosts: Vec<String> = cluster
                    .ingress
                    .ipv4
                    .iter()
                    .map(|a| format!("{a}/32"))
                    .chain(cluster.ingress.ipv6.iter().map(|a| format!("{a}/128")))
                    .collect();
                if !hosts.is_empty() {
                    peers.extend(
                        to_addresses(&hosts)
                            .into_iter()
                            .map(|p| (p, vec![tcp(443)])),
                    );
                }
                peers
            }
            "anywhere" => vec![(
                Peer::Block {
                    cidr: "0.0.0.0/0".into(),
                    except: Vec::new(),
                },
                declared_ports(need),
            )],
            "component" => {
                let Some(other) = &need.peer_component else {
                    continue;
                };
                let other_pods = component_labels(app, other);
                // The other side's half: the same flow, seen from its pods.
                out.push(Flow {
                    name: flow_name(&group, direction, other),
                    why: need.why.clone(),
                    direction: match direction {
                        Direction::Egress => Direction::Ingress,
                        Direction::Ingress => Direction::Egress,
                    },
                    group: group_name(app, other),
                    pods: other_pods.clone(),
                    peer: Peer::Pods {
                        namespace: None,
                        labels: pods.clone(),
                    },
                    ports: declared_ports(need),
                });
                vec![(
                    Peer::Pods {
                        namespace: None,
                        labels: other_pods,
                    },
                    declared_ports(need),
                )]
            }
            _ => Vec::new(),
        };
        let peer_name = match need.peer.as_str() {
            "component" => need.peer_component.clone().unwrap_or_default(),
            "acme_http01" => "ingress controller".into(),
            "sso" => "single sign-on".into(),
            p => p.replace('_', " "),
        };
        for (peer, ports) in peers {
            out.push(Flow {
                name: flow_name(&group, direction, &peer_name),
                why: need.why.clone(),
                direction,
                group: group.clone(),
                pods: pods.clone(),
                peer,
                ports,
            });
        }
    }
    out
}

/// `web → prosody`, `ingress controller → nextcloud`.
pub(crate) fn flow_name(group: &str, direction: Direction, peer: &str) -> String {
    match direction {
        Direction::Egress => format!("{group} → {peer}"),
        Direction::Ingress => format!("{peer} → {group}"),
    }
}

/// A flow's peer as a NetworkPolicy peer; `None` for an unknown address.
fn policy_peer(peer: &Peer) -> Option<Value> {
    match peer {
        Peer::Pods { namespace, labels } => {
            let mut p = json!({});
            // Every pod of another namespace is its namespace selector
            // alone; of the policy's own, an empty pod selector.
            if !labels.is_empty() || namespace.is_none() {
                p["podSelector"] = json!({});
            }
            if !labels.is_empty() {
                p["podSelector"] = json!({"matchLabels": labels});
            }
            if let Some(ns) = namespace {
                p["namespaceSelector"] =
                    json!({"matchLabels": {"kubernetes.io/metadata.name": ns}});
            }
            Some(p)
        }
        Peer::Block { cidr, except } => {
            let mut b = json!({"cidr": cidr});
            if !except.is_empty() {
                b["except"] = json!(except);
            }
            Some(json!({"ipBlock": b}))
        }
        Peer::Unknown { .. } => None,
    }
}

fn policy_ports(ports: &[FlowPort]) -> Value {
    Value::Array(
        ports
            .iter()
            .map(|p| match p.port {
                Some(n) => json!({"port": n, "protocol": p.protocol}),
                None => json!({"protocol": p.protocol}),
            })
            .collect(),
    )
}

/// The NetworkPolicies of one namespace that allow `flows`: one per group
/// of pods and direction (`allow-<group>-<direction>`), one rule per flow.
/// A flow to an unknown address gets no rule (the rule that checks the
/// flows says why it is blocked).
pub(crate) fn policies(namespace: &str, flows: &[Flow]) -> Vec<Value> {
    // (group, direction) → the pods it selects, and its rules.
    type Group<'a> = (&'a BTreeMap<String, String>, Vec<Value>);
    let mut groups: BTreeMap<(String, Direction), Group<'_>> = BTreeMap::new();
    for f in flows {
        let Some(peer) = policy_peer(&f.peer) else {
            continue;
        };
        let key = (f.group.clone(), f.direction);
        let entry = groups.entry(key).or_insert_with(|| (&f.pods, Vec::new()));
        let side = match f.direction {
            Direction::Egress => "to",
            Direction::Ingress => "from",
        };
        let mut rule = json!({side: [peer]});
        if !f.ports.is_empty() {
            rule["ports"] = policy_ports(&f.ports);
        }
        if !entry.1.contains(&rule) {
            entry.1.push(rule);
        }
    }
    groups
        .into_iter()
        .map(|((group, direction), (pods, rules))| {
            let (types, field) = match direction {
                Direction::Egress => ("Egress", "egress"),
                Direction::Ingress => ("Ingress", "ingress"),
            };
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {
                    "name": format!("allow-{group}-{}", direction.as_str()),
                    "namespace": namespace,
                },
                "spec": {
                    "podSelector": {"matchLabels": pods},
                    "policyTypes": [types],
                    field: rules,
                },
            })
        })
        .collect()
}

/// Labels, for messages: `{k=v, k2=v2}`.
pub(crate) fn labels_text(l: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// A flow's peer, for messages and the flow graph.
pub(crate) fn peer_text(p: &Peer) -> String {
    match p {
        Peer::Pods { namespace, labels } => {
            let ns = namespace
                .as_deref()
                .map_or("the same namespace".to_string(), |n| {
                    format!("namespace {n}")
                });
            if labels.is_empty() {
                format!("every pod of {ns}")
            } else {
                format!("pods {} of {ns}", labels_text(labels))
            }
        }
        Peer::Block { cidr, except } if except.is_empty() => cidr.clone(),
        Peer::Block { cidr, except } => format!("{cidr} except {}", except.join(", ")),
        Peer::Unknown { .. } => "an unknown address".into(),
    }
}

/// A flow's ports, for messages: `UDP 53, TCP 53`, `every UDP port`.
pub(crate) fn describe_ports(ports: &[FlowPort]) -> String {
    if ports.is_empty() {
        return "every port".into();
    }
    let parts: Vec<String> = ports
        .iter()
        .map(|p| match p.port {
            Some(n) => format!("{} {n}", p.protocol),
            None => format!("every {} port", p.protocol),
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_ports() {
        assert_eq!(endpoint_port("https://s3.example.net"), 443);
        assert_eq!(endpoint_port("http://minio.example.net/bucket"), 80);
        assert_eq!(endpoint_port("https://s3.example.net:9000/x"), 9000);
        assert_eq!(endpoint_port("http://[2001:db8::1]:9000"), 9000);
        assert_eq!(endpoint_port("s3.example.net"), 443);
    }

    fn resolved(api: bool) -> Vec<Flow> {
        let mut c = crate::test_support::collective_json();
        c["clusters"]["k"]["services"] = json!({
            "postgres": {"pg": {"cluster": "pg-main", "namespace": "databases", "version": 16,
                                "instances": 2, "storage": "1Gi", "extensions": []}},
            "object_stores": {"s3": {"bucket_class": "s3", "endpoint": "https://s3.example.net:9000",
                                     "location": "paris", "addresses": ["192.0.2.9/32"]}},
        });
        if api {
            c["clusters"]["k"]["kubernetes_api"] =
                json!({"addresses": ["10.0.0.1/32"], "port": 6443});
        }
        c["smtp_relays"] = json!({"relay": {"host": "smtp.example.org", "port": 465, "username": null,
            "password": null, "dkim_selector": "j", "spf_include": null}});
        let collective: Collective = serde_json::from_value(c).unwrap();
        let entry: CatalogApp = serde_json::from_value(json!({
            "id": "chat", "description": "", "versions": {"default": "1", "available": {"1": {}}},
            "requires": {}, "state": [], "secrets": {}, "sizes": {}, "singletons": [],
            "pod_security": "restricted",
            "flows": [
                {"component": "*", "direction": "egress", "peer": "dns", "why": "names"},
                {"component": "api", "direction": "egress", "peer": "postgres", "why": "data"},
                {"component": "api", "direction": "egress", "peer": "object_store", "why": "media"},
                {"component": "api", "direction": "egress", "peer": "smtp", "why": "mail"},
                {"component": "api", "direction": "egress", "peer": "kubernetes_api", "why": "watch"},
                {"component": "web", "direction": "egress", "peer": "component", "peer_component": "api",
                 "ports": [{"port": 8008, "protocol": "TCP"}], "why": "proxy"},
                {"component": "*", "direction": "ingress", "peer": "acme_http01", "why": "certificates"},
            ],
        }))
        .unwrap();
        let app: CompiledApp = serde_json::from_value(json!({
            "app": "chat", "version": "1", "namespace": "t-chat", "host": "chat.example.org",
            "hosts": [], "size": "s", "state": "active", "missing_services": [], "rendered": true,
            "bindings": {"postgres": "pg", "object_store": "s3", "smtp": "relay"}, "objects": [],
        }))
        .unwrap();
        resolve(&collective, &Default::default(), "k", &app, &entry)
    }

    #[test]
    fn flows_resolve_against_the_cluster() {
        let flows = resolved(true);
        let find = |name: &str| flows.iter().filter(|f| f.name == name).collect::<Vec<_>>();
        let dns = find("chat → dns");
        assert_eq!(dns.len(), 1);
        assert!(
            !dns[0].pods.contains_key("app.kubernetes.io/component"),
            "every pod"
        );
        assert_eq!(dns[0].ports.len(), 2);
        let pg = find("api → postgres");
        assert_eq!(
            pg[0].peer,
            Peer::Pods {
                namespace: Some("databases".into()),
                labels: BTreeMap::from([("cnpg.io/cluster".to_string(), "pg-main".to_string())]),
            }
        );
        // The store's own address and port; the relay's port, to public
        // addresses since the model lists none.
        let store = find("api → object store");
        assert_eq!(store[0].ports, vec![tcp(9000)]);
        assert_eq!(
            store[0].peer,
            Peer::Block {
                cidr: "192.0.2.9/32".into(),
                except: vec![]
            }
        );
        let smtp = find("api → smtp");
        assert_eq!(
            (&smtp[0].peer, &smtp[0].ports),
            (&public(), &vec![tcp(465)])
        );
        assert_eq!(find("api → kubernetes api")[0].ports, vec![tcp(6443)]);
        // A flow between components is allowed on both sides.
        let both = find("web → api");
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].direction, Direction::Ingress);
        assert_eq!(both[0].group, "api");
        assert_eq!(both[1].direction, Direction::Egress);
        assert_eq!(both[1].group, "web");
        let acme = find("ingress controller → acme-http01-solver");
        assert_eq!(acme[0].pods[ACME_SOLVER_LABEL], "true");
        assert_eq!(acme[0].ports, vec![tcp(8089)]);
        // Without the API's address, the flow says what to set.
        let unknown = resolved(false);
        let api = unknown
            .iter()
            .find(|f| f.name == "api → kubernetes api")
            .unwrap();
        assert!(
            matches!(&api.peer, Peer::Unknown { missing } if missing.contains("clusters.k.kubernetes_api"))
        );
    }

    #[test]
    fn one_policy_per_group_and_direction() {
        let pods = BTreeMap::from([("app.kubernetes.io/component".to_string(), "web".to_string())]);
        let flow = |peer: Peer, port: u16| Flow {
            name: "web → x".into(),
            why: String::new(),
            direction: Direction::Egress,
            group: "web".into(),
            pods: pods.clone(),
            peer,
            ports: vec![tcp(port)],
        };
        let p = policies(
            "t-app",
            &[
                flow(public(), 443),
                flow(public(), 443),
                flow(
                    Peer::Unknown {
                        missing: "x".into(),
                    },
                    6443,
                ),
            ],
        );
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["metadata"]["name"], "allow-web-egress");
        assert_eq!(p[0]["spec"]["egress"].as_array().unwrap().len(), 1);
        assert_eq!(
            p[0]["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"],
            "0.0.0.0/0"
        );
    }
}
