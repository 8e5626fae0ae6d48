//! J0822: two different apps deriving the same name.

use std::collections::HashMap;

use super::{Code, Context, Rule};
use crate::diag::Diagnostic;

pub const RULE: Rule = Rule {
    codes: &[Code {
        code: "J0822",
        title: "derived names collide",
        doc: "Two different app instances derive the same namespace (and database name): tenant `a-b` with app `c` and tenant `a` with app `b-c` both give `a-b-c`. Their objects would overwrite each other. Rename one app's key.",
    }],
    run,
};

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut seen: HashMap<(&str, &str), (String, Option<crate::source::Span>)> = HashMap::new();
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
                        "J0822",
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
