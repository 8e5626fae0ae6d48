//! J0212: two tenants owning the same zone.

use std::collections::HashMap;

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::SHARED_TENANT;

pub(super) struct ZoneOwnedTwice;

impl Rule for ZoneOwnedTwice {
    fn codes(&self) -> &'static [Code] {
        &[code::ZONE_OWNED_TWICE]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut owners: HashMap<String, (&str, Option<jardin_core::source::Span>)> = HashMap::new();
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        for (i, zone) in t.zones.iter().enumerate() {
            let span = unit.source_map.get(&format!("zones.{i}"));
            match owners.get(&zone.to_lowercase()) {
                None => {
                    owners.insert(zone.to_lowercase(), (t.id.as_str(), span));
                }
                // The collective's shared services on several clusters
                // share its zones: one owner.
                Some((owner, _)) if *owner == t.id && t.id == SHARED_TENANT => {}
                Some((owner, span0)) => out.push(
                    Diagnostic::error(code::ZONE_OWNED_TWICE, format!("zone \"{zone}\" is owned by both {owner} and {}", t.id))
                        .with_span(span.as_ref(), "owned here")
                        .with_span(span0.as_ref(), format!("and by {owner}"))
                        .with_help("a zone has one owner: remove it from one tenant, or give each tenant its own subdomain zone"),
                ),
            }
        }
    }
    out
}
