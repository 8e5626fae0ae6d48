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
    let mut out = String::with_capacity(
        node.cluster.len() + node.namespace.len() + node.kind.len() + node.name.len() + 3,
    );
    for (i, part) in [&node.cluster, &node.namespace, &node.kind, &node.name]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push('_');
        }
        out.extend(
            part.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    out
}

/// Nodes in order, with their ids, and edges as positions in that order,
/// sorted: each id is built once and edges compare as integers.
struct Sorted<'a> {
    nodes: Vec<(&'a Node, String)>,
    edges: Vec<(usize, usize)>,
}

fn sorted(g: &Graph) -> Sorted<'_> {
    let rank = g.rank();
    let mut order = vec![petgraph::graph::NodeIndex::new(0); rank.len()];
    for n in g.graph.node_indices() {
        order[rank[n.index()] as usize] = n;
    }
    let mut edges: Vec<(usize, usize)> = g
        .graph
        .edge_indices()
        .filter_map(|e| g.graph.edge_endpoints(e))
        .map(|(a, b)| (rank[a.index()] as usize, rank[b.index()] as usize))
        .collect();
    edges.sort_unstable();
    let nodes = order
        .iter()
        .map(|n| (&g.graph[*n], id(&g.graph[*n])))
        .collect();
    Sorted { nodes, edges }
}

/// Graphviz: `dot -Tsvg graph.dot > graph.svg`.
pub fn dot(g: &Graph) -> String {
    let mut out = Vec::new();
    // Writing to memory does not fail, and every piece is a `str`.
    let _ = write_dot(g, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`dot`], written as it is made: at thousands of tenants the text is
/// hundreds of megabytes, which a build need not hold.
pub fn write_dot(g: &Graph, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let s = sorted(g);
    out.write_all(
        b"digraph jardin {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n",
    )?;
    for (n, id) in &s.nodes {
        writeln!(
            out,
            "  {id} [label=\"{}\\n{}\"];",
            n.kind,
            n.name.replace('"', "'")
        )?;
    }
    for (a, b) in &s.edges {
        writeln!(out, "  {} -> {};", s.nodes[*a].1, s.nodes[*b].1)?;
    }
    out.write_all(b"}\n")
}

/// Mermaid flowchart; arrows read "needs".
pub fn mermaid(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    let s = sorted(g);
    for (n, id) in &s.nodes {
        let _ = writeln!(
            out,
            "  {id}[\"{}<br/>{}\"]",
            n.kind,
            n.name.replace('"', "'")
        );
    }
    for (a, b) in &s.edges {
        let _ = writeln!(out, "  {} --> {}", s.nodes[*a].1, s.nodes[*b].1);
    }
    out
}
