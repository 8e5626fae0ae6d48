//! What an app asks of its cluster, summed from its rendered objects:
//! requests × replicas for Deployments and StatefulSets (a container with
//! a limit and no request asks its limit, as Kubernetes defaults it),
//! requests of PersistentVolumeClaims. A quantity that cannot be read is
//! never counted as zero: the app's usage is then unknown, and the rule
//! that sums it reports every such quantity ([`Unreadable`]).

use std::ops::AddAssign;

use serde_json::Value;

use jardin_core::model::CompiledApp;
use jardin_core::quantity::{parse_json_bytes, parse_json_cpu, QuantityError};

/// Sums in u128: a u64 quantity times u64 replicas fits, and so does any
/// number of such products this side of 2^64 of them (the additions
/// saturate rather than wrap, which no config reaches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) cpu_millis: u128,
    pub(crate) memory_bytes: u128,
    pub(crate) storage_bytes: u128,
}

impl AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.cpu_millis = self.cpu_millis.saturating_add(o.cpu_millis);
        self.memory_bytes = self.memory_bytes.saturating_add(o.memory_bytes);
        self.storage_bytes = self.storage_bytes.saturating_add(o.storage_bytes);
    }
}

/// A quantity in an app's rendered objects that jardin cannot count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unreadable {
    /// "CPU", "memory" or "storage".
    pub(crate) resource: &'static str,
    /// The value as JSON (`"1.2.3"`, `-1`).
    pub(crate) value: String,
    /// Where: `Deployment "web", container "app", resources.requests.cpu`.
    pub(crate) place: String,
    pub(crate) error: QuantityError,
}

type Parse = fn(&Value) -> Result<u64, QuantityError>;

impl Usage {
    /// What `app` asks, or every quantity of its objects that jardin
    /// cannot read. Limits are read too, so that a malformed one is an
    /// error here rather than at apply time.
    pub(crate) fn of_app(app: &CompiledApp) -> Result<Usage, Vec<Unreadable>> {
        let mut u = Usage::default();
        let mut bad = Vec::new();
        for o in &app.facts {
            let name = if o.name.is_empty() { "?" } else { &*o.name };
            match o.kind {
                kind @ ("Deployment" | "StatefulSet") => {
                    let replicas = u128::from(o.replicas.unwrap_or(1));
                    for c in &o.containers {
                        let sums: [(&str, &str, Parse, &mut u128); 2] = [
                            ("cpu", "CPU", parse_json_cpu, &mut u.cpu_millis),
                            ("memory", "memory", parse_json_bytes, &mut u.memory_bytes),
                        ];
                        for (key, resource, parse, sum) in sums {
                            let mut asked = None;
                            for field in ["requests", "limits"] {
                                let Some(v) = c.resource(field, key) else {
                                    continue;
                                };
                                match parse(v) {
                                    Ok(n) => {
                                        asked.get_or_insert(n);
                                    }
                                    Err(error) => bad.push(Unreadable {
                                        resource,
                                        value: v.to_string(),
                                        place: format!(
                                            "{kind} \"{name}\", container \"{}\", resources.{field}.{key}",
                                            c.name.as_deref().unwrap_or("?")
                                        ),
                                        error,
                                    }),
                                }
                            }
                            if let Some(n) = asked {
                                *sum = sum.saturating_add(replicas * u128::from(n));
                            }
                        }
                    }
                }
                "PersistentVolumeClaim" => {
                    let Some(v) = &o.storage else {
                        continue;
                    };
                    match parse_json_bytes(v) {
                        Ok(n) => u.storage_bytes = u.storage_bytes.saturating_add(u128::from(n)),
                        Err(error) => bad.push(Unreadable {
                            resource: "storage",
                            value: v.to_string(),
                            place: format!(
                                "PersistentVolumeClaim \"{name}\", spec.resources.requests.storage"
                            ),
                            error,
                        }),
                    }
                }
                _ => {}
            }
        }
        if bad.is_empty() {
            Ok(u)
        } else {
            Err(bad)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(objects: Vec<Value>) -> CompiledApp {
        serde_json::from_value(json!({
            "app": "web", "version": null, "namespace": "t-web", "host": "web.t.org",
            "hosts": ["web.t.org"], "size": "s", "state": "present",
            "bindings": { "postgres": null, "object_store": null, "smtp": null },
            "missing_services": [], "rendered": true, "objects": objects,
        }))
        .map(|mut a: CompiledApp| {
            a.facts = jardin_core::facts::of_objects(&a.objects);
            a
        })
        .unwrap()
    }

    fn deployment(replicas: u64, resources: Value) -> Value {
        json!({
            "kind": "Deployment", "metadata": { "name": "web" },
            "spec": { "replicas": replicas, "template": { "spec": {
                "containers": [{ "name": "app", "resources": resources }],
            } } },
        })
    }

    #[test]
    fn sums_requests_times_replicas() {
        let a = app(vec![
            deployment(
                3,
                json!({ "requests": { "cpu": "1001m", "memory": "1.5Gi" } }),
            ),
            json!({ "kind": "PersistentVolumeClaim", "metadata": { "name": "data" },
                    "spec": { "resources": { "requests": { "storage": "2Ei" } } } }),
        ]);
        let u = Usage::of_app(&a).unwrap();
        assert_eq!(u.cpu_millis, 3003);
        assert_eq!(u.memory_bytes, 3 * (3 << 29));
        assert_eq!(u.storage_bytes, 2 << 60);
    }

    #[test]
    fn a_limit_without_a_request_is_the_request() {
        let a = app(vec![deployment(
            2,
            json!({ "requests": { "memory": "1Gi" }, "limits": { "cpu": "1", "memory": "2Gi" } }),
        )]);
        let u = Usage::of_app(&a).unwrap();
        assert_eq!(u.cpu_millis, 2000);
        assert_eq!(u.memory_bytes, 2 << 30);
    }

    #[test]
    fn unreadable_quantities_are_errors_not_zero() {
        let a = app(vec![
            deployment(
                1,
                json!({ "requests": { "cpu": "1.2.3" }, "limits": { "memory": -1 } }),
            ),
            json!({ "kind": "PersistentVolumeClaim", "metadata": { "name": "data" },
                    "spec": { "resources": { "requests": { "storage": "99999999Ei" } } } }),
        ]);
        let bad = Usage::of_app(&a).unwrap_err();
        let got: Vec<_> = bad
            .iter()
            .map(|b| (b.resource, b.value.as_str(), b.error))
            .collect();
        assert_eq!(
            got,
            [
                ("CPU", "\"1.2.3\"", QuantityError::Malformed),
                ("memory", "-1", QuantityError::Negative),
                ("storage", "\"99999999Ei\"", QuantityError::TooLarge),
            ]
        );
        assert_eq!(
            bad[0].place,
            "Deployment \"web\", container \"app\", resources.requests.cpu"
        );
    }

    #[test]
    fn huge_sums_do_not_wrap() {
        let a = app(vec![deployment(
            u64::MAX,
            json!({ "requests": { "cpu": "18446744073709551615m" } }),
        )]);
        let u = Usage::of_app(&a).unwrap();
        assert_eq!(u.cpu_millis, u128::from(u64::MAX) * u128::from(u64::MAX));
    }
}
