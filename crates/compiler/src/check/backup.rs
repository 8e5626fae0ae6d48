//! The backup rules. Each diagnostic points at the line that decided the
//! value (the collective's default, the plan, the tenant's or the app's
//! override), so the fix is where the span is.

use std::collections::{BTreeSet, HashMap};

use crate::backup::derive;
use crate::backup::{schedule, Gap, Kind, Layer, Piece, Status, APP_BACKUP_FIELDS};
use crate::check::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::{hint, Diagnostic};
use jardin_core::model::{PolicyOverride, TenantUnit};
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
    out
}

/// Lookups by tenant and app, built once: the rules stay linear in the
/// number of tenants (10,000 tenants must check in seconds).
struct Index<'a> {
    units: HashMap<&'a str, &'a TenantUnit>,
    states: HashMap<(&'a str, &'a str), Vec<&'a str>>,
}

impl<'a> Index<'a> {
    fn new(ctx: &Context<'a>) -> Self {
        let units = ctx
            .tenants
            .iter()
            .map(|u| (u.compiled.tenant.id.as_str(), u))
            .collect();
        let mut states: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
        for p in &ctx.coverage.pieces {
            states
                .entry((p.tenant.as_str(), p.instance.as_str()))
                .or_default()
                .push(p.name.as_str());
        }
        Index { units, states }
    }

    fn unit(&self, tenant: &str) -> Option<&'a TenantUnit> {
        self.units.get(tenant).copied()
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
        let u = idx.unit(&p.tenant);
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
                format!(
                    "{} \"{}\" of {}/{} ({}) is not backed up: {why}",
                    p.kind.as_str(),
                    p.name,
                    p.tenant,
                    p.instance,
                    p.app
                ),
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
                .unit(&p.tenant)
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
        let u = idx.unit(&p.tenant);
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
        let Some(e) = p.effective() else { continue };
        let Some(u) = idx.unit(&p.tenant) else {
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
            p.effective()
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
            if let Some(a) = ctx.coverage.apps.get(&(t.id.clone(), name.clone())) {
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
            let Some(a) = ctx.coverage.apps.get(&(t.id.clone(), name.clone())) else {
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
                .get(&(t.id.as_str(), name.as_str()))
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

    #[test]
    fn without_k8up_every_piece_is_uncovered() {
        let c = collective(&[], "https://s3.paris.example.net");
        // The bucket, the volume and the escrowed key.
        assert_eq!(codes(&c), vec![code::BACKUP_UNCOVERED; 3]);
    }
}
