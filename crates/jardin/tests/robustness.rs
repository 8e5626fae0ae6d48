//! The loader and every check never panic, whatever the input: mutated
//! configs (cut, duplicated, garbled; or with an ordinary mistake at any
//! value) give diagnostics, never an internal error (J0006, J0007), and
//! every error points into the user's own files.

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
        let found = problems(root, &format!("case {case}"));
        assert!(
            found.is_empty(),
            "{}\n--- jardin.ncl\n{c}\n--- tenant\n{t}",
            found.join("\n")
        );
    }
}

/// Values a user may write by mistake in place of any other: each is put
/// at every value of a tenant and of the collective, in turn.
fn hostile_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "-1",
        "-300",
        "0",
        "0.5",
        "1e308",
        "-1e308",
        "99999999999999999999999999",
        "18446744073709551616",
        "true",
        "null",
        "[]",
        "{}",
        "[\"x\", 1]",
        "{ a = 1 }",
        "\"\"",
        "\" \"",
        "\"-1\"",
        "\"\u{e9}t\u{e9}\"",
        "\"\u{1F600}\"",
        "\"a\\nb\"",
        "\"UPPER.Case\"",
        "\"../../x\"",
        "\"a/b\"",
        "'active",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("\"{}\"", "a".repeat(70_000)));
    v.push(format!("\"{}.org\"", "b".repeat(300)));
    v
}

/// Where a value starts and ends in `text`: after every `= ` that is
/// followed by a string, a number, a boolean, an array or a record on the
/// same line.
fn value_sites(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut sites = Vec::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("= ") {
        let start = i + at + 2;
        i = start;
        let end = match bytes.get(start) {
            Some(b'"') => text[start + 1..].find('"').map(|e| start + 1 + e + 1),
            Some(b'[') => text[start..].find(']').map(|e| start + e + 1),
            Some(b'{') => {
                // A record on one line only: nested ones span lines.
                let line_end = text[start..].find('\n').map_or(text.len(), |e| start + e);
                text[start..line_end].rfind('}').map(|e| start + e + 1)
            }
            Some(b) if b.is_ascii_digit() || *b == b'-' => Some(
                start
                    + text[start..]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                        .unwrap_or(text.len() - start),
            ),
            Some(b't' | b'f')
                if text[start..].starts_with("true") || text[start..].starts_with("false") =>
            {
                Some(
                    start
                        + if text[start..].starts_with("true") {
                            4
                        } else {
                            5
                        },
                )
            }
            _ => None,
        };
        if let Some(end) = end {
            sites.push(start..end);
        }
    }
    sites
}

/// Lines that hold one field (`name = value,`): removed, a field is
/// missing; written twice, it is defined twice.
fn field_lines(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.contains(" = ") && t.ends_with(',') && !t.starts_with('#') {
            out.push(at..at + line.len());
        }
        at += line.len();
    }
    out
}

/// Mistakes at the places they can be made in `text`: each hostile value
/// at every `stride`-th (site, value) pair, the pairs rotating so that
/// every value lands on several sites and every site gets several values,
/// and every field removed or written twice.
fn structured_mutations(text: &str, stride: usize) -> Vec<(String, String)> {
    let values = hostile_values();
    let mut out = Vec::new();
    for (i, site) in value_sites(text).into_iter().enumerate() {
        for (j, v) in values.iter().enumerate() {
            if !(i * values.len() + j).is_multiple_of(stride) {
                continue;
            }
            let mut t = text.to_string();
            t.replace_range(site.clone(), v);
            let shown: String = v.chars().take(24).collect();
            out.push((format!("{} -> {shown}", &text[site.clone()]), t));
        }
    }
    for line in field_lines(text) {
        let field = text[line.clone()].trim().to_string();
        let mut missing = text.to_string();
        missing.replace_range(line.clone(), "");
        out.push((format!("without {field}"), missing));
        let mut twice = text.to_string();
        twice.insert_str(line.start, &text[line.clone()]);
        out.push((format!("twice {field}"), twice));
    }
    out
}

/// What is wrong with the diagnostics of one compilation of a user's
/// mistake: a panic, an internal error, or an error that points nowhere in
/// the user's own files.
fn problems(root: &Path, what: &str) -> Vec<String> {
    let result = std::panic::catch_unwind(|| {
        compile(&Options {
            root: root.to_path_buf(),
            ..Default::default()
        })
    });
    let Ok(compilation) = result else {
        return vec![format!("{what}: panicked")];
    };
    let mut out = Vec::new();
    for d in &compilation.diagnostics {
        // An interpreter crash is caught around the interpreter only, so a
        // jardin panic fails the test rather than hiding here.
        let internal = [
            code::MODEL_MISMATCH,
            code::INTERPRETER_CRASH,
            code::NOT_EXPORTABLE,
            code::CANNOT_READ,
        ];
        if internal.contains(&d.code) {
            out.push(format!("{what}: internal error {} {}", d.code, d.message));
            continue;
        }
        if d.severity != jardin_core::diag::Severity::Error {
            continue;
        }
        // A label in the embedded stdlib (`/__jardin__/…`) or outside the
        // root does not show the user where their mistake is.
        let in_user_file = d
            .labels
            .iter()
            .any(|l| !l.file.name.starts_with('/') && root.join(&l.file.name).is_file());
        if !in_user_file {
            out.push(format!(
                "{what}: {} not located in a user file: {} {:?}",
                d.code,
                d.message,
                d.labels.iter().map(|l| &l.file.name).collect::<Vec<_>>()
            ));
        }
    }
    out
}

/// Ordinary mistakes (a negative, huge or fractional number, a wrong type,
/// an empty, unicode or very long string, a missing or repeated field) at
/// every value of a tenant and of the collective are the user's: located
/// in their file, never J0007 ("jardin's model disagrees") or J0006 (the
/// interpreter crashed).
#[test]
fn every_ordinary_mistake_is_a_located_user_error() {
    let base = repo().join("examples/collective");
    let tenant = std::fs::read_to_string(base.join("tenants/faire-ecole.ncl")).unwrap();
    let collective = std::fs::read_to_string(base.join("jardin.ncl")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("tenants")).unwrap();
    // Every pair takes three minutes; a sample of them, about twenty
    // seconds. `JARDIN_ROBUSTNESS_FULL=1` runs them all (its first run
    // found 123 mistakes reported as J0007 or without a location).
    let full = std::env::var_os("JARDIN_ROBUSTNESS_FULL").is_some();
    let tenant_cases = structured_mutations(&tenant, if full { 1 } else { 3 });
    let collective_cases = structured_mutations(&collective, if full { 1 } else { 7 });
    assert!(
        tenant_cases.len() > 100 && collective_cases.len() > 300,
        "the mutations found too few sites: {} {}",
        tenant_cases.len(),
        collective_cases.len()
    );
    let mut found = Vec::new();
    for (what, t) in &tenant_cases {
        std::fs::write(root.join("jardin.ncl"), &collective).unwrap();
        std::fs::write(root.join("tenants/faire-ecole.ncl"), t).unwrap();
        found.extend(problems(root, &format!("tenant: {what}")));
    }
    for (what, c) in &collective_cases {
        std::fs::write(root.join("jardin.ncl"), c).unwrap();
        std::fs::write(root.join("tenants/faire-ecole.ncl"), &tenant).unwrap();
        found.extend(problems(root, &format!("jardin.ncl: {what}")));
    }
    assert!(
        found.is_empty(),
        "{} mistakes badly reported:\n{}",
        found.len(),
        found.join("\n")
    );
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
