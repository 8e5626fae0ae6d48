//! The graph for people: text (waves), Graphviz DOT, and Mermaid (which
//! renders in merge-request descriptions).

use std::fmt::Write;

use super::{Graph, Node};

fn wave_lines(g: &Graph, waves: &[Vec<petgraph::graph::NodeIndex>]) -> String {
    let mut out = String::new();
    for (i, w) in waves.iter().enumerate() {
        let _ = writeln!(out, "wave {i}:");
        for n in w {
            let node = &g.graph[*n];
            let _ = writeln!(out, "  {} {}", node.cluster, node.label());
        }
    }
    out
}

/// Apply waves, one line per resource.
pub fn text(g: &Graph) -> Result<String, super::Cycle> {
    let waves = g.waves()?;
    Ok(wave_lines(g, &waves))
}

fn id(node: &Node) -> String {
    let raw = format!(
        "{}_{}_{}_{}",
        node.cluster, node.namespace, node.kind, node.name
    );
    raw.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn sorted_edges(g: &Graph) -> Vec<(&Node, &Node)> {
    let mut edges: Vec<(&Node, &Node)> = g
        .graph
        .edge_indices()
        .filter_map(|e| g.graph.edge_endpoints(e))
        .map(|(a, b)| (&g.graph[a], &g.graph[b]))
        .collect();
    edges.sort();
    edges
}

fn sorted_nodes(g: &Graph) -> Vec<&Node> {
    let mut nodes: Vec<&Node> = g.graph.node_weights().collect();
    nodes.sort();
    nodes
}

/// Graphviz: `dot -Tsvg graph.dot > graph.svg`.
pub fn dot(g: &Graph) -> String {
    let mut out = String::from(
        "digraph jardin {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n",
    );
    for n in sorted_nodes(g) {
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n{}\"];",
            id(n),
            n.kind,
            n.name.replace('"', "'")
        );
    }
    for (a, b) in sorted_edges(g) {
        let _ = writeln!(out, "  {} -> {};", id(a), id(b));
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart; arrows read "needs".
pub fn mermaid(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for n in sorted_nodes(g) {
        let _ = writeln!(
            out,
            "  {}[\"{}<br/>{}\"]",
            id(n),
            n.kind,
            n.name.replace('"', "'")
        );
    }
    for (a, b) in sorted_edges(g) {
        let _ = writeln!(out, "  {} --> {}", id(a), id(b));
    }
    out
}
