//! `jardin graph`: the dependency graph as apply waves, DOT or Mermaid.

use std::path::PathBuf;

use super::{exit, options, Global, GraphFormat, Output};
use jardin_compiler::graph::render;
use jardin_compiler::pipeline;

pub(super) fn graph(g: &Global, out: &Output, root: PathBuf, format: GraphFormat) -> i32 {
    let c = pipeline::compile(&options(g, root));
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    let Some(graph) = &c.graph else {
        return exit::ERROR;
    };
    if c.errors() > 0 {
        return exit::ERROR;
    }
    // `--tenant` already limits the compilation; this also drops the shared
    // objects of other tenants.
    let graph = match g.tenants.as_slice() {
        [one] => graph.for_tenant(one),
        _ => return print(graph, format),
    };
    print(&graph, format)
}

fn print(graph: &jardin_compiler::graph::Graph, format: GraphFormat) -> i32 {
    let text = match format {
        GraphFormat::Text => match render::text(graph) {
            Ok(t) => t,
            Err(_) => return exit::ERROR,
        },
        GraphFormat::Dot => render::dot(graph),
        GraphFormat::Mermaid => render::mermaid(graph),
    };
    print!("{text}");
    exit::OK
}
