//! J0813: highly available tenants on a cluster that cannot lose a node.

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct CapacityNodeLoss;

impl Rule for CapacityNodeLoss {
    fn codes(&self) -> &'static [Code] {
        &[code::NO_ROOM_FOR_NODE_LOSS]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (cluster, used) in super::capacity_exceeded::per_cluster(ctx) {
        let Some(c) = ctx.collective.clusters.get(cluster) else {
            continue;
        };
        let has_ha = ctx.tenants.iter().any(|t| {
            t.compiled.tenant.cluster == cluster
                && ctx
                    .collective
                    .plans
                    .get(&t.compiled.plan)
                    .is_some_and(|p| p.ha)
        });
        if !has_ha || c.capacity.nodes < 2 {
            continue;
        }
        let fraction = f64::from(c.capacity.nodes - 1) / f64::from(c.capacity.nodes);
        // Storage is replicated across nodes by the storage system; count CPU and memory.
        let lost: Vec<String> = super::capacity_exceeded::over(&used, &c.capacity, fraction)
            .into_iter()
            .filter(|s| !s.starts_with("storage"))
            .collect();
        if lost.is_empty() || !super::capacity_exceeded::over(&used, &c.capacity, 1.0).is_empty() {
            continue;
        }
        out.push(
            Diagnostic::warning(
                code::NO_ROOM_FOR_NODE_LOSS,
                format!(
                    "cluster \"{cluster}\" cannot lose one of its {} nodes: {}",
                    c.capacity.nodes,
                    lost.join("; ")
                ),
            )
            .with_span(
                ctx.collective_map
                    .get(&format!("clusters.{cluster}.capacity"))
                    .as_ref(),
                "declared capacity",
            )
            .with_help("add a node, or move highly available tenants to a cluster with room"),
        );
    }
    out
}
