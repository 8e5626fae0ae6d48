//! J0211: a hostname outside every zone its tenant owns.

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct HostOutsideZone;

impl Rule for HostOutsideZone {
    fn codes(&self) -> &'static [Code] {
        &[code::HOST_OUTSIDE_ZONE]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }
}

/// True when `host` is `zone` or below it.
pub(crate) fn in_zone(host: &str, zone: &str) -> bool {
    host == zone
        || host
            .strip_suffix(zone)
            .is_some_and(|rest| rest.ends_with('.'))
}

fn apex_guess(host: &str) -> String {
    let labels: Vec<&str> = host.split('.').collect();
    labels[labels.len().saturating_sub(2)..].join(".")
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        for (host, app, path) in super::duplicate_host::claims(unit) {
            if t.zones.iter().any(|z| in_zone(&host, &z.to_lowercase())) {
                continue;
            }
            let help = if t.zones.is_empty() {
                format!(
                    "add the zone to the tenant: zones = [\"{}\"]",
                    apex_guess(&host)
                )
            } else {
                format!(
                    "the tenant owns {}; add the zone of \"{host}\" to `zones` if it is theirs",
                    t.zones.join(", ")
                )
            };
            out.push(
                Diagnostic::error(
                    code::HOST_OUTSIDE_ZONE,
                    format!("{}/{app}: \"{host}\" is outside the tenant's zones", t.id),
                )
                .with_span(
                    unit.source_map.get(&path).as_ref(),
                    "not in any zone of this tenant",
                )
                .with_help(help),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn zone_membership_is_by_label() {
        assert!(super::in_zone("a.b.org", "b.org"));
        assert!(super::in_zone("b.org", "b.org"));
        assert!(!super::in_zone("ab.org", "b.org"));
    }
}
