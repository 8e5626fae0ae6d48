//! J0820: a name jardin derives is not a valid Kubernetes or Postgres name.

use super::{Code, Context, Rule};
use crate::diag::Diagnostic;

pub const RULE: Rule = Rule {
    codes: &[Code {
        code: "J0820",
        title: "derived name invalid",
        doc: "A name jardin derives from the config is not valid where it is used: the namespace `<tenant>-<app>` must be a DNS label of at most 63 characters, and the database and role named after it must fit Postgres' 63-byte identifiers. Shorten the tenant id or the app's key.",
    }],
    run,
};

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        for (name, app) in &unit.compiled.apps {
            if is_dns_label(&app.namespace) {
                continue;
            }
            let span = unit
                .source_map
                .exact(&format!("apps.{name}#name"))
                .cloned()
                .or_else(|| unit.source_map.get(&format!("apps.{name}")));
            let why = if app.namespace.len() > 63 {
                format!("{} characters, at most 63", app.namespace.len())
            } else {
                "only lowercase letters, digits and '-'".to_string()
            };
            out.push(
                Diagnostic::error(
                    "J0820",
                    format!(
                        "the namespace \"{}\" derived for {}/{name} is not a DNS label ({why})",
                        app.namespace, t.id
                    ),
                )
                .with_span(span.as_ref(), "the app's key becomes part of the namespace")
                .with_help("use a shorter key of lowercase letters, digits and '-' for this app"),
            );
        }
    }
    out
}
