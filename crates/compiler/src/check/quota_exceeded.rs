//! J0810: a tenant asking more than its plan allows. This rule also
//! reports every quantity that it and the capacity rules (J0811 to J0813)
//! cannot read, once each: in the apps' rendered objects, in the plans'
//! quotas and in the clusters' capacities. Such a quantity is never
//! counted as zero; what depends on it is not compared.

use super::usage::Unreadable;
use super::{app_span, Code, Context, Rule, Usage};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::TenantUnit;
use jardin_core::quantity::{parse_bytes, parse_cpu_millis, show_bytes, show_cpu, QuantityError};
use jardin_core::source::Span;

pub(super) struct QuotaExceeded;

impl Rule for QuotaExceeded {
    fn codes(&self) -> &'static [Code] {
        &[code::QUOTA_EXCEEDED, code::UNREADABLE_QUANTITY]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = unreadable_declarations(ctx);
        out.extend(run(ctx));
        out
    }
}

/// What to do about a quantity jardin cannot read.
fn help(error: QuantityError) -> &'static str {
    match error {
        QuantityError::Malformed => {
            "a Kubernetes quantity is a number and an optional suffix: \"250m\", \"2\", \"512Mi\", \"1.5Gi\", \"1e9\""
        }
        QuantityError::Negative => "requests, quotas and capacities cannot be negative",
        QuantityError::TooLarge => {
            "jardin counts up to 2^64 - 1 bytes (almost 16Ei) or millicores"
        }
    }
}

fn unreadable(
    message: String,
    error: QuantityError,
    span: Option<&Span>,
    label: &str,
) -> Diagnostic {
    Diagnostic::error(code::UNREADABLE_QUANTITY, message)
        .with_span(span, label)
        .with_help(help(error))
}

/// Plan quotas and cluster capacities that cannot be read.
fn unreadable_declarations(ctx: &Context<'_>) -> Vec<Diagnostic> {
    type Parse = fn(&str) -> Result<u64, QuantityError>;
    /// (field, resource, quantity, how to read it)
    fn fields<'a>(
        cpu: &'a str,
        memory: &'a str,
        storage: &'a str,
    ) -> [(&'static str, &'static str, &'a str, Parse); 3] {
        [
            ("cpu", "CPU", cpu, parse_cpu_millis),
            ("memory", "memory", memory, parse_bytes),
            ("storage", "storage", storage, parse_bytes),
        ]
    }
    let plans = ctx.collective.plans.iter().map(|(name, p)| {
        let q = &p.quotas;
        (
            format!("plan \"{name}\""),
            format!("plans.{name}.quotas"),
            "quota",
            fields(&q.cpu, &q.memory, &q.storage),
        )
    });
    let clusters = ctx.collective.clusters.iter().map(|(name, c)| {
        let c = &c.capacity;
        (
            format!("cluster \"{name}\""),
            format!("clusters.{name}.capacity"),
            "capacity",
            fields(&c.cpu, &c.memory, &c.storage),
        )
    });
    let mut out = Vec::new();
    for (owner, path, kind, fields) in plans.chain(clusters) {
        for (key, resource, q, parse) in fields {
            if let Err(e) = parse(q) {
                out.push(unreadable(
                    format!("{owner}: {resource} {kind} \"{q}\" {e}"),
                    e,
                    ctx.collective_map.get(&format!("{path}.{key}")).as_ref(),
                    "this quantity",
                ));
            }
        }
    }
    out
}

/// What the tenant's apps ask, or None (and an error for each quantity it
/// cannot read).
fn tenant_usage(unit: &TenantUnit, out: &mut Vec<Diagnostic>) -> Option<Usage> {
    let mut used = Some(Usage::default());
    for (name, app) in &unit.compiled.apps {
        match Usage::of_app(app) {
            Ok(u) => {
                if let Some(used) = &mut used {
                    *used += u;
                }
            }
            Err(bad) => {
                used = None;
                let span = app_span(unit, name, "size");
                for Unreadable {
                    resource,
                    value,
                    place,
                    error,
                } in bad
                {
                    out.push(unreadable(
                        format!(
                            "app \"{name}\" of tenant {}: {resource} {value} {error} ({place})",
                            unit.compiled.tenant.id
                        ),
                        error,
                        span.as_ref(),
                        "in the objects of this app",
                    ));
                }
            }
        }
    }
    used
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        let used = tenant_usage(unit, &mut out);
        let Some(plan) = ctx.collective.plans.get(&unit.compiled.plan) else {
            continue;
        };
        let q = &plan.quotas;
        let mut buckets = 0u32;
        for app in unit.compiled.apps.values() {
            if app.bindings.object_store.is_some() {
                buckets += ctx
                    .catalog
                    .get(&app.app)
                    .map_or(0, |a| a.requires.buckets.len() as u32);
            }
        }
        let mut over = Vec::new();
        // An unreadable quantity on either side was reported above.
        if let Some(used) = used {
            let cpu = parse_cpu_millis(&q.cpu).ok();
            if let Some(limit) = cpu.filter(|l| used.cpu_millis > u128::from(*l)) {
                over.push(format!(
                    "CPU {} asked, {} allowed",
                    show_cpu(used.cpu_millis),
                    show_cpu(limit)
                ));
            }
            let memory = parse_bytes(&q.memory).ok();
            if let Some(limit) = memory.filter(|l| used.memory_bytes > u128::from(*l)) {
                over.push(format!(
                    "memory {} asked, {} allowed",
                    show_bytes(used.memory_bytes),
                    show_bytes(limit)
                ));
            }
            let storage = parse_bytes(&q.storage).ok();
            if let Some(limit) = storage.filter(|l| used.storage_bytes > u128::from(*l)) {
                over.push(format!(
                    "storage {} asked, {} allowed",
                    show_bytes(used.storage_bytes),
                    show_bytes(limit)
                ));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::capacity_exceeded::per_cluster;
    use jardin_core::model::{Catalog, Collective, CompiledTenant};
    use jardin_core::source::SourceMap;
    use serde_json::{json, Value};

    fn collective(quota_cpu: &str, capacity_memory: &str) -> Collective {
        let mut v = crate::test_support::collective_json();
        v["plans"]["small"]["quotas"]["cpu"] = json!(quota_cpu);
        v["clusters"]["k"]["capacity"]["memory"] = json!(capacity_memory);
        serde_json::from_value(v).unwrap()
    }

    fn tenant(requests: Value) -> TenantUnit {
        let compiled: CompiledTenant = serde_json::from_value(json!({
            "plan": "small",
            "tenant": {"id": "t", "display_name": "T", "contacts": [], "cluster": "k", "plan": null,
                       "state": "active", "zones": [], "mail": null, "backup": {},
                       "apps": {"web": {"app": "web", "host": "w.example.org", "aliases": [],
                                        "bindings": {}, "secrets": {}, "backup": "inherit", "state": "active"}}},
            "apps": {"web": {"app": "web", "version": "1", "namespace": "t-web", "host": "w.example.org",
                             "hosts": [], "size": "s", "state": "active", "missing_services": [],
                             "bindings": {"postgres": null, "object_store": null, "smtp": null},
                             "rendered": true, "objects": [{
                                 "kind": "Deployment", "metadata": {"name": "web"},
                                 "spec": {"replicas": 2, "template": {"spec": {"containers": [
                                     {"name": "app", "resources": {"requests": requests}},
                                 ]}}},
                             }]}},
        }))
        .unwrap();
        let mut compiled = compiled;
        for app in compiled.apps.values_mut() {
            app.facts = jardin_core::facts::of_objects(&app.objects);
        }
        TenantUnit {
            compiled,
            source_map: SourceMap::default(),
            from_cache: false,
        }
    }

    /// The messages of the quota rule, and the clusters the capacity rules
    /// can compare.
    fn check(c: &Collective, requests: Value) -> (Vec<String>, Vec<String>) {
        let tenants = [tenant(requests)];
        let catalog: Catalog = serde_json::from_value(json!({})).unwrap();
        let coverage = crate::backup::resolve(c, &catalog, &tenants);
        let map = SourceMap::default();
        let ctx = Context {
            collective: c,
            collective_map: &map,
            catalog: &catalog,
            tenants: &tenants,
            coverage: &coverage,
            zones: None,
        };
        let messages = QuotaExceeded
            .check(&ctx)
            .into_iter()
            .map(|d| {
                assert!(d.severity == jardin_core::diag::Severity::Error);
                d.message
            })
            .collect();
        let clusters = per_cluster(&ctx).keys().map(|k| k.to_string()).collect();
        (messages, clusters)
    }

    #[test]
    fn over_quota_shows_exact_quantities() {
        let (messages, clusters) = check(
            &collective("2", "4Gi"),
            json!({"cpu": "1001m", "memory": "0.75Gi"}),
        );
        assert_eq!(
            messages,
            ["tenant t exceeds the quotas of plan \"small\": CPU 2.002 asked, 2 allowed; memory 1.5Gi asked, 1Gi allowed"]
        );
        assert_eq!(clusters, ["k"]);
    }

    #[test]
    fn an_unreadable_request_is_an_error_not_zero() {
        let (messages, clusters) = check(
            &collective("2", "4Gi"),
            json!({"cpu": "lots", "memory": "8Gi"}),
        );
        assert_eq!(
            messages,
            ["app \"web\" of tenant t: CPU \"lots\" is not a Kubernetes quantity (Deployment \"web\", container \"app\", resources.requests.cpu)"]
        );
        // Not compared with partial sums: not against the quota, not against
        // the cluster.
        assert!(clusters.is_empty());
    }

    #[test]
    fn unreadable_quotas_and_capacities_are_errors() {
        let (messages, clusters) = check(
            &collective("-1", "99999Ei"),
            json!({"cpu": "100m", "memory": "1Mi"}),
        );
        assert_eq!(
            messages,
            [
                "plan \"small\": CPU quota \"-1\" is negative",
                "cluster \"k\": memory capacity \"99999Ei\" is larger than jardin can count",
            ]
        );
        assert_eq!(clusters, ["k"]);
    }
}
