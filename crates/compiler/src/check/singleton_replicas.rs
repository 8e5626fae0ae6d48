//! J0803: `replicas` asked of an app whose every component is a singleton.

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct SingletonReplicas;

impl Rule for SingletonReplicas {
    fn codes(&self) -> &'static [Code] {
        &[code::SINGLETON_REPLICAS]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for unit in ctx.tenants {
            let t = &unit.compiled.tenant;
            for (name, inst) in &t.apps {
                let Some(asked) = inst.replicas.filter(|r| *r > 1) else {
                    continue;
                };
                let Some(entry) = ctx.catalog.get(&inst.app) else {
                    continue;
                };
                let Some(app) = unit.compiled.apps.get(name) else {
                    continue;
                };
                let mut deployments = app
                    .facts
                    .iter()
                    .filter(|o| o.is("Deployment"))
                    .map(|d| &*d.name)
                    .peekable();
                if deployments.peek().is_none()
                    || !deployments.all(|c| entry.singletons.iter().any(|s| s == c))
                {
                    continue;
                }
                let span = super::app_span(unit, name, "replicas");
                out.push(
                    Diagnostic::error(
                        code::SINGLETON_REPLICAS,
                        format!(
                            "{}/{name}: {} runs one instance, not {asked}",
                            t.id, inst.app
                        ),
                    )
                    .with_span(span.as_ref(), "more than one replica")
                    .with_help(format!(
                        "remove `replicas`: {} cannot run two instances side by side (docs/apps/{}.md)",
                        inst.app, inst.app
                    )),
                );
            }
        }
        out
    }
}
