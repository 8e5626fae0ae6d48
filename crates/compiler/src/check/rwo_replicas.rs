//! J0801: several replicas sharing a ReadWriteOnce volume.

use serde_json::Value;

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

fn claim_names(deployment: &Value) -> Vec<&str> {
    deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .collect()
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        for (name, app) in &unit.compiled.apps {
            let rwo: Vec<&str> = app
                .objects
                .iter()
                .filter(|o| o["kind"] == "PersistentVolumeClaim")
                .filter(|o| {
                    o["spec"]["accessModes"]
                        .as_array()
                        .is_some_and(|m| m.iter().any(|m| m == "ReadWriteOnce"))
                })
                .filter_map(|o| o["metadata"]["name"].as_str())
                .collect();
            for d in app.objects.iter().filter(|o| o["kind"] == "Deployment") {
                let replicas = d["spec"]["replicas"].as_u64().unwrap_or(1);
                if replicas < 2 {
                    continue;
                }
                for claim in claim_names(d).into_iter().filter(|c| rwo.contains(c)) {
                    let span = super::app_span(unit, name, "replicas");
                    out.push(
                        Diagnostic::error(
                            code::RWO_REPLICAS,
                            format!(
                                "{}/{name}: {} runs {replicas} replicas on the ReadWriteOnce volume \"{claim}\"",
                                t.id,
                                d["metadata"]["name"].as_str().unwrap_or("")
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
