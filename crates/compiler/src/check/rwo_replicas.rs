//! J0801: several replicas sharing a ReadWriteOnce volume.

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct RwoReplicas;

impl Rule for RwoReplicas {
    fn codes(&self) -> &'static [Code] {
        &[code::RWO_REPLICAS]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        for (name, app) in &unit.compiled.apps {
            let rwo: Vec<&str> = app
                .facts
                .iter()
                .filter(|o| o.is("PersistentVolumeClaim"))
                .filter(|o| o.access_modes.iter().any(|m| &**m == "ReadWriteOnce"))
                .map(|o| &*o.name)
                .collect();
            for d in app.facts.iter().filter(|o| o.is("Deployment")) {
                let replicas = d.replicas.unwrap_or(1);
                if replicas < 2 {
                    continue;
                }
                for claim in d.claims.iter().map(|c| &**c).filter(|c| rwo.contains(c)) {
                    let span = super::app_span(unit, name, "replicas");
                    out.push(
                        Diagnostic::error(
                            code::RWO_REPLICAS,
                            format!(
                                "{}/{name}: {} runs {replicas} replicas on the ReadWriteOnce volume \"{claim}\"",
                                t.id,
                                d.name
                            ),
                        )
                        .with_span(span.as_ref(), "several replicas here")
                        .with_help(format!(
                            "declare a ReadWriteMany class on cluster \"{}\" (`storage_classes.rwx`) or run one replica",
                            t.cluster
                        )),
                    );
                }
            }
        }
    }
    out
}
