//! `jardin backup coverage ROOT`: per tenant and app, each piece of state,
//! how it is backed up, how often, how long it is kept, where to.

use std::path::PathBuf;

use super::{exit, options, Global, Output};
use jardin_compiler::backup::report::{self, Report};
use jardin_compiler::pipeline;

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

/// Prints the coverage table (or coverage.json) even when the config has
/// errors: a gap in coverage is exactly what the reader is looking for.
/// Exits 1 when any piece of state is not backed up or there are errors.
pub(super) fn coverage(g: &Global, out: &Output, root: PathBuf, format: Format) -> i32 {
    let c = pipeline::compile(&options(g, root));
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    let Some((_, bytes)) = c.extra_files.iter().find(|(p, _)| p == report::PATH) else {
        return exit::ERROR;
    };
    let Ok(r) = serde_json::from_slice::<Report>(bytes) else {
        return exit::ERROR;
    };
    match format {
        Format::Text => print!("{}", report::table(&r)),
        Format::Json => print!("{}", String::from_utf8_lossy(bytes)),
    }
    if c.errors() > 0 || r.summary.uncovered > 0 {
        exit::ERROR
    } else {
        exit::OK
    }
}
