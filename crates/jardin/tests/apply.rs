//! `jardin apply` against a real Kubernetes 1.20 control plane (etcd,
//! kube-apiserver, kube-controller-manager: `support/kube_apiserver.rs`),
//! with the operators' upstream CRDs from `../shared/crds/`, and a stand-in
//! for the nodes (`support/kubelet.rs`: pods marked running and ready,
//! volume claims bound), so that readiness waits pass as on a cluster.
//!
//! Every run is the CLI itself, as CI runs it, through a kubeconfig.
//!
//!     cargo test -p jardin --test apply -- --nocapture

#[path = "common/mod.rs"]
mod common;
#[path = "support/crds.rs"]
mod crds;
#[path = "support/knot.rs"]
mod knot;
#[path = "support/kube_apiserver.rs"]
mod kube_apiserver;
#[path = "support/kubelet.rs"]
mod kubelet;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{json, Value};

use kube_apiserver::TestCluster;

/// The context of the test cluster's kubeconfig.
const CONTEXT: &str = "jardin-test";

/// A control plane with the CRDs jardin's output needs, and its nodes.
struct Cluster {
    control_plane: TestCluster,
    kubelet: kubelet::Kubelet,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Cluster {
    fn start() -> Cluster {
        let control_plane = TestCluster::start();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime.block_on(async {
            let kubeconfig = Kubeconfig::read_from(control_plane.kubeconfig()).unwrap();
            let config =
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .unwrap();
            kube::Client::try_from(config).unwrap()
        });
        let crds = crds::load(&crds::dir(&common::repo()));
        runtime.block_on(crds::install(&client, &crds, "jardin-test-setup"));
        runtime.block_on(install_object_store_stand_in(&client));
        let kubelet = kubelet::Kubelet::start(control_plane.kubeconfig());
        Cluster {
            control_plane,
            kubelet,
            runtime,
            client,
        }
    }

    /// `jardin ARGS` with this cluster's kubeconfig: (exit code, stdout, stderr).
    fn jardin(&self, args: &[&str]) -> (i32, String, String) {
        self.jardin_with(self.control_plane.kubeconfig(), args)
    }

    /// `jardin apply ROOT --live LIVE --auto-approve EXTRA…`.
    fn apply_root(&self, root: &str, live: &str, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec!["apply", root, "--live", live, "--auto-approve"];
        args.extend_from_slice(extra);
        self.jardin(&args)
    }

    /// `jardin ARGS` with another kubeconfig.
    fn jardin_with(&self, kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_jardin"))
            .args(args)
            .args(["--no-cache", "--color", "never"])
            .env("KUBECONFIG", kubeconfig)
            .env("JARDIN_TSIG_SECRET", knot::SECRET)
            .env_remove("NO_COLOR")
            .output()
            .expect("run jardin");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn api(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Api<DynamicObject> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// The object as it is, or None.
    fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let api = self.api(api_version, kind, namespace);
        self.runtime
            .block_on(api.get_opt(name))
            .unwrap()
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// Server-side apply as another field manager (a person with kubectl,
    /// another tool).
    fn apply_as(&self, manager: &str, object: Value, force: bool) -> Result<(), String> {
        let ns = object["metadata"]["namespace"].as_str().map(str::to_string);
        let api = self.api(
            object["apiVersion"].as_str().unwrap(),
            object["kind"].as_str().unwrap(),
            ns.as_deref(),
        );
        let mut params = PatchParams::apply(manager);
        params.force = force;
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        self.runtime
            .block_on(api.patch(&name, &params, &Patch::Apply(&object)))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The Barman Cloud plugin's `ObjectStore` CRD is not in `../shared/crds`
/// (docs/TESTING.md): a stand-in of our own that accepts any spec, so that
/// the objects jardin emits of that kind can be applied at all. Their
/// content is checked by jardin's embedded schema only.
async fn install_object_store_stand_in(client: &kube::Client) {
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "objectstores.barmancloud.cnpg.io" },
        "spec": {
            "group": "barmancloud.cnpg.io",
            "scope": "Namespaced",
            "names": { "kind": "ObjectStore", "plural": "objectstores", "singular": "objectstore", "listKind": "ObjectStoreList" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } },
            }],
        },
    });
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
    ));
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let object: DynamicObject = serde_json::from_value(crd).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = serde_json::to_value(api.get("objectstores.barmancloud.cnpg.io").await.unwrap())
            .unwrap();
        let established = got["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        });
        if established {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the ObjectStore stand-in is not established"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A copy of an example, to change.
fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(name);
    common::copy_dir_except(&common::repo().join("examples").join(name), &root, &|n| {
        n.starts_with("live")
    });
    (dir, root)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `(outcome, step, kind, namespace/name)` of every report entry.
fn entries(report: &Value) -> Vec<(String, String, String, String)> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_string(),
                e["step"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
                format!(
                    "{}/{}",
                    e["namespace"].as_str().unwrap_or(""),
                    e["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

/// Diagnostics as one line: the renderer wraps long messages.
fn flat(stderr: &str) -> String {
    stderr
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_code(what: &str, got: &(i32, String, String), want: i32) {
    assert_eq!(
        got.0, want,
        "{what}: exit code {} (wanted {want})\nstdout:\n{}\nstderr:\n{}",
        got.0, got.1, got.2
    );
}

/// The whole collective, one cluster: a plan, its apply in waves, then a
/// second apply that has nothing to do.
#[test]
fn the_collective_is_applied_in_waves_then_nothing_is_left_to_do() {
    let cluster = Cluster::start();
    let (dir, root) = example("collective");
    let root_s = root.to_str().unwrap();
    let live = format!("louise-michel=kube:{CONTEXT}");
    let plan = dir.path().join("plan.json");
    let report = dir.path().join("report.json");

    let made = cluster.jardin(&[
        "plan",
        root_s,
        "--cluster",
        "louise-michel",
        "--live",
        &live,
        "--format",
        "json",
        "-o",
        plan.to_str().unwrap(),
    ]);
    assert_code("plan of an empty cluster", &made, 2);
    let started = Instant::now();
    let applied = cluster.jardin(&[
        "apply",
        plan.to_str().unwrap(),
        "--root",
        root_s,
        "--report",
        report.to_str().unwrap(),
        "--timeout",
        "90s",
    ]);
    assert_code("first apply", &applied, 2);
    eprintln!(
        "first apply of louise-michel: {:?}\n{}",
        started.elapsed(),
        applied.2
    );
    let r = read_json(&report);
    let all = entries(&r);
    assert!(all.iter().all(|e| e.0 == "applied"), "{all:?}");
    // Waves go out in the order of the build's apply-order.txt: no object
    // before one it needs.
    let waves: Vec<u64> = r["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["wave"].as_u64().unwrap())
        .collect();
    assert!(
        waves.windows(2).all(|w| w[0] <= w[1]),
        "waves out of order: {waves:?}"
    );
    assert!(
        waves.last().copied().unwrap_or(0) >= 5,
        "few waves: {waves:?}"
    );
    let first_namespace = all.iter().position(|e| e.2 == "Namespace").unwrap();
    let first_deployment = all.iter().position(|e| e.2 == "Deployment").unwrap();
    assert!(first_namespace < first_deployment);
    // Every object carries the inventory's label; the parent lists them.
    let parent = cluster
        .get("v1", "Secret", Some("jardin-system"), "jardin-applyset")
        .expect("the inventory parent");
    let id = parent["metadata"]["labels"]["applyset.kubernetes.io/id"]
        .as_str()
        .unwrap()
        .to_string();
    let kinds = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
        .as_str()
        .unwrap();
    assert!(
        kinds.contains("Deployment.apps") && kinds.contains("Namespace"),
        "{kinds}"
    );
    let some_deployment = &all[first_deployment].3;
    let (ns, name) = some_deployment.split_once('/').unwrap();
    let d = cluster
        .get("apps/v1", "Deployment", Some(ns), name)
        .unwrap();
    assert_eq!(
        d["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
        id.as_str()
    );
    assert!(
        d["status"]["availableReplicas"].as_u64().unwrap_or(0) >= 1,
        "the wave waited for it: {}",
        d["status"]
    );

    let again = cluster.apply_root(root_s, &live, &["--cluster", "louise-michel"]);
    assert_code("second apply", &again, 0);
    assert!(flat(&again.2).contains("Nothing to do"), "{}", again.2);
    let replan = cluster.jardin(&[
        "plan",
        root_s,
        "--cluster",
        "louise-michel",
        "--live",
        &live,
    ]);
    assert_code("plan after apply", &replan, 0);

    // Objects of other tools, in the namespaces jardin applies to: one
    // without jardin's labels, one with them but applied before `jardin
    // apply` (kubectl apply -f of a build), so not in the inventory.
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other-tool", "namespace": "velorution-brest-pad"}, "data": {"k": "v"}});
    cluster.apply_as("other-tool", other, false).unwrap();
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied-by-kubectl", "namespace": "faire-ecole-cloud", "labels": {"app.kubernetes.io/managed-by": "jardin"}}, "data": {"k": "v"}});
    cluster.apply_as("kubectl", foreign, false).unwrap();
    let uid_of = |ns: &str, name: &str| {
        cluster
            .get("v1", "ConfigMap", Some(ns), name)
            .map(|c| c["metadata"]["uid"].as_str().unwrap().to_string())
    };
    let other_uid = uid_of("velorution-brest-pad", "other-tool").unwrap();
    let foreign_uid = uid_of("faire-ecole-cloud", "applied-by-kubectl").unwrap();

    // A tenant leaves: its 17 objects go, over the default budget of 10.
    std::fs::remove_file(root.join("tenants/velorution-brest.ncl")).unwrap();
    let over = cluster.apply_root(root_s, &live, &["--cluster", "louise-michel"]);
    assert_code("deletions over budget", &over, 3);
    assert!(
        flat(&over.2).contains("J0622") && flat(&over.2).contains("more than the threshold of 10"),
        "{}",
        over.2
    );
    assert!(
        cluster
            .get(
                "apps/v1",
                "Deployment",
                Some("velorution-brest-pad"),
                "hedgedoc"
            )
            .is_some(),
        "nothing was touched"
    );

    let pruned = cluster.apply_root(
        root_s,
        &live,
        &[
            "--cluster",
            "louise-michel",
            "--max-deletes",
            "30",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_code("prune", &pruned, 2);
    let r = entries(&read_json(&report));
    let outcome = |kind: &str, path: &str| {
        r.iter()
            .find(|e| e.2 == kind && e.3 == path)
            .map(|e| e.0.clone())
    };
    assert_eq!(
        outcome("Deployment", "velorution-brest-pad/hedgedoc").as_deref(),
        Some("pruned"),
        "{r:?}"
    );
    assert_eq!(
        outcome("PersistentVolumeClaim", "velorution-brest-pad/uploads").as_deref(),
        Some("skipped")
    );
    assert_eq!(
        outcome("Namespace", "/velorution-brest-pad").as_deref(),
        Some("skipped")
    );
    assert_eq!(
        outcome("ConfigMap", "faire-ecole-cloud/applied-by-kubectl").as_deref(),
        Some("skipped")
    );
    assert!(
        flat(&pruned.2).contains("J0628") && flat(&pruned.2).contains("--allow-delete-state"),
        "{}",
        pruned.2
    );
    assert!(
        flat(&pruned.2).contains("not in jardin's inventory"),
        "{}",
        pruned.2
    );
    assert!(cluster
        .get(
            "apps/v1",
            "Deployment",
            Some("velorution-brest-pad"),
            "hedgedoc"
        )
        .is_none());
    assert!(
        cluster
            .get(
                "v1",
                "PersistentVolumeClaim",
                Some("velorution-brest-pad"),
                "uploads"
            )
            .is_some(),
        "state is kept"
    );
    // The other tools' objects are as they were.
    assert_eq!(
        uid_of("velorution-brest-pad", "other-tool"),
        Some(other_uid)
    );
    assert_eq!(
        uid_of("faire-ecole-cloud", "applied-by-kubectl"),
        Some(foreign_uid.clone())
    );

    let state = cluster.apply_root(
        root_s,
        &live,
        &["--cluster", "louise-michel", "--allow-delete-state"],
    );
    assert_code("state deleted when allowed", &state, 2);
    let pvc = cluster.get(
        "v1",
        "PersistentVolumeClaim",
        Some("velorution-brest-pad"),
        "uploads",
    );
    assert!(
        pvc.is_none_or(|p| p["metadata"]["deletionTimestamp"].is_string()),
        "the claim is deleted"
    );
    assert_eq!(
        uid_of("faire-ecole-cloud", "applied-by-kubectl"),
        Some(foreign_uid)
    );
}

/// Changes to one tenant of the minimal example: an update, a stale plan,
/// a conflict with another field manager, an immutable field.
#[test]
fn changes_conflicts_stale_plans_and_immutable_fields() {
    let cluster = Cluster::start();
    let (dir, root) = example("minimal");
    let root_s = root.to_str().unwrap();
    let live = format!("potager=kube:{CONTEXT}");
    let plan = dir.path().join("plan.json");
    let plan_s = plan.to_str().unwrap();
    let apply_root = |extra: &[&str]| {
        let mut args = vec!["--timeout", "60s"];
        args.extend_from_slice(extra);
        cluster.apply_root(root_s, &live, &args)
    };
    let without_approval = cluster.jardin(&["apply", root_s, "--live", &live]);
    assert_code("a config root without --auto-approve", &without_approval, 3);
    assert!(
        flat(&without_approval.2).contains("J0622"),
        "{}",
        without_approval.2
    );
    assert_code("first apply", &apply_root(&[]), 2);

    // A change: the pad allows anonymous users.
    let tenant = root.join("tenants/les-amis.ncl");
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(
        &tenant,
        text.replace(
            "host = \"pad.petit-jardin.org\" }",
            "host = \"pad.petit-jardin.org\", settings.allow_anonymous = true }",
        ),
    )
    .unwrap();
    assert_code(
        "plan of a change",
        &cluster.jardin(&["plan", root_s, "--live", &live, "-o", plan_s]),
        2,
    );

    // Someone labels the Deployment in between: the plan is stale.
    let label = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hedgedoc", "namespace": "les-amis-pad", "labels": {"team": "ops"}}});
    cluster.apply_as("kubectl-label", label, false).unwrap();
    let stale = cluster.jardin(&["apply", plan_s, "--root", root_s]);
    assert_code("stale plan", &stale, 1);
    assert!(
        flat(&stale.2).contains("J0621")
            && flat(&stale.2).contains("Deployment potager/les-amis-pad/hedgedoc"),
        "{}",
        stale.2
    );
    // A fresh plan is applied: only what changed goes out. Compared
    // through the server's dry run, the label another manager owns is not
    // drift (apply leaves it); compared offline, it shows as removed.
    let report = dir.path().join("report.json");
    assert_code(
        "fresh plan",
        &cluster.jardin(&["plan", root_s, "--live", &live, "-o", plan_s]),
        2,
    );
    let deployment_fields = |plan: &Value| -> Vec<String> {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "Deployment" && c["name"] == "hedgedoc")
            .flat_map(|c| c["fields"].as_array().unwrap().clone())
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    let through_server = read_json(&plan);
    assert_eq!(through_server["server_side"], true);
    let fields = deployment_fields(&through_server);
    assert!(!fields.is_empty(), "{through_server:#}");
    assert!(!fields.iter().any(|f| f.contains("team")), "{fields:?}");
    let offline = cluster.jardin(&[
        "plan",
        root_s,
        "--live",
        &live,
        "--compare",
        "offline",
        "--format",
        "json",
    ]);
    assert_code("offline plan", &offline, 2);
    let offline: Value = serde_json::from_str(&offline.1).unwrap();
    assert!(
        deployment_fields(&offline)
            .iter()
            .any(|f| f.contains("team")),
        "{offline:#}"
    );
    assert_code(
        "apply of the fresh plan",
        &cluster.jardin(&[
            "apply",
            plan_s,
            "--root",
            root_s,
            "--report",
            report.to_str().unwrap(),
        ]),
        2,
    );
    let r = entries(&read_json(&report));
    assert!(
        r.iter().any(|e| e.0 == "applied" && e.2 == "Deployment"),
        "{r:?}"
    );
    assert!(r.len() < 5, "only the changed objects are sent: {r:?}");
    // An edited plan file is refused: it is never executed as written.
    let mut edited = read_json(&plan);
    edited["desired_hash"] = json!("blake3:0000");
    std::fs::write(&plan, edited.to_string()).unwrap();
    let refused = cluster.jardin(&["apply", plan_s, "--root", root_s]);
    assert_code("edited plan", &refused, 1);
    assert!(flat(&refused.2).contains("J0621"), "{}", refused.2);
    std::fs::write(&plan, "not a plan").unwrap();
    let garbage = cluster.jardin(&["apply", plan_s, "--root", root_s]);
    assert!(
        garbage.0 == 1 && flat(&garbage.2).contains("J0620"),
        "{}",
        garbage.2
    );

    // Another manager takes a field jardin owns: a conflict, named.
    let takeover = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hedgedoc", "namespace": "les-amis-pad"}, "spec": {"replicas": 3}});
    cluster.apply_as("kubectl-edit", takeover, true).unwrap();
    let conflict = apply_root(&[]);
    assert_code("conflict", &conflict, 1);
    assert!(
        flat(&conflict.2).contains("J0624")
            && flat(&conflict.2).contains("\"kubectl-edit\" owns .spec.replicas"),
        "{}",
        conflict.2
    );
    let forced = apply_root(&["--force-conflicts"]);
    assert_code("conflict forced", &forced, 2);
    let d = cluster
        .get("apps/v1", "Deployment", Some("les-amis-pad"), "hedgedoc")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 1);

    // An immutable field: the claim's storage class.
    let jardin_ncl = root.join("jardin.ncl");
    let text = std::fs::read_to_string(&jardin_ncl).unwrap();
    std::fs::write(
        &jardin_ncl,
        text.replace("rwo = \"local-path\"", "rwo = \"fast-ssd\""),
    )
    .unwrap();
    let immutable = apply_root(&[]);
    assert_code("immutable field", &immutable, 3);
    assert!(
        flat(&immutable.2).contains(
            "PersistentVolumeClaim/les-amis-pad/uploads: spec.storageClassName is immutable"
        ) && flat(&immutable.2).contains("--recreate"),
        "{}",
        immutable.2
    );
    // The claim is in use: as an operator would, stop the app first.
    let deployments = cluster.api("apps/v1", "Deployment", Some("les-amis-pad"));
    cluster
        .runtime
        .block_on(deployments.delete("hedgedoc", &Default::default()))
        .unwrap();
    let recreated = apply_root(&["--recreate", "PersistentVolumeClaim/les-amis-pad/uploads"]);
    assert_code("recreated", &recreated, 2);
    let pvc = cluster
        .get(
            "v1",
            "PersistentVolumeClaim",
            Some("les-amis-pad"),
            "uploads",
        )
        .unwrap();
    assert_eq!(pvc["spec"]["storageClassName"], "fast-ssd");
    assert_code("converged", &apply_root(&[]), 0);
    let unwritable = apply_root(&["--report", "/nonexistent/dir/report.json"]);
    assert_code("report not written", &unwritable, 1);
    assert!(flat(&unwritable.2).contains("J0629"), "{}", unwritable.2);

    // A merge request's job whose credentials may read but not patch: its
    // dry runs are refused, so the plan says so once and compares offline;
    // `apply` on main, with credentials that may, compares the same way.
    let reader = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "jardin-plan-reader"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
    });
    cluster
        .apply_as("jardin-test-setup", reader, false)
        .unwrap();
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "jardin-plan-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "jardin-plan-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "reader"}],
    });
    cluster
        .apply_as("jardin-test-setup", binding, false)
        .unwrap();
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(
        &tenant,
        text.replace(
            "settings.allow_anonymous = true",
            "settings.allow_anonymous = false",
        ),
    )
    .unwrap();
    let reader_config = cluster.control_plane.reader_kubeconfig();
    let read_only = cluster.jardin_with(
        &reader_config,
        &["plan", root_s, "--live", &live, "-o", plan_s],
    );
    assert_code("plan with read-only credentials", &read_only, 2);
    assert_eq!(
        flat(&read_only.2).matches("cannot send dry runs").count(),
        1,
        "{}",
        read_only.2
    );
    assert!(read_json(&plan).get("server_side").is_none());
    assert_code(
        "apply of a plan made offline",
        &cluster.jardin(&["apply", plan_s, "--root", root_s, "--timeout", "60s"]),
        2,
    );
}

/// `apply` killed while a wave waits, then run again: it converges, and
/// the inventory written first lists what the killed run created.
#[test]
fn an_apply_killed_mid_wave_converges_when_run_again() {
    let cluster = Cluster::start();
    let (_dir, root) = example("minimal");
    let root_s = root.to_str().unwrap();
    let live = format!("potager=kube:{CONTEXT}");
    // Another tool made the tenant's namespace, with a quota that admits no
    // Secret: the API server refuses jardin's, and says why.
    cluster
        .apply_as(
            "other-tool",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "les-amis-pad"}}),
            false,
        )
        .unwrap();
    let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-secrets", "namespace": "les-amis-pad"}, "spec": {"hard": {"count/secrets": "0"}}});
    cluster.apply_as("other-tool", quota, false).unwrap();
    let refused = cluster.apply_root(root_s, &live, &["--timeout", "60s"]);
    assert_code("refused by a quota", &refused, 1);
    assert!(
        flat(&refused.2).contains("J0625")
            && flat(&refused.2).contains("the API server refused it"),
        "{}",
        refused.2
    );
    let quotas = cluster.api("v1", "ResourceQuota", Some("les-amis-pad"));
    cluster
        .runtime
        .block_on(quotas.delete("no-secrets", &Default::default()))
        .unwrap();

    cluster.kubelet.hold_pods();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jardin"))
        .args([
            "apply",
            root_s,
            "--live",
            &live,
            "--auto-approve",
            "--no-cache",
        ])
        .env("KUBECONFIG", cluster.control_plane.kubeconfig())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The Deployment is sent, and its wave waits for pods that never start.
    let deadline = Instant::now() + Duration::from_secs(120);
    while cluster
        .get("apps/v1", "Deployment", Some("les-amis-pad"), "hedgedoc")
        .is_none()
    {
        assert!(Instant::now() < deadline, "the Deployment was never sent");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        cluster
            .get("v1", "Service", Some("les-amis-pad"), "hedgedoc")
            .is_none(),
        "killed before the next wave"
    );
    let parent = cluster
        .get("v1", "Secret", Some("jardin-system"), "jardin-applyset")
        .unwrap();
    assert!(
        parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
            .as_str()
            .unwrap()
            .contains("Deployment.apps")
    );

    cluster.kubelet.release_pods();
    let again = cluster.apply_root(root_s, &live, &["--timeout", "60s"]);
    assert_code("run again", &again, 2);
    assert!(cluster
        .get(
            "networking.k8s.io/v1",
            "Ingress",
            Some("les-amis-pad"),
            "hedgedoc"
        )
        .is_some());
    assert_code("converged", &cluster.apply_root(root_s, &live, &[]), 0);
    assert_code(
        "plan",
        &cluster.jardin(&["plan", root_s, "--live", &live]),
        0,
    );

    // A wave whose pods never become ready fails, and names what it saw.
    cluster.kubelet.hold_pods();
    let tenant = root.join("tenants/les-amis.ncl");
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(
        &tenant,
        text.replace(
            "host = \"pad.petit-jardin.org\" }",
            "host = \"pad.petit-jardin.org\", settings.allow_anonymous = true }",
        ),
    )
    .unwrap();
    let stuck = cluster.apply_root(root_s, &live, &["--timeout", "3s"]);
    assert_code("not ready", &stuck, 1);
    assert!(
        flat(&stuck.2).contains("J0626")
            && flat(&stuck.2).contains("Deployment/les-amis-pad/hedgedoc: not ready"),
        "{}",
        stuck.2
    );
    cluster.kubelet.release_pods();

    // A kind the cluster does not serve (its operator is not installed).
    let crds = cluster.api("apiextensions.k8s.io/v1", "CustomResourceDefinition", None);
    cluster
        .runtime
        .block_on(crds.delete("objectstores.barmancloud.cnpg.io", &Default::default()))
        .unwrap();
    let unserved = cluster.apply_root(root_s, &live, &["--timeout", "60s"]);
    assert_code("kind not served", &unserved, 1);
    assert!(
        flat(&unserved.2).contains("J0627")
            && flat(&unserved.2).contains("does not serve ObjectStore"),
        "{}",
        unserved.2
    );

    // A config that empties the cluster is refused whatever the flags.
    for f in std::fs::read_dir(root.join("tenants")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let everything = cluster.apply_root(
        root_s,
        &live,
        &[
            "--allow-delete-state",
            "--max-deletes",
            "1000",
            "--max-delete-percent",
            "100",
        ],
    );
    assert_code("deleting everything", &everything, 1);
    assert!(flat(&everything.2).contains("J0623"), "{}", everything.2);
}

/// `apply --dns`: the zone's RFC 2136 update goes out to a real Knot
/// before the clusters' waves. A zone that cannot be updated holds back
/// the Ingresses serving its names (their certificates need the records)
/// and nothing else; a plan made with `--dns` carries the zone to `apply`,
/// and a server-side dry run changes neither the cluster nor the zone.
#[test]
fn zones_go_out_before_the_ingresses_that_need_them() {
    let cluster = Cluster::start();
    let knot = knot::Knot::start(&[("petit-jardin.org", knot::initial_zone("petit-jardin.org"))]);
    let (dir, root) = example("minimal");
    let config = root.join("jardin.ncl");
    let text = std::fs::read_to_string(&config).unwrap();
    let zone = "zones.\"petit-jardin.org\" = {";
    assert!(text.contains(zone));
    std::fs::write(
        &config,
        text.replace(
            zone,
            &format!(
                "{zone}\n    provider = \"rfc2136\",\n    server = \"127.0.0.1:53\",\n    tsig = {{ name = \"jardin\", secret = {{ external = \"env:JARDIN_TSIG_SECRET\" }} }},"
            ),
        ),
    )
    .unwrap();
    let root_s = root.to_str().unwrap();
    let live = format!("potager=kube:{CONTEXT}");
    let knot_addr = knot.addr();
    let dead = format!("127.0.0.1:{}", knot::free_port());
    let report = dir.path().join("report.json");
    let report_s = report.to_str().unwrap();
    let no_secret = |run: &(i32, String, String)| {
        assert!(
            !run.1.contains(knot::SECRET) && !run.2.contains(knot::SECRET),
            "the TSIG secret was printed"
        );
    };

    // The DNS server does not answer: the Ingress is held back, the rest
    // of the tenant is applied, and the run fails.
    let failed = cluster.apply_root(
        root_s,
        &live,
        &[
            "--dns",
            "--dns-server",
            &dead,
            "--timeout",
            "60s",
            "--report",
            report_s,
        ],
    );
    no_secret(&failed);
    assert_code("apply with the zone's server down", &failed, 1);
    let r = read_json(&report);
    assert_eq!(r["zones"][0]["zone"], "petit-jardin.org", "{r:#}");
    assert_eq!(r["zones"][0]["outcome"], "failed", "{r:#}");
    let all = entries(&r);
    let ingresses: Vec<&(String, String, String, String)> =
        all.iter().filter(|e| e.2 == "Ingress").collect();
    assert!(!ingresses.is_empty(), "{all:?}");
    assert!(
        ingresses.iter().all(|e| e.0 == "skipped" && e.1 == "hold"),
        "{all:?}"
    );
    assert!(
        all.iter().any(|e| e.0 == "applied" && e.2 == "Deployment"),
        "{all:?}"
    );
    let (ns, name) = ingresses[0].3.split_once('/').unwrap();
    let (ns, name) = (ns.to_string(), name.to_string());
    assert!(cluster
        .get("networking.k8s.io/v1", "Ingress", Some(&ns), &name)
        .is_none());

    // A plan with its zone, reviewed; a server-side dry run of it changes
    // nothing anywhere.
    let plan = dir.path().join("plan.json");
    let plan_s = plan.to_str().unwrap();
    let planned = cluster.jardin(&[
        "plan",
        root_s,
        "--live",
        &live,
        "--dns",
        "--dns-server",
        &knot_addr,
        "-o",
        plan_s,
    ]);
    no_secret(&planned);
    assert_code("plan with --dns", &planned, 2);
    assert!(planned.1.contains("petit-jardin.org"), "{}", planned.1);
    let saved = read_json(&plan);
    assert_eq!(saved["zones"][0]["zone"], "petit-jardin.org");
    assert!(!saved["zones"][0]["changes"].as_array().unwrap().is_empty());
    let dry = cluster.jardin(&[
        "apply",
        plan_s,
        "--root",
        root_s,
        "--dns-server",
        &knot_addr,
        "--dry-run=server",
        "--report",
        report_s,
    ]);
    assert_code("server-side dry run", &dry, 2);
    let r = read_json(&report);
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["zones"][0]["outcome"], "skipped", "{r:#}");
    assert!(cluster
        .get("networking.k8s.io/v1", "Ingress", Some(&ns), &name)
        .is_none());
    let cname = || knot.kdig(&["CNAME", "pad.petit-jardin.org"]);
    assert!(!cname().contains("ingress.potager"), "{}", cname());

    // The plan applied: the records, then the Ingress.
    let applied = cluster.jardin(&[
        "apply",
        plan_s,
        "--root",
        root_s,
        "--dns-server",
        &knot_addr,
        "--timeout",
        "60s",
        "--report",
        report_s,
    ]);
    no_secret(&applied);
    assert_code("apply of the plan with its zone", &applied, 2);
    // What docs/APPLY.md shows (`--nocapture`).
    println!("{}", applied.2);
    let r = read_json(&report);
    assert_eq!(r["zones"][0]["outcome"], "applied", "{r:#}");
    assert!(r["zones"][0]["changes"].as_u64().unwrap() > 0, "{r:#}");
    assert!(cluster
        .get("networking.k8s.io/v1", "Ingress", Some(&ns), &name)
        .is_some());
    assert!(
        cname().contains("ingress.potager.petit-jardin.org"),
        "{}",
        cname()
    );

    // Nothing is left to do, in the zone or the cluster.
    let again = cluster.apply_root(root_s, &live, &["--dns", "--dns-server", &knot_addr]);
    assert_code("apply again", &again, 0);
    // A plan without --dns holds no zone: `apply --dns` of it is refused.
    assert_code(
        "plan without --dns",
        &cluster.jardin(&["plan", root_s, "--live", &live, "-o", plan_s]),
        0,
    );
    let no_zones = cluster.jardin(&["apply", plan_s, "--root", root_s, "--dns"]);
    assert_code("--dns with a plan without zones", &no_zones, 1);
    assert!(
        flat(&no_zones.2).contains("holds no zones"),
        "{}",
        no_zones.2
    );
}

/// A cluster to try `jardin apply` on by hand (its progress display in a
/// terminal, say): the same control plane, CRDs and kubelet stand-in as
/// the tests, held until the file it names is created (at most an hour).
///
///     cargo test -p jardin --test apply -- --ignored --nocapture a_cluster_to_try
#[test]
#[ignore]
fn a_cluster_to_try() {
    let cluster = Cluster::start();
    let stop = cluster
        .control_plane
        .kubeconfig()
        .with_file_name("stop-the-cluster");
    println!(
        "KUBECONFIG={} (context {CONTEXT}); `touch {}` stops it",
        cluster.control_plane.kubeconfig().display(),
        stop.display()
    );
    let deadline = Instant::now() + Duration::from_secs(3600);
    while !stop.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
}
