//! `jardin graph --flows`: the network flows of the example tenant Faire
//! École, as text and Mermaid, are pinned (`golden/collective/flows/`), and
//! docs/GRAPH.md shows the text verbatim.

mod common;
use common::*;

/// The pinned file, or (when regenerating) the file written.
fn pin(name: &str, actual: &str) {
    let path = repo().join("golden/collective/flows").join(name);
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        expected,
        actual,
        "{} differs (JARDIN_UPDATE_GOLDEN=1 cargo test -p jardin --test flows regenerates)",
        path.display()
    );
}

fn flows(format: &str) -> String {
    let (code, out, stderr) = jardin(&[
        "--no-cache",
        "--tenant",
        "faire-ecole",
        "graph",
        "examples/collective",
        "--flows",
        "--format",
        format,
    ]);
    assert_eq!(code, 0, "{stderr}");
    out
}

#[test]
fn the_example_flows_are_pinned_and_documented() {
    let text = flows("text");
    // Every app namespace of the tenant, with its declared flows and those
    // of its backup pods.
    for needle in [
        "louise-michel faire-ecole-cloud (faire-ecole/cloud, nextcloud)",
        "  ingress controller → nextcloud: from every pod of namespace ingress-nginx, TCP 8080",
        "  k8up → kubernetes api: to 10.10.0.11/32, TCP 6443",
        "  jvb → internet: to 0.0.0.0/0 except",
        "  web → prosody: to component prosody, TCP 5280",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    pin("faire-ecole.txt", &text);
    let mermaid = flows("mermaid");
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    pin("faire-ecole.mmd", &mermaid);
    let dot = flows("dot");
    assert!(dot.starts_with("digraph flows {"), "{dot}");

    let doc_path = repo().join("docs/GRAPH.md");
    let mut doc = std::fs::read_to_string(&doc_path).unwrap_or_default();
    let block = doc.find("## Network flows").and_then(|s| {
        doc[s..]
            .find("```text\n")
            .map(|b| s + b + "```text\n".len())
    });
    if updating() {
        if let Some(body) = block {
            if let Some(len) = doc[body..].find("```") {
                doc.replace_range(body..body + len, &text);
                std::fs::write(&doc_path, &doc).unwrap();
            }
        }
    }
    assert!(
        doc.contains(&text),
        "docs/GRAPH.md must show golden/collective/flows/faire-ecole.txt verbatim"
    );
}
