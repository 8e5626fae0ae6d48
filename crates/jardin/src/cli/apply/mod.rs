//! `jardin apply`: a reviewed plan (or a config root, with
//! `--auto-approve`) to the clusters, in waves, with an inventory, safe
//! deletions and a report (docs/APPLY.md).
//!
//! 1. compile the config; read every cluster's inventory and live state;
//! 2. make the plan again and, for a plan file, check it is the same one
//!    (`apply::verify`): what goes out comes from this fresh plan;
//! 3. schedule (`apply::schedule`): waves, deletions, what is kept back;
//!    anything a flag must allow refuses the whole run (exit 3) before a
//!    single request changes anything;
//! 4. per cluster (`run`): the inventory widened, the waves each sent and
//!    waited for, the deletions, the inventory narrowed.

mod run;
mod show;
mod zones;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::{exit, options, timings, Global, Output};
use jardin_compiler::apply::inventory::{self, Members};
use jardin_compiler::apply::report::Report;
use jardin_compiler::apply::verify::{same_plan, SavedPlan};
use jardin_compiler::apply::{self as schedule, Grants, ObjectRef, Refusal};
use jardin_compiler::live::{KindRef, LiveArg, SourceSpec};
use jardin_compiler::pipeline;
use jardin_compiler::plan;
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_net::apply::ClusterApi;

#[derive(Args, Debug)]
pub(crate) struct ApplyArgs {
    /// A JSON plan (`jardin plan … -o PLAN`), or a config root (then
    /// --live and --auto-approve are needed).
    pub target: PathBuf,
    /// With a plan file: the config root the plan was made from.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// With a config root: the clusters, as for `jardin plan` (`kube`,
    /// `kube:CONTEXT`, `CLUSTER=kube:CONTEXT`). Repeatable.
    #[arg(long, value_name = "SOURCE")]
    pub live: Vec<String>,
    /// Apply a config root without a reviewed plan.
    #[arg(long)]
    pub auto_approve: bool,
    /// `server`: send every change as a server-side dry run; nothing changes.
    #[arg(long, value_name = "MODE", value_parser = ["server"])]
    pub dry_run: Option<String>,
    /// Take over fields another field manager owns.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Delete and create again this object, whose immutable fields change
    /// (KIND/NAMESPACE/NAME, or KIND/NAME). Repeatable.
    #[arg(long, value_name = "KIND/NAMESPACE/NAME")]
    pub recreate: Vec<String>,
    /// Allow deleting what holds data: volume claims, namespaces,
    /// databases, Postgres clusters, buckets, CRDs.
    #[arg(long)]
    pub allow_delete_state: bool,
    /// Deleting more objects than this needs approval (exit code 3).
    #[arg(long, default_value_t = 10)]
    pub max_deletes: usize,
    /// Deleting more than this percentage of the live objects needs approval.
    #[arg(long, default_value_t = 25)]
    pub max_delete_percent: usize,
    /// How long one object may take to become ready.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How long the whole apply may take.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub overall_timeout: Duration,
    /// How long a failure condition must last before the wave fails.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    pub failure_grace: Duration,
    /// Also update the DNS zones whose provider is rfc2136, before the
    /// clusters' waves. A plan file made with `jardin plan --dns` carries
    /// its zones, and needs no flag.
    #[arg(long)]
    pub dns: bool,
    /// Read and update every zone on this server (host:port) instead of
    /// its configured one.
    #[arg(long, value_name = "HOST:PORT")]
    pub dns_server: Option<String>,
    /// Allow up to N RRset deletions per zone, over the zone's budget.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub allow_dns_deletes: usize,
    /// Write a JSON report of what happened to each object.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// `90s`, `5m`, `1h`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("\"{s}\" is not a duration (90s, 5m, 1h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("\"{s}\": the unit is s, m or h")),
    };
    Ok(Duration::from_secs(secs))
}

/// Where the run is told to go: a plan file, or a root and its sources.
enum Target {
    /// The plan, and its text.
    Plan(SavedPlan, String),
    Root,
}

/// A connected cluster and what was read from it.
pub(super) struct Cluster {
    pub(super) id: String,
    pub(super) api: ClusterApi,
    /// The inventory as it is before the run.
    pub(super) old: Members,
}

pub(super) fn apply(g: &Global, out: &Output, args: ApplyArgs) -> i32 {
    let started = Instant::now();
    let dry_run = args.dry_run.is_some();
    let mut report = Report::new(dry_run);
    let code = match prepare_and_run(g, out, &args, &mut report) {
        Ok(code) => code,
        Err(code) => code,
    };
    report.millis = started.elapsed().as_millis() as u64;
    if report.result.is_empty() {
        report.result = match code {
            exit::OK => "nothing to do",
            exit::CHANGES => "applied",
            exit::APPROVAL => "refused: needs approval",
            _ => "failed",
        }
        .to_string();
    }
    if let Some(path) = &args.report {
        if let Err(e) = super::plan::write_atomically(path, report.to_json().as_bytes()) {
            out.diagnostics(&[Diagnostic::error(
                code::REPORT_NOT_WRITTEN,
                format!("cannot write {}: {e}", path.display()),
            )
            .with_help("check that the directory exists and is writable")]);
            return exit::ERROR;
        }
    }
    code
}

fn prepare_and_run(
    g: &Global,
    out: &Output,
    args: &ApplyArgs,
    report: &mut Report,
) -> Result<i32, i32> {
    let fail = |d: Diagnostic| {
        out.diagnostics(&[d]);
        exit::ERROR
    };
    let (target, root) = if args.target.is_dir() {
        (Target::Root, args.target.clone())
    } else {
        let text = std::fs::read_to_string(&args.target).map_err(|e| {
            fail(
                Diagnostic::error(
                    code::PLAN_NOT_READ,
                    format!("cannot read {}: {e}", args.target.display()),
                )
                .with_help("give a plan file (`jardin plan … -o PLAN`) or a config root"),
            )
        })?;
        let saved = SavedPlan::parse(&text, &args.target.display().to_string()).map_err(fail)?;
        (Target::Plan(saved, text), args.root.clone())
    };

    let tenants = match &target {
        Target::Plan(p, _) => p.tenants().to_vec(),
        Target::Root => g.tenants.clone(),
    };
    let mut opts = options(g, root.clone());
    opts.keep_objects = true;
    opts.tenants = tenants.clone();
    if let Target::Plan(p, _) = &target {
        opts.clusters = p.live_sources().keys().cloned().collect();
    }
    let mut c = pipeline::compile(&opts);
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    timings(g, &c);
    if c.errors() > 0 {
        return Err(exit::ERROR);
    }
    let (Some(collective), Some(graph)) = (c.collective.take(), c.graph.take()) else {
        return Err(exit::ERROR);
    };
    let waves = graph
        .object_waves(c.objects.len())
        .map_err(|_| exit::ERROR)?;
    // Which clusters, through which contexts.
    let clusters: Vec<String> = if g.clusters.is_empty() {
        collective.clusters.keys().cloned().collect()
    } else {
        g.clusters.clone()
    };
    let contexts = contexts(args, &target, clusters).map_err(fail)?;

    // Connect, read the inventories, then the live state of what they
    // list and of what jardin emits.
    let mut clusters = Vec::new();
    for (id, context) in &contexts {
        let api = ClusterApi::connect(context).map_err(fail)?;
        let parent = api.get_parent(&parent_ref()).map_err(fail)?;
        clusters.push(Cluster {
            id: id.clone(),
            api,
            old: Members::from_parent(parent.as_ref()),
        });
    }
    let mut live = Vec::new();
    let mut sources = BTreeMap::new();
    for cl in &clusters {
        let kinds = kinds_to_list(&c.objects, cl).map_err(fail)?;
        live.extend(cl.api.list_managed(&cl.id, &kinds).map_err(fail)?);
        sources.insert(cl.id.clone(), format!("kube context {}", cl.api.context()));
    }
    let known_tenants: BTreeSet<String> = pipeline::tenant_files(&root)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    // Compared as the saved plan was: through server-side dry runs unless
    // it was made with `--compare offline`.
    let server_side = match &target {
        Target::Plan(saved, _) => saved.server_side(),
        Target::Root => true,
    };
    let mut views = None;
    if server_side {
        let mut warnings = Vec::new();
        for cl in &clusters {
            let v = super::plan::server_views(
                &cl.api,
                &cl.id,
                &c.objects,
                &live,
                &tenants,
                &mut warnings,
            )
            .map_err(fail)?;
            match v {
                Some(v) => views.get_or_insert_with(Vec::new).extend(v),
                None => {
                    // Credentials that may not patch cannot apply.
                    return Err(fail(
                        Diagnostic::error(
                            code::OBJECT_REJECTED,
                            format!(
                                "cluster \"{}\": these credentials may not change what jardin manages",
                                cl.id
                            ),
                        )
                        .with_help("apply with credentials that may patch, create and delete jardin's objects (the plan's may only read)"),
                    ));
                }
            }
        }
        // What the run will meet is said when it meets it.
        drop(warnings);
    }
    let desired = std::mem::take(&mut c.objects);
    let fresh = plan::compute(plan::Input {
        desired: desired.clone(),
        live: live.clone(),
        live_sources: sources,
        ignore: &collective.plan.ignore,
        known_tenants,
        tenant_filter: tenants,
        max_deletes: args.max_deletes,
        max_delete_percent: args.max_delete_percent,
        secret_key: std::env::var("JARDIN_PLAN_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        compare_desired: false,
        server_views: views,
    })
    .map_err(fail)?;
    if let Target::Plan(saved, _) = &target {
        same_plan(saved, &fresh).map_err(|d| {
            report.result = "refused: stale plan".to_string();
            fail(d)
        })?;
    }
    // The zones: checked (a plan's) or planned (a root's) before anything
    // is changed, like the clusters.
    let plan_zones = match &target {
        Target::Plan(saved, _) => saved.zones(),
        Target::Root => &[],
    };
    if args.dns && matches!(target, Target::Plan(..)) && plan_zones.is_empty() {
        return Err(fail(
            Diagnostic::error(
                code::DNS_PLAN_UNUSABLE,
                format!("{} holds no zones", args.target.display()),
            )
            .with_help("make the plan with `jardin plan --dns -o PLAN`, or leave out --dns"),
        ));
    }
    let zones = if args.dns || !plan_zones.is_empty() {
        let source = match &target {
            Target::Plan(_, text) => zones::Source::Plan {
                name: &args.target.display().to_string(),
                text,
                zones: plan_zones,
            },
            Target::Root => zones::Source::Root,
        };
        // Whole zones only: a run restricted to some tenants or clusters
        // would plan the deletion of the others' records.
        let all_clusters = contexts.len() == collective.clusters.len();
        let whole = fresh_tenant_filter_empty(&target, g) && all_clusters;
        Some(zones::prepare(
            out,
            whole,
            source,
            &collective,
            &c,
            &args.dns_server,
            args.allow_dns_deletes,
        )?)
    } else {
        None
    };
    let grants = Grants {
        recreate: args.recreate.iter().cloned().collect(),
        delete_state: args.allow_delete_state,
    };
    let mut schedules = match schedule::schedule(&fresh, desired, &waves, &live, &grants) {
        Ok(s) => s,
        Err(Refusal::Approval(ds)) => {
            out.diagnostics(&ds);
            report.result = "refused: needs approval".to_string();
            return Err(exit::APPROVAL);
        }
        Err(Refusal::Error(d)) => {
            report.result = "refused".to_string();
            return Err(fail(d));
        }
    };
    let dns_changes = zones.as_ref().map_or(0, zones::Zones::changes);
    let nothing = schedules.iter().all(|s| s.is_empty() && s.kept.is_empty()) && dns_changes == 0;
    if matches!(target, Target::Root) && !args.auto_approve && !nothing {
        out.diagnostics(&[Diagnostic::error(
            code::APPLY_NEEDS_APPROVAL,
            format!(
                "applying {} without a reviewed plan: {} changes",
                root.display(),
                fresh.summary.changes() + dns_changes
            ),
        )
        .with_help("review `jardin plan` and apply its file (`-o PLAN`), or give --auto-approve")]);
        return Err(exit::APPROVAL);
    }
    let mut changed = false;
    let mut failed_zones = std::collections::BTreeSet::new();
    if let Some(zones) = &zones {
        failed_zones = zones.send(g, out, args.dry_run.is_some(), report);
        changed |= report.zones.iter().any(|z| z.changes > 0);
        zones::hold_back(&mut schedules, &failed_zones, report);
    }
    let mut show = show::Show::new(
        g,
        schedules.iter().map(|s| s.sends() + s.prunes.len()).sum(),
    );
    let settings = run::Settings {
        dry_run: args.dry_run.is_some(),
        force: args.force_conflicts,
        timeout: args.timeout,
        deadline: Instant::now() + args.overall_timeout,
        failure_grace: args.failure_grace,
        filtered: !fresh_tenant_filter_empty(&target, g),
    };
    for (cl, s) in clusters.iter().zip(schedules.iter()) {
        match run::cluster(cl, s, &settings, &mut show, report) {
            Ok(did) => changed |= did,
            Err(ds) => {
                show.finish();
                out.diagnostics(&ds);
                return Err(exit::ERROR);
            }
        }
    }
    show.finish();
    let kept: Vec<Diagnostic> = schedules
        .iter()
        .flat_map(|s| s.kept.iter().map(move |k| (s, k)))
        .map(|(s, k)| {
            Diagnostic::warning(
                code::DELETION_KEPT,
                format!("{} {}: not deleted: {}", s.cluster, k.object, k.reason),
            )
        })
        .collect();
    out.diagnostics(&kept);
    if !g.quiet {
        eprintln!("{}", show::summary(report));
    }
    if !failed_zones.is_empty() {
        report.result = "failed: zones not updated".to_string();
        return Err(exit::ERROR);
    }
    Ok(if changed { exit::CHANGES } else { exit::OK })
}

fn fresh_tenant_filter_empty(target: &Target, g: &Global) -> bool {
    match target {
        Target::Plan(p, _) => p.tenants().is_empty(),
        Target::Root => g.tenants.is_empty(),
    }
}

/// The inventory parent of every cluster.
pub(super) fn parent_ref() -> ObjectRef {
    ObjectRef {
        api_version: "v1".to_string(),
        kind: "Secret".to_string(),
        namespace: inventory::PARENT_NAMESPACE.to_string(),
        name: inventory::PARENT_NAME.to_string(),
    }
}

/// The kinds jardin emits or knows, and every kind the inventory lists:
/// a kind jardin no longer emits is still found, and pruned.
fn kinds_to_list(
    objects: &[jardin_compiler::emit::DesiredObject],
    cl: &Cluster,
) -> Result<Vec<KindRef>, Diagnostic> {
    let mut kinds = super::plan::kinds(objects);
    for gk in &cl.old.group_kinds {
        let (group, kind) = inventory::split_group_kind(gk);
        let listed = kinds
            .iter()
            .any(|k| k.kind == kind && jardin_core::kube::group_of(&k.api_version) == group);
        if !listed {
            if let Some(k) = cl.api.preferred(group, kind)? {
                kinds.push(k);
            }
        }
    }
    // A kind this cluster does not serve (an older version, an operator
    // not installed) is listed in the version it serves, or not at all.
    let mut out = Vec::new();
    for k in kinds {
        match cl.api.resolve(&k.api_version, &k.kind) {
            Ok(r) => out.push(KindRef {
                api_version: r.served_version.clone().unwrap_or(k.api_version),
                kind: k.kind,
            }),
            Err(_) => continue,
        }
    }
    Ok(out)
}

/// Cluster id → kubeconfig context.
fn contexts(
    args: &ApplyArgs,
    target: &Target,
    clusters: Vec<String>,
) -> Result<BTreeMap<String, String>, Diagnostic> {
    let mut out = BTreeMap::new();
    match target {
        Target::Plan(saved, _) => {
            for (cluster, source) in saved.live_sources() {
                let Some(context) = source.strip_prefix("kube context ") else {
                    return Err(Diagnostic::error(
                        code::PLAN_STALE,
                        format!("the plan for cluster \"{cluster}\" was made against {source}, not a cluster"),
                    )
                    .with_help("make the plan against the cluster (`jardin plan --live kube …`)"));
                };
                out.insert(cluster.clone(), context.to_string());
            }
        }
        Target::Root => {
            if args.live.is_empty() {
                return Err(Diagnostic::error(
                    code::NO_LIVE_SOURCE,
                    "applying a config root needs its clusters: --live kube".to_string(),
                )
                .with_help("--live kube uses the kubeconfig context named like each cluster; --live CLUSTER=kube:CONTEXT names one"));
            }
            let parsed: Vec<LiveArg> = args.live.iter().map(|s| LiveArg::parse(s)).collect();
            for cluster in clusters {
                let arg = parsed
                    .iter()
                    .find(|a| a.cluster.as_deref() == Some(cluster.as_str()))
                    .or_else(|| parsed.iter().find(|a| a.cluster.is_none()));
                match arg.map(|a| &a.spec) {
                    Some(SourceSpec::Kube { context }) => {
                        out.insert(cluster.clone(), context.clone().unwrap_or(cluster));
                    }
                    Some(SourceSpec::Snapshot(p)) => {
                        return Err(Diagnostic::error(
                            code::NO_LIVE_SOURCE,
                            format!("cannot apply to a snapshot ({})", p.display()),
                        )
                        .with_help(
                            "apply needs a cluster: --live kube or --live CLUSTER=kube:CONTEXT",
                        ))
                    }
                    None => {
                        return Err(Diagnostic::error(
                            code::NO_LIVE_SOURCE,
                            format!("no cluster given for \"{cluster}\""),
                        )
                        .with_help(format!(
                            "--live {cluster}=kube:CONTEXT, or leave it out with --cluster"
                        )))
                    }
                }
            }
        }
    }
    Ok(out)
}
