//! `jardin check` and `jardin build`.

use std::path::PathBuf;

use super::{exit, options, timings, ErrorFormat, Global, Output};
use crate::diag::Diagnostic;
use crate::pipeline;

pub fn check(g: &Global, out: &Output, root: PathBuf, deny_warnings: bool) -> i32 {
    let c = pipeline::compile(&options(g, root));
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    timings(g, &c);
    if c.errors() > 0 || (deny_warnings && c.warnings() > 0) {
        return exit::ERROR;
    }
    if !g.quiet && g.error_format == ErrorFormat::Human {
        eprintln!(
            "ok: {} tenants, {} objects",
            c.tenants.len(),
            c.objects.len()
        );
    }
    exit::OK
}

pub fn build(g: &Global, out: &Output, root: PathBuf, output: PathBuf) -> i32 {
    let c = pipeline::compile(&options(g, root));
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    if c.errors() > 0 {
        timings(g, &c);
        if !g.quiet {
            eprintln!("nothing written to {}", output.display());
        }
        return exit::ERROR;
    }
    let files = c.files();
    if let Err(e) = crate::emit::write::write_dir_atomically(&output, &files) {
        out.diagnostics(&[Diagnostic::error(
            "J0008",
            format!("cannot write {}: {e}", output.display()),
        )
        .with_help("the previous output, if any, is left as it was")]);
        return exit::ERROR;
    }
    timings(g, &c);
    if !g.quiet {
        eprintln!(
            "wrote {} files for {} tenants to {}",
            files.len(),
            c.tenants.len(),
            output.display()
        );
    }
    exit::OK
}
