//! `jardin plan`: compile, read the live state, compare, render.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{exit, options, timings, Color, Global, Output};
use jardin_compiler::live::{self, KindRef, LiveArg};
use jardin_compiler::pipeline;
use jardin_compiler::plan::{self, render};
use jardin_core::code;
use jardin_core::diag::Diagnostic;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct PlanArgs {
    #[arg(default_value = ".")]
    pub root: PathBuf,
    /// Live state: PATH (a snapshot directory with one entry per cluster),
    /// CLUSTER=PATH, kube (each cluster through the kubeconfig context of the
    /// same name), kube:CONTEXT or CLUSTER=kube:CONTEXT. Repeatable.
    #[arg(long, value_name = "SOURCE", required = true)]
    pub live: Vec<String>,
    /// What is printed on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Also write the JSON plan to this file (the input of `apply`).
    #[arg(short, long, value_name = "PLAN")]
    pub output: Option<PathBuf>,
    /// Deleting more objects than this needs approval (exit code 3).
    #[arg(long, default_value_t = 10)]
    pub max_deletes: usize,
    /// Deleting more than this percentage of the live objects in scope needs approval.
    #[arg(long, default_value_t = 25)]
    pub max_delete_percent: usize,
    /// Size budget of the Markdown plan, in characters.
    #[arg(long, default_value_t = render::markdown::DEFAULT_BUDGET, value_parser = render::markdown::parse_budget)]
    pub markdown_budget: usize,
}

pub(super) fn kinds(objects: &[jardin_compiler::emit::DesiredObject]) -> Vec<KindRef> {
    let mut set: BTreeSet<KindRef> = live::known_kinds().into_iter().collect();
    for o in objects {
        set.insert(KindRef {
            api_version: o.value["apiVersion"].as_str().unwrap_or("").to_string(),
            kind: o.kind().to_string(),
        });
    }
    // One entry per group and kind (the desired version wins).
    let mut out: Vec<KindRef> = Vec::new();
    for k in set {
        let group = jardin_core::kube::group_of(&k.api_version).to_string();
        match out
            .iter_mut()
            .find(|o| o.kind == k.kind && jardin_core::kube::group_of(&o.api_version) == group)
        {
            Some(existing) => {
                if objects
                    .iter()
                    .any(|o| o.value["apiVersion"] == k.api_version.as_str() && o.kind() == k.kind)
                {
                    *existing = k;
                }
            }
            None => out.push(k),
        }
    }
    out
}

pub(super) fn plan(g: &Global, out: &Output, args: PlanArgs) -> i32 {
    let mut c = pipeline::compile(&pipeline::Options {
        keep_objects: true,
        ..options(g, args.root.clone())
    });
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    if c.errors() > 0 {
        timings(g, &c);
        return exit::ERROR;
    }
    let Some(collective) = &c.collective else {
        return exit::ERROR;
    };
    let clusters: Vec<String> = if g.clusters.is_empty() {
        collective.clusters.keys().cloned().collect()
    } else {
        g.clusters.clone()
    };
    let live_args: Vec<LiveArg> = args.live.iter().map(|s| LiveArg::parse(s)).collect();
    let kinds = kinds(&c.objects);
    let t_live = std::time::Instant::now();
    let mut live_objects = Vec::new();
    let mut sources = BTreeMap::new();
    for cluster in &clusters {
        let result = jardin_net::live_source(&live_args, cluster).and_then(|source| {
            sources.insert(cluster.clone(), source.describe());
            source.list(cluster, &kinds)
        });
        match result {
            Ok(objects) => live_objects.extend(objects),
            Err(d) => {
                out.diagnostics(&[d]);
                return exit::ERROR;
            }
        }
    }
    let known_tenants: BTreeSet<String> = pipeline::tenant_files(&args.root)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    timings(g, &c);
    let input = plan::Input {
        desired: std::mem::take(&mut c.objects),
        live: live_objects,
        live_sources: sources,
        ignore: &collective.plan.ignore,
        known_tenants,
        tenant_filter: g.tenants.clone(),
        max_deletes: args.max_deletes,
        max_delete_percent: args.max_delete_percent,
        secret_key: std::env::var("JARDIN_PLAN_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        compare_desired: false,
    };
    let t = std::time::Instant::now();
    let p = match plan::compute(input) {
        Ok(p) => p,
        Err(d) => {
            out.diagnostics(&[d]);
            return exit::ERROR;
        }
    };
    let color = match g.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    };
    let text = match args.format {
        PlanFormat::Text => render::text::render(&p, color),
        PlanFormat::Markdown => render::markdown::render(&p, args.markdown_budget),
        PlanFormat::Json => render::json::render(&p),
    };
    if let Some(path) = &args.output {
        let json = render::json::render(&p);
        if let Err(e) = write_atomically(path, json.as_bytes()) {
            out.diagnostics(&[Diagnostic::error(
                code::PLAN_NOT_WRITTEN,
                format!("cannot write {}: {e}", path.display()),
            )
            .with_help("check that the directory exists and is writable")]);
            return exit::ERROR;
        }
    }
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if g.verbose {
        eprintln!(
            "live: {:?} ({} objects); plan: {:?}",
            t.duration_since(t_live),
            p.summary.unchanged + p.summary.update + p.summary.delete,
            t.elapsed()
        );
    }
    if p.needs_approval() {
        exit::APPROVAL
    } else if p.summary.changes() > 0 {
        exit::CHANGES
    } else {
        exit::OK
    }
}

pub(super) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
