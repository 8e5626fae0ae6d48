//! A stand-in for the nodes of a test cluster (`support/kube_apiserver.rs`
//! runs no scheduler and no kubelet, so no pod ever runs): it marks pods
//! running and ready, and gives each pending volume claim a volume made for
//! it, so that workloads become ready and `jardin apply`'s readiness waits
//! pass as on a real cluster.
//!
//! ```ignore
//! #[path = "support/kubelet.rs"]
//! mod kubelet;
//! let cluster = kube_apiserver::TestCluster::start();
//! let nodes = kubelet::Kubelet::start(cluster.kubeconfig());
//! ```
//!
//! What a round does, across all namespaces:
//! - a pod that is neither ready, finished nor being deleted gets a status
//!   (subresource `status`, merge patch) saying it runs and is ready; a pod
//!   owned by a Job gets one saying it succeeded, so that Jobs complete.
//!   Pods stay unbound (no `spec.nodeName`): the 1.20 server accepts their
//!   status as it is, and a pod bound to a Node that posts no heartbeats
//!   would be marked not ready, then evicted, by the node lifecycle
//!   controller.
//! - a claim pending with no volume gets a PersistentVolume
//!   `kubelet-<namespace>-<name>` pre-bound to it (hostPath, nothing mounts
//!   it); the controller manager's volume binder then binds the two.
//!
//! A request that fails (the object changed or went away meanwhile) is
//! left for the next round.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolume, PersistentVolumeClaim, Pod, Service, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Resource};
use serde_json::{json, Value};

/// Pause between two rounds.
const ROUND_INTERVAL: Duration = Duration::from_millis(200);
/// Where the volumes' hostPath directories would be (nothing mounts them).
const HOST_PATH_ROOT: &str = "/tmp/jardin-kubelet";
/// The address every pod "runs" at.
const POD_ADDRESS: &str = "127.0.0.1";

/// What the test thread and the kubelet thread share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    paused: AtomicBool,
    /// Pods are left pending (volumes and addresses still come).
    pods_held: AtomicBool,
    pods_started: AtomicUsize,
    /// The last request that failed, for a test's timeout message.
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn note_error(&self, what: &str, error: &kube::Error) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(format!("{what}: {error}"));
        }
    }
}

/// Plays the nodes of a test cluster: marks pods running and ready, binds volume claims to volumes made for them, until stopped.
pub(crate) struct Kubelet {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Kubelet {
    /// Starts a background thread (its own tokio current-thread runtime) polling every 200 ms.
    ///
    /// Panics if the kubeconfig cannot be read or gives no client.
    pub(crate) fn start(kubeconfig: &Path) -> Kubelet {
        let kubeconfig = Kubeconfig::read_from(kubeconfig)
            .unwrap_or_else(|e| panic!("Kubelet: reading {}: {e}", kubeconfig.display()));
        let shared = Arc::new(Shared::default());
        let (started, on_start) = mpsc::channel();
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("test-kubelet".into())
                .spawn(move || run(kubeconfig, &shared, &started))
                .unwrap_or_else(|e| panic!("Kubelet: spawning its thread: {e}"))
        };
        match on_start.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("Kubelet: {e}"),
            Err(_) => panic!("Kubelet: its thread ended before starting"),
        }
        Kubelet {
            shared,
            thread: Some(thread),
        }
    }

    /// Pauses/resumes the work (a test makes a wave wait on purpose).
    pub(crate) fn pause(&self) {
        self.shared.paused.store(true, Ordering::SeqCst);
    }

    /// Leaves new pods pending until `release_pods`: a wave waits on its
    /// workloads, as on a cluster out of room.
    pub(crate) fn hold_pods(&self) {
        self.shared.pods_held.store(true, Ordering::SeqCst);
    }

    pub(crate) fn release_pods(&self) {
        self.shared.pods_held.store(false, Ordering::SeqCst);
    }

    pub(crate) fn resume(&self) {
        self.shared.paused.store(false, Ordering::SeqCst);
    }

    /// Pods marked ready so far (for assertions). A Job's pod, marked
    /// succeeded instead, counts too.
    pub(crate) fn pods_started(&self) -> usize {
        self.shared.pods_started.load(Ordering::SeqCst)
    }

    fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().ok().and_then(|e| e.clone())
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // A panic in the thread is a bug of this helper; do not turn
            // it into a second panic while a test may be unwinding.
            let _ = thread.join();
        }
    }
}

/// The kubelet thread: makes its runtime and client, says so, then runs
/// rounds until told to stop.
fn run(kubeconfig: Kubeconfig, shared: &Shared, started: &mpsc::Sender<Result<(), String>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = started.send(Err(format!("making a tokio runtime: {e}")));
            return;
        }
    };
    let client = match runtime.block_on(client_from(kubeconfig)) {
        Ok(client) => client,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let _ = started.send(Ok(()));
    while !shared.stop.load(Ordering::SeqCst) {
        if !shared.paused.load(Ordering::SeqCst) {
            runtime.block_on(round(&client, shared));
        }
        std::thread::sleep(ROUND_INTERVAL);
    }
}

async fn client_from(kubeconfig: Kubeconfig) -> Result<Client, String> {
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("kubeconfig: {e}"))?;
    Client::try_from(config).map_err(|e| format!("client: {e}"))
}

async fn round(client: &Client, shared: &Shared) {
    if !shared.pods_held.load(Ordering::SeqCst) {
        start_pods(client, shared).await;
    }
    provide_volumes(client, shared).await;
    give_load_balancer_addresses(client, shared).await;
}

// ---------------------------------------------------------------- services

/// The cloud's part: a `LoadBalancer` Service gets an address (127.0.0.1,
/// nothing listens there), as MetalLB or a cloud controller would give it.
async fn give_load_balancer_addresses(client: &Client, shared: &Shared) {
    let services = Api::<DynamicObject>::all_with(client.clone(), &resource::<Service>());
    let list = match services.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(e) => return shared.note_error("listing services", &e),
    };
    for service in &list.items {
        let (Some(namespace), Some(name)) = (&service.metadata.namespace, &service.metadata.name)
        else {
            continue;
        };
        let wants = service.data["spec"]["type"] == "LoadBalancer"
            && service.data["status"]["loadBalancer"]["ingress"]
                .as_array()
                .is_none_or(Vec::is_empty);
        if !wants {
            continue;
        }
        let api = Api::<DynamicObject>::namespaced_with(
            client.clone(),
            namespace,
            &resource::<Service>(),
        );
        let status =
            json!({ "status": { "loadBalancer": { "ingress": [{ "ip": "127.0.0.1" }] } } });
        if let Err(e) = api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
        {
            shared.note_error(&format!("service {namespace}/{name}"), &e);
        }
    }
}

// ---------------------------------------------------------------- pods

async fn start_pods(client: &Client, shared: &Shared) {
    let pods = Api::<DynamicObject>::all_with(client.clone(), &resource::<Pod>());
    let list = match pods.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(e) => return shared.note_error("listing pods", &e),
    };
    let now = now();
    for pod in list.items.iter().filter(|p| needs_starting(p)) {
        let (Some(namespace), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
            continue;
        };
        let api =
            Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource::<Pod>());
        let status = json!({ "status": status_for(pod, &now) });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
        {
            Ok(_) => {
                shared.pods_started.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => shared.note_error(&format!("pod {namespace}/{name}"), &e),
        }
    }
}

/// A pod the kubelet still has to start: not ready, not finished, not
/// going away.
fn needs_starting(pod: &DynamicObject) -> bool {
    let status = &pod.data["status"];
    let finished = matches!(status["phase"].as_str(), Some("Succeeded" | "Failed"));
    pod.metadata.deletion_timestamp.is_none() && !finished && !has_ready_condition(status)
}

fn has_ready_condition(status: &Value) -> bool {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Run-to-completion pods: the Job controller waits for them to succeed.
fn owned_by_job(pod: &DynamicObject) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.kind == "Job")
}

/// The status a kubelet would report for `pod` once its containers run
/// (or, for a Job's pod, have exited 0).
fn status_for(pod: &DynamicObject, now: &Value) -> Value {
    let completes = owned_by_job(pod);
    let spec = &pod.data["spec"];
    let init_statuses: Vec<Value> = containers(spec, "initContainers")
        .map(|c| container_status(c, now, true))
        .collect();
    let statuses: Vec<Value> = containers(spec, "containers")
        .map(|c| container_status(c, now, completes))
        .collect();
    let (phase, ready) = if completes {
        ("Succeeded", false)
    } else {
        ("Running", true)
    };
    json!({
        "phase": phase,
        "hostIP": POD_ADDRESS,
        "podIP": POD_ADDRESS,
        "podIPs": [{ "ip": POD_ADDRESS }],
        "startTime": now,
        "qosClass": pod.data["status"]["qosClass"].as_str().unwrap_or("BestEffort"),
        "conditions": [
            condition("PodScheduled", true, now),
            condition("Initialized", true, now),
            condition("ContainersReady", ready, now),
            condition("Ready", ready, now),
        ],
        "initContainerStatuses": init_statuses,
        "containerStatuses": statuses,
    })
}

fn containers<'a>(spec: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    spec[field].as_array().into_iter().flatten()
}

fn condition(kind: &str, holds: bool, now: &Value) -> Value {
    let mut c = json!({
        "type": kind,
        "status": if holds { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    if !holds {
        // What a kubelet says of a pod whose containers all exited 0.
        c["reason"] = json!("PodCompleted");
    }
    c
}

/// One container's status: running and ready, or (`exited`) terminated
/// with exit code 0.
fn container_status(container: &Value, now: &Value, exited: bool) -> Value {
    let state = if exited {
        json!({ "terminated": {
            "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now,
        } })
    } else {
        json!({ "running": { "startedAt": now } })
    };
    json!({
        "name": container["name"],
        "image": container["image"],
        "imageID": "",
        "ready": !exited,
        "started": !exited,
        "restartCount": 0,
        "state": state,
    })
}

// ------------------------------------------------------------- volumes

async fn provide_volumes(client: &Client, shared: &Shared) {
    let claims =
        Api::<DynamicObject>::all_with(client.clone(), &resource::<PersistentVolumeClaim>());
    let list = match claims.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(e) => return shared.note_error("listing volume claims", &e),
    };
    let volumes = Api::<DynamicObject>::all_with(client.clone(), &resource::<PersistentVolume>());
    for claim in list.items.iter().filter(|c| wants_volume(c)) {
        let Some(volume) = volume_for(claim) else {
            continue;
        };
        match volumes.create(&PostParams::default(), &volume).await {
            Ok(_) => {}
            // Made in an earlier round; the binder has not bound it yet.
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => shared.note_error("creating a volume", &e),
        }
    }
}

/// A claim still waiting for a volume (no provisioner will make one).
fn wants_volume(claim: &DynamicObject) -> bool {
    let pending = matches!(
        claim.data["status"]["phase"].as_str(),
        None | Some("Pending")
    );
    let unbound = claim.data["spec"]["volumeName"]
        .as_str()
        .is_none_or(str::is_empty);
    claim.metadata.deletion_timestamp.is_none() && pending && unbound
}

/// A hostPath volume that fits `claim` exactly and is reserved for it, or
/// None for a claim that asks for no size.
fn volume_for(claim: &DynamicObject) -> Option<DynamicObject> {
    let namespace = claim.metadata.namespace.as_deref()?;
    let name = claim.metadata.name.as_deref()?;
    let uid = claim.metadata.uid.as_deref()?;
    let spec = &claim.data["spec"];
    let size = spec["resources"]["requests"]["storage"].as_str()?;
    let access_modes = match spec["accessModes"].as_array() {
        Some(modes) if !modes.is_empty() => Value::Array(modes.clone()),
        _ => json!(["ReadWriteOnce"]),
    };
    let mut volume = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            // By the claim's uid: a claim deleted and made again (a
            // recreate) gets a volume of its own, as a provisioner gives.
            "name": format!("kubelet-{uid}"),
            "labels": { "app.kubernetes.io/managed-by": "jardin-test-kubelet" },
        },
        "spec": {
            "capacity": { "storage": size },
            "accessModes": access_modes,
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {
                "path": format!("{HOST_PATH_ROOT}/{namespace}/{name}"),
                "type": "DirectoryOrCreate",
            },
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": namespace,
                "name": name,
                "uid": uid,
            },
        },
    });
    // The binder matches classes exactly, a class that does not exist too;
    // a claim without one matches only volumes without one.
    for field in ["storageClassName", "volumeMode"] {
        if let Some(value) = spec[field].as_str() {
            volume["spec"][field] = json!(value);
        }
    }
    serde_json::from_value(volume).ok()
}

// ------------------------------------------------------------- helpers

fn resource<K: Resource<DynamicType = ()>>() -> ApiResource {
    ApiResource::erase::<K>(&())
}

/// The current time as the API writes it (RFC 3339, UTC).
fn now() -> Value {
    serde_json::to_value(Time(k8s_openapi::jiff::Timestamp::now())).unwrap_or(Value::Null)
}

// ----------------------------------------------------------- self-test

const SELF_TEST_NAMESPACE: &str = "kubelet-self-test";
const SELF_TEST_TIMEOUT: Duration = Duration::from_secs(60);
const SELF_TEST_MANAGER: &str = "kubelet-self-test";

/// Checks the stand-in against the real controllers: a Deployment, an
/// OrderedReady StatefulSet, a Job and a claim of a class that does not
/// exist all become ready/complete/bound within 60 s. While the kubelet is
/// paused, nothing starts (and the StatefulSet does not go past its first
/// pod). Panics with what it saw otherwise.
pub(crate) fn self_test(kubeconfig: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let config = Kubeconfig::read_from(kubeconfig).expect("reading the kubeconfig");
    let client = runtime
        .block_on(client_from(config))
        .unwrap_or_else(|e| panic!("{e}"));

    let kubelet = Kubelet::start(kubeconfig);
    kubelet.pause();
    runtime.block_on(create_self_test_objects(&client));

    // Paused: the pods exist but none starts, so the StatefulSet waits
    // for its first pod before making the second.
    runtime.block_on(wait_until(
        &client,
        &kubelet,
        "the paused kubelet's pods",
        |s| s.pods.len() >= 4,
    ));
    std::thread::sleep(Duration::from_secs(1));
    let paused = runtime.block_on(observe(&client));
    assert_eq!(
        kubelet.pods_started(),
        0,
        "paused, yet started pods:\n{paused}"
    );
    assert_eq!(
        paused.statefulset_pods(),
        1,
        "an OrderedReady StatefulSet made its second pod before its first was ready:\n{paused}"
    );

    kubelet.resume();
    let seen = runtime.block_on(wait_until(&client, &kubelet, "workloads ready", |s| {
        s.all_ready()
    }));
    eprintln!("Kubelet self-test: all ready:\n{seen}");
    assert!(
        kubelet.pods_started() >= 5,
        "started {} pods only:\n{seen}",
        kubelet.pods_started()
    );
}

async fn create_self_test_objects(client: &Client) {
    apply::<Namespace>(
        client,
        None,
        json!({ "metadata": { "name": SELF_TEST_NAMESPACE } }),
    )
    .await;
    // Pods need their namespace's service account (and its token).
    wait_for_service_account(client).await;
    let ns = Some(SELF_TEST_NAMESPACE);
    let labels = |app: &str| json!({ "app": app });
    let pod = |app: &str, restart: &str| {
        json!({
            "metadata": { "labels": labels(app) },
            "spec": {
                "restartPolicy": restart,
                "containers": [{ "name": "main", "image": "registry.invalid/pause:1" }],
            },
        })
    };
    // The protocol is spelled out: 1.20's server-side apply requires the
    // key fields of the ports list.
    apply::<Service>(
        client,
        ns,
        json!({
            "metadata": { "name": "db" },
            "spec": { "clusterIP": "None", "selector": labels("db"), "ports": [{ "port": 5432, "protocol": "TCP" }] },
        }),
    )
    .await;
    apply::<Deployment>(
        client,
        ns,
        json!({
            "metadata": { "name": "web" },
            "spec": {
                "replicas": 2,
                "selector": { "matchLabels": labels("web") },
                "template": pod("web", "Always"),
            },
        }),
    )
    .await;
    apply::<StatefulSet>(
        client,
        ns,
        json!({
            "metadata": { "name": "db" },
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "podManagementPolicy": "OrderedReady",
                "selector": { "matchLabels": labels("db") },
                "template": pod("db", "Always"),
            },
        }),
    )
    .await;
    apply::<Job>(
        client,
        ns,
        json!({
            "metadata": { "name": "migrate" },
            "spec": { "backoffLimit": 0, "template": pod("migrate", "Never") },
        }),
    )
    .await;
    apply::<PersistentVolumeClaim>(
        client,
        ns,
        json!({
            "metadata": { "name": "data" },
            "spec": {
                "storageClassName": "standard",
                "accessModes": ["ReadWriteOnce"],
                "resources": { "requests": { "storage": "1Gi" } },
            },
        }),
    )
    .await;
}

/// Server-side applies `object` (its apiVersion and kind filled in from
/// `K`); a refusal is a panic.
async fn apply<K: Resource<DynamicType = ()>>(
    client: &Client,
    namespace: Option<&str>,
    mut object: Value,
) {
    let ar = resource::<K>();
    object["apiVersion"] = json!(ar.api_version);
    object["kind"] = json!(ar.kind);
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let api = match namespace {
        Some(ns) => Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar),
        None => Api::<DynamicObject>::all_with(client.clone(), &ar),
    };
    let params = PatchParams::apply(SELF_TEST_MANAGER).force();
    if let Err(e) = api.patch(&name, &params, &Patch::Apply(&object)).await {
        panic!("applying {} {name}: {e}", ar.kind);
    }
}

async fn wait_for_service_account(client: &Client) {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), SELF_TEST_NAMESPACE);
    let deadline = Instant::now() + SELF_TEST_TIMEOUT;
    loop {
        if let Ok(Some(sa)) = accounts.get_opt("default").await {
            if sa.secrets.is_some_and(|s| !s.is_empty()) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no token for the default service account of {SELF_TEST_NAMESPACE}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Observes until `done` holds; panics after 60 s with what it saw.
async fn wait_until(
    client: &Client,
    kubelet: &Kubelet,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) -> Seen {
    let deadline = Instant::now() + SELF_TEST_TIMEOUT;
    loop {
        let seen = observe(client).await;
        if done(&seen) {
            return seen;
        }
        if Instant::now() > deadline {
            panic!(
                "Kubelet self-test: no {what} after {SELF_TEST_TIMEOUT:?}; saw:\n{seen}\
                 pods started: {}\nlast failed request: {}",
                kubelet.pods_started(),
                kubelet.last_error().unwrap_or_else(|| "none".into())
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The self-test objects' statuses, as the server reports them.
struct Seen {
    deployment: Value,
    statefulset: Value,
    job: Value,
    claim: Value,
    /// (name, phase, ready) of each pod of the namespace.
    pods: Vec<(String, String, bool)>,
}

impl Seen {
    fn all_ready(&self) -> bool {
        let deployment_available = self.deployment["availableReplicas"] == 2;
        let statefulset_ready = self.statefulset["readyReplicas"] == 2;
        let job_complete = self.job["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Complete" && c["status"] == "True");
        let claim_bound = self.claim["phase"] == "Bound";
        deployment_available && statefulset_ready && job_complete && claim_bound
    }

    fn statefulset_pods(&self) -> usize {
        self.pods
            .iter()
            .filter(|(name, ..)| name.starts_with("db-"))
            .count()
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "  Deployment web status: {}", self.deployment)?;
        writeln!(f, "  StatefulSet db status: {}", self.statefulset)?;
        writeln!(f, "  Job migrate status: {}", self.job)?;
        writeln!(f, "  PersistentVolumeClaim data status: {}", self.claim)?;
        for (name, phase, ready) in &self.pods {
            writeln!(f, "  pod {name}: {phase}, ready {ready}")?;
        }
        Ok(())
    }
}

async fn observe(client: &Client) -> Seen {
    let status = |ar: ApiResource, name: &'static str| {
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), SELF_TEST_NAMESPACE, &ar);
        async move {
            match api.get(name).await {
                Ok(object) => object.data["status"].clone(),
                Err(e) => json!(format!("<{e}>")),
            }
        }
    };
    let pods_api = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        SELF_TEST_NAMESPACE,
        &resource::<Pod>(),
    );
    let pods = match pods_api.list(&ListParams::default()).await {
        Ok(list) => list.items.iter().map(pod_summary).collect(),
        Err(_) => Vec::new(),
    };
    Seen {
        deployment: status(resource::<Deployment>(), "web").await,
        statefulset: status(resource::<StatefulSet>(), "db").await,
        job: status(resource::<Job>(), "migrate").await,
        claim: status(resource::<PersistentVolumeClaim>(), "data").await,
        pods,
    }
}

fn pod_summary(pod: &DynamicObject) -> (String, String, bool) {
    let status = &pod.data["status"];
    (
        pod.metadata.name.clone().unwrap_or_default(),
        status["phase"].as_str().unwrap_or("?").to_string(),
        has_ready_condition(status),
    )
}
