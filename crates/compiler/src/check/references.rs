//! References by name: a tenant's cluster and plan, an app's catalog id and
//! version, a binding to a shared service, the collective's defaults. Each
//! unknown name gets a `did you mean` hint.
//!
//! - J0101 unknown cluster
//! - J0102 unknown plan
//! - J0103 unknown catalog app
//! - J0104 unknown app version
//! - J0105 binding to an unknown service
//! - J0106 a service the app requires is missing on the tenant's cluster
//! - J0107 unknown backup target

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::{hint, Diagnostic};
use jardin_core::model::TenantUnit;

fn keys<V>(m: &std::collections::BTreeMap<String, V>) -> impl Iterator<Item = &str> + Clone {
    m.keys().map(String::as_str)
}

pub(super) struct References;

impl Rule for References {
    fn codes(&self) -> &'static [Code] {
        &[
            code::UNKNOWN_CLUSTER,
            code::UNKNOWN_PLAN,
            code::UNKNOWN_APP,
            code::UNKNOWN_VERSION,
            code::UNKNOWN_SERVICE,
            code::MISSING_SERVICE,
            code::UNKNOWN_BACKUP_TARGET,
            code::BINDING_CROSSES_CLUSTERS,
            code::CONTRACT_VIOLATION,
        ]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = collective(ctx);
    for unit in ctx.tenants {
        out.extend(tenant(ctx, unit));
    }
    out
}

fn collective(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let c = ctx.collective;
    let map = ctx.collective_map;
    let mut out = Vec::new();
    if !c.plans.contains_key(&c.defaults.plan) {
        out.push(
            Diagnostic::error(
                code::UNKNOWN_PLAN,
                format!("unknown plan \"{}\"", c.defaults.plan),
            )
            .with_span(
                map.get("defaults.plan").as_ref(),
                "the default plan must be one of `plans`",
            )
            .with_help(hint(&c.defaults.plan, keys(&c.plans))),
        );
    }
    // Targets named by tenants and apps are checked in `backup::rules`.
    if let Some(policy) = &c.defaults.backup {
        if !c.backup_targets.contains_key(&policy.target) {
            out.push(
                Diagnostic::error(
                    code::UNKNOWN_BACKUP_TARGET,
                    format!("unknown backup target \"{}\"", policy.target),
                )
                .with_span(
                    map.get("defaults.backup.target").as_ref(),
                    "not a key of `backup_targets`",
                )
                .with_help(hint(&policy.target, keys(&c.backup_targets))),
            );
        }
    }
    out
}

fn tenant(ctx: &Context<'_>, unit: &TenantUnit) -> Vec<Diagnostic> {
    let c = ctx.collective;
    let t = &unit.compiled.tenant;
    let map = &unit.source_map;
    let mut out = Vec::new();
    let cluster = c.clusters.get(&t.cluster);
    if cluster.is_none() {
        out.push(
            Diagnostic::error(
                code::UNKNOWN_CLUSTER,
                format!("unknown cluster \"{}\"", t.cluster),
            )
            .with_span(
                map.get("cluster").as_ref(),
                "no cluster of this name in jardin.ncl",
            )
            .with_help(hint(&t.cluster, keys(&c.clusters))),
        );
    }
    if let Some(plan) = &t.plan {
        if !c.plans.contains_key(plan) {
            out.push(
                Diagnostic::error(code::UNKNOWN_PLAN, format!("unknown plan \"{plan}\""))
                    .with_span(
                        map.get("plan").as_ref(),
                        "no plan of this name in jardin.ncl",
                    )
                    .with_help(hint(plan, keys(&c.plans))),
            );
        }
    }
    for (name, inst) in &t.apps {
        let at = |field: &str| map.get(&format!("apps.{name}.{field}"));
        let Some(app) = ctx.catalog.get(&inst.app) else {
            out.push(
                Diagnostic::error(code::UNKNOWN_APP, format!("unknown app \"{}\"", inst.app))
                    .with_span(at("app").as_ref(), "not in the catalog")
                    .with_help(hint(&inst.app, keys(ctx.catalog)))
                    .with_note("`jardin catalog list` shows the apps jardin knows"),
            );
            continue;
        };
        if let Some(v) = &inst.version {
            if !app.versions.available.contains_key(v) {
                out.push(
                    Diagnostic::error(
                        code::UNKNOWN_VERSION,
                        format!("{} has no version \"{v}\"", app.id),
                    )
                    .with_span(at("version").as_ref(), "unknown version")
                    .with_help(hint(v, keys(&app.versions.available))),
                );
            }
        }
        // A host for a part the app does not have would be silently unused.
        for part in inst.extra_hosts.keys() {
            if !app.extra_hosts.contains_key(part) {
                let message = if app.extra_hosts.is_empty() {
                    format!("{} has no part on a host of its own", app.id)
                } else {
                    format!("{} has no part \"{part}\"", app.id)
                };
                out.push(
                    Diagnostic::error(code::CONTRACT_VIOLATION, message)
                        .with_span(at(&format!("extra_hosts.{part}")).as_ref(), "unknown part")
                        .with_help(if app.extra_hosts.is_empty() {
                            "remove `extra_hosts`: the app serves everything on its host"
                                .to_string()
                        } else {
                            hint(part, keys(&app.extra_hosts))
                        }),
                );
            }
        }
        let Some(cluster) = cluster else { continue };
        let compiled = unit.compiled.apps.get(name);
        let bindings = [
            (
                "postgres",
                inst.bindings.postgres.as_ref(),
                cluster
                    .services
                    .postgres
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ),
            (
                "object_store",
                inst.bindings.object_store.as_ref(),
                cluster
                    .services
                    .object_stores
                    .keys()
                    .map(String::as_str)
                    .collect(),
            ),
            (
                "smtp",
                inst.bindings.smtp.as_ref(),
                c.smtp_relays.keys().map(String::as_str).collect(),
            ),
        ];
        for (kind, bound, available) in bindings {
            let Some(bound) = bound else { continue };
            if !available.contains(&bound.as_str()) {
                let elsewhere = c.clusters.iter().find(|(id, other)| {
                    *id != &t.cluster
                        && match kind {
                            "postgres" => other.services.postgres.contains_key(bound),
                            "object_store" => other.services.object_stores.contains_key(bound),
                            _ => false,
                        }
                });
                if let Some((other, _)) = elsewhere {
                    out.push(
                        Diagnostic::error(code::BINDING_CROSSES_CLUSTERS, format!("{kind} service \"{bound}\" is on cluster \"{other}\", not on \"{}\"", t.cluster))
                            .with_span(at(&format!("bindings.{kind}")).as_ref(), "this binding crosses clusters")
                            .with_help(match available.first() {
                                Some(local) => format!("bind a service of cluster \"{}\", such as \"{local}\"", t.cluster),
                                None => format!("cluster \"{}\" offers no {kind} service; move the tenant to \"{other}\"", t.cluster),
                            }),
                    );
                    continue;
                }
                out.push(
                    Diagnostic::error(
                        code::UNKNOWN_SERVICE,
                        format!("no {kind} service \"{bound}\" on cluster \"{}\"", t.cluster),
                    )
                    .with_span(at(&format!("bindings.{kind}")).as_ref(), "unknown service")
                    .with_help(hint(bound, available.iter().copied())),
                );
            }
        }
        if let Some(compiled) = compiled {
            for missing in &compiled.missing_services {
                let bound = match missing.as_str() {
                    "postgres" => inst.bindings.postgres.is_some(),
                    "object_store" => inst.bindings.object_store.is_some(),
                    _ => inst.bindings.smtp.is_some(),
                };
                if bound || (missing == "smtp" && !c.smtp_relays.is_empty()) {
                    continue; // already reported as an unknown binding or relay
                }
                // Relays are the collective's; the other services a cluster's.
                let message = if missing == "smtp" {
                    format!(
                        "{} needs a mail relay, and the collective declares none",
                        app.id
                    )
                } else {
                    format!(
                        "{} needs a {missing} service, and cluster \"{}\" offers none",
                        app.id, t.cluster
                    )
                };
                let mut d = Diagnostic::error(code::MISSING_SERVICE, message)
                    .with_span(at("app").as_ref(), format!("requires {missing}"));
                d = match missing.as_str() {
                    "smtp" => d.with_help("declare a relay in `smtp_relays` of jardin.ncl and set the tenant's `mail.relay`"),
                    "postgres" => d.with_help(format!("declare `services.postgres` on cluster \"{}\"", t.cluster)),
                    _ => d.with_help(format!("declare `services.object_stores` on cluster \"{}\"", t.cluster)),
                };
                out.push(d);
            }
        }
    }
    if let Some(mail) = &t.mail {
        if !c.smtp_relays.contains_key(&mail.relay) {
            out.push(
                Diagnostic::error(
                    code::UNKNOWN_SERVICE,
                    format!("unknown SMTP relay \"{}\"", mail.relay),
                )
                .with_span(map.get("mail.relay").as_ref(), "not a key of `smtp_relays`")
                .with_help(hint(&mail.relay, keys(&c.smtp_relays))),
            );
        }
    }
    out
}
