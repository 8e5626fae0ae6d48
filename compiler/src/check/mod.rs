//! Cross-file rules, run on the typed model after evaluation. One file per
//! rule; every rule has a stable code and a doc paragraph, listed in
//! [`RULES`] and in docs/DIAGNOSTICS.md (a test keeps both in step).

mod capacity_exceeded;
mod capacity_node_loss;
mod derived_name_collision;
mod derived_name_invalid;
mod duplicate_host;
mod ha_single_replica;
mod host_outside_zone;
mod incompatible_service;
mod missing_capability;
mod quota_exceeded;
mod references;
mod rwo_replicas;
mod tenants;
mod usage;
mod zone_owned_twice;

use crate::diag::Diagnostic;
use crate::model::{Catalog, Collective, TenantUnit};
use crate::source::SourceMap;

pub use usage::Usage;

/// What every rule sees.
pub struct Context<'a> {
    pub collective: &'a Collective,
    pub collective_map: &'a SourceMap,
    pub catalog: &'a Catalog,
    pub tenants: &'a [TenantUnit],
}

/// Where a diagnostic about an app's `field` points: the field when the
/// user wrote it, else the app instance.
pub(crate) fn app_span(unit: &TenantUnit, app: &str, field: &str) -> Option<crate::source::Span> {
    unit.source_map
        .exact(&format!("apps.{app}.{field}"))
        .cloned()
        .or_else(|| unit.source_map.get(&format!("apps.{app}")))
}

/// A diagnostic code: stable, with a title and a doc paragraph.
pub struct Code {
    pub code: &'static str,
    pub title: &'static str,
    pub doc: &'static str,
}

/// A rule: the codes it may raise, and the check.
pub struct Rule {
    pub codes: &'static [Code],
    pub run: fn(&Context<'_>) -> Vec<Diagnostic>,
}

/// Every rule, in code order.
pub static RULES: &[Rule] = &[
    references::RULE,
    tenants::RULE,
    duplicate_host::RULE,
    host_outside_zone::RULE,
    zone_owned_twice::RULE,
    incompatible_service::RULE,
    missing_capability::RULE,
    rwo_replicas::RULE,
    ha_single_replica::RULE,
    quota_exceeded::RULE,
    capacity_exceeded::RULE,
    capacity_node_loss::RULE,
    derived_name_invalid::RULE,
    derived_name_collision::RULE,
];

/// Runs every rule. The result is sorted (file, position, code).
pub fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = RULES.iter().flat_map(|r| (r.run)(ctx)).collect();
    crate::diag::sort(&mut out);
    out
}

/// Every diagnostic code jardin can raise, sorted, for docs/DIAGNOSTICS.md.
pub fn all_codes() -> Vec<&'static Code> {
    let mut codes: Vec<&Code> = RULES
        .iter()
        .flat_map(|r| r.codes.iter())
        .chain(OTHER_CODES.iter())
        .chain(crate::backup::rules::CODES.iter())
        .chain(crate::dns::CODES.iter())
        .chain(crate::plan::CODES.iter())
        .collect();
    codes.sort_by_key(|c| c.code);
    codes
}

/// Codes of diagnostics raised outside `check` (evaluation, schema), with
/// their docs, for docs/DIAGNOSTICS.md.
pub static OTHER_CODES: &[Code] = &[
    Code { code: "J0001", title: "syntax error", doc: "A Nickel file does not parse. The diagnostic points at the first token the parser could not accept." },
    Code { code: "J0002", title: "contract violation", doc: "A value does not satisfy the stdlib contract of its field: a wrong type, a missing or misspelt field, a value out of range. The message names the full field path; the help names the contract and suggests the closest field name for a misspelling." },
    Code { code: "J0003", title: "not exportable", doc: "The evaluated config contains something that is not data (a function, a number too large for JSON)." },
    Code { code: "J0004", title: "import failed", doc: "A Nickel `import` could not be resolved. Imports resolve relative to the importing file, then in the embedded library (`jardin/std.ncl`, `jardin/catalog/*.ncl`)." },
    Code { code: "J0005", title: "cannot read", doc: "A file or directory of the config root could not be read." },
    Code { code: "J0006", title: "interpreter crash", doc: "The Nickel interpreter panicked on this file. jardin caught it; the other files are still checked. Simplify the file around recent changes to work around it and report it." },
    Code { code: "J0007", title: "model mismatch", doc: "The evaluated value does not match jardin's Rust model: the stdlib and the compiler disagree. This is a bug in jardin." },
    Code { code: "J0008", title: "cannot write", doc: "The output could not be written. The previous output directory is left as it was." },
    Code { code: "J0201", title: "invalid hostname", doc: "A hostname is not a valid DNS name: labels of 1 to 63 lowercase letters, digits or '-', at most 253 characters, no trailing dot. Raised by the `Hostname` contract." },
    Code { code: "J0202", title: "invalid identifier", doc: "An identifier that becomes a Kubernetes name or a DNS label (a tenant id, a realm) is not a DNS label. Raised by the `DnsLabel` contract." },
    Code { code: "J0701", title: "literal secret", doc: "A secret was written as a value in the config. Secrets are generated in the cluster (`{ generate = {} }`), referenced from an existing Secret (`{ ref = { name, key } }`) or read from outside by jardin itself (`{ external = \"env:VAR\" }`); never committed. Raised by the `SecretSource` contract." },
    Code { code: "J0830", title: "dependency cycle", doc: "The resources jardin would create need each other in a circle, so none can be created first. The diagnostic lists the whole path, each step pointing at the app it belongs to." },
    Code { code: "J0901", title: "schema violation", doc: "An emitted object does not validate against the JSON schema of its kind for the target Kubernetes version. It names the object and the JSON path; nothing is written." },
];
