//! The loader and every check never panic, whatever the input: mutated
//! tenant files (cut, duplicated, garbled) give diagnostics, each pointing
//! at a span when it is about the user's source.

use std::path::{Path, PathBuf};

use jardin_compiler::pipeline::{compile, Options};
use jardin_core::code;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A small deterministic generator: the same cases on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    "=",
    "|",
    "null",
    "'active",
    "42",
    "-1",
    "1e400",
    "\"\"",
    "..",
    "%{",
    "import \"x.ncl\"",
    "std.fail_with \"boom\"",
    "let x = x in x",
    "fun x => x",
    "\"UPPER.Case.org\"",
    "apps",
    "app",
    "host",
    "{ generate = {} }",
    "\"secret-literal\"",
    "replicas = 100000",
    "size = \"xxl\"",
    "\u{e9}",
    "\u{1F600}",
    "\n",
    "#",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(3) {
        let at = rng.below(s.len() + 1);
        match rng.below(4) {
            0 => {
                let end = (at + rng.below(20)).min(s.len());
                s.drain(at..end);
            }
            1 => {
                let tok: Vec<char> = TOKENS[rng.below(TOKENS.len())].chars().collect();
                s.splice(at..at, tok);
            }
            2 => {
                let end = (at + rng.below(40)).min(s.len());
                let dup: Vec<char> = s[at..end].to_vec();
                s.splice(at..at, dup);
            }
            _ => s.truncate(at),
        }
    }
    s.into_iter().collect()
}

#[test]
fn mutated_configs_never_panic_and_errors_have_spans() {
    let base = repo().join("examples/collective");
    let tenant = std::fs::read_to_string(base.join("tenants/faire-ecole.ncl")).unwrap();
    let collective = std::fs::read_to_string(base.join("jardin.ncl")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("tenants")).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..120 {
        let (t, c) = if case % 5 == 4 {
            (tenant.clone(), mutate(&collective, &mut rng))
        } else {
            (mutate(&tenant, &mut rng), collective.clone())
        };
        std::fs::write(root.join("jardin.ncl"), &c).unwrap();
        std::fs::write(root.join("tenants/faire-ecole.ncl"), &t).unwrap();
        let result = std::panic::catch_unwind(|| {
            compile(&Options {
                root: root.to_path_buf(),
                ..Default::default()
            })
        });
        let Ok(compilation) = result else {
            panic!("case {case} panicked on:\n--- jardin.ncl\n{c}\n--- tenant\n{t}");
        };
        for d in &compilation.diagnostics {
            // An interpreter crash is caught around the interpreter only,
            // so a jardin panic fails this test rather than hiding here.
            let internal = [
                code::NOT_EXPORTABLE,
                code::CANNOT_READ,
                code::INTERPRETER_CRASH,
                code::MODEL_MISMATCH,
            ];
            assert!(
                !internal.contains(&d.code),
                "case {case}: internal error {} {}\n{t}",
                d.code,
                d.message
            );
            // Diagnostics about the user's files point into them.
            assert!(
                !d.labels.is_empty()
                    || d.code.id().starts_with("J08")
                    || d.code == code::IMPORT_FAILED,
                "case {case}: {} without a span: {}\n{t}",
                d.code,
                d.message
            );
        }
    }
}

/// A render function that leaves a function in an object: the export fails
/// with a diagnostic located in the app's file, never an internal error.
#[test]
fn a_value_that_cannot_be_exported_is_located() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let minimal = repo().join("examples/minimal");
    std::fs::create_dir_all(root.join("tenants")).unwrap();
    std::fs::create_dir_all(root.join("catalog")).unwrap();
    std::fs::copy(minimal.join("jardin.ncl"), root.join("jardin.ncl")).unwrap();
    std::fs::copy(
        minimal.join("tenants/les-amis.ncl"),
        root.join("tenants/les-amis.ncl"),
    )
    .unwrap();
    let app = std::fs::read_to_string(repo().join("catalog/hedgedoc.ncl")).unwrap();
    let broken = app.replacen(
        "render = fun ctx =>",
        "render = fun ctx => [{ apiVersion = \"v1\", kind = \"ConfigMap\", \
         metadata = { name = \"x\", namespace = ctx.namespace }, data = { f = fun x => x } }],\n  \
         unused = fun ctx =>",
        1,
    );
    assert_ne!(broken, app, "the render function moved");
    std::fs::write(root.join("catalog/hedgedoc.ncl"), broken).unwrap();
    let compilation = compile(&Options {
        root: root.to_path_buf(),
        ..Default::default()
    });
    let d = compilation
        .diagnostics
        .first()
        .expect("a function in an object is reported");
    assert_ne!(d.code, code::NOT_EXPORTABLE, "{}", d.message);
    assert!(
        d.labels
            .iter()
            .any(|l| l.file.name.ends_with("catalog/hedgedoc.ncl")),
        "{d:?}"
    );
}

/// Ordinary mistakes in numbers (a negative count, a fraction, a port out
/// of range) are the user's, located at their line (J0002), never J0007,
/// which says jardin's stdlib and model disagree.
#[test]
fn wrong_numbers_are_located_user_errors() {
    let minimal = repo().join("examples/minimal");
    let collective = std::fs::read_to_string(minimal.join("jardin.ncl")).unwrap();
    let tenant = std::fs::read_to_string(minimal.join("tenants/les-amis.ncl")).unwrap();
    let pad = "pad = { app = \"hedgedoc\", host = \"pad.petit-jardin.org\"";
    let mistakes: [(&str, String, String); 4] = [
        ("replicas = -1", collective.clone(), tenant.replacen(pad, &format!("{pad}, replicas = -1"), 1)),
        ("replicas = 1.5", collective.clone(), tenant.replacen(pad, &format!("{pad}, replicas = 1.5"), 1)),
        (
            "ttl = -300",
            format!("({collective}) & {{ zones.\"petit-jardin.org\".ttl | force = -300 }}"),
            tenant.clone(),
        ),
        (
            "deletion_budget.percent = 150",
            format!("({collective}) & {{ zones.\"petit-jardin.org\".deletion_budget.percent | force = 150 }}"),
            tenant.clone(),
        ),
    ];
    for (what, c, t) in mistakes {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("tenants")).unwrap();
        std::fs::write(root.join("jardin.ncl"), c).unwrap();
        std::fs::write(root.join("tenants/les-amis.ncl"), t).unwrap();
        let compilation = compile(&Options {
            root: root.to_path_buf(),
            ..Default::default()
        });
        let d = compilation
            .diagnostics
            .first()
            .unwrap_or_else(|| panic!("{what}: no diagnostic"));
        assert_eq!(
            d.code,
            code::CONTRACT_VIOLATION,
            "{what}: {} {}",
            d.code,
            d.message
        );
        assert!(!d.labels.is_empty(), "{what}: not located: {}", d.message);
    }
}
