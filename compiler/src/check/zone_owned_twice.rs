//! J0212: two tenants owning the same zone.

use std::collections::HashMap;

use super::{Code, Context, Rule};
use crate::diag::Diagnostic;

pub const RULE: Rule = Rule {
    codes: &[Code {
        code: "J0212",
        title: "zone owned by two tenants",
        doc: "Two tenants list the same zone in `zones`. A zone has one owner, who decides what is served under it; shared zones would let one tenant claim the other's names.",
    }],
    run,
};

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut owners: HashMap<String, (&str, Option<crate::source::Span>)> = HashMap::new();
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        for (i, zone) in t.zones.iter().enumerate() {
            let span = unit.source_map.get(&format!("zones.{i}"));
            match owners.get(&zone.to_lowercase()) {
                None => {
                    owners.insert(zone.to_lowercase(), (t.id.as_str(), span));
                }
                Some((owner, span0)) => out.push(
                    Diagnostic::error("J0212", format!("zone \"{zone}\" is owned by both {owner} and {}", t.id))
                        .with_span(span.as_ref(), "owned here")
                        .with_span(span0.as_ref(), format!("and by {owner}"))
                        .with_help("a zone has one owner: remove it from one tenant, or give each tenant its own subdomain zone"),
                ),
            }
        }
    }
    out
}
