//! What an app asks of its cluster, summed from its rendered objects:
//! requests × replicas for Deployments, requests of PersistentVolumeClaims.

use std::ops::AddAssign;

use serde_json::Value;

use jardin_core::model::CompiledApp;
use jardin_core::quantity::{json_bytes, json_cpu};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub storage_bytes: u64,
}

impl AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.cpu_millis += o.cpu_millis;
        self.memory_bytes += o.memory_bytes;
        self.storage_bytes += o.storage_bytes;
    }
}

fn containers(pod_spec: &Value) -> impl Iterator<Item = &Value> {
    pod_spec["containers"].as_array().into_iter().flatten()
}

impl Usage {
    pub fn of_app(app: &CompiledApp) -> Usage {
        let mut u = Usage::default();
        for o in &app.objects {
            match o["kind"].as_str() {
                Some("Deployment") | Some("StatefulSet") => {
                    let replicas = o["spec"]["replicas"].as_u64().unwrap_or(1);
                    for c in containers(&o["spec"]["template"]["spec"]) {
                        let req = &c["resources"]["requests"];
                        u.cpu_millis += replicas * json_cpu(&req["cpu"]).unwrap_or(0);
                        u.memory_bytes += replicas * json_bytes(&req["memory"]).unwrap_or(0);
                    }
                }
                Some("PersistentVolumeClaim") => {
                    u.storage_bytes +=
                        json_bytes(&o["spec"]["resources"]["requests"]["storage"]).unwrap_or(0);
                }
                _ => {}
            }
        }
        u
    }
}
