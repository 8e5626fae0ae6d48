//! J0302: an app needs an operator its cluster does not run.

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::{CatalogApp, CompiledApp, StateKind};

pub(super) struct MissingCapability;

impl Rule for MissingCapability {
    fn codes(&self) -> &'static [Code] {
        &[code::MISSING_CAPABILITY]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

/// The capabilities an app instance needs, with why.
pub(crate) fn needs(app: &CompiledApp, catalog: &CatalogApp) -> Vec<(&'static str, &'static str)> {
    let mut n = vec![("cert-manager", "TLS certificates for its ingress")];
    if app.bindings.postgres.is_some() {
        n.push(("cnpg", "its Postgres database"));
        n.push((
            "secret-replicator",
            "the database password in its namespace",
        ));
    }
    // The Secrets of the servers jardin runs for the app are generated too.
    if !catalog.secrets.is_empty()
        || app.bindings.postgres.is_some()
        || !crate::emit::services::secrets(catalog).is_empty()
    {
        n.push(("secret-generator", "secrets generated in the cluster"));
    }
    if app.bindings.object_store.is_some() {
        n.push(("cosi", "its buckets"));
    }
    if catalog.state.iter().any(|s| s.kind == StateKind::Volume) {
        n.push(("k8up", "backups of its volumes"));
    }
    if catalog
        .state
        .iter()
        .any(|s| matches!(s.kind, StateKind::Mariadb | StateKind::Mongodb))
    {
        n.push(("k8up", "dumps of its database server"));
    }
    n
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        let Some(cluster) = ctx.collective.clusters.get(&t.cluster) else {
            continue;
        };
        for (name, app) in unit.compiled.apps.iter().filter(|(_, a)| a.rendered) {
            let Some(entry) = ctx.catalog.get(&app.app) else {
                continue;
            };
            let mut needed = needs(app, entry);
            // Its OIDC client's secret is generated here and pulled by the
            // SSO service's namespace (docs/SSO.md).
            if crate::shared::has_client(ctx.collective, ctx.catalog, t, app) {
                needed.push(("secret-generator", "its OIDC client secret"));
                needed.push((
                    "secret-replicator",
                    "its OIDC client secret in the SSO service's namespace",
                ));
            }
            // One diagnostic per capability, with every reason for it.
            let mut missing: Vec<(&str, Vec<&str>)> = Vec::new();
            for (cap, why) in needed.into_iter().filter(|(c, _)| !cluster.has(c)) {
                match missing.iter_mut().find(|(c, _)| *c == cap) {
                    Some((_, whys)) => whys.push(why),
                    None => missing.push((cap, vec![why])),
                }
            }
            for (cap, whys) in missing {
                let why = whys.join(" and ");
                out.push(
                    Diagnostic::error(
                        code::MISSING_CAPABILITY,
                        format!(
                            "{}/{name}: cluster \"{}\" lacks {cap}, needed for {why}",
                            t.id, t.cluster
                        ),
                    )
                    .with_span(
                        unit.source_map.get(&format!("apps.{name}.app")).as_ref(),
                        format!("{} needs {cap}", app.app),
                    )
                    .with_span(
                        ctx.collective_map
                            .get(&format!("clusters.{}.capabilities", t.cluster))
                            .as_ref(),
                        "the cluster's capabilities",
                    )
                    .with_help(format!(
                        "install {cap} on \"{}\" and add \"{cap}\" to its `capabilities`",
                        t.cluster
                    )),
                );
            }
        }
    }
    out
}
