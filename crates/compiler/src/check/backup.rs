//! The backup rules. Each diagnostic points at the line that decided the
//! value (the collective's default, the plan, the tenant's or the app's
//! override), so the fix is where the span is. `settle` judges, on each
//! tenant's emitted objects, whether each backup can run (J0862).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::network_flows::Namespace;
use crate::backup::derive;
use crate::backup::{
    schedule, unit_key, Coverage, Gap, Kind, Layer, Piece, Status, APP_BACKUP_FIELDS,
};
use crate::check::{Context, Rule};
use crate::emit::DesiredObject;
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::{hint, Diagnostic};
use jardin_core::kube::{GENERATE_ANNOTATION, REPLICATE_FROM};
use jardin_core::model::{Cluster, Collective, PolicyOverride, SecretSource, TenantUnit};
use jardin_core::source::{SourceMap, Span};

fn span(
    ctx: &Context<'_>,
    unit: Option<&TenantUnit>,
    instance: &str,
    plan: &str,
    layer: Layer,
    field: &str,
) -> Option<Span> {
    match (layer, unit) {
        (Layer::Collective, _) | (_, None) => {
            ctx.collective_map.get(&format!("defaults.backup.{field}"))
        }
        (Layer::Plan, _) => ctx
            .collective_map
            .get(&format!("plans.{plan}.backup.{field}")),
        (Layer::Tenant, Some(u)) => u.source_map.get(&format!("backup.{field}")),
        (Layer::App, Some(u)) => u.source_map.get(&format!("apps.{instance}.backup.{field}")),
    }
}

/// J0501–J0506, over the coverage every tenant gave.
pub(crate) struct Backup;

impl Rule for Backup {
    fn codes(&self) -> &'static [Code] {
        &[
            code::BACKUP_UNCOVERED,
            code::BACKUP_SAME_PLACE,
            code::BACKUP_RETENTION,
            code::BACKUP_NO_KEY,
            code::BACKUP_BAD_SCHEDULE,
            code::BACKUP_BAD_OVERRIDE,
            code::BACKUP_CANNOT_RUN,
        ]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let idx = Index::new(ctx);
    let mut out = Vec::new();
    out.extend(schedules(ctx));
    out.extend(overrides(ctx, &idx));
    out.extend(uncovered(ctx, &idx));
    out.extend(same_place(ctx, &idx));
    out.extend(retention(ctx, &idx));
    out.extend(missing_key(ctx));
    out.extend(cannot_run(ctx, &idx));
    out
}

/// Lookups by tenant and app, built once: the rules stay linear in the
/// number of tenants (10,000 tenants must check in seconds).
struct Index<'a> {
    units: HashMap<String, &'a TenantUnit>,
    states: HashMap<(String, &'a str), Vec<&'a str>>,
}

impl<'a> Index<'a> {
    fn new(ctx: &Context<'a>) -> Self {
        let units = ctx
            .tenants
            .iter()
            .map(|u| {
                let t = &u.compiled.tenant;
                (unit_key(&t.id, &t.cluster), u)
            })
            .collect();
        let mut states: HashMap<(String, &str), Vec<&str>> = HashMap::new();
        for p in &ctx.coverage.pieces {
            states
                .entry((unit_key(&p.tenant, &p.cluster), p.instance.as_str()))
                .or_default()
                .push(p.name.as_str());
        }
        Index { units, states }
    }

    /// The unit a piece of state belongs to.
    fn unit(&self, p: &Piece) -> Option<&'a TenantUnit> {
        self.units.get(&unit_key(&p.tenant, &p.cluster)).copied()
    }
}

fn opt_out_help(p: &Piece) -> String {
    format!(
        "or opt it out in tenants/{}.ncl: apps.{}.backup.exclude.{} = \"why this data may be lost\"",
        p.tenant, p.instance, p.name
    )
}

fn uncovered(ctx: &Context<'_>, idx: &Index<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for p in &ctx.coverage.pieces {
        let Status::Uncovered(gap) = &p.status else {
            continue;
        };
        if matches!(gap, Gap::CannotRun(_) | Gap::NoSchedule { .. }) {
            continue; // J0862, or the rule that reports the policy's flaw
        }
        let u = idx.unit(p);
        let at = u.and_then(|u| u.source_map.get(&format!("apps.{}.backup", p.instance)));
        let (why, help) = match gap {
            Gap::NoPolicy => (
                "no backup policy applies".to_string(),
                format!(
                    "declare `defaults.backup` in jardin.ncl, {}",
                    opt_out_help(p)
                ),
            ),
            Gap::Capability(c) => (
                format!("cluster \"{}\" lacks the \"{c}\" capability", p.cluster),
                format!(
                    "install {c} on cluster \"{}\" and list \"{c}\" in its capabilities, {}",
                    p.cluster,
                    opt_out_help(p)
                ),
            ),
            Gap::CannotRun(_) | Gap::NoSchedule { .. } => continue,
            Gap::NoDatabaseService => (
                "it has no Postgres service".to_string(),
                format!(
                    "bind a Postgres service with `bindings.postgres`, {}",
                    opt_out_help(p)
                ),
            ),
        };
        out.push(
            Diagnostic::error(
                code::BACKUP_UNCOVERED,
                format!("{} is not backed up: {why}", piece_label(p)),
            )
            .with_span(
                at.as_ref(),
                format!("{} \"{}\" has no backup", p.kind.as_str(), p.name),
            )
            .with_help(help),
        );
    }
    out
}

/// How a diagnostic names a piece of state: `volume "data" of asso/cloud
/// (nextcloud)`.
fn piece_label(p: &Piece) -> String {
    format!(
        "{} \"{}\" of {}/{} ({})",
        p.kind.as_str(),
        p.name,
        p.tenant,
        p.instance,
        p.app
    )
}

/// J0862: a piece whose backup is emitted but could not run.
fn cannot_run(ctx: &Context<'_>, idx: &Index<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for p in &ctx.coverage.pieces {
        let Status::Uncovered(Gap::CannotRun(why)) = &p.status else {
            continue;
        };
        let u = idx.unit(p);
        let at = u.and_then(|u| super::app_span(u, &p.instance, "app"));
        let mut d = Diagnostic::error(
            code::BACKUP_CANNOT_RUN,
            format!("{} is not backed up: its backup cannot run", piece_label(p)),
        )
        .with_span(
            at.as_ref(),
            format!(
                "the backup of {} \"{}\" cannot run",
                p.kind.as_str(),
                p.name
            ),
        )
        .with_help(format!(
            "remove what stands in the way, {}",
            opt_out_help(p)
        ));
        for w in why {
            d = d.with_note(w.clone());
        }
        out.push(d);
    }
    out
}

/// The Secrets in namespace `jardin-backup` that something provides: those
/// the config names by `ref` (the operator creates them), and the
/// repository key jardin generates there for a policy whose key is not a
/// `ref`.
fn provided_sources(
    collective: &Collective,
    unit: &TenantUnit,
    cov: &Coverage,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |s: Option<&SecretSource>| {
        if let Some(SecretSource::Ref(r)) = s {
            out.insert(r.name.clone());
        }
    };
    for t in collective.backup_targets.values() {
        add(Some(&t.credentials));
    }
    add(collective
        .defaults
        .backup
        .as_ref()
        .and_then(|b| b.encryption_key.as_ref()));
    add(unit.compiled.tenant.backup.encryption_key.as_ref());
    for a in cov.apps.values() {
        add(a.over.encryption_key.as_ref());
    }
    let generated = cov.pieces.iter().any(|p| {
        p.effective()
            .and_then(|e| e.policy.encryption_key.as_ref())
            .is_some_and(|k| !matches!(k, SecretSource::Ref(_)))
    });
    if generated {
        out.insert(derive::REPO_SECRET.to_string());
    }
    out
}

/// Whether Secret `name` of namespace `ns` will exist, or why not.
fn credential(
    name: &str,
    ns: &str,
    objects: &[DesiredObject],
    cluster: Option<&Cluster>,
    sources: &BTreeSet<String>,
) -> Result<(), String> {
    let has = |c: &str| cluster.is_some_and(|k| k.has(c));
    let secret = objects
        .iter()
        .find(|o| o.kind() == "Secret" && o.namespace() == Some(ns) && o.name() == name);
    if let Some(s) = secret {
        let ann = &s.value["metadata"]["annotations"];
        if ann.get(GENERATE_ANNOTATION).is_some() && !has("secret-generator") {
            return Err(format!(
                "Secret {ns}/{name}, generated in the cluster: the cluster lacks the \"secret-generator\" capability"
            ));
        }
        if let Some(from) = ann.get(REPLICATE_FROM).and_then(Value::as_str) {
            if !has("secret-replicator") {
                return Err(format!(
                    "Secret {ns}/{name}, copied from {from}: the cluster lacks the \"secret-replicator\" capability"
                ));
            }
            if let Some(source) = from.strip_prefix(&format!("{}/", derive::BACKUP_NAMESPACE)) {
                if !sources.contains(source) {
                    return Err(format!(
                        "Secret {ns}/{name}, copied from {from}: that source is neither in the output nor named by the config (a `ref`, which the operator creates)"
                    ));
                }
            }
        }
        return Ok(());
    }
    let bucket = objects.iter().any(|o| {
        o.kind() == "BucketAccess"
            && o.namespace() == Some(ns)
            && o.value["spec"]["credentialsSecretName"] == name
    });
    match bucket {
        true if has("cosi") => Ok(()),
        true => Err(format!(
            "Secret {ns}/{name}, written by COSI for a BucketAccess: the cluster lacks the \"cosi\" capability"
        )),
        false => Err(format!(
            "Secret {ns}/{name}, which is neither in the output nor generated"
        )),
    }
}

/// The Secrets an object of k8up's reads: a Schedule's repository password
/// and S3 keys, a PreBackupPod's secret volumes.
fn referenced_secrets(o: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let backend = &o["spec"]["backend"];
    for r in [
        &backend["repoPasswordSecretRef"],
        &backend["s3"]["accessKeyIDSecretRef"],
        &backend["s3"]["secretAccessKeySecretRef"],
    ] {
        if let Some(n) = r["name"].as_str() {
            out.push(n.to_string());
        }
    }
    for v in o["spec"]["pod"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(n) = v["secret"]["secretName"].as_str() {
            out.push(n.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Judges, on one tenant's objects before they are written, whether the
/// backup of each covered piece can run: k8up's pods and the
/// PreBackupPods admitted by the namespace's Pod Security level, their
/// flows allowed by its NetworkPolicies (the logic of J0850 and J0860),
/// the Secrets they read present or generated. A piece whose backup cannot
/// run becomes uncovered, with what stands in the way (J0862): coverage
/// counts only backups that run.
pub(crate) fn settle(
    collective: &Collective,
    unit: &TenantUnit,
    objects: &[DesiredObject],
    cov: &mut Coverage,
) {
    let tenant = unit.compiled.tenant.id.as_str();
    let cluster = collective.clusters.get(&unit.compiled.tenant.cluster);
    // A policy that cannot make a k8up backup at all: no Schedule exists,
    // and J0504 or J0107 says why.
    for p in cov
        .pieces
        .iter_mut()
        .filter(|p| p.tenant == tenant && p.kind != Kind::Database)
    {
        let Some(e) = p.effective().cloned() else {
            continue;
        };
        let why = if e.policy.encryption_key.is_none() {
            "its policy has no encryption key (J0504): k8up would have no repository password, so jardin emits no Schedule".to_string()
        } else if !collective.backup_targets.contains_key(&e.policy.target) {
            format!(
                "its policy's backup target \"{}\" is not one of `backup_targets` (J0107), so jardin emits no Schedule",
                e.policy.target
            )
        } else {
            continue;
        };
        p.status = Status::Uncovered(Gap::NoSchedule {
            policy: Box::new(e),
            why,
        });
    }
    let levels = super::pod_security::levels(objects);
    let sources = provided_sources(collective, unit, cov);
    // (instance, piece name or "" for every piece) → what stands in the way.
    let mut blocked: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (instance, app) in unit.compiled.apps.iter().filter(|(_, a)| a.rendered) {
        let k8up: Vec<&Piece> = cov
            .pieces
            .iter()
            .filter(|p| p.tenant == tenant && &p.instance == instance)
            .filter(|p| p.kind != Kind::Database && p.effective().is_some())
            .collect();
        if k8up.is_empty() {
            continue;
        }
        let ns_name = app.namespace.as_str();
        let in_ns: Vec<&DesiredObject> = objects
            .iter()
            .filter(|o| o.namespace() == Some(ns_name))
            .collect();
        let schedule = in_ns
            .iter()
            .find(|o| o.kind() == "Schedule" && o.value["apiVersion"] == "k8up.io/v1");
        let mut why = |piece: &str, w: String| {
            blocked
                .entry((instance.clone(), piece.to_string()))
                .or_default()
                .push(w);
        };
        if schedule.is_none() {
            why("", format!("no k8up Schedule backs up namespace {ns_name}"));
            continue;
        }
        // Which piece each k8up object serves: the Schedule all of them.
        let piece_of = |o: &DesiredObject| -> Vec<String> {
            match o.kind() {
                "PreBackupPod" if o.name() == "escrow" => k8up
                    .iter()
                    .filter(|p| p.kind == Kind::Secret)
                    .map(|p| p.name.clone())
                    .collect(),
                "PreBackupPod" => vec![o.name().trim_start_matches("bucket-").to_string()],
                _ => vec![String::new()],
            }
        };
        for o in in_ns
            .iter()
            .filter(|o| matches!(o.kind(), "Schedule" | "PreBackupPod"))
        {
            let targets = piece_of(o);
            let mut reasons = Vec::new();
            if let Some(&level) = levels.get(ns_name) {
                for (what, pod) in super::pod_security::pods(&o.value) {
                    for v in super::pod_security::violations(&pod, level) {
                        reasons.push(format!(
                            "{what} is refused by namespace {ns_name}'s \"{}\" Pod Security level: {v}",
                            level.name()
                        ));
                    }
                }
            }
            for name in referenced_secrets(&o.value) {
                if let Err(e) = credential(&name, ns_name, objects, cluster, &sources) {
                    reasons.push(format!("{} {} reads {e}", o.kind(), o.name()));
                }
            }
            for t in &targets {
                for r in &reasons {
                    why(t, r.clone());
                }
            }
        }
        let ns = Namespace::of(ns_name, in_ns.iter().map(|o| &o.value));
        for f in &app.flows {
            let piece = if f.pods.contains_key(derive::K8UP_JOB_LABEL) {
                String::new()
            } else if let Some(p) = f.pods.get(derive::PRE_BACKUP_POD_LABEL) {
                p.trim_start_matches("bucket-").to_string()
            } else {
                continue;
            };
            for b in ns.blocked(f) {
                why(&piece, format!("the flow \"{}\" is blocked: {b}", f.name));
            }
        }
    }
    // A database is backed up by its shared CloudNativePG cluster, whose
    // objects are not the tenant's: what can be judged here is that the
    // target's keys, copied from `jardin-backup`, have a source.
    let mut database: Vec<String> = Vec::new();
    if let Some(t) = collective
        .defaults
        .backup
        .as_ref()
        .and_then(|b| {
            collective
                .backup_targets
                .get(&b.target)
                .map(|t| (&b.target, t))
        })
        .filter(|_| {
            cov.pieces
                .iter()
                .any(|p| p.tenant == tenant && p.kind == Kind::Database)
        })
    {
        let (source, _) =
            crate::backup::source_secret(&t.1.credentials, &format!("target-{}", t.0));
        if !cluster.is_some_and(|c| c.has("secret-replicator")) {
            database.push(format!(
                "the database cluster's copy of the target's keys needs the \"secret-replicator\" capability, which cluster \"{}\" lacks",
                unit.compiled.tenant.cluster
            ));
        } else if !sources.contains(&source) {
            database.push(format!(
                "the database cluster reads the target's keys from {}/{source}, which is neither in the output nor named by the config (a `ref`, which the operator creates)",
                derive::BACKUP_NAMESPACE
            ));
        }
    }
    if blocked.is_empty() && database.is_empty() {
        return;
    }
    for p in cov.pieces.iter_mut().filter(|p| p.tenant == tenant) {
        if p.kind == Kind::Database {
            if p.effective().is_some() && !database.is_empty() {
                p.status = Status::Uncovered(Gap::CannotRun(database.clone()));
            }
            continue;
        }
        if p.effective().is_none() {
            continue;
        }
        let mut reasons = Vec::new();
        for key in [
            (p.instance.clone(), String::new()),
            (p.instance.clone(), p.name.clone()),
        ] {
            reasons.extend(blocked.get(&key).into_iter().flatten().cloned());
        }
        if !reasons.is_empty() {
            p.status = Status::Uncovered(Gap::CannotRun(reasons));
        }
    }
}

fn same_place(ctx: &Context<'_>, idx: &Index<'_>) -> Vec<Diagnostic> {
    let c = ctx.collective;
    let pg = derive::pg_backups(c, ctx.coverage);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in &ctx.coverage.pieces {
        let (Some(e), Some(d)) = (p.effective(), derive::detail(c, &pg, p)) else {
            continue;
        };
        let Some(cluster) = c.clusters.get(&p.cluster) else {
            continue;
        };
        let lives = if p.kind == Kind::Bucket {
            let store = idx
                .unit(p)
                .and_then(|u| u.compiled.apps.get(&p.instance))
                .and_then(|a| a.bindings.object_store.as_ref())
                .and_then(|s| cluster.services.object_stores.get(s));
            match store {
                Some(s) if s.endpoint == d.endpoint => {
                    Some(format!("the same object store ({})", s.endpoint))
                }
                Some(s) if s.location == d.location => {
                    Some(format!("\"{}\", where the bucket lives", s.location))
                }
                _ => None,
            }
        } else if cluster.location == d.location {
            Some(format!(
                "\"{}\", where cluster \"{}\" runs",
                d.location, p.cluster
            ))
        } else {
            None
        };
        let Some(lives) = lives else { continue };
        let layer = if p.kind == Kind::Database {
            Layer::Collective
        } else {
            e.layer("target")
        };
        let u = idx.unit(p);
        let plan = u.map_or("", |u| crate::backup::plan_of(c, u));
        if !seen.insert((p.id(), d.target.clone())) {
            continue;
        }
        out.push(
            Diagnostic::error(
                code::BACKUP_SAME_PLACE,
                format!(
                    "{} \"{}\" of {}/{} is backed up to \"{}\" in {lives}",
                    p.kind.as_str(),
                    p.name,
                    p.tenant,
                    p.instance,
                    d.target
                ),
            )
            .with_span(
                span(ctx, u, &p.instance, plan, layer, "target").as_ref(),
                "this target is where the data already is",
            )
            .with_help(
                "choose a backup target in another location (`backup_targets.<name>.location`)",
            )
            .with_note("a backup that burns with the datacenter is no backup"),
        );
    }
    out
}

fn retention(ctx: &Context<'_>, idx: &Index<'_>) -> Vec<Diagnostic> {
    let c = ctx.collective;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in &ctx.coverage.pieces {
        let Some(e) = p.policy() else { continue };
        let Some(u) = idx.unit(p) else {
            continue;
        };
        let plan_name = crate::backup::plan_of(c, u);
        let Some(plan) = c.plans.get(plan_name) else {
            continue;
        };
        let min = &plan.backup.minimum_retention;
        let r = &e.policy.retention;
        let mut checks: Vec<(&'static str, u32, u32, &str)> = Vec::new();
        if p.kind == Kind::Database {
            checks.push((
                "pitr_days",
                e.policy.pitr_days,
                plan.backup.minimum_pitr_days,
                "days of point-in-time recovery",
            ));
        } else {
            checks.push(("retention.daily", r.daily, min.daily, "daily snapshots"));
            checks.push(("retention.weekly", r.weekly, min.weekly, "weekly snapshots"));
            checks.push((
                "retention.monthly",
                r.monthly,
                min.monthly,
                "monthly snapshots",
            ));
        }
        for (field, value, floor, what) in checks {
            if value >= floor {
                continue;
            }
            let layer = e.layer(field);
            let key = match layer {
                Layer::Collective | Layer::Plan => (plan_name.to_string(), String::new(), field),
                Layer::Tenant => (plan_name.to_string(), p.tenant.clone(), field),
                Layer::App => (plan_name.to_string(), p.id_app(), field),
            };
            if !seen.insert(key) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    code::BACKUP_RETENTION,
                    format!(
                        "{value} {what} is below the minimum of plan \"{plan_name}\" ({floor})"
                    ),
                )
                .with_span(
                    span(ctx, Some(u), &p.instance, plan_name, layer, field).as_ref(),
                    format!("plan \"{plan_name}\" keeps at least {floor}"),
                )
                .with_help(format!(
                    "set {field} to {floor} or more, or move the tenant to another plan"
                )),
            );
        }
    }
    out
}

fn missing_key(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let affected: Vec<&Piece> = ctx
        .coverage
        .pieces
        .iter()
        .filter(|p| p.kind != Kind::Database)
        .filter(|p| {
            p.policy()
                .is_some_and(|e| e.policy.encryption_key.is_none())
        })
        .collect();
    if affected.is_empty() {
        return vec![];
    }
    let apps: BTreeSet<String> = affected
        .iter()
        .map(|p| format!("{}/{}", p.tenant, p.instance))
        .collect();
    let shown: Vec<&str> = apps.iter().take(5).map(String::as_str).collect();
    let more = apps.len().saturating_sub(shown.len());
    let mut d = Diagnostic::error(
        code::BACKUP_NO_KEY,
        format!(
            "the backup policy has no encryption key ({} app{} affected)",
            apps.len(),
            if apps.len() == 1 { "" } else { "s" }
        ),
    )
    .with_span(ctx.collective_map.get("defaults.backup").as_ref(), "no `encryption_key` here")
    .with_help("set encryption_key = { ref = { name = \"backup-repo\", key = \"password\" } } (a Secret in namespace jardin-backup), or { generate = {} }")
    .with_note(format!(
        "affected: {}{}",
        shown.join(", "),
        if more > 0 { format!(" and {more} more") } else { String::new() }
    ));
    if ctx.collective.defaults.backup.is_none() {
        d = d.with_note("tenants override a default that does not exist");
    }
    vec![d]
}

fn check_schedule(value: &str, field: &str, at: Option<Span>, out: &mut Vec<Diagnostic>) {
    if value == "nightly" || value == "weekly" {
        return;
    }
    if let Some(why) = schedule::cron_error(value) {
        out.push(
            Diagnostic::error(code::BACKUP_BAD_SCHEDULE, format!("{field} \"{value}\" cannot run: {why}"))
                .with_span(at.as_ref(), why)
                .with_help("write \"nightly\" (jardin picks a time in the night window) or a valid cron such as \"30 2 * * *\""),
        );
    }
}

fn check_window(
    start: Option<u32>,
    hours: Option<u32>,
    at: Option<Span>,
    out: &mut Vec<Diagnostic>,
) {
    let bad_start = start.is_some_and(|s| s > 23);
    let bad_hours = hours.is_some_and(|h| h == 0 || h > 24);
    if bad_start || bad_hours {
        out.push(
            Diagnostic::error(
                code::BACKUP_BAD_SCHEDULE,
                format!(
                    "the night window (start_hour {}, hours {}) cannot run",
                    start.map_or("-".into(), |s| s.to_string()),
                    hours.map_or("-".into(), |h| h.to_string())
                ),
            )
            .with_span(at.as_ref(), "start_hour is 0 to 23, hours 1 to 24")
            .with_help("for example window = { start_hour = 1, hours = 4 } (01:00 to 05:00 UTC)"),
        );
    }
}

fn check_override(o: &PolicyOverride, map: &SourceMap, prefix: &str, out: &mut Vec<Diagnostic>) {
    if let Some(s) = &o.schedule {
        check_schedule(s, "schedule", map.get(&format!("{prefix}.schedule")), out);
    }
    if let Some(s) = &o.verify_schedule {
        check_schedule(
            s,
            "verify_schedule",
            map.get(&format!("{prefix}.verify_schedule")),
            out,
        );
    }
    if let Some(w) = &o.window {
        check_window(
            w.start_hour,
            w.hours,
            map.get(&format!("{prefix}.window")),
            out,
        );
    }
}

fn schedules(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(b) = &ctx.collective.defaults.backup {
        let m = ctx.collective_map;
        check_schedule(
            &b.schedule,
            "schedule",
            m.get("defaults.backup.schedule"),
            &mut out,
        );
        check_schedule(
            &b.verify_schedule,
            "verify_schedule",
            m.get("defaults.backup.verify_schedule"),
            &mut out,
        );
        check_window(
            Some(b.window.start_hour),
            Some(b.window.hours),
            m.get("defaults.backup.window"),
            &mut out,
        );
    }
    for u in ctx.tenants {
        let t = &u.compiled.tenant;
        check_override(&t.backup, &u.source_map, "backup", &mut out);
        for name in t.apps.keys() {
            if let Some(a) = ctx
                .coverage
                .apps
                .get(&(unit_key(&t.id, &t.cluster), name.clone()))
            {
                check_override(
                    &a.over,
                    &u.source_map,
                    &format!("apps.{name}.backup"),
                    &mut out,
                );
            }
        }
    }
    out
}

fn overrides(ctx: &Context<'_>, idx: &Index<'_>) -> Vec<Diagnostic> {
    let c = ctx.collective;
    let mut out = Vec::new();
    let targets = || c.backup_targets.keys().map(String::as_str);
    for u in ctx.tenants {
        let t = &u.compiled.tenant;
        let map = &u.source_map;
        let mut named: Vec<(String, &str)> = Vec::new();
        if let Some(target) = &t.backup.target {
            named.push(("backup.target".into(), target));
        }
        for name in t.apps.keys() {
            let Some(a) = ctx
                .coverage
                .apps
                .get(&(unit_key(&t.id, &t.cluster), name.clone()))
            else {
                continue;
            };
            let at = |f: &str| map.get(&format!("apps.{name}.backup.{f}"));
            if let Some(target) = &a.over.target {
                named.push((format!("apps.{name}.backup.target"), target));
            }
            for f in &a.unknown {
                out.push(
                    Diagnostic::error(
                        code::BACKUP_BAD_OVERRIDE,
                        format!("unknown field `{f}` in the backup of {}/{name}", t.id),
                    )
                    .with_span(at(f).as_ref(), "not a backup policy field")
                    .with_help(hint(f, APP_BACKUP_FIELDS.iter().copied())),
                );
            }
            if let Some(why) = &a.invalid {
                out.push(
                    Diagnostic::error(
                        code::BACKUP_BAD_OVERRIDE,
                        format!("the backup of {}/{name} is not a policy: {why}", t.id),
                    )
                    .with_span(
                        map.get(&format!("apps.{name}.backup")).as_ref(),
                        "expected a partial backup policy",
                    )
                    .with_help("see docs/BACKUP.md for the fields an app may override"),
                );
            }
            let states: &[&str] = idx
                .states
                .get(&(unit_key(&t.id, &t.cluster), name.as_str()))
                .map_or(&[], Vec::as_slice);
            for state in a.exclude.keys() {
                if !states.contains(&state.as_str()) {
                    out.push(
                        Diagnostic::error(
                            code::BACKUP_BAD_OVERRIDE,
                            format!("{}/{name} has no state \"{state}\" to exclude", t.id),
                        )
                        .with_span(at(&format!("exclude.{state}")).as_ref(), "unknown state")
                        .with_help(hint(state, states.iter().copied())),
                    );
                }
            }
        }
        for (path, target) in named {
            if !c.backup_targets.contains_key(target) {
                out.push(
                    Diagnostic::error(
                        code::UNKNOWN_BACKUP_TARGET,
                        format!("unknown backup target \"{target}\""),
                    )
                    .with_span(map.get(&path).as_ref(), "not a key of `backup_targets`")
                    .with_help(hint(target, targets())),
                );
            }
        }
    }
    out
}

impl Piece {
    fn id_app(&self) -> String {
        format!("{}/{}", self.tenant, self.instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jardin_core::model::{Catalog, Collective, CompiledTenant};
    use serde_json::json;

    fn collective(capabilities: &[&str], store_endpoint: &str) -> Collective {
        let mut v = crate::test_support::collective_json();
        v["clusters"]["k"]["capabilities"] = json!(capabilities);
        v["clusters"]["k"]["services"] = json!({"object_stores": {"s3": {"bucket_class": "s3", "endpoint": store_endpoint, "location": "paris"}}});
        serde_json::from_value(v).unwrap()
    }

    fn catalog() -> Catalog {
        serde_json::from_value(json!({"files": {
            "id": "files", "description": "", "versions": {"default": "1", "available": {"1": {}}},
            "requires": {"buckets": [{"purpose": "data"}]},
            "state": [{"name": "data", "kind": "bucket", "criticality": "high"},
                      {"name": "cache", "kind": "volume", "criticality": "low"}],
            "secrets": {"key": {"keys": ["k"], "encrypts_data": true}},
            "sizes": {}, "singletons": [], "pod_security": "restricted",
        }}))
        .unwrap()
    }

    fn tenant() -> TenantUnit {
        let compiled: CompiledTenant = serde_json::from_value(json!({
            "plan": "small",
            "tenant": {"id": "t", "display_name": "T", "contacts": [], "cluster": "k", "plan": null,
                       "state": "active", "zones": [], "mail": null, "backup": {},
                       "apps": {"files": {"app": "files", "host": "f.example.org", "aliases": [],
                                          "bindings": {}, "secrets": {}, "backup": "inherit", "state": "active"}}},
            "apps": {"files": {"app": "files", "version": "1", "namespace": "t-files", "host": "f.example.org",
                               "hosts": [], "size": "s", "state": "active", "missing_services": [],
                               "bindings": {"postgres": null, "object_store": "s3", "smtp": null},
                               "rendered": true, "objects": []}},
        }))
        .unwrap();
        TenantUnit {
            compiled,
            source_map: SourceMap::default(),
            from_cache: false,
        }
    }

    fn codes(c: &Collective) -> Vec<Code> {
        let tenants = [tenant()];
        let catalog = catalog();
        let coverage = crate::backup::resolve(c, &catalog, &tenants);
        let map = SourceMap::default();
        let ctx = Context {
            collective: c,
            collective_map: &map,
            catalog: &catalog,
            tenants: &tenants,
            coverage: &coverage,
            zones: None,
        };
        run(&ctx).into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_covered_app_has_no_diagnostic() {
        assert!(codes(&collective(&["k8up"], "https://s3.paris.example.net")).is_empty());
    }

    #[test]
    fn a_bucket_backed_up_to_its_own_object_store_is_reported() {
        let c = collective(&["k8up"], "https://s3.lyon.example.net");
        assert_eq!(codes(&c), vec![code::BACKUP_SAME_PLACE]);
    }

    /// What the pipeline does on a tenant's worker: emit, add the backup
    /// objects and their flows, then judge whether each backup can run.
    /// `edit` changes the objects before they are judged.
    fn settled(c: &Collective, edit: impl Fn(&mut Vec<DesiredObject>)) -> Coverage {
        let mut unit = tenant();
        let catalog = catalog();
        let mut cov = crate::backup::resolve(c, &catalog, std::slice::from_ref(&unit));
        let mut objects = crate::emit::k8s::tenant_objects(c, &catalog, &mut unit.compiled);
        derive::merge(&mut objects, derive::tenant_objects(c, &cov), &cov);
        derive::declare_flows(c, &cov, &mut unit.compiled);
        edit(&mut objects);
        settle(c, &unit, &objects, &mut cov);
        cov
    }

    fn runnable(with_api: bool, capabilities: &[&str]) -> Collective {
        let mut v = crate::test_support::collective_json();
        v["clusters"]["k"]["capabilities"] = json!(capabilities);
        v["clusters"]["k"]["services"] = json!({"object_stores": {"s3": {"bucket_class": "s3", "endpoint": "https://s3.paris.example.net", "location": "paris"}}});
        if with_api {
            v["clusters"]["k"]["kubernetes_api"] =
                json!({"addresses": ["10.0.0.1/32"], "port": 6443});
        }
        serde_json::from_value(v).unwrap()
    }

    const ALL: &[&str] = &["k8up", "cosi", "secret-generator", "secret-replicator"];

    fn blockers(cov: &Coverage) -> BTreeMap<String, Vec<String>> {
        cov.pieces
            .iter()
            .filter_map(|p| match &p.status {
                Status::Uncovered(Gap::CannotRun(why)) => Some((p.name.clone(), why.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_backup_that_can_run_stays_covered() {
        let cov = settled(&runnable(true, ALL), |_| {});
        assert!(blockers(&cov).is_empty(), "{:?}", blockers(&cov));
        assert!(cov.pieces.iter().all(|p| p.effective().is_some()));
    }

    #[test]
    fn without_the_api_address_no_piece_is_covered() {
        let cov = settled(&runnable(false, ALL), |_| {});
        let b = blockers(&cov);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b["cache"][0].contains("k8up → kubernetes api"), "{b:?}");
        assert!(b["cache"][0].contains("kubernetes_api"), "{b:?}");
    }

    #[test]
    fn a_refused_pod_blocks_its_pieces() {
        // The namespace enforces `restricted`, which k8up's pods cannot meet.
        let cov = settled(&runnable(true, ALL), |objects| {
            for o in objects.iter_mut().filter(|o| o.kind() == "Namespace") {
                o.value["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] =
                    json!("restricted");
            }
        });
        let b = blockers(&cov);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(
            b["data"]
                .iter()
                .any(|w| w.contains("k8up's backup pod is refused")
                    && w.contains("\"restricted\" Pod Security level")),
            "{b:?}"
        );
    }

    #[test]
    fn a_blocked_bucket_flow_blocks_only_the_bucket() {
        let cov = settled(&runnable(true, ALL), |objects| {
            objects.retain(|o| o.name() != "allow-bucket-data-egress");
        });
        let b = blockers(&cov);
        assert_eq!(b.keys().collect::<Vec<_>>(), ["data"], "{b:?}");
        assert!(
            b["data"]
                .iter()
                .any(|w| w.contains("bucket-data → object store")),
            "{b:?}"
        );
    }

    #[test]
    fn missing_credentials_block_the_backup() {
        // Without the replicator, the repository password and the S3 keys
        // never reach the namespace.
        let cov = settled(
            &runnable(true, &["k8up", "cosi", "secret-generator"]),
            |_| {},
        );
        let b = blockers(&cov);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(
            b["cache"]
                .iter()
                .any(|w| w.contains("backup-repo") && w.contains("secret-replicator")),
            "{b:?}"
        );
        // S3 keys the collective does not name by `ref`: nothing creates
        // their source.
        let mut c = runnable(true, ALL);
        c.backup_targets.get_mut("offsite").unwrap().credentials =
            SecretSource::Generate(json!({}));
        let b = blockers(&settled(&c, |_| {}));
        assert!(
            b["cache"]
                .iter()
                .any(|w| w.contains("jardin-backup/target-offsite")
                    && w.contains("neither in the output nor named by the config")),
            "{b:?}"
        );
        // The escrowed key's Secret is gone: only the secret piece stops.
        let cov = settled(&runnable(true, ALL), |objects| {
            objects.retain(|o| !(o.kind() == "Secret" && o.name() == "key"));
        });
        let b = blockers(&cov);
        assert_eq!(b.keys().collect::<Vec<_>>(), ["key"], "{b:?}");
    }

    #[test]
    fn a_backup_that_cannot_run_is_reported_with_why() {
        let c = runnable(false, ALL);
        let tenants = [tenant()];
        let catalog = catalog();
        let cov = settled(&c, |_| {});
        let map = SourceMap::default();
        let ctx = Context {
            collective: &c,
            collective_map: &map,
            catalog: &catalog,
            tenants: &tenants,
            coverage: &cov,
            zones: None,
        };
        let d = run(&ctx);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().all(|d| d.code == code::BACKUP_CANNOT_RUN));
        let report = crate::backup::report::build(&c, &cov);
        assert_eq!(report.summary.uncovered, 3);
        assert_eq!(report.summary.covered, 0);
        assert!(report.state.iter().all(|e| !e.blocked_by.is_empty()));
    }

    #[test]
    fn without_k8up_every_piece_is_uncovered() {
        let c = collective(&[], "https://s3.paris.example.net");
        // The bucket, the volume and the escrowed key.
        assert_eq!(codes(&c), vec![code::BACKUP_UNCOVERED; 3]);
    }
}
