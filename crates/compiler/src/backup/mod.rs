//! Backup policies: which policy applies to each piece of an app's state,
//! and how that piece is backed up.
//!
//! A piece of state is a database, bucket, volume or secret that an app's
//! catalog entry declares (`state`, and `secrets` that encrypt data). Its
//! effective policy is the collective's default, raised by the tenant's
//! plan, then overridden by the tenant, then by the app, field by field. A
//! piece is *covered* (it has a policy and a mechanism that runs on its
//! cluster, and its backup can run: admitted, reachable, with its
//! credentials), *opted out* (with a written reason), or *uncovered* (an
//! error, J0501, or J0862 when the backup is there but cannot run).
//!
//! - `derive`: pure, coverage → Kubernetes objects.
//! - `schedule`: spreading over the night, cron validation.
//! - `rules`: the diagnostics J0501–J0507.
//! - `report`: `backup/coverage.json` and the `jardin backup coverage` table.

pub(crate) mod derive;
pub mod report;
pub(crate) mod schedule;

use std::collections::BTreeMap;

use serde::Serialize;

use jardin_core::model::{
    BackupPolicy, Catalog, Collective, PolicyOverride, Retention, SecretSource, StateKind,
    TenantUnit,
};

/// Where a field of an effective policy was set: the diagnostics point there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Layer {
    Collective,
    Plan,
    Tenant,
    App,
}

/// A resolved policy and, per field (`target`, `retention.daily`, …), the
/// layer that set it.
#[derive(Clone, Debug)]
pub(crate) struct Effective {
    pub(crate) policy: BackupPolicy,
    pub(crate) origin: BTreeMap<&'static str, Layer>,
}

impl Effective {
    pub(crate) fn layer(&self, field: &'static str) -> Layer {
        self.origin.get(field).copied().unwrap_or(Layer::Collective)
    }
}

/// An app's `backup` field, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct AppBackup {
    pub(crate) disabled: Option<String>,
    pub(crate) over: PolicyOverride,
    /// State name → the reason it is not backed up.
    pub(crate) exclude: BTreeMap<String, String>,
    /// Fields jardin does not know (a typo): reported by J0506.
    pub(crate) unknown: Vec<String>,
    /// The override did not match the expected shape: reported by J0506.
    pub(crate) invalid: Option<String>,
}

pub(crate) const APP_BACKUP_FIELDS: [&str; 8] = [
    "target",
    "schedule",
    "retention",
    "pitr_days",
    "encryption_key",
    "verify_schedule",
    "window",
    "exclude",
];

impl AppBackup {
    pub(crate) fn parse(v: &serde_json::Value) -> AppBackup {
        let mut out = AppBackup::default();
        let Some(obj) = v.as_object() else {
            return out; // "inherit"
        };
        if let Some(reason) = obj.get("disabled") {
            out.disabled = Some(reason["reason"].as_str().unwrap_or_default().to_string());
            return out;
        }
        let mut rest = obj.clone();
        if let Some(ex) = rest.remove("exclude") {
            match serde_json::from_value(ex) {
                Ok(e) => out.exclude = e,
                Err(e) => out.invalid = Some(format!("exclude: {e}")),
            }
        }
        out.unknown = rest
            .keys()
            .filter(|k| !APP_BACKUP_FIELDS.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in &out.unknown {
            rest.remove(k);
        }
        match serde_json::from_value(serde_json::Value::Object(rest)) {
            Ok(o) => out.over = o,
            Err(e) => out.invalid = Some(e.to_string()),
        }
        out
    }
}

/// The kind of a piece of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Database,
    Bucket,
    Volume,
    Secret,
    /// A database server of the app's own, read by its dump client.
    Dump,
}

impl From<StateKind> for Kind {
    fn from(k: StateKind) -> Kind {
        match k {
            StateKind::Database => Kind::Database,
            StateKind::Bucket => Kind::Bucket,
            StateKind::Volume => Kind::Volume,
            StateKind::Mariadb | StateKind::Mongodb => Kind::Dump,
        }
    }
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Database => "database",
            Kind::Bucket => "bucket",
            Kind::Volume => "volume",
            Kind::Secret => "secret",
            Kind::Dump => "dump",
        }
    }
}

/// How a covered piece is backed up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Method {
    /// CloudNativePG base backups and WAL archiving (barman cloud).
    CnpgBarman,
    /// k8up (restic) backs up the namespace's PersistentVolumeClaims.
    K8upVolume,
    /// A k8up PreBackupPod streams the bucket with rclone into restic.
    K8upRclone,
    /// A k8up PreBackupPod streams the secret into restic (escrow).
    K8upEscrow,
    /// A k8up PreBackupPod runs the database's dump client and streams the
    /// dump into restic.
    K8upDump,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::CnpgBarman => "cnpg-barman",
            Method::K8upVolume => "k8up-volume",
            Method::K8upRclone => "k8up-rclone",
            Method::K8upEscrow => "k8up-escrow",
            Method::K8upDump => "k8up-dump",
        }
    }

    /// The cluster capability the mechanism needs.
    pub(crate) fn capability(self) -> &'static str {
        match self {
            Method::CnpgBarman => "cnpg",
            _ => "k8up",
        }
    }
}

/// Why a piece is not covered.
#[derive(Clone, Debug)]
pub(crate) enum Gap {
    /// No policy at any layer.
    NoPolicy,
    /// The mechanism's operator is not installed on the cluster.
    Capability(&'static str),
    /// A database with no Postgres service bound.
    NoDatabaseService,
    /// Its backup is emitted but could not run: what stands in the way
    /// (the pod refused by its namespace's Pod Security level, a flow the
    /// NetworkPolicies block, a credential nothing provides), judged on the
    /// emitted objects by `check::backup::settle`.
    CannotRun(Vec<String>),
    /// The policy cannot make a backup at all (no repository password,
    /// J0504; an unknown target, J0107): those rules report the cause,
    /// from the policy kept here.
    NoSchedule { policy: Box<Effective>, why: String },
}

#[derive(Clone, Debug)]
pub(crate) enum Status {
    Covered(Box<Effective>),
    OptedOut { reason: String },
    Uncovered(Gap),
}

/// One piece of state of one app instance.
#[derive(Clone, Debug)]
pub(crate) struct Piece {
    pub(crate) tenant: String,
    /// The key of the app in the tenant's `apps`.
    pub(crate) instance: String,
    pub(crate) app: String,
    pub(crate) cluster: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) criticality: String,
    pub(crate) method: Method,
    /// For databases: (namespace, name) of the CloudNativePG cluster.
    pub(crate) pg: Option<(String, String)>,
    /// For buckets: the object store the app is bound to, which the
    /// backup's rclone pod reads.
    pub(crate) object_store: Option<String>,
    /// For dumps: the server's engine.
    pub(crate) engine: Option<Engine>,
    pub(crate) status: Status,
}

/// A database server jardin runs for an app (`emit::services`), whose
/// dump client backs it up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    Mariadb,
    Mongodb,
}

impl Piece {
    /// `tenant/app/state`; `jardin@<cluster>/app/state` for a shared
    /// service, which every cluster may run under the same name.
    pub(crate) fn id(&self) -> String {
        format!(
            "{}/{}/{}",
            unit_key(&self.tenant, &self.cluster),
            self.instance,
            self.name
        )
    }

    pub(crate) fn effective(&self) -> Option<&Effective> {
        match &self.status {
            Status::Covered(e) => Some(e),
            _ => None,
        }
    }

    /// The policy that applies, whether or not the backup can run: what
    /// the rules about policies judge.
    pub(crate) fn policy(&self) -> Option<&Effective> {
        match &self.status {
            Status::Covered(e) | Status::Uncovered(Gap::NoSchedule { policy: e, .. }) => Some(e),
            _ => None,
        }
    }
}

/// The key of a tenant's unit among the compiled ones: its id, but for the
/// collective's own tenant (the shared services), which has one unit per
/// cluster.
pub(crate) fn unit_key(tenant: &str, cluster: &str) -> String {
    if tenant == jardin_core::model::SHARED_TENANT {
        format!("{tenant}@{cluster}")
    } else {
        tenant.to_string()
    }
}

/// Everything the backup phase knows: every piece of state, in a stable
/// order (tenant, app, kind, name), and each app's parsed `backup` field.
#[derive(Clone, Debug, Default)]
pub(crate) struct Coverage {
    pub(crate) pieces: Vec<Piece>,
    /// (tenant's `unit_key`, instance) → parsed `backup` field.
    pub(crate) apps: BTreeMap<(String, String), AppBackup>,
}

fn set<T: Clone>(
    slot: &mut T,
    value: Option<&T>,
    origin: &mut BTreeMap<&'static str, Layer>,
    field: &'static str,
    layer: Layer,
) {
    if let Some(v) = value {
        *slot = v.clone();
        origin.insert(field, layer);
    }
}

/// Merges one override layer over a policy.
fn apply(e: &mut Effective, o: &PolicyOverride, layer: Layer) {
    let p = &mut e.policy;
    let origin = &mut e.origin;
    set(&mut p.target, o.target.as_ref(), origin, "target", layer);
    set(
        &mut p.schedule,
        o.schedule.as_ref(),
        origin,
        "schedule",
        layer,
    );
    set(
        &mut p.pitr_days,
        o.pitr_days.as_ref(),
        origin,
        "pitr_days",
        layer,
    );
    set(
        &mut p.verify_schedule,
        o.verify_schedule.as_ref(),
        origin,
        "verify_schedule",
        layer,
    );
    if let Some(k) = &o.encryption_key {
        p.encryption_key = Some(k.clone());
        origin.insert("encryption_key", layer);
    }
    if let Some(r) = &o.retention {
        set(
            &mut p.retention.daily,
            r.daily.as_ref(),
            origin,
            "retention.daily",
            layer,
        );
        set(
            &mut p.retention.weekly,
            r.weekly.as_ref(),
            origin,
            "retention.weekly",
            layer,
        );
        set(
            &mut p.retention.monthly,
            r.monthly.as_ref(),
            origin,
            "retention.monthly",
            layer,
        );
    }
    if let Some(w) = &o.window {
        set(
            &mut p.window.start_hour,
            w.start_hour.as_ref(),
            origin,
            "window",
            layer,
        );
        set(
            &mut p.window.hours,
            w.hours.as_ref(),
            origin,
            "window",
            layer,
        );
    }
}

/// The effective policy of one app: collective default, raised by the plan,
/// then the tenant's and the app's overrides. `None` without a default.
pub(crate) fn effective(
    collective: &Collective,
    plan: Option<&str>,
    tenant: &PolicyOverride,
    app: &PolicyOverride,
) -> Option<Effective> {
    let base = collective.defaults.backup.as_ref()?;
    let mut e = Effective {
        policy: base.clone(),
        origin: BTreeMap::new(),
    };
    if let Some(pb) = plan
        .and_then(|p| collective.plans.get(p))
        .map(|p| &p.backup)
    {
        // A plan raises the defaults: it never lowers them.
        let raise = |slot: &mut u32, v: Option<u32>, field, origin: &mut BTreeMap<_, _>| {
            if let Some(v) = v.filter(|v| *v > *slot) {
                *slot = v;
                origin.insert(field, Layer::Plan);
            }
        };
        let r = pb.retention.clone().unwrap_or_default();
        let p = &mut e.policy;
        raise(
            &mut p.retention.daily,
            r.daily,
            "retention.daily",
            &mut e.origin,
        );
        raise(
            &mut p.retention.weekly,
            r.weekly,
            "retention.weekly",
            &mut e.origin,
        );
        raise(
            &mut p.retention.monthly,
            r.monthly,
            "retention.monthly",
            &mut e.origin,
        );
        raise(&mut p.pitr_days, pb.pitr_days, "pitr_days", &mut e.origin);
    }
    apply(&mut e, tenant, Layer::Tenant);
    apply(&mut e, app, Layer::App);
    Some(e)
}

/// The plan a tenant is on (its own, else the collective's default).
pub(crate) fn plan_of<'a>(collective: &'a Collective, unit: &'a TenantUnit) -> &'a str {
    unit.compiled
        .tenant
        .plan
        .as_deref()
        .unwrap_or(&collective.defaults.plan)
}

/// Binds every piece of state of every tenant to its policy.
pub(crate) fn resolve(
    collective: &Collective,
    catalog: &Catalog,
    tenants: &[TenantUnit],
) -> Coverage {
    let mut cov = Coverage::default();
    for unit in tenants {
        let t = &unit.compiled.tenant;
        let plan = plan_of(collective, unit);
        let cluster = collective.clusters.get(&t.cluster);
        for (instance, inst) in &t.apps {
            let Some(entry) = catalog.get(&inst.app) else {
                continue; // J0103 says so
            };
            // An app that could not be resolved (unknown cluster, plan,
            // version or missing service) is reported by `check`; its state
            // would only repeat that error.
            if cluster.is_none() || !unit.compiled.apps.get(instance).is_some_and(|a| a.rendered) {
                continue;
            }
            let parsed = AppBackup::parse(&inst.backup);
            let namespace = unit
                .compiled
                .apps
                .get(instance)
                .map_or_else(|| format!("{}-{instance}", t.id), |a| a.namespace.clone());
            let pg = unit
                .compiled
                .apps
                .get(instance)
                .and_then(|a| a.bindings.postgres.as_ref())
                .and_then(|p| cluster?.services.postgres.get(p))
                .map(|p| (p.namespace.clone(), p.cluster.clone()));
            let store = unit
                .compiled
                .apps
                .get(instance)
                .and_then(|a| a.bindings.object_store.clone());
            let eff = effective(collective, Some(plan), &t.backup, &parsed.over);
            // State the catalog declares, then secrets that encrypt data.
            let mut items: Vec<(String, Kind, String)> = entry
                .state
                .iter()
                .map(|s| (s.name.clone(), Kind::from(s.kind), s.criticality.clone()))
                .collect();
            let engine_of = |name: &str| {
                entry
                    .state
                    .iter()
                    .find(|s| s.name == name)
                    .and_then(|s| match s.kind {
                        StateKind::Mariadb => Some(Engine::Mariadb),
                        StateKind::Mongodb => Some(Engine::Mongodb),
                        _ => None,
                    })
            };
            for (name, decl) in &entry.secrets {
                if decl.encrypts_data
                    && !items
                        .iter()
                        .any(|(n, k, _)| n == name && *k == Kind::Secret)
                {
                    items.push((name.clone(), Kind::Secret, "high".into()));
                }
            }
            items.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            for (name, kind, criticality) in items {
                let method = match kind {
                    Kind::Database => Method::CnpgBarman,
                    Kind::Volume => Method::K8upVolume,
                    Kind::Bucket => Method::K8upRclone,
                    Kind::Secret => Method::K8upEscrow,
                    Kind::Dump => Method::K8upDump,
                };
                let status = if let Some(reason) = &parsed.disabled {
                    Status::OptedOut {
                        reason: reason.clone(),
                    }
                } else if let Some(reason) = parsed.exclude.get(&name) {
                    Status::OptedOut {
                        reason: reason.clone(),
                    }
                } else if let Some(e) = &eff {
                    if kind == Kind::Database && pg.is_none() {
                        Status::Uncovered(Gap::NoDatabaseService)
                    } else if cluster.is_some_and(|c| !c.has(method.capability())) {
                        Status::Uncovered(Gap::Capability(method.capability()))
                    } else {
                        Status::Covered(Box::new(e.clone()))
                    }
                } else {
                    Status::Uncovered(Gap::NoPolicy)
                };
                let engine = if kind == Kind::Dump {
                    engine_of(&name)
                } else {
                    None
                };
                cov.pieces.push(Piece {
                    tenant: t.id.clone(),
                    instance: instance.clone(),
                    app: inst.app.clone(),
                    cluster: t.cluster.clone(),
                    namespace: namespace.clone(),
                    name,
                    kind,
                    criticality,
                    method,
                    pg: if kind == Kind::Database {
                        pg.clone()
                    } else {
                        None
                    },
                    object_store: if kind == Kind::Bucket {
                        store.clone()
                    } else {
                        None
                    },
                    engine,
                    status,
                });
            }
            cov.apps
                .insert((unit_key(&t.id, &t.cluster), instance.clone()), parsed);
        }
    }
    cov
}

/// A retention, for reports.
pub(crate) fn retention_text(r: &Retention) -> String {
    format!("{}d/{}w/{}m", r.daily, r.weekly, r.monthly)
}

/// The name of the Secret a secret source refers to in namespace
/// `jardin-backup` (`fallback` when jardin generates it).
pub fn source_secret(s: &SecretSource, fallback: &str) -> (String, String) {
    match s {
        SecretSource::Ref(r) => (r.name.clone(), r.key.clone()),
        _ => (fallback.to_string(), "password".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jardin_core::model::PartialRetention;

    fn collective(with_default: bool) -> Collective {
        let mut v = crate::test_support::collective_json();
        v["plans"]["small"]["backup"] = serde_json::json!({
            "minimum_retention": {"daily": 7, "weekly": 4, "monthly": 3},
            "minimum_pitr_days": 1, "retention": {"daily": 20}, "pitr_days": 3,
        });
        v["clusters"] = serde_json::json!({});
        v["backup_targets"] = serde_json::json!({});
        if with_default {
            v["defaults"]["backup"] = serde_json::json!({
                "target": "offsite", "schedule": "nightly", "verify_schedule": "weekly",
                "retention": {"daily": 14, "weekly": 10, "monthly": 12}, "pitr_days": 7,
                "window": {"start_hour": 1, "hours": 4}
            });
        } else {
            v["defaults"] = serde_json::json!({"plan": "small"});
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn layers_apply_in_order_and_remember_their_origin() {
        let c = collective(true);
        let tenant = PolicyOverride {
            retention: Some(PartialRetention {
                weekly: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        };
        let app = PolicyOverride {
            target: Some("elsewhere".into()),
            ..Default::default()
        };
        let e = effective(&c, Some("small"), &tenant, &app).unwrap();
        // The plan raises daily (14 -> 20) and pitr (7 -> 3 does not lower).
        assert_eq!(e.policy.retention.daily, 20);
        assert_eq!(e.layer("retention.daily"), Layer::Plan);
        assert_eq!(e.policy.pitr_days, 7);
        assert_eq!(e.layer("pitr_days"), Layer::Collective);
        assert_eq!(e.policy.retention.weekly, 5);
        assert_eq!(e.layer("retention.weekly"), Layer::Tenant);
        assert_eq!(e.policy.target, "elsewhere");
        assert_eq!(e.layer("target"), Layer::App);
        assert_eq!(e.policy.retention.monthly, 12);
    }

    #[test]
    fn no_default_means_no_policy() {
        let c = collective(false);
        let o = PolicyOverride::default();
        assert!(effective(&c, Some("small"), &o, &o).is_none());
    }

    #[test]
    fn app_backup_parses_every_shape() {
        assert!(AppBackup::parse(&serde_json::json!("inherit"))
            .disabled
            .is_none());
        let d = AppBackup::parse(&serde_json::json!({"disabled": {"reason": "scratch data only"}}));
        assert_eq!(d.disabled.as_deref(), Some("scratch data only"));
        let o = AppBackup::parse(&serde_json::json!({
            "pitr_days": 30, "exclude": {"html": "rebuilt from the image"}, "retension": {}
        }));
        assert_eq!(o.over.pitr_days, Some(30));
        assert_eq!(o.exclude.len(), 1);
        assert_eq!(o.unknown, vec!["retension".to_string()]);
        let bad = AppBackup::parse(&serde_json::json!({"pitr_days": "many"}));
        assert!(bad.invalid.is_some());
    }

    #[test]
    fn odd_overrides_never_panic() {
        let odd = [
            serde_json::json!(null),
            serde_json::json!(42),
            serde_json::json!([1, 2]),
            serde_json::json!({"disabled": "no reason record"}),
            serde_json::json!({"exclude": ["html"]}),
            serde_json::json!({"exclude": {"html": 3}}),
            serde_json::json!({"pitr_days": -1}),
            serde_json::json!({"pitr_days": 1e20}),
            serde_json::json!({"retention": {"daily": "many"}}),
            serde_json::json!({"window": {"hours": 0}}),
            serde_json::json!({"": {}, "\u{0}": null}),
        ];
        for v in odd {
            let _ = AppBackup::parse(&v);
        }
    }
}
