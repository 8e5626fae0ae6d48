//! Tenant identity: one file per tenant, named after its id, and no id twice.
//!
//! - J0120 a tenant's id differs from its file name
//! - J0213 a tenant takes the id of the collective's own tenant

use super::{Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::SHARED_TENANT;

pub(super) struct Tenants;

impl Rule for Tenants {
    fn codes(&self) -> &'static [Code] {
        &[code::TENANT_FILE_NAME, code::RESERVED_TENANT_ID]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        identity(ctx)
    }
}

fn identity(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let Some(file) = &unit.source_map.file else {
            continue;
        };
        // The shared services' unit comes from jardin.ncl, not a tenant file.
        let collective_file = ctx.collective_map.file.as_ref().map(|f| &f.name);
        if collective_file == Some(&file.name) {
            continue;
        }
        if unit.compiled.tenant.id == SHARED_TENANT {
            out.push(
                Diagnostic::error(
                    code::RESERVED_TENANT_ID,
                    format!(
                        "the tenant id \"{SHARED_TENANT}\" is the collective's own, for its shared services"
                    ),
                )
                .with_span(unit.source_map.get("id").as_ref(), "reserved")
                .with_help(format!(
                    "choose another id (and rename {} after it)",
                    file.name
                )),
            );
            continue;
        }
        let stem = std::path::Path::new(&file.name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = &unit.compiled.tenant.id;
        if *id != stem {
            out.push(
                Diagnostic::error(
                    code::TENANT_FILE_NAME,
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
