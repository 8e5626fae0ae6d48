//! The tenant loader: a tenant file, any text a merge request can bring,
//! through everything `jardin check` runs on it: Nickel evaluation against
//! the stdlib (jardin-eval), the typed model, emit, the schemas and the
//! rules (`jardin_compiler::pipeline::compile`). The collective is
//! `examples/collective/jardin.ncl`, so seeds taken from its tenants get
//! past the references into emit.
//!
//! A crash is whatever would take the process down: a panic outside the
//! interpreter, a stack overflow, an abort, a timeout (libFuzzer's
//! `-timeout`) or running out of memory (`-rss_limit_mb`). A panic inside
//! the interpreter is caught and reported as J0006, as in the binary.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use jardin_compiler::pipeline::{compile, Options};
use libfuzzer_sys::fuzz_target;

const COLLECTIVE: &str = include_str!("../../examples/collective/jardin.ncl");

/// The config root the inputs are written into, made once per process.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &ROOT
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            std::fs::write(dir.path().join("jardin.ncl"), COLLECTIVE).expect("jardin.ncl");
            std::fs::create_dir(dir.path().join("tenants")).expect("tenants/");
            let path = dir.path().to_path_buf();
            (dir, path)
        })
        .1
}

/// The file name the tenant's `id` asks for (J0120 otherwise stops it
/// before emit), or `fuzz` when none is found. A textual guess: the input
/// is evaluated only once, by the loader under test.
fn file_stem(text: &str) -> &str {
    for (at, _) in text.match_indices("id") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            continue;
        }
        let rest = text[at + 2..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        let Some((id, _)) = rest.split_once('"') else {
            continue;
        };
        let valid = (1..=63).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            return id;
        }
    }
    "fuzz"
}

fuzz_target!(
    init: {
        jardin_fuzz::report_stack_overflows();
        // One worker, as on a one-core runner: one interpreter context, and
        // the fuzzer's single job uses one core. Evaluation runs on it, so
        // it needs its own alternate signal stack.
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .start_handler(|_| jardin_fuzz::alternate_stack())
            .build_global()
            .expect("the only rayon pool");
        // As `main` does: panics inside the interpreter become J0006.
        jardin_eval::install_panic_hook();
        root();
    },
    |data: &[u8]| {
        // Tenant files are read with `read_to_string`: only UTF-8 gets further.
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let root = root();
        let file = root.join("tenants").join(format!("{}.ncl", file_stem(text)));
        std::fs::write(&file, text).expect("write the tenant file");
        let opts = Options {
            root: root.clone(),
            ..Options::default()
        };
        // Diagnostics are the expected outcome of most inputs: only a
        // crash of the process is a finding.
        drop(compile(&opts));
        std::fs::remove_file(&file).expect("remove the tenant file");
    }
);
