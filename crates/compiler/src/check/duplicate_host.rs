//! J0210: the same hostname claimed twice.

use std::collections::{BTreeMap, HashMap};

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::source::Span;

pub(super) struct DuplicateHost;

impl Rule for DuplicateHost {
    fn codes(&self) -> &'static [Code] {
        &[code::DUPLICATE_HOST]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

/// Every hostname a tenant's apps claim: (hostname, app instance, value path).
pub(super) fn claims(unit: &jardin_core::model::TenantUnit) -> Vec<(String, &str, String)> {
    let mut out = Vec::new();
    for (name, inst) in &unit.compiled.tenant.apps {
        out.push((
            inst.host.to_lowercase(),
            name.as_str(),
            format!("apps.{name}.host"),
        ));
        for (i, alias) in inst.aliases.iter().enumerate() {
            out.push((
                alias.to_lowercase(),
                name.as_str(),
                format!("apps.{name}.aliases.{i}"),
            ));
        }
        // The hosts of the app's other parts, which follow its host and
        // aliases: where the instance gives one, there; else they derive
        // from its host.
        let Some(app) = unit.compiled.apps.get(name) else {
            continue;
        };
        for extra in app.hosts.iter().skip(1 + inst.aliases.len()) {
            let path = match inst.extra_hosts.iter().find(|(_, h)| *h == extra) {
                Some((part, _)) => format!("apps.{name}.extra_hosts.{part}"),
                None => format!("apps.{name}.host"),
            };
            out.push((extra.to_lowercase(), name.as_str(), path));
        }
    }
    out
}

/// The paths an app routes on a host that is not its own (Synapse's
/// `/.well-known/matrix` on its zone's apex): (host, path), from its
/// Ingresses.
fn routes_elsewhere(app: &jardin_core::model::CompiledApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for ingress in app.facts.iter().filter(|o| o.is("Ingress")) {
        for rule in &ingress.routes {
            let Some(host) = rule.host.as_deref() else {
                continue;
            };
            if app.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
                continue;
            }
            for p in &rule.paths {
                out.push((host.to_lowercase(), p.to_string()));
            }
        }
    }
    out
}

/// A path of a host routed by two apps: the ingress controller would send
/// it to one of them, and the other would silently not work. One
/// diagnostic per pair of apps and host, naming every path they share.
fn routed_twice(ctx: &Context<'_>) -> Vec<Diagnostic> {
    /// Two apps routing paths of one host.
    struct Clash {
        paths: Vec<String>,
        span: Option<Span>,
        first_span: Option<Span>,
        app: String,
    }
    type Claim = (String, String, Option<Span>);
    let mut first: HashMap<(String, String), Claim> = HashMap::new();
    // (host, first tenant, first app, tenant, app)
    let mut clashes: BTreeMap<(String, String, String, String, String), Clash> = BTreeMap::new();
    for unit in ctx.tenants {
        let tenant = &unit.compiled.tenant.id;
        for (name, app) in &unit.compiled.apps {
            for (host, path) in routes_elsewhere(app) {
                let span = unit.source_map.get(&format!("apps.{name}.host"));
                match first.get(&(host.clone(), path.clone())) {
                    None => {
                        first.insert((host, path), (tenant.clone(), name.clone(), span));
                    }
                    Some((t0, a0, span0)) => {
                        let key = (host, t0.clone(), a0.clone(), tenant.clone(), name.clone());
                        clashes
                            .entry(key)
                            .or_insert_with(|| Clash {
                                paths: Vec::new(),
                                span,
                                first_span: span0.clone(),
                                app: app.app.clone(),
                            })
                            .paths
                            .push(path);
                    }
                }
            }
        }
    }
    clashes
        .into_iter()
        .map(|((host, t0, a0, tenant, name), c)| {
            let list: Vec<String> = c.paths.iter().map(|p| format!("\"{p}\"")).collect();
            let app = &c.app;
            Diagnostic::error(
                code::DUPLICATE_HOST,
                format!("{} of \"{host}\" claimed twice", list.join(", ")),
            )
            .with_span(c.span.as_ref(), format!("{tenant}/{name} ({app}) routes them"))
            .with_span(c.first_span.as_ref(), format!("already routed by {t0}/{a0}"))
            .with_help(format!(
                "{app} serves these paths on {host} for its zone: keep one {app} per zone (docs/apps/{app}.md)"
            ))
        })
        .collect()
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut first: HashMap<String, (String, String, Option<Span>)> = HashMap::new();
    let mut out = routed_twice(ctx);
    for unit in ctx.tenants {
        let tenant = &unit.compiled.tenant.id;
        for (host, app, path) in claims(unit) {
            let span = unit.source_map.get(&path);
            match first.get(&host) {
                None => {
                    first.insert(host, (tenant.clone(), app.to_string(), span));
                }
                Some((t0, a0, span0)) => {
                    let mut d = Diagnostic::error(
                        code::DUPLICATE_HOST,
                        format!("hostname \"{host}\" is claimed twice"),
                    )
                    .with_span(span.as_ref(), format!("claimed by {tenant}/{app}"));
                    d = d.with_span(span0.as_ref(), format!("already claimed by {t0}/{a0}"));
                    out.push(d.with_help(
                        "each hostname belongs to one app: rename one of them or remove the alias",
                    ));
                }
            }
        }
    }
    out
}
