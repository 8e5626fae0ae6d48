//! J0820: a name jardin derives is not a valid Kubernetes or Postgres name.

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct DerivedNameInvalid;

impl Rule for DerivedNameInvalid {
    fn codes(&self) -> &'static [Code] {
        &[code::DERIVED_NAME_INVALID]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

pub(crate) fn is_dns_label(s: &str) -> bool {
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
                    code::DERIVED_NAME_INVALID,
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
