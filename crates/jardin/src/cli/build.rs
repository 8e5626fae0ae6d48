//! `jardin check` and `jardin build`.

use std::path::PathBuf;

use super::{exit, options, timings, ErrorFormat, Global, Output};
use jardin_compiler::emit::write::cannot_write;
use jardin_compiler::{pipeline, stamp};

pub(super) fn check(g: &Global, out: &Output, root: PathBuf, deny_warnings: bool) -> i32 {
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
            c.object_count()
        );
    }
    // See `build`: the process ends here.
    std::mem::forget(c);
    exit::OK
}

pub(super) fn build(g: &Global, out: &Output, root: PathBuf, output: PathBuf) -> i32 {
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
    if let Some((cache, _)) = &stamp {
        stamp::forget(cache, &output);
    }
    // Tenants unchanged since the build that wrote `output` link their
    // manifests from it into the staging directory.
    let reuse = stamp
        .as_ref()
        .and_then(|(cache, _)| stamp::previous_tenants(cache, &output))
        .map(std::sync::Arc::new);
    // Tenants write their manifests into the staging directory as they are
    // compiled; it replaces `output` only if the whole compilation is clean.
    let mut compiled: Option<pipeline::Compilation> = None;
    let mut written = 0;
    let result = jardin_compiler::emit::write::replace_dir(&output, |dir| {
        let c = compiled.insert(pipeline::compile(&pipeline::Options {
            manifests_to: Some(dir.to_path_buf()),
            reuse: reuse.clone(),
            ..opts.clone()
        }));
        if c.errors() > 0 {
            return Err(std::io::Error::other("the configuration has errors"));
        }
        written = c.object_count() + c.write_extra_files(dir)?;
        Ok(())
    });
    let Some(c) = compiled else {
        // The staging directory could not even be created.
        let e = result.err().map(|e| e.to_string()).unwrap_or_default();
        out.diagnostics(&[cannot_write(&output, &e)]);
        return exit::ERROR;
    };
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    if c.errors() > 0 {
        timings(g, &c);
        if !g.quiet {
            eprintln!("nothing written to {}", output.display());
        }
        return exit::ERROR;
    }
    if let Err(e) = result {
        out.diagnostics(&[cannot_write(&output, &e)]);
        return exit::ERROR;
    }
    if let Some((cache, inputs)) = &stamp {
        stamp::record(cache, &output, inputs);
        stamp::record_tenants(cache, &output, &c.tenant_keys);
    }
    timings(g, &c);
    if !g.quiet {
        let shared = jardin_core::model::SHARED_TENANT;
        let (services, tenants): (Vec<_>, Vec<_>) = c
            .tenants
            .iter()
            .partition(|t| t.compiled.tenant.id == shared);
        let services: usize = services.iter().map(|t| t.compiled.apps.len()).sum();
        let services = match services {
            0 => String::new(),
            1 => " and 1 shared service".to_string(),
            n => format!(" and {n} shared services"),
        };
        let tenants = match tenants.len() {
            1 => "1 tenant".to_string(),
            n => format!("{n} tenants"),
        };
        eprintln!(
            "wrote {written} files for {tenants}{services} to {}",
            output.display()
        );
    }
    // The process ends here: the OS takes the memory back at once, instead
    // of freeing every tenant's model one allocation at a time.
    std::mem::forget(c);
    exit::OK
}
