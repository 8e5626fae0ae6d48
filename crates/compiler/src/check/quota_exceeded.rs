//! J0810: a tenant asking more than its plan allows.

use super::{Code, Context, Rule, Usage};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::quantity::{bytes, cpu_millis, show_bytes, show_cpu};

pub(super) struct QuotaExceeded;

impl Rule for QuotaExceeded {
    fn codes(&self) -> &'static [Code] {
        &[code::QUOTA_EXCEEDED]
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
        let q = &plan.quotas;
        let mut used = Usage::default();
        let mut buckets = 0u32;
        for app in unit.compiled.apps.values() {
            used += Usage::of_app(app);
            if app.bindings.object_store.is_some() {
                buckets += ctx
                    .catalog
                    .get(&app.app)
                    .map_or(0, |a| a.requires.buckets.len() as u32);
            }
        }
        let mut over = Vec::new();
        if let Some(limit) = cpu_millis(&q.cpu).filter(|l| used.cpu_millis > *l) {
            over.push(format!(
                "CPU {} asked, {} allowed",
                show_cpu(used.cpu_millis),
                show_cpu(limit)
            ));
        }
        if let Some(limit) = bytes(&q.memory).filter(|l| used.memory_bytes > *l) {
            over.push(format!(
                "memory {} asked, {} allowed",
                show_bytes(used.memory_bytes),
                show_bytes(limit)
            ));
        }
        if let Some(limit) = bytes(&q.storage).filter(|l| used.storage_bytes > *l) {
            over.push(format!(
                "storage {} asked, {} allowed",
                show_bytes(used.storage_bytes),
                show_bytes(limit)
            ));
        }
        if buckets > q.buckets {
            over.push(format!("{buckets} buckets asked, {} allowed", q.buckets));
        }
        let apps = t.apps.len() as u32;
        if apps > q.max_apps {
            over.push(format!("{apps} apps, {} allowed", q.max_apps));
        }
        if over.is_empty() {
            continue;
        }
        let span = unit
            .source_map
            .exact("plan")
            .cloned()
            .or_else(|| unit.source_map.get("apps"));
        out.push(
            Diagnostic::error(
                code::QUOTA_EXCEEDED,
                format!(
                    "tenant {} exceeds the quotas of plan \"{}\": {}",
                    t.id,
                    unit.compiled.plan,
                    over.join("; ")
                ),
            )
            .with_span(span.as_ref(), "on this plan")
            .with_help("choose a larger plan, or smaller `size`s for its apps"),
        );
    }
    out
}
