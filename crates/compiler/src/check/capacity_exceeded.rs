//! J0811, J0812: more planned on a cluster than it can hold.

use std::collections::BTreeMap;

use super::{Code, Context, Rule, Usage};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::quantity::{bytes, cpu_millis, show_bytes, show_cpu};

pub(super) struct CapacityExceeded;

impl Rule for CapacityExceeded {
    fn codes(&self) -> &'static [Code] {
        &[code::CAPACITY_EXCEEDED, code::CAPACITY_NEARLY_USED]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

/// Requests per cluster, summed over its tenants.
pub fn per_cluster<'a>(ctx: &Context<'a>) -> BTreeMap<&'a str, Usage> {
    let mut m: BTreeMap<&str, Usage> = BTreeMap::new();
    for unit in ctx.tenants {
        let u = m.entry(unit.compiled.tenant.cluster.as_str()).or_default();
        for app in unit.compiled.apps.values() {
            *u += Usage::of_app(app);
        }
    }
    m
}

/// (resource, asked, available) over a fraction of the capacity.
pub fn over(used: &Usage, cap: &jardin_core::model::Capacity, fraction: f64) -> Vec<String> {
    let mut v = Vec::new();
    let scale = |x: u64| (x as f64 * fraction) as u64;
    if let Some(c) = cpu_millis(&cap.cpu).filter(|c| used.cpu_millis > scale(*c)) {
        v.push(format!(
            "CPU {} asked of {}",
            show_cpu(used.cpu_millis),
            show_cpu(scale(c))
        ));
    }
    if let Some(c) = bytes(&cap.memory).filter(|c| used.memory_bytes > scale(*c)) {
        v.push(format!(
            "memory {} asked of {}",
            show_bytes(used.memory_bytes),
            show_bytes(scale(c))
        ));
    }
    if let Some(c) = bytes(&cap.storage).filter(|c| used.storage_bytes > scale(*c)) {
        v.push(format!(
            "storage {} asked of {}",
            show_bytes(used.storage_bytes),
            show_bytes(scale(c))
        ));
    }
    v
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (cluster, used) in per_cluster(ctx) {
        let Some(c) = ctx.collective.clusters.get(cluster) else {
            continue;
        };
        let span = ctx
            .collective_map
            .get(&format!("clusters.{cluster}.capacity"));
        let full = over(&used, &c.capacity, 1.0);
        if !full.is_empty() {
            out.push(
                Diagnostic::error(
                    code::CAPACITY_EXCEEDED,
                    format!(
                        "cluster \"{cluster}\" cannot hold what is planned on it: {}",
                        full.join("; ")
                    ),
                )
                .with_span(span.as_ref(), "declared capacity")
                .with_help("move tenants to another cluster, or add nodes and raise `capacity`"),
            );
            continue;
        }
        let high = over(&used, &c.capacity, 0.8);
        if !high.is_empty() {
            out.push(
                Diagnostic::warning(
                    code::CAPACITY_NEARLY_USED,
                    format!(
                        "cluster \"{cluster}\" is over 80% of its capacity: {}",
                        high.join("; ")
                    ),
                )
                .with_span(span.as_ref(), "declared capacity")
                .with_help("plan more capacity before adding tenants here"),
            );
        }
    }
    out
}
