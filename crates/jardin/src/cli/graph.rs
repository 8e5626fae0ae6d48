//! `jardin graph`: the dependency graph as apply waves, DOT or Mermaid;
//! with `--flows`, the network flows of each app namespace.

use std::path::PathBuf;

use super::{exit, options, Global, GraphFormat, Output};
use jardin_compiler::graph::flows as render_flows;
use jardin_compiler::graph::render;
use jardin_compiler::pipeline;

pub(super) fn graph(
    g: &Global,
    out: &Output,
    root: PathBuf,
    format: GraphFormat,
    flows: bool,
) -> i32 {
    let c = pipeline::compile(&pipeline::Options {
        keep_flows: flows,
        ..options(g, root)
    });
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    let Some(graph) = &c.graph else {
        return exit::ERROR;
    };
    if c.errors() > 0 {
        return exit::ERROR;
    }
    if flows {
        // `--tenant` already limits the compilation to that tenant.
        let text = match format {
            GraphFormat::Text => render_flows::text(&c.tenants),
            GraphFormat::Dot => render_flows::dot(&c.tenants),
            GraphFormat::Mermaid => render_flows::mermaid(&c.tenants),
        };
        print!("{text}");
        return exit::OK;
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
