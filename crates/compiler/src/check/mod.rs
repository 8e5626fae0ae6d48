//! Cross-file rules, run on the typed model after evaluation: one [`Rule`]
//! trait and one [`Context`] for all of them: one file per rule over the
//! model, `backup.rs` over the coverage and `zones.rs` over the derived
//! zones. Every rule
//! declares the codes it raises; the codes, titles and docs are in
//! `jardin_core::code`, from which docs/DIAGNOSTICS.md is generated.

pub(crate) mod backup;
mod capacity_exceeded;
mod capacity_node_loss;
mod derived_name_collision;
mod derived_name_invalid;
mod duplicate_host;
mod ha_single_replica;
mod host_outside_zone;
mod incompatible_service;
mod missing_capability;
mod network_flows;
mod office;
mod pod_security;
mod quota_exceeded;
mod references;
mod rwo_replicas;
mod singleton_replicas;
mod sso;
mod tenants;
mod usage;
mod www_twin;
mod zone_owned_twice;
mod zones;

use jardin_core::code::Code;
use jardin_core::diag::{Diagnostic, Severity};
use jardin_core::model::{Catalog, Collective, TenantUnit};
use jardin_core::source::{SourceMap, Span};

use crate::backup::Coverage;
use crate::dns::derive::Derived;
use crate::emit::DesiredObject;

pub(crate) use usage::Usage;

/// What every rule sees.
pub struct Context<'a> {
    pub(crate) collective: &'a Collective,
    pub(crate) collective_map: &'a SourceMap,
    pub(crate) catalog: &'a Catalog,
    pub(crate) tenants: &'a [TenantUnit],
    /// Every piece of tenant state and how it is backed up.
    pub(crate) coverage: &'a Coverage,
    /// The derived zones: absent when a tenant did not compile, since the
    /// DNS rules would then judge zones with some records missing.
    pub(crate) zones: Option<&'a Derived>,
}

/// Where a diagnostic about an app's `field` points: the field when the
/// user wrote it, else the app instance.
pub(crate) fn app_span(unit: &TenantUnit, app: &str, field: &str) -> Option<Span> {
    unit.source_map
        .exact(&format!("apps.{app}.{field}"))
        .cloned()
        .or_else(|| unit.source_map.get(&format!("apps.{app}")))
}

/// A rule that spans files.
pub trait Rule: Sync {
    /// Every code the rule may raise.
    fn codes(&self) -> &'static [Code];
    /// Rules of a later stage run only when those of earlier stages found
    /// no error: what they would report then mostly follows from an
    /// earlier cause (a sending domain without SPF, when its host is
    /// outside the tenant's zones), and the user should see the cause.
    fn stage(&self) -> Stage {
        Stage::Model
    }
    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic>;
    /// What a rule judges on one tenant's whole objects, on the tenant's
    /// worker, before they are written and dropped (pod specs are not kept
    /// for the rules across tenants).
    fn check_objects(&self, _unit: &TenantUnit, _objects: &[DesiredObject]) -> Vec<Diagnostic> {
        Vec::new()
    }
}

/// Runs every rule's [`Rule::check_objects`] on one tenant's objects.
pub(crate) fn run_on_objects(unit: &TenantUnit, objects: &[DesiredObject]) -> Vec<Diagnostic> {
    RULES
        .iter()
        .flat_map(|r| r.check_objects(unit, objects))
        .collect()
}

/// When a rule runs, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// References, names, services, capacity, backup.
    Model,
    /// The zones derived from a sound model.
    Zones,
}

/// Every rule, in code order.
pub static RULES: &[&dyn Rule] = &[
    &references::References,
    &tenants::Tenants,
    &duplicate_host::DuplicateHost,
    &host_outside_zone::HostOutsideZone,
    &zone_owned_twice::ZoneOwnedTwice,
    &www_twin::WwwTwin,
    &incompatible_service::IncompatibleService,
    &missing_capability::MissingCapability,
    &sso::Sso,
    &office::Office,
    &rwo_replicas::RwoReplicas,
    &ha_single_replica::HaSingleReplica,
    &singleton_replicas::SingletonReplicas,
    &pod_security::PodSecurity,
    &network_flows::NetworkFlows,
    &quota_exceeded::QuotaExceeded,
    &capacity_exceeded::CapacityExceeded,
    &capacity_node_loss::CapacityNodeLoss,
    &derived_name_invalid::DerivedNameInvalid,
    &derived_name_collision::DerivedNameCollision,
    &backup::Backup,
    &zones::Zones,
];

/// Runs every rule. The result is sorted (file, position, code).
pub(crate) fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for stage in [Stage::Model, Stage::Zones] {
        if out
            .iter()
            .any(|d: &Diagnostic| d.severity == Severity::Error)
        {
            break;
        }
        out.extend(
            RULES
                .iter()
                .filter(|r| r.stage() == stage)
                .flat_map(|r| r.check(ctx)),
        );
    }
    jardin_core::diag::sort(&mut out);
    out
}
