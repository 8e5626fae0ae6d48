//! J0802: a highly available plan with an app that would run one replica.

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct HaSingleReplica;

impl Rule for HaSingleReplica {
    fn codes(&self) -> &'static [Code] {
        &[code::HA_SINGLE_REPLICA]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        let Some(plan) = ctx.collective.plans.get(&unit.compiled.plan) else {
            continue;
        };
        if !plan.ha {
            continue;
        }
        for (name, app) in &unit.compiled.apps {
            let singletons = ctx
                .catalog
                .get(&app.app)
                .map(|a| a.singletons.as_slice())
                .unwrap_or_default();
            for d in app.facts.iter().filter(|o| o.is("Deployment")) {
                let component = &*d.name;
                if d.replicas.unwrap_or(1) >= 2
                    || singletons.iter().any(|s| s == component)
                    || crate::emit::services::SERVERS.contains(&component)
                {
                    continue;
                }
                let span = super::app_span(unit, name, "replicas");
                out.push(
                    Diagnostic::error(
                        code::HA_SINGLE_REPLICA,
                        format!("{}/{name}: {component} would run one replica on the highly available plan \"{}\"", t.id, unit.compiled.plan),
                    )
                    .with_span(span.as_ref(), "one replica")
                    .with_help("remove `replicas`, or set it to 2 or more"),
                );
            }
        }
    }
    out
}
