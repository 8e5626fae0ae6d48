//! Single sign-on: J0304 (SSO on a cluster without an SSO service), J0305
//! (an app that requires OIDC, without a realm), J0306 (a redirect URI
//! outside the tenant's zones).

use super::{app_span, Context, Rule};
use crate::check::host_outside_zone::in_zone;
use crate::shared;
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::SHARED_TENANT;

pub(super) struct Sso;

impl Rule for Sso {
    fn codes(&self) -> &'static [Code] {
        &[
            code::SSO_UNAVAILABLE,
            code::OIDC_REQUIRED,
            code::REDIRECT_OUTSIDE_ZONES,
        ]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for unit in ctx.tenants {
            let t = &unit.compiled.tenant;
            if t.id == SHARED_TENANT || !ctx.collective.clusters.contains_key(&t.cluster) {
                continue;
            }
            let service = shared::provider(ctx.collective, ctx.catalog, &t.cluster, shared::SSO);
            if t.identity.sso && service.is_none() {
                out.push(
                    Diagnostic::error(
                        code::SSO_UNAVAILABLE,
                        format!(
                            "{} asks for single sign-on, but cluster {} has no SSO service",
                            t.id, t.cluster
                        ),
                    )
                    .with_span(
                        unit.source_map
                            .get("identity.sso")
                            .or_else(|| unit.source_map.get("identity"))
                            .as_ref(),
                        "no realm can be made for this tenant",
                    )
                    .with_help(format!(
                        "declare one in jardin.ncl: clusters.{}.shared.apps.sso = {{ app = \"keycloak\", host = \"sso.<your domain>\" }}",
                        t.cluster
                    )),
                );
            }
            for (instance, app) in &unit.compiled.apps {
                let Some(oidc) = ctx.catalog.get(&app.app).and_then(|e| e.oidc.as_ref()) else {
                    continue;
                };
                let has_client = shared::has_client(ctx.collective, ctx.catalog, t, app);
                if oidc.required && app.rendered && !has_client {
                    out.push(
                        Diagnostic::error(
                            code::OIDC_REQUIRED,
                            format!(
                                "{}/{instance}: {} has no login of its own, and the tenant has no realm",
                                t.id, app.app
                            ),
                        )
                        .with_span(app_span(unit, instance, "app").as_ref(), "nobody could sign in")
                        .with_help("set identity = { sso = true } in the tenant, on a cluster with an SSO service"),
                    );
                }
                if !has_client {
                    continue;
                }
                let uris = shared::redirect_uris(app, &oidc.redirect_paths)
                    .into_iter()
                    .chain(shared::redirect_uris(app, &oidc.logout_paths));
                for uri in uris {
                    let host = url::Url::parse(&uri)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
                    let inside = host.as_deref().is_some_and(|h| {
                        t.zones.iter().any(|z| in_zone(h, &z.to_ascii_lowercase()))
                    });
                    if !inside {
                        out.push(
                            Diagnostic::error(
                                code::REDIRECT_OUTSIDE_ZONES,
                                format!(
                                    "{}/{instance}: the client's redirect URI {uri} goes to {}, outside the tenant's zones",
                                    t.id,
                                    host.as_deref().unwrap_or("no host")
                                ),
                            )
                            .with_span(
                                app_span(unit, instance, "host").as_ref(),
                                "redirect URIs are made from this host",
                            )
                            .with_help(format!(
                                "the catalog entry of {} must give paths that stay on the app's hosts (oidc.redirect_paths), and every host must be in the tenant's zones",
                                app.app
                            )),
                        );
                    }
                }
            }
        }
        out
    }
}
