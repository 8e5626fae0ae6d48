//! J0301: a bound Postgres that does not meet the app's needs, or an app
//! that needs a newer MariaDB than the one jardin runs for it.

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct IncompatibleService;

impl Rule for IncompatibleService {
    fn codes(&self) -> &'static [Code] {
        &[code::INCOMPATIBLE_SERVICE]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        let Some(cluster) = ctx.collective.clusters.get(&t.cluster) else {
            continue;
        };
        for (name, app) in &unit.compiled.apps {
            out.extend(own_servers(ctx, unit, name, app));
            let Some(need) = ctx
                .catalog
                .get(&app.app)
                .and_then(|a| a.requires.postgres.as_ref())
            else {
                continue;
            };
            let Some(pg_name) = &app.bindings.postgres else {
                continue;
            };
            let Some(pg) = cluster.services.postgres.get(pg_name) else {
                continue;
            };
            let at = unit
                .source_map
                .exact(&format!("apps.{name}.bindings.postgres"))
                .cloned()
                .or_else(|| unit.source_map.get(&format!("apps.{name}.app")));
            let service_span = ctx.collective_map.get(&format!(
                "clusters.{}.services.postgres.{pg_name}",
                t.cluster
            ));
            // (problem, help)
            let mut problems = Vec::new();
            if pg.version < need.min_version {
                problems.push((
                    format!(
                        "{} needs Postgres {} or newer, \"{pg_name}\" runs {}",
                        app.app, need.min_version, pg.version
                    ),
                    "bind a compatible Postgres cluster with `bindings.postgres`, or declare one on the cluster".to_string(),
                ));
            }
            for ext in need
                .extensions
                .iter()
                .filter(|e| !pg.extensions.contains(e))
            {
                problems.push((
                    format!(
                        "{} needs the extension {ext}, which \"{pg_name}\" does not offer",
                        app.app
                    ),
                    format!("when the cluster's image ships {ext}, add \"{ext}\" to the service's `extensions`; else bind another Postgres cluster with `bindings.postgres`"),
                ));
            }
            for (p, help) in problems {
                out.push(
                    Diagnostic::error(code::INCOMPATIBLE_SERVICE, format!("{}/{name}: {p}", t.id))
                        .with_span(at.as_ref(), "bound here")
                        .with_span(service_span.as_ref(), "the service")
                        .with_help(help),
                );
            }
        }
    }
    out
}

/// The servers jardin runs for the app (docs/SERVICES.md): its catalog
/// entry may need a newer release than jardin's.
fn own_servers(
    ctx: &Context<'_>,
    unit: &jardin_core::model::TenantUnit,
    name: &str,
    app: &jardin_core::model::CompiledApp,
) -> Vec<Diagnostic> {
    use crate::emit::services;
    let Some(entry) = ctx.catalog.get(&app.app) else {
        return Vec::new();
    };
    let needs = [
        (
            "MariaDB",
            entry.requires.mariadb.as_ref().map(|n| &n.min_version),
            services::MARIADB_VERSION,
        ),
        (
            "MongoDB",
            entry.requires.mongodb.as_ref().map(|n| &n.min_version),
            services::MONGODB_VERSION,
        ),
    ];
    let at = unit.source_map.get(&format!("apps.{name}.app"));
    needs
        .into_iter()
        .filter_map(|(engine, need, have)| {
            let need = need.filter(|n| !services::release_satisfies(n, have))?;
            Some(
                Diagnostic::error(
                    code::INCOMPATIBLE_SERVICE,
                    format!(
                        "{}/{name}: {} needs {engine} {need} or newer, jardin runs {have}",
                        unit.compiled.tenant.id, app.app
                    ),
                )
                .with_span(at.as_ref(), "the app")
                .with_help(format!(
                    "use a version of the app that supports {engine} {have} (its catalog entry's `requires`)"
                )),
            )
        })
        .collect()
}
