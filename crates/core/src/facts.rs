//! What the cross-tenant rules read of an app's rendered objects: a few
//! fields of its workloads, volume claims and Ingresses. The rules run once
//! every tenant is emitted, so these are kept for every tenant; as JSON
//! trees they cost about 60 KB a tenant (each nested map is a whole B-tree
//! node), as these records a tenth of it (docs/PERFORMANCE.md).

use serde_json::Value;

/// The kinds the rules read.
const KINDS: [&str; 4] = [
    "Deployment",
    "StatefulSet",
    "PersistentVolumeClaim",
    "Ingress",
];

/// One object, reduced to what the rules read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectFacts {
    /// One of [`KINDS`].
    pub kind: &'static str,
    pub name: Box<str>,
    /// `spec.replicas`, when it is a whole number.
    pub replicas: Option<u64>,
    /// A workload's pod template's containers.
    pub containers: Vec<ContainerFacts>,
    /// The claims a workload's pods mount.
    pub claims: Vec<Box<str>>,
    /// A volume claim's `spec.accessModes`.
    pub access_modes: Vec<Box<str>>,
    /// A volume claim's `spec.resources.requests.storage`, unread.
    pub storage: Option<Value>,
    /// An Ingress's rules: host, and the paths it routes.
    pub routes: Vec<Route>,
}

/// A container's resources, unread: a quantity is judged by the rule that
/// sums it, which reports one it cannot read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerFacts {
    pub name: Option<Box<str>>,
    /// (`requests` or `limits`, `cpu` or `memory`, the value).
    pub resources: Vec<(&'static str, &'static str, Value)>,
}

/// One rule of an Ingress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Route {
    pub host: Option<Box<str>>,
    pub paths: Vec<Box<str>>,
}

impl ObjectFacts {
    /// The facts of `object`, or `None` for a kind no rule reads.
    pub fn of(object: &Value) -> Option<ObjectFacts> {
        let kind = object["kind"].as_str()?;
        let kind = *KINDS.iter().find(|k| **k == kind)?;
        let spec = &object["spec"];
        let pod = &spec["template"]["spec"];
        Some(ObjectFacts {
            kind,
            name: object["metadata"]["name"].as_str().unwrap_or("").into(),
            replicas: spec["replicas"].as_u64(),
            containers: items(&pod["containers"])
                .map(|c| ContainerFacts {
                    name: c["name"].as_str().map(Into::into),
                    resources: ["requests", "limits"]
                        .into_iter()
                        .flat_map(|field| {
                            ["cpu", "memory"].into_iter().filter_map(move |key| {
                                let v = &c["resources"][field][key];
                                (!v.is_null()).then(|| (field, key, v.clone()))
                            })
                        })
                        .collect(),
                })
                .collect(),
            claims: items(&pod["volumes"])
                .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
                .map(Into::into)
                .collect(),
            access_modes: items(&spec["accessModes"])
                .filter_map(Value::as_str)
                .map(Into::into)
                .collect(),
            storage: Some(&spec["resources"]["requests"]["storage"])
                .filter(|v| !v.is_null())
                .cloned(),
            routes: items(&spec["rules"])
                .map(|r| Route {
                    host: r["host"].as_str().map(Into::into),
                    paths: items(&r["http"]["paths"])
                        .filter_map(|p| p["path"].as_str())
                        .map(Into::into)
                        .collect(),
                })
                .collect(),
        })
    }

    /// Whether the object is of `kind`.
    pub fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }
}

/// The facts of every object of `objects` a rule reads.
pub fn of_objects(objects: &[Value]) -> Vec<ObjectFacts> {
    objects.iter().filter_map(ObjectFacts::of).collect()
}

impl ContainerFacts {
    /// The value of `field.key` (`requests.cpu`), if set.
    pub fn resource(&self, field: &str, key: &str) -> Option<&Value> {
        self.resources
            .iter()
            .find(|(f, k, _)| *f == field && *k == key)
            .map(|(_, _, v)| v)
    }
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_what_the_rules_read_and_nothing_of_other_kinds() {
        let d = json!({ "kind": "Deployment", "metadata": { "name": "web" },
            "spec": { "replicas": 2, "template": { "spec": {
                "containers": [{ "name": "app", "image": "x",
                    "resources": { "requests": { "cpu": "1" }, "limits": { "memory": -1 } } }],
                "volumes": [{ "name": "d", "persistentVolumeClaim": { "claimName": "data" } },
                            { "name": "e", "emptyDir": {} }] } } } });
        let f = ObjectFacts::of(&d).unwrap();
        assert!(f.is("Deployment"));
        assert_eq!((&*f.name, f.replicas), ("web", Some(2)));
        assert_eq!(f.claims, [Box::from("data")]);
        let c = &f.containers[0];
        assert_eq!(c.name.as_deref(), Some("app"));
        assert_eq!(c.resource("requests", "cpu"), Some(&json!("1")));
        assert_eq!(c.resource("limits", "memory"), Some(&json!(-1)));
        assert_eq!(c.resource("requests", "memory"), None);

        let i = json!({ "kind": "Ingress", "metadata": { "name": "i" }, "spec": { "rules": [
            { "host": "a.org", "http": { "paths": [{ "path": "/" }, { "path": "/x" }] } }] } });
        let f = ObjectFacts::of(&i).unwrap();
        assert_eq!(f.routes[0].host.as_deref(), Some("a.org"));
        assert_eq!(f.routes[0].paths, [Box::from("/"), Box::from("/x")]);

        let p = json!({ "kind": "PersistentVolumeClaim", "metadata": { "name": "data" },
            "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } } });
        let f = ObjectFacts::of(&p).unwrap();
        assert_eq!(f.access_modes, [Box::from("ReadWriteOnce")]);
        assert_eq!(f.storage, Some(json!("1Gi")));

        assert_eq!(ObjectFacts::of(&json!({ "kind": "Service" })), None);
    }
}
