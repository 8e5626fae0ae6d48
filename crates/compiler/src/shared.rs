//! Shared services: what a collective runs on a cluster for its tenants'
//! apps (single sign-on, office editing), declared in
//! `clusters.<name>.shared` and compiled like the apps of a tenant of the
//! collective's own ([`SHARED_TENANT`]).
//!
//! A shared service is a catalog app that `provides` something ("sso",
//! "office"). Its render function reads its *consumers*: the tenants'
//! apps that use it, which only exist once every tenant is compiled. So
//! the shared services are evaluated after the tenants, with their
//! consumers computed here, and then go through the same emission, rules,
//! backups, DNS and graph as any tenant's apps.

use std::collections::BTreeMap;

use jardin_core::model::{
    AppInstance, Catalog, Collective, CompiledApp, CompiledTenant, Tenant, SHARED_TENANT,
};
use serde_json::{json, Value};

/// The Secret, in an app's namespace, that holds its OIDC client secret,
/// generated in the cluster; and its key.
pub(crate) const OIDC_SECRET: &str = "oidc";
pub(crate) const OIDC_SECRET_KEY: &str = "client-secret";

/// What a cluster's shared services provide, for tenants' apps.
pub(crate) const SSO: &str = "sso";
pub(crate) const OFFICE: &str = "office";

/// The cluster's shared service that provides `what`: its instance name and
/// declaration (the first by name, as `compile.ncl`'s `provider` picks it).
pub(crate) fn provider<'a>(
    collective: &'a Collective,
    catalog: &Catalog,
    cluster: &str,
    what: &str,
) -> Option<(&'a str, &'a AppInstance)> {
    collective
        .clusters
        .get(cluster)?
        .shared
        .apps
        .iter()
        .find(|(_, app)| {
            catalog
                .get(&app.app)
                .is_some_and(|e| e.provides.as_deref() == Some(what))
        })
        .map(|(name, app)| (name.as_str(), app))
}

/// The namespace of a shared service.
pub(crate) fn namespace(instance: &str) -> String {
    format!("{SHARED_TENANT}-{instance}")
}

/// True when the app gets an OIDC client in its tenant's realm: the tenant
/// has single sign-on, the app supports OIDC, and its cluster has an SSO
/// service (the same condition as `ctx.sso` in `compile.ncl`).
pub(crate) fn has_client(
    collective: &Collective,
    catalog: &Catalog,
    tenant: &Tenant,
    app: &CompiledApp,
) -> bool {
    tenant.identity.sso
        && app.rendered
        && catalog.get(&app.app).is_some_and(|e| e.oidc.is_some())
        && provider(collective, catalog, &tenant.cluster, SSO).is_some()
}

/// True when the app opens office documents with its cluster's office
/// service (`ctx.office` in `compile.ncl`).
pub(crate) fn uses_office(
    collective: &Collective,
    catalog: &Catalog,
    tenant: &Tenant,
    instance: &str,
    app: &CompiledApp,
) -> bool {
    app.rendered
        && tenant.apps.get(instance).is_some_and(|i| i.office)
        && catalog.get(&app.app).is_some_and(|e| e.office)
        && provider(collective, catalog, &tenant.cluster, OFFICE).is_some()
}

/// The redirect URIs of an app's client: each of its paths on each host.
pub(crate) fn redirect_uris(app: &CompiledApp, paths: &[String]) -> Vec<String> {
    app.hosts
        .iter()
        .flat_map(|h| paths.iter().map(move |p| format!("https://{h}{p}")))
        .collect()
}

/// The environment variable the realm import reads a client's secret from.
fn secret_env(namespace: &str) -> String {
    format!(
        "CLIENT_SECRET_{}",
        namespace.to_ascii_uppercase().replace('-', "_")
    )
}

/// The consumers of each shared service of `cluster`, by instance name, as
/// its render function reads them in `ctx.consumers`:
/// - an SSO service: a realm per tenant with single sign-on, sorted by id,
///   with its first users and a client per app that supports OIDC;
/// - an office service: every app that opens documents with it, with its
///   hosts (one WOPI host group each).
pub(crate) fn consumers(
    collective: &Collective,
    catalog: &Catalog,
    cluster: &str,
    tenants: &[&CompiledTenant],
) -> Value {
    let mut tenants: Vec<&CompiledTenant> = tenants
        .iter()
        .copied()
        .filter(|t| t.tenant.cluster == cluster && t.tenant.id != SHARED_TENANT)
        .collect();
    tenants.sort_by(|a, b| a.tenant.id.cmp(&b.tenant.id));
    let mut out = BTreeMap::new();
    let Some(c) = collective.clusters.get(cluster) else {
        return json!({});
    };
    for (instance, shared) in &c.shared.apps {
        let provides = catalog.get(&shared.app).and_then(|e| e.provides.as_deref());
        let list = match provides {
            Some(SSO) => realms(collective, catalog, &tenants),
            Some(OFFICE) => office_hosts(collective, catalog, &tenants),
            _ => Vec::new(),
        };
        out.insert(instance.clone(), Value::Array(list));
    }
    json!(out)
}

fn realms(collective: &Collective, catalog: &Catalog, tenants: &[&CompiledTenant]) -> Vec<Value> {
    tenants
        .iter()
        .filter(|t| t.tenant.identity.sso)
        .map(|t| {
            let tenant = &t.tenant;
            let clients: Vec<Value> = t
                .apps
                .iter()
                .filter(|(_, app)| has_client(collective, catalog, tenant, app))
                .filter_map(|(instance, app)| {
                    let oidc = catalog.get(&app.app)?.oidc.as_ref()?;
                    Some(json!({
                        "client_id": instance,
                        "app": app.app,
                        "root_url": format!("https://{}", app.host),
                        "redirect_uris": redirect_uris(app, &oidc.redirect_paths),
                        "logout_uris": redirect_uris(app, &oidc.logout_paths),
                        "secret": {
                            "name": format!("{OIDC_SECRET}-{}", app.namespace),
                            "from": format!("{}/{OIDC_SECRET}", app.namespace),
                            "key": OIDC_SECRET_KEY,
                            "env": secret_env(&app.namespace),
                        },
                    }))
                })
                .collect();
            let admins = tenant
                .identity
                .admins
                .clone()
                .unwrap_or_else(|| tenant.contacts.clone());
            let mail_from = tenant
                .mail
                .as_ref()
                .map(|m| format!("noreply@{}", m.sending_domain));
            json!({
                "realm": tenant.id,
                "display_name": tenant.display_name,
                "admins": admins,
                "mail_from": mail_from,
                "clients": clients,
            })
        })
        .collect()
}

fn office_hosts(
    collective: &Collective,
    catalog: &Catalog,
    tenants: &[&CompiledTenant],
) -> Vec<Value> {
    tenants
        .iter()
        .flat_map(|t| {
            t.apps
                .iter()
                .filter(|(instance, app)| {
                    uses_office(collective, catalog, &t.tenant, instance, app)
                })
                .map(|(instance, app)| {
                    json!({ "tenant": t.tenant.id, "instance": instance, "hosts": app.hosts })
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_env_is_a_variable_name() {
        assert_eq!(
            secret_env("faire-ecole-cloud"),
            "CLIENT_SECRET_FAIRE_ECOLE_CLOUD"
        );
    }
}
