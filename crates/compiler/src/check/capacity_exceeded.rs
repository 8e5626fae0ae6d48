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

/// Requests per cluster, summed over its tenants: only the clusters whose
/// every request can be read (the quota rule reports the others).
pub(crate) fn per_cluster<'a>(ctx: &Context<'a>) -> BTreeMap<&'a str, Usage> {
    let mut m: BTreeMap<&str, Option<Usage>> = BTreeMap::new();
    for unit in ctx.tenants {
        let sum = m
            .entry(unit.compiled.tenant.cluster.as_str())
            .or_insert(Some(Usage::default()));
        for app in unit.compiled.apps.values() {
            let Some(u) = sum else { break };
            match Usage::of_app(app) {
                Ok(a) => *u += a,
                Err(_) => *sum = None,
            }
        }
    }
    m.into_iter().filter_map(|(c, u)| Some((c, u?))).collect()
}

/// `fraction` as `num / den`: the fractions asked for are 1, 0.8 and
/// (nodes - 1) / nodes, whole ratios that a float only approximates.
fn ratio(fraction: f64) -> (u128, u128) {
    for den in 1..=1000u32 {
        let num = fraction * f64::from(den);
        if (num - num.round()).abs() < 1e-9 {
            return (num.round() as u128, u128::from(den));
        }
    }
    ((fraction * 1e6).round() as u128, 1_000_000)
}

/// `used > cap × num / den`, exactly.
fn exceeds(used: u128, cap: u64, (num, den): (u128, u128)) -> bool {
    used.checked_mul(den)
        .is_none_or(|u| u > u128::from(cap) * num)
}

/// `thousandths / 1000` with at most three decimals.
fn decimal(thousandths: u128) -> String {
    let (whole, frac) = (thousandths / 1000, thousandths % 1000);
    if frac == 0 {
        return format!("{whole}");
    }
    let frac = format!("{frac:03}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// `n / d` rounded to the nearest thousandth of `unit`.
fn thousandths(n: u128, d: u128, unit: u128) -> u128 {
    (2 * n * 1000 + d * unit) / (2 * d * unit)
}

/// `cap × num / den` CPU: exact when a whole number of millicores, else to
/// the nearest one.
fn show_cpu_share(cap: u64, (num, den): (u128, u128)) -> String {
    let n = u128::from(cap) * num;
    show_cpu((2 * n + den) / (2 * den))
}

/// `cap × num / den` bytes: exact when a whole number, else to three
/// decimals of the largest binary unit below it ("1.6Gi" for 80% of 2Gi).
fn show_bytes_share(cap: u64, (num, den): (u128, u128)) -> String {
    let n = u128::from(cap) * num;
    if n.is_multiple_of(den) {
        return show_bytes(n / den);
    }
    for (unit, shift) in [("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        let size = 1u128 << shift;
        if n >= den * size {
            return format!("{}{unit}", decimal(thousandths(n, den, size)));
        }
    }
    decimal(thousandths(n, den, 1))
}

/// (resource, asked, available) over a fraction of the capacity. A
/// capacity that cannot be read is not compared (the quota rule reports
/// it).
pub(super) fn over(used: &Usage, cap: &jardin_core::model::Capacity, fraction: f64) -> Vec<String> {
    let mut v = Vec::new();
    let share = ratio(fraction);
    if let Some(c) = cpu_millis(&cap.cpu).filter(|c| exceeds(used.cpu_millis, *c, share)) {
        v.push(format!(
            "CPU {} asked of {}",
            show_cpu(used.cpu_millis),
            show_cpu_share(c, share)
        ));
    }
    if let Some(c) = bytes(&cap.memory).filter(|c| exceeds(used.memory_bytes, *c, share)) {
        v.push(format!(
            "memory {} asked of {}",
            show_bytes(used.memory_bytes),
            show_bytes_share(c, share)
        ));
    }
    if let Some(c) = bytes(&cap.storage).filter(|c| exceeds(used.storage_bytes, *c, share)) {
        v.push(format!(
            "storage {} asked of {}",
            show_bytes(used.storage_bytes),
            show_bytes_share(c, share)
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

#[cfg(test)]
mod tests {
    use super::*;
    use jardin_core::model::Capacity;

    fn capacity(cpu: &str, memory: &str) -> Capacity {
        Capacity {
            cpu: cpu.into(),
            memory: memory.into(),
            storage: "1Ti".into(),
            nodes: 3,
        }
    }

    fn used(cpu_millis: u128, memory_bytes: u128) -> Usage {
        Usage {
            cpu_millis,
            memory_bytes,
            storage_bytes: 0,
        }
    }

    #[test]
    fn fractions_are_whole_ratios() {
        assert_eq!(ratio(1.0), (1, 1));
        assert_eq!(ratio(0.8), (4, 5));
        assert_eq!(ratio(2.0 / 3.0), (2, 3));
        assert_eq!(ratio(999.0 / 1000.0), (999, 1000));
    }

    #[test]
    fn a_request_equal_to_the_share_is_not_over() {
        // Two thirds of 3 CPUs is 2 CPUs exactly, which a float makes 1.999.
        let cap = capacity("3", "3Gi");
        assert!(over(&used(2000, 2 << 30), &cap, 2.0 / 3.0).is_empty());
        assert_eq!(
            over(&used(2001, (2 << 30) + 1), &cap, 2.0 / 3.0),
            ["CPU 2.001 asked of 2", "memory 2147483649 asked of 2Gi"]
        );
    }

    #[test]
    fn shares_show_as_written() {
        let cap = capacity("1", "2Gi");
        assert_eq!(
            over(&used(900, 2 << 30), &cap, 0.8),
            ["CPU 0.9 asked of 0.8", "memory 2Gi asked of 1.6Gi"]
        );
        let cap = capacity("1", "64Gi");
        assert_eq!(
            over(&used(1000, 64 << 30), &cap, 2.0 / 3.0),
            ["CPU 1 asked of 0.667", "memory 64Gi asked of 42.667Gi"]
        );
    }

    #[test]
    fn an_unreadable_capacity_is_not_compared() {
        let cap = capacity("lots", "2Gi");
        assert_eq!(over(&used(u128::MAX, 0), &cap, 1.0), Vec::<String>::new());
    }
}
