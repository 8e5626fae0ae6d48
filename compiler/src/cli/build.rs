//! `jardin check` and `jardin build`.

use std::path::PathBuf;

use super::{exit, options, timings, ErrorFormat, Global, Output};
use crate::diag::Diagnostic;
use crate::{pipeline, stamp};

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
    let opts = options(g, root);
    // Nothing changed since the build that wrote `output`: it is current.
    let stamp = opts
        .cache
        .as_ref()
        .and_then(|cache| Some((cache.clone(), stamp::inputs(&opts, &output)?)));
    if let Some((cache, inputs)) = &stamp {
        if stamp::is_current(cache, &output, inputs) {
            if !g.quiet {
                eprintln!("{} is up to date", output.display());
            }
            return exit::OK;
        }
    }
    let c = pipeline::compile(&opts);
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    if c.errors() > 0 {
        timings(g, &c);
        if !g.quiet {
            eprintln!("nothing written to {}", output.display());
        }
        return exit::ERROR;
    }
    if let Some((cache, _)) = &stamp {
        stamp::forget(cache, &output);
    }
    let mut written = 0;
    if let Err(e) = crate::emit::write::replace_dir(&output, |dir| {
        written = c.write_to(dir)?;
        Ok(())
    }) {
        out.diagnostics(&[Diagnostic::error(
            "J0008",
            format!("cannot write {}: {e}", output.display()),
        )
        .with_help("the previous output, if any, is left as it was")]);
        return exit::ERROR;
    }
    if let Some((cache, inputs)) = &stamp {
        stamp::record(cache, &output, inputs);
    }
    timings(g, &c);
    if !g.quiet {
        eprintln!(
            "wrote {} files for {} tenants to {}",
            written,
            c.tenants.len(),
            output.display()
        );
    }
    exit::OK
}
