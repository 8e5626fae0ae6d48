//! Documentation that the code generates: docs/DIAGNOSTICS.md lists every
//! diagnostic code with its doc paragraph, and every rule has a fixture.
//!
//! Regenerate with `JARDIN_UPDATE_GOLDEN=1 cargo test --test docs`.

use std::path::{Path, PathBuf};

use std::collections::BTreeSet;

use jardin_core::code::{self, Code};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn all_codes() -> &'static [Code] {
    code::ALL
}
fn diagnostics_page() -> String {
    let mut s = String::from(
        "# Diagnostics\n\n\
         Every problem jardin reports has a stable code. `jardin check` prints\n\
         them on stderr, for people (`--error-format human`, the default) or as one\n\
         JSON object per line (`--error-format json`: `code`, `severity`, `message`,\n\
         `file`, `line`, `column`, `labels`, `help`, `notes`). Errors stop the build;\n\
         warnings are counted, and `check --deny-warnings` fails on them in CI.\n\n\
         Each rule has a failing example under `examples/errors/` and its rendered\n\
         diagnostic under `golden/errors/`.\n\n\
         This page is generated from the code (`JARDIN_UPDATE_GOLDEN=1 cargo test --test docs`).\n\n",
    );
    for c in all_codes() {
        s.push_str(&format!("## {} {}\n\n{}\n\n", c.id(), c.title(), c.doc()));
    }
    s
}

#[test]
fn diagnostics_page_lists_every_code() {
    let path = repo().join("docs/DIAGNOSTICS.md");
    let page = diagnostics_page();
    if std::env::var_os("JARDIN_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == page,
        "docs/DIAGNOSTICS.md is out of date: JARDIN_UPDATE_GOLDEN=1 cargo test --test docs"
    );
}

/// Every `.rs` file of the workspace's crates, sources and tests.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The codes some test asserts, by id (`"J0603"`) or by constant
/// (`code::CLUSTER_UNREACHABLE`) inside an `assert…!(…)` call.
fn asserted_codes() -> BTreeSet<&'static str> {
    let mut files = Vec::new();
    rust_files(&repo().join("crates"), &mut files);
    let mut found = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("assert") {
            rest = &rest[at..];
            let end = rest.find(");").unwrap_or(rest.len());
            let call = &rest[..end];
            for c in all_codes() {
                if call.contains(&format!("\"{}\"", c.id()))
                    || call.contains(&format!("code::{}", c.name()))
                {
                    found.insert(c.id());
                }
            }
            rest = &rest[6..];
        }
    }
    found
}

/// The codes an example under `examples/errors/` raises: their golden
/// diagnostics are in `golden/errors/`.
fn fixture_codes() -> BTreeSet<&'static str> {
    let mut golden = String::new();
    for e in std::fs::read_dir(repo().join("golden/errors"))
        .unwrap()
        .flatten()
    {
        golden.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    all_codes()
        .iter()
        .map(|c| c.id())
        .filter(|id| golden.contains(&format!("\"code\":\"{id}\"")))
        .collect()
}

/// Every code is raised by something a test pins: an example under
/// `examples/errors/` (the rules, evaluation), or an assertion in a test
/// (live state, servers, git, internal faults), with no exemption.
#[test]
fn every_code_is_raised_by_a_fixture_or_asserted_by_a_test() {
    let fixtures = fixture_codes();
    let asserted = asserted_codes();
    let missing: Vec<&str> = all_codes()
        .iter()
        .map(|c| c.id())
        .filter(|id| !fixtures.contains(id) && !asserted.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "codes no fixture raises and no test asserts: {missing:?}"
    );
}

/// Every rule of the rule registry raises only codes it declares, and every
/// code of the rules' families belongs to exactly one rule.
#[test]
fn every_rule_code_has_a_fixture() {
    let fixtures = fixture_codes();
    let mut seen = BTreeSet::new();
    for rule in jardin_compiler::check::RULES {
        for c in rule.codes() {
            assert!(seen.insert(c.id()), "{} declared by two rules", c.id());
            assert!(
                fixtures.contains(c.id()),
                "rule code {} has no example in examples/errors",
                c.id()
            );
        }
    }
}

/// docs/catalog/<app>.md is each catalog entry's page, as `jardin catalog
/// show APP` prints it; one page per app, none left from a removed one.
#[test]
fn catalog_pages_are_generated_from_the_entries() {
    let dir = repo().join("docs/catalog");
    let catalog = jardin_compiler::pipeline::catalog().expect("the embedded catalog");
    let update = std::env::var_os("JARDIN_UPDATE_GOLDEN").is_some();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for (id, app) in catalog {
        let path = dir.join(format!("{id}.md"));
        let page = jardin_compiler::catalog_page::page(app);
        if update {
            std::fs::write(&path, &page).unwrap();
        }
        if std::fs::read_to_string(&path).unwrap_or_default() != page {
            stale.push(id.clone());
        }
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".md").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let extra: Vec<&String> = on_disk
        .iter()
        .filter(|n| !catalog.contains_key(*n))
        .collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "docs/catalog is out of date ({stale:?} differ, {extra:?} have no app): JARDIN_UPDATE_GOLDEN=1 cargo test --test docs"
    );
}
