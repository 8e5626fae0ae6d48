//! J0822: two different apps deriving the same name.

use std::collections::HashMap;

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct DerivedNameCollision;

impl Rule for DerivedNameCollision {
    fn codes(&self) -> &'static [Code] {
        &[code::DERIVED_NAMES_COLLIDE]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut seen: HashMap<(&str, &str), (String, Option<jardin_core::source::Span>)> =
        HashMap::new();
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        for (name, app) in &unit.compiled.apps {
            let span = unit
                .source_map
                .exact(&format!("apps.{name}#name"))
                .cloned()
                .or_else(|| unit.source_map.get(&format!("apps.{name}")));
            let key = (t.cluster.as_str(), app.namespace.as_str());
            match seen.get(&key) {
                None => {
                    seen.insert(key, (format!("{}/{name}", t.id), span));
                }
                Some((first, span0)) => out.push(
                    Diagnostic::error(
                        code::DERIVED_NAMES_COLLIDE,
                        format!(
                            "{}/{name} and {first} both derive the namespace \"{}\"",
                            t.id, app.namespace
                        ),
                    )
                    .with_span(span.as_ref(), "derives the same name")
                    .with_span(span0.as_ref(), format!("as {first}"))
                    .with_help("rename the key of one of these apps"),
                ),
            }
        }
    }
    out
}
