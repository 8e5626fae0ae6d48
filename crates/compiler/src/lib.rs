//! The compiler proper: from the evaluated config (jardin-eval) and the
//! typed model (jardin-core) to the desired state (manifests, zones, backup
//! policies), the rules that span files, the dependency graph, plans
//! against live state and reviews between revisions. It knows no Nickel and
//! opens no socket: the network clients live in jardin-net. See
//! docs/ARCHITECTURE.md for the code map.

pub mod apply;
pub mod backup;
pub mod catalog_page;
pub mod check;
pub mod dns;
pub mod emit;
pub mod graph;
pub mod live;
pub mod pipeline;
pub mod plan;
pub mod review;
pub mod schema;
pub(crate) mod shared;
pub mod stamp;

/// Helpers shared by unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::BTreeMap;

    use serde_json::json;

    use crate::plan::diff::{FieldChange, Op};
    use crate::plan::{Action, Change, Counts, ObjectId, Plan};

    /// A small collective, as the JSON the stdlib would give: plan `small`,
    /// cluster `k` (paris, no capability), backup target `offsite` (lyon).
    /// Tests change the fields they are about.
    pub(crate) fn collective_json() -> serde_json::Value {
        json!({
            "name": "c", "contact": "a@b.org", "catalog_version": "1",
            "defaults": {"plan": "small", "backup": {
                "target": "offsite", "schedule": "nightly", "verify_schedule": "weekly",
                "retention": {"daily": 14, "weekly": 10, "monthly": 12}, "pitr_days": 7,
                "window": {"start_hour": 1, "hours": 4},
                "encryption_key": {"ref": {"name": "repo", "key": "pw"}},
            }},
            "plans": {"small": {
                "description": "", "default_size": "s", "sizes": {}, "ha": false,
                "quotas": {"cpu": "1", "memory": "1Gi", "storage": "1Gi", "buckets": 1, "max_apps": 1},
                "backup": {"minimum_retention": {"daily": 7, "weekly": 4, "monthly": 3}, "minimum_pitr_days": 1},
            }},
            "clusters": {"k": {
                "location": "paris", "kubernetes_version": "1.33",
                "ingress": {"class": "nginx", "ipv4": [], "ipv6": [], "hostname": "i.example.org", "cluster_issuer": "le", "namespace": "ingress-nginx"},
                "storage_classes": {"rwo": "rbd"},
                "capacity": {"cpu": "1", "memory": "1Gi", "storage": "1Gi", "nodes": 1},
                "capabilities": [],
            }},
            "backup_targets": {"offsite": {
                "endpoint": "https://s3.lyon.example.net", "bucket": "b", "prefix": "", "region": "r",
                "location": "lyon", "credentials": {"ref": {"name": "s3", "key": "k"}},
                "credential_keys": {"access_key_id": "id", "secret_access_key": "secret"},
            }},
            "smtp_relays": {}, "zones": {},
            "zone_defaults": zone_settings_json(3600),
        })
    }

    /// A zone's settings as the stdlib's defaults give them, with `ttl`.
    pub(crate) fn zone_settings(ttl: u32) -> jardin_core::model::Zone {
        serde_json::from_value(zone_settings_json(ttl)).unwrap()
    }

    /// The same, as the JSON a collective holds.
    pub(crate) fn zone_settings_json(ttl: u32) -> serde_json::Value {
        json!({
            "provider": "zonefile", "ttl": ttl, "exclusive": false, "hosts": "cname",
            "nameservers": [], "caa_issuers": ["letsencrypt.org"],
            "matrix_delegation": "well-known",
            "deletion_budget": { "count": 10, "percent": 10 }, "records": [],
        })
    }

    /// A small deterministic pseudo-random sequence (xorshift64), for tests
    /// that generate many inputs and must give the same ones every run.
    pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// `tenants` tenants with `per_tenant` updated Deployments each, every
    /// update with a diff, and one change in ten needing approval.
    pub(crate) fn plan_of_updates(tenants: usize, per_tenant: usize) -> Plan {
        let mut p = Plan {
            format_version: 1,
            jardin_version: String::new(),
            tenants_filter: Vec::new(),
            desired_hash: String::new(),
            live_hash: String::new(),
            live_sources: BTreeMap::new(),
            summary: Counts::default(),
            tenants: BTreeMap::new(),
            approval: vec!["deletes 12 objects, more than --max-deletes 10".into()],
            changes: Vec::new(),
            server_side: false,
            zones: Vec::new(),
        };
        for t in 0..tenants {
            let tenant = format!("association-numero-{t:05}");
            let counts = p.tenants.entry(tenant.clone()).or_default();
            counts.unchanged = 40;
            for i in 0..per_tenant {
                counts.update += 1;
                let object = |image: &str| json!({ "kind": "Deployment", "spec": { "replicas": 2, "image": image, "env": [i, t] } });
                p.changes.push(Change {
                    action: Action::Update,
                    id: ObjectId {
                        cluster: "louise-michel".into(),
                        namespace: format!("{tenant}-app{i}"),
                        group: "apps".into(),
                        kind: "Deployment".into(),
                        name: "nextcloud".into(),
                    },
                    api_version: "apps/v1".into(),
                    tenant: Some(tenant.clone()),
                    fields: vec![FieldChange {
                        op: Op::Replace,
                        path: "spec.image".into(),
                        before: None,
                        after: None,
                    }],
                    reason: None,
                    approval: if (t + i) % 10 == 0 {
                        vec!["changes an immutable field".into()]
                    } else {
                        Vec::new()
                    },
                    desired: Some(object("nextcloud:31")),
                    live_digest: None,
                    live: Some(object("nextcloud:30")),
                });
            }
            p.summary.update += per_tenant;
            p.summary.unchanged += 40;
        }
        p
    }
}
