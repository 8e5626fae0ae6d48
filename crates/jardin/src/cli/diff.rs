//! `jardin diff BASE [HEAD]`: what a change does to the generated output,
//! between two git revisions (HEAD defaults to the working tree).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Args;

use super::plan::PlanFormat;
use super::{exit, options, Global, Output};
use jardin_compiler::live::LiveObject;
use jardin_compiler::pipeline::{self, Compilation};
use jardin_compiler::plan::{self, render};
use jardin_compiler::review::{self, Review};
use jardin_core::code;
use jardin_core::diag::Diagnostic;

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// The revision to compare from, e.g. origin/main.
    pub base: String,
    /// The revision to compare to [default: the working tree].
    pub head: Option<String>,
    /// The config root, in a git repository.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// What is printed on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Also write the JSON review to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Size budget of the Markdown review, in characters.
    #[arg(long, default_value_t = render::markdown::DEFAULT_BUDGET, value_parser = review::render::parse_budget)]
    pub markdown_budget: usize,
}

/// Compiles one side (only the tenants in `only`, when set); diagnostics
/// say which revision they belong to.
fn side(
    g: &Global,
    out: &Output,
    root: &Path,
    label: &str,
    only: Option<&BTreeSet<String>>,
    levels: Option<usize>,
) -> Option<Compilation> {
    let c = pipeline::compile(&pipeline::Options {
        keep_objects: true,
        only: only.cloned(),
        // `--import-root` names a directory of the working tree: each side
        // gets the directory as far above its own root.
        import_root: levels
            .map(|levels| root.ancestors().nth(levels).unwrap_or(root).to_path_buf()),
        ..options(g, root.to_path_buf())
    });
    if c.errors() > 0 {
        out.diagnostics(&c.diagnostics);
        eprintln!("the config at {label} has errors: nothing to compare");
        return None;
    }
    Some(c)
}

/// How many levels `--import-root` is above the working tree's config
/// root `root` (`None` without it, or when it is not above).
fn import_levels(g: &Global, root: &Path) -> Option<usize> {
    let import_root = std::fs::canonicalize(g.import_root.as_ref()?).ok()?;
    let root = std::fs::canonicalize(root).ok()?;
    Some(root.strip_prefix(&import_root).ok()?.components().count())
}

/// Compiles both revisions, with the number of tenants left out.
///
/// When only tenant files differ, only those tenants are compiled on each
/// side: the others would give the same objects twice. If the collective
/// or the objects shared between tenants then differ after all, every
/// tenant is compiled.
fn sides(
    g: &Global,
    out: &Output,
    levels: Option<usize>,
    (base_root, base_label): (&Path, &str),
    (head_root, head_label): (&Path, &str),
) -> Option<(Compilation, Compilation, usize)> {
    // With a wider import root, files beside the config root are read too:
    // compare every tenant.
    let narrowed = match levels {
        Some(_) => None,
        None => review::affected_tenants(base_root, head_root),
    };
    if let Some(only) = narrowed {
        let base = side(g, out, base_root, base_label, Some(&only), levels)?;
        let head = side(g, out, head_root, head_label, Some(&only), levels)?;
        if review::same_collective(&base, &head) && review::same_shared_objects(&base, &head) {
            let ids = |root: &Path| -> BTreeSet<String> {
                pipeline::tenant_files(root)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                    .filter(|id| g.tenants.is_empty() || g.tenants.contains(id))
                    .collect()
            };
            let all: BTreeSet<String> = ids(base_root).union(&ids(head_root)).cloned().collect();
            let unaffected = all.iter().filter(|id| !only.contains(*id)).count();
            return Some((base, head, unaffected));
        }
    }
    let base = side(g, out, base_root, base_label, None, levels)?;
    let head = side(g, out, head_root, head_label, None, levels)?;
    Some((base, head, 0))
}

pub(super) fn diff(g: &Global, out: &Output, args: DiffArgs) -> i32 {
    let levels = import_levels(g, &args.root);
    if g.import_root.is_some() && levels.is_none() {
        out.diagnostics(&[jardin_core::diag::Diagnostic::error(
            jardin_core::code::IMPORT_OUTSIDE_ROOT,
            "--import-root does not contain the config root",
        )
        .with_help("pass a directory that holds the config root, such as the repository's top")]);
        return exit::ERROR;
    }
    let base_checkout = match review::checkout(&args.root, &args.base) {
        Ok(c) => c,
        Err(d) => {
            out.diagnostics(&[d]);
            return exit::ERROR;
        }
    };
    let head_checkout = match &args.head {
        Some(rev) => match review::checkout(&args.root, rev) {
            Ok(c) => Some(c),
            Err(d) => {
                out.diagnostics(&[d]);
                return exit::ERROR;
            }
        },
        None => None,
    };
    let head_root = head_checkout
        .as_ref()
        .map_or(args.root.clone(), |c| c.root.clone());
    let head_label = args
        .head
        .clone()
        .unwrap_or_else(|| "the working tree".to_string());
    let Some((mut base, mut head, unaffected)) = sides(
        g,
        out,
        levels,
        (&base_checkout.root, &args.base),
        (&head_root, &head_label),
    ) else {
        return exit::ERROR;
    };

    let known_tenants: BTreeSet<String> = head
        .tenants
        .iter()
        .map(|t| t.compiled.tenant.id.clone())
        .collect();
    let unchanged = review::drop_identical(&mut base.objects, &mut head.objects);
    let live: Vec<LiveObject> = std::mem::take(&mut base.objects)
        .into_iter()
        .map(|o| LiveObject {
            cluster: o.cluster,
            value: o.value,
        })
        .collect();
    let clusters: BTreeSet<String> = live.iter().map(|o| o.cluster.clone()).collect();
    let sources: BTreeMap<String, String> = clusters
        .into_iter()
        .map(|c| (c, format!("revision {}", args.base)))
        .collect();
    let input = plan::Input {
        desired: std::mem::take(&mut head.objects),
        live,
        live_sources: sources,
        ignore: &[],
        known_tenants,
        tenant_filter: g.tenants.clone(),
        // Deletions are reviewed here, not applied: no approval threshold.
        max_deletes: usize::MAX,
        max_delete_percent: 100,
        secret_key: std::env::var("JARDIN_PLAN_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        compare_desired: true,
        server_views: None,
    };
    let mut objects = match plan::compute(input) {
        Ok(p) => p,
        Err(d) => {
            out.diagnostics(&[d]);
            return exit::ERROR;
        }
    };
    for (tenant, n) in unchanged {
        objects.summary.unchanged += n;
        objects.tenants.entry(tenant).or_default().unchanged += n;
    }
    let r = Review {
        format_version: 1,
        base: args.base.clone(),
        head: head_label,
        objects,
        dns: review::compare_files(&base.extra_files, &head.extra_files, "dns/", ".zone"),
        backup: review::compare_files(&base.extra_files, &head.extra_files, "backup/", ".json"),
        unaffected_tenants: unaffected,
    };
    if let Some(path) = &args.output {
        if let Err(e) = std::fs::write(path, review::render::json(&r)) {
            out.diagnostics(&[Diagnostic::error(
                code::PLAN_NOT_WRITTEN,
                format!("cannot write {}: {e}", path.display()),
            )]);
            return exit::ERROR;
        }
    }
    let text = match args.format {
        PlanFormat::Text => review::render::text(&r, super::stdout_color(g)),
        PlanFormat::Markdown => review::render::markdown(&r, args.markdown_budget),
        PlanFormat::Json => review::render::json(&r),
    };
    print!("{text}");
    if r.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    }
}
