//! `jardin plan`: compile, read the live state, compare, render.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{exit, options, timings, Color, Global, Output};
use jardin_compiler::apply::inventory::label_member;
use jardin_compiler::apply::ObjectRef;
use jardin_compiler::dns::derive::derive;
use jardin_compiler::dns::plan::{render_text, SavedZone, ZonePlan};
use jardin_compiler::live::{self, KindRef, LiveArg, LiveObject, SourceSpec};
use jardin_compiler::pipeline;
use jardin_compiler::plan::{self, render};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_net::apply::{ApplyError, ClusterApi};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Compare {
    Server,
    Offline,
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
    /// Against a cluster, how a desired object is compared with its live
    /// one: `server`, with what a server-side dry-run apply of it returns
    /// (server defaults and other managers' fields never show as drift);
    /// `offline`, through jardin's own normalization. Snapshots are always
    /// compared offline.
    #[arg(long, value_enum, default_value = "server")]
    pub compare: Compare,
    /// Also plan the DNS zones whose provider is rfc2136, read from their
    /// servers; the saved plan carries them to `apply` (docs/APPLY.md).
    #[arg(long)]
    pub dns: bool,
    /// With --dns: read every zone from this server (host:port) instead of
    /// its configured one.
    #[arg(long, value_name = "HOST:PORT", requires = "dns")]
    pub dns_server: Option<String>,
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
    let mut views = None;
    let mut offline = false;
    if args.compare == Compare::Server {
        let mut warnings = Vec::new();
        for cluster in &clusters {
            let Some(context) = kube_context(&live_args, cluster) else {
                continue;
            };
            let result = ClusterApi::connect(&context).and_then(|api| {
                server_views(
                    &api,
                    cluster,
                    &c.objects,
                    &live_objects,
                    &g.tenants,
                    &mut warnings,
                )
            });
            match result {
                Ok(Some(v)) => views.get_or_insert_with(Vec::new).extend(v),
                Ok(None) => {
                    offline = true;
                    break;
                }
                Err(d) => {
                    out.diagnostics(&[d]);
                    return exit::ERROR;
                }
            }
        }
        out.diagnostics(&warnings);
        if offline {
            views = None;
        }
    }
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
        server_views: views,
    };
    let t = std::time::Instant::now();
    let mut p = match plan::compute(input) {
        Ok(p) => p,
        Err(d) => {
            out.diagnostics(&[d]);
            return exit::ERROR;
        }
    };
    let mut zone_plans = Vec::new();
    if args.dns {
        match plan_zones(g, out, collective, &c.catalog, &c.tenants, &args.dns_server) {
            Ok(zones) => {
                for (zone, server) in zones {
                    p.zones.push(
                        serde_json::to_value(SavedZone::from_plan(&zone, server))
                            .unwrap_or_default(),
                    );
                    zone_plans.push(zone);
                }
            }
            Err(code) => return code,
        }
    }
    let color = match g.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    };
    let mut text = match args.format {
        PlanFormat::Text => render::text::render(&p, color),
        PlanFormat::Markdown => render::markdown::render(&p, args.markdown_budget),
        PlanFormat::Json => render::json::render(&p),
    };
    for zone in &zone_plans {
        match args.format {
            PlanFormat::Text => text.push_str(&format!("\n{}", render_text(zone))),
            PlanFormat::Markdown => {
                text.push_str(&format!("\n```\n{}```\n", render_text(zone)));
            }
            PlanFormat::Json => {}
        }
    }
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
    if p.needs_approval() || zone_plans.iter().any(|z| z.over_budget) {
        exit::APPROVAL
    } else if p.summary.changes() > 0 || zone_plans.iter().any(|z| z.has_changes()) {
        exit::CHANGES
    } else {
        exit::OK
    }
}

/// The kubeconfig context a cluster is read through, when `--live` names
/// a cluster for it (not a snapshot).
pub(super) fn kube_context(args: &[LiveArg], cluster: &str) -> Option<String> {
    let arg = args
        .iter()
        .find(|a| a.cluster.as_deref() == Some(cluster))
        .or_else(|| args.iter().find(|a| a.cluster.is_none()))?;
    match &arg.spec {
        SourceSpec::Kube { context } => {
            Some(context.clone().unwrap_or_else(|| cluster.to_string()))
        }
        SourceSpec::Snapshot(_) => None,
    }
}

/// `--compare server`: every desired object of `cluster` (of the
/// `--tenant` filter) that exists live, as a server-side dry-run apply of
/// what `apply` would send returns it. An object the server refuses to
/// apply is compared offline, and a warning says what `apply` will meet.
/// None when the credentials may not patch (a dry run is authorized as
/// the patch itself: read-only credentials of a merge request's job):
/// then the whole plan is made offline, and `apply` follows it.
pub(super) fn server_views(
    api: &ClusterApi,
    cluster: &str,
    desired: &[jardin_compiler::emit::DesiredObject],
    live: &[LiveObject],
    tenants: &[String],
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<Vec<LiveObject>>, Diagnostic> {
    let key = |v: &serde_json::Value| {
        let s = |x: &serde_json::Value| x.as_str().unwrap_or("").to_string();
        (
            jardin_core::kube::group_of(v["apiVersion"].as_str().unwrap_or("")).to_string(),
            s(&v["kind"]),
            s(&v["metadata"]["namespace"]),
            s(&v["metadata"]["name"]),
        )
    };
    let existing: std::collections::HashSet<_> = live
        .iter()
        .filter(|l| l.cluster == cluster)
        .map(|l| key(&l.value))
        .collect();
    let mut sent = Vec::new();
    for o in desired {
        let in_scope =
            tenants.is_empty() || o.tenant().is_some_and(|t| tenants.iter().any(|x| x == t));
        if o.cluster != cluster || !in_scope || !existing.contains(&key(&o.value)) {
            continue;
        }
        let mut value = o.value.clone();
        label_member(&mut value);
        sent.push(value);
    }
    let mut views = Vec::new();
    for (value, answer) in sent.iter().zip(api.dry_run_all(&sent)) {
        let object = ObjectRef::of(value);
        match answer {
            Ok(view) => views.push(LiveObject {
                cluster: cluster.to_string(),
                value: view,
            }),
            Err(ApplyError::Conflict(fields)) => {
                let managers: BTreeSet<&str> = fields.iter().map(|(m, _)| m.as_str()).collect();
                warnings.push(
                    Diagnostic::warning(
                        code::FIELD_CONFLICT,
                        format!(
                            "{cluster} {object}: applying it will conflict with {}: {}",
                            managers.into_iter().collect::<Vec<_>>().join(", "),
                            fields
                                .iter()
                                .map(|(_, f)| f.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .with_help(
                        "compared offline; `jardin apply` stops on it unless --force-conflicts",
                    ),
                );
            }
            Err(ApplyError::Rejected(why)) => warnings.push(
                Diagnostic::warning(
                    code::OBJECT_REJECTED,
                    format!("{cluster} {object}: the cluster would refuse it: {why}"),
                )
                .with_help("compared offline; `jardin apply` will stop on it"),
            ),
            Err(ApplyError::Forbidden(why)) => {
                warnings.push(
                    Diagnostic::warning(
                        code::OBJECT_REJECTED,
                        format!("cluster \"{cluster}\": these credentials may not apply {object}, so they cannot send dry runs: the plan compares offline ({why})"),
                    )
                    .with_help("give the plan's credentials `patch` on what jardin manages to compare through the server, or pass --compare offline to say so"),
                );
                return Ok(None);
            }
            // Listed, so served: only a kind the discovery does not know.
            Err(ApplyError::NotServed(_)) => {}
            Err(ApplyError::Unreachable(why)) => {
                return Err(Diagnostic::error(
                    code::CLUSTER_UNREACHABLE,
                    format!("cluster \"{cluster}\": {why}"),
                )
                .with_help("check the kubeconfig context, or plan with --compare offline"))
            }
        }
    }
    Ok(Some(views))
}

/// `--dns`: the plan of every zone whose provider is rfc2136, read from
/// its server. Whole zones only: a `--tenant` or `--cluster` filter would
/// leave out other tenants' records, and their deletion would be planned.
pub(super) fn plan_zones(
    g: &Global,
    out: &Output,
    collective: &jardin_core::model::Collective,
    catalog: &jardin_core::model::Catalog,
    tenants: &[jardin_core::model::TenantUnit],
    server: &Option<String>,
) -> Result<Vec<(ZonePlan, Option<String>)>, i32> {
    if !g.tenants.is_empty() || !g.clusters.is_empty() {
        out.diagnostics(&[Diagnostic::error(
            code::DNS_PLAN_UNUSABLE,
            "--dns plans whole zones, and cannot be combined with --tenant or --cluster",
        )
        .with_help("plan the zones in a run without --tenant and --cluster, or leave out --dns")]);
        return Err(exit::ERROR);
    }
    let zones = derive(collective, catalog, tenants).zones;
    let selected = super::dns::select(&zones, &[], false, out)?;
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for r in super::dns::plans(&selected, server, &None) {
        match r {
            Ok(p) => plans.push(p),
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        out.diagnostics(&errors);
        return Err(exit::ERROR);
    }
    Ok(plans)
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
