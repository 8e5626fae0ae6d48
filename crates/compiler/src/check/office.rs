//! J0307: an app that opens office documents, without an office service on
//! its cluster or without support in its catalog entry.

use super::{app_span, Context, Rule};
use crate::shared;
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct Office;

impl Rule for Office {
    fn codes(&self) -> &'static [Code] {
        &[code::OFFICE_UNAVAILABLE]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for unit in ctx.tenants {
            let t = &unit.compiled.tenant;
            if !ctx.collective.clusters.contains_key(&t.cluster) {
                continue;
            }
            for (instance, inst) in t.apps.iter().filter(|(_, i)| i.office) {
                let Some(entry) = ctx.catalog.get(&inst.app) else {
                    continue;
                };
                let service =
                    shared::provider(ctx.collective, ctx.catalog, &t.cluster, shared::OFFICE);
                let (message, help) = if !entry.office {
                    (
                        format!("{}/{instance}: {} cannot open office documents", t.id, inst.app),
                        "remove `office = true`: only apps whose catalog entry says `office = true` (nextcloud) can".to_string(),
                    )
                } else if service.is_none() {
                    (
                        format!(
                            "{}/{instance}: office editing asked for, but cluster {} has no office service",
                            t.id, t.cluster
                        ),
                        format!(
                            "declare one in jardin.ncl: clusters.{}.shared.apps.office = {{ app = \"collabora\", host = \"office.<your domain>\" }}",
                            t.cluster
                        ),
                    )
                } else {
                    continue;
                };
                out.push(
                    Diagnostic::error(code::OFFICE_UNAVAILABLE, message)
                        .with_span(
                            app_span(unit, instance, "office").as_ref(),
                            "documents would not open",
                        )
                        .with_help(help),
                );
            }
        }
        out
    }
}
