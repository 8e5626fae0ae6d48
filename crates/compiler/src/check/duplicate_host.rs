//! J0210: the same hostname claimed twice.

use std::collections::HashMap;

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
    }
    out
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut first: HashMap<String, (String, String, Option<Span>)> = HashMap::new();
    let mut out = Vec::new();
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
