//! Documentation that the code generates: docs/DIAGNOSTICS.md lists every
//! diagnostic code with its doc paragraph, and every rule has a fixture.
//!
//! Regenerate with `JARDIN_UPDATE_GOLDEN=1 cargo test --test docs`.

use std::path::{Path, PathBuf};

use jardin::check::Code;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn all_codes() -> Vec<&'static Code> {
    jardin::check::all_codes()
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
        s.push_str(&format!("## {} {}\n\n{}\n\n", c.code, c.title, c.doc));
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

#[test]
fn codes_are_unique() {
    let codes = all_codes();
    for w in codes.windows(2) {
        assert_ne!(w[0].code, w[1].code, "code {} defined twice", w[0].code);
    }
}

/// Every code a rule raises has a failing example whose golden diagnostic
/// shows it (codes raised only by internal faults are exempt).
#[test]
fn every_rule_code_has_a_fixture() {
    let exempt = [
        "J0003", "J0004", "J0005", "J0006", "J0007", "J0008", "J0830", "J0901",
    ];
    let mut golden = String::new();
    for e in std::fs::read_dir(repo().join("golden/errors"))
        .unwrap()
        .flatten()
    {
        golden.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    let missing: Vec<&str> = all_codes()
        .iter()
        .map(|c| c.code)
        // Codes of `plan` and `apply` (J042x, J043x, J06xx) are tested by
        // their own integration tests against a snapshot or a real server.
        .filter(|c| !c.starts_with("J042") && !c.starts_with("J043") && !c.starts_with("J06"))
        .filter(|c| !exempt.contains(c) && !golden.contains(&format!("\"code\":\"{c}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a fixture in examples/errors: {missing:?}"
    );
}
