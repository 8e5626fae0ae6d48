//! J0210: the same hostname claimed twice.

use std::collections::HashMap;

use super::{Code, Context, Rule};
use crate::diag::Diagnostic;
use crate::source::Span;

pub const RULE: Rule = Rule {
    codes: &[Code {
        code: "J0210",
        title: "hostname claimed twice",
        doc: "Two app instances, in the same tenant or in different ones, serve the same hostname (a primary host or an alias; compared without case). The ingress controller would route it to only one of them, and certificates would be issued twice. Each hostname belongs to exactly one app.",
    }],
    run,
};

/// Every hostname a tenant's apps claim: (hostname, app instance, value path).
pub fn claims(unit: &crate::model::TenantUnit) -> Vec<(String, &str, String)> {
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
                    let mut d =
                        Diagnostic::error("J0210", format!("hostname \"{host}\" is claimed twice"))
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
