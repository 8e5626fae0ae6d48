//! Golden tests: every example's build output and every error example's
//! diagnostics, pinned in `golden/`. Any difference fails.
//!
//! Regenerate after an intended change, then review the diff like code:
//!     JARDIN_UPDATE_GOLDEN=1 cargo test --test golden

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn write_tree(dir: &Path, files: &BTreeMap<String, String>) {
    let _ = std::fs::remove_dir_all(dir);
    for (rel, text) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// Compares two trees; returns a readable report of the differences.
fn compare(
    expected: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> Option<String> {
    let mut report = String::new();
    for (k, v) in actual {
        match expected.get(k) {
            None => report.push_str(&format!("+ new file {k}\n")),
            Some(e) if e != v => {
                let diff = similar::TextDiff::from_lines(e.as_str(), v.as_str());
                report.push_str(&format!("~ {k}\n{}", diff.unified_diff().context_radius(2)));
            }
            _ => {}
        }
    }
    for k in expected.keys().filter(|k| !actual.contains_key(*k)) {
        report.push_str(&format!("- missing file {k}\n"));
    }
    (!report.is_empty()).then_some(report)
}

fn check_tree(golden: &Path, actual: BTreeMap<String, String>) {
    if updating() {
        write_tree(golden, &actual);
        return;
    }
    let expected = read_tree(golden);
    if let Some(report) = compare(&expected, &actual) {
        let cut: String = report.chars().take(6000).collect();
        panic!("output differs from {}:\n{cut}\n(JARDIN_UPDATE_GOLDEN=1 cargo test --test golden regenerates)", golden.display());
    }
}

fn build_example(name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out");
    let root = format!("examples/{name}");
    let args = [
        "--color",
        "never",
        "--cache-dir",
        cache.to_str().unwrap(),
        "build",
        &root,
        "-o",
        out.to_str().unwrap(),
    ];
    let (code, _, stderr) = jardin(&args);
    assert_eq!(code, 0, "build {name} failed:\n{stderr}");
    let cold = read_tree(&out);
    assert!(!cold.is_empty());
    // A warm build (every tenant from the cache) gives the same bytes.
    let (code, _, stderr) = jardin(&args);
    assert_eq!(code, 0, "warm build {name} failed:\n{stderr}");
    assert_eq!(
        read_tree(&out),
        cold,
        "warm build of {name} differs from the cold one"
    );
    check_tree(&repo().join("golden").join(name).join("build"), cold);
}

#[test]
fn minimal_builds_as_pinned() {
    build_example("minimal");
}

#[test]
fn collective_builds_as_pinned() {
    build_example("collective");
}

#[test]
fn tiers_lieu_builds_as_pinned() {
    build_example("tiers-lieu");
}

/// Every directory of examples/errors fails `check` with the pinned
/// diagnostics, both rendered for people and as JSON.
#[test]
fn error_examples_give_pinned_diagnostics() {
    let dir = repo().join("examples/errors");
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('_'))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected error examples, found {cases:?}"
    );
    let mut actual = BTreeMap::new();
    for case in &cases {
        let root = format!("examples/errors/{case}");
        // The examples share one collective, beside them: `--import-root`
        // lets them read it (docs/SECURITY.md).
        let (code, stdout, human) = jardin(&[
            "--color",
            "never",
            "--no-cache",
            "--import-root",
            "examples/errors",
            "check",
            "--deny-warnings",
            &root,
        ]);
        assert_eq!(code, 1, "{case}: check should fail\n{human}");
        assert!(stdout.is_empty(), "{case}: check printed on stdout");
        assert!(
            human.contains("──"),
            "{case}: the diagnostic should show the user's source\n{human}"
        );
        let (code, _, json) = jardin(&[
            "--error-format",
            "json",
            "--no-cache",
            "--import-root",
            "examples/errors",
            "check",
            "--deny-warnings",
            &root,
        ]);
        assert_eq!(code, 1);
        for line in json.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{case}: bad JSON {e}: {line}"));
            assert!(
                v["code"].as_str().is_some_and(|c| c.starts_with('J')),
                "{case}: {line}"
            );
        }
        actual.insert(format!("{case}.txt"), human);
        actual.insert(format!("{case}.json"), json);
    }
    check_tree(&repo().join("golden/errors"), actual);
}

/// The graph of the example, as Mermaid, is pinned and shown in docs/GRAPH.md.
#[test]
fn collective_graph_is_pinned_and_documented() {
    let (code, mermaid, stderr) = jardin(&[
        "--no-cache",
        "--tenant",
        "faire-ecole",
        "graph",
        "examples/collective",
        "--format",
        "mermaid",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(mermaid.starts_with("flowchart LR"));
    let (code, waves, _) = jardin(&["--no-cache", "graph", "examples/collective"]);
    assert_eq!(code, 0);
    let mut files = BTreeMap::new();
    files.insert("faire-ecole.mmd".to_string(), mermaid.clone());
    files.insert("waves.txt".to_string(), waves);
    check_tree(&repo().join("golden/collective/graph"), files);
    let doc_path = repo().join("docs/GRAPH.md");
    let mut doc = std::fs::read_to_string(&doc_path).unwrap_or_default();
    if updating() {
        if let Some(start) = doc.find("```mermaid\n") {
            let body = start + "```mermaid\n".len();
            if let Some(len) = doc[body..].find("```") {
                doc.replace_range(body..body + len, &mermaid);
                std::fs::write(&doc_path, &doc).unwrap();
            }
        }
    }
    assert!(
        doc.contains(&mermaid),
        "docs/GRAPH.md must embed golden/collective/graph/faire-ecole.mmd verbatim"
    );
}
