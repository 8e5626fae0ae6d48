//! Cross-file rules, run on the typed model after evaluation. One file per
//! rule family; every diagnostic has a stable code (see docs/DIAGNOSTICS.md)
//! and points at the user's own line.

mod references;
mod tenants;

use crate::diag::Diagnostic;
use crate::model::{Catalog, Collective, TenantUnit};
use crate::source::SourceMap;

/// What every rule sees.
pub struct Context<'a> {
    pub collective: &'a Collective,
    pub collective_map: &'a SourceMap,
    pub catalog: &'a Catalog,
    pub tenants: &'a [TenantUnit],
}

/// Runs every rule. The result is sorted (file, position, code).
pub fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    out.extend(references::collective(ctx));
    for unit in ctx.tenants {
        out.extend(references::tenant(ctx, unit));
    }
    out.extend(tenants::identity(ctx));
    crate::diag::sort(&mut out);
    out
}
