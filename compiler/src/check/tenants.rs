//! Tenant identity: one file per tenant, named after its id, and no id twice.
//!
//! - J0120 a tenant's id differs from its file name

use super::{Code, Context, Rule};
use crate::diag::Diagnostic;

pub const RULE: Rule = Rule {
    codes: &[Code {
        code: "J0120",
        title: "tenant id differs from its file name",
        doc: "A tenant file is named after the tenant's id (`tenants/<id>.ncl`), so that each tenant is defined once and found by name. Two files can then never define the same tenant.",
    }],
    run: identity,
};

fn identity(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let Some(file) = &unit.source_map.file else {
            continue;
        };
        let stem = std::path::Path::new(&file.name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = &unit.compiled.tenant.id;
        if *id != stem {
            out.push(
                Diagnostic::error(
                    "J0120",
                    format!("tenant \"{id}\" is defined in {}", file.name),
                )
                .with_span(
                    unit.source_map.get("id").as_ref(),
                    "the id must match the file name",
                )
                .with_help(format!(
                    "rename the file to tenants/{id}.ncl, or set id = \"{stem}\""
                )),
            );
        }
    }
    out
}
