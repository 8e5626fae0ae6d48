//! jardin's output against a real Kubernetes 1.20 API server
//! (`support/kube_apiserver.rs`; `bash scripts/prepare-kube-apiserver.sh`
//! prepares it), with the upstream CRDs of the operators installed
//! (`support/crds.rs` reads them from `<repo>/../shared/crds/` and adapts
//! them to 1.20).
//!
//! - `examples_apply_on_kube_1_20`: every example is built, and the WHOLE
//!   output of each of its clusters is applied to a cluster of its own, by
//!   server-side apply, in the order of its `apply-order.txt`. Every
//!   object must be accepted; every rejection is collected (never only the
//!   first) and printed, grouped by cause. The kinds 1.20 does not serve
//!   (`policy/v1` PodDisruptionBudget, `batch/v1` CronJob) cannot be
//!   applied: each such object is listed, must validate against jardin's
//!   embedded schema, and is also offered to the server, as a dry run, in
//!   the beta version 1.20 serves (reported, not asserted: see
//!   docs/TESTING.md). The kinds whose CRD is not available
//!   (`CRD_NOT_AVAILABLE`: the Barman Cloud plugin's `ObjectStore`) are
//!   listed as such and checked by jardin's embedded schema only.
//! - `embedded_crd_schemas_refuse_what_upstream_crds_refuse`: each custom
//!   resource jardin emits for the examples, as emitted and without each
//!   field its upstream CRD requires, is sent to the server as a dry run;
//!   whatever the upstream CRD refuses, jardin's embedded schema must
//!   refuse too. It must also refuse an object that lacks a field the
//!   upstream CRD requires even where the server fills that field in with
//!   the CRD's default (CloudNativePG's `spec.instances`: jardin says what
//!   it means).
//!
//!     cargo test -p jardin --test apiserver -- --nocapture

#[path = "support/crds.rs"]
mod crds;
#[path = "support/kube_apiserver.rs"]
mod kube_apiserver;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, Discovery, Scope};
use kube_apiserver::TestCluster;
use serde_json::Value;

use crds::UpstreamCrd;

/// The examples whose output is applied, each a config root under examples/.
const EXAMPLES: &[&str] = &["collective", "minimal", "tiers-lieu"];
/// The field manager of every apply.
const MANAGER: &str = "jardin-test";
/// The kinds jardin emits that a 1.20 server does not serve, and the
/// version it serves instead (`apiVersion/Kind` as in the schema index).
const NOT_SERVED_BY_1_20: &[(&str, &str)] = &[
    ("policy/v1/PodDisruptionBudget", "policy/v1beta1"),
    ("batch/v1/CronJob", "batch/v1beta1"),
];
/// The kinds jardin emits whose CRD the test cannot install, and why:
/// their objects are checked by jardin's embedded schema only (asserted),
/// listed in the report, and counted. Any other kind the server does not
/// serve fails the test.
const CRD_NOT_AVAILABLE: &[(&str, &str)] = &[(
    "barmancloud.cnpg.io/v1/ObjectStore",
    "the CRD of CloudNativePG's Barman Cloud plugin is not in shared/crds, and CI has no internet to fetch it",
)];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn upstream_crds() -> Vec<UpstreamCrd> {
    crds::load(&crds::dir(&repo()))
}

// ---------------------------------------------------------------- build

/// One example's build output.
struct Build {
    example: &'static str,
    _dir: tempfile::TempDir,
    /// `<out>/k8s/<cluster>` of each cluster, sorted.
    clusters: Vec<(String, PathBuf)>,
}

/// `jardin build examples/<example> -o <tmp>`.
fn build(example: &'static str) -> Build {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("build");
    let root = repo().join("examples").join(example);
    let run = Command::new(env!("CARGO_BIN_EXE_jardin"))
        .arg("build")
        .arg(&root)
        .arg("-o")
        .arg(&out)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("run jardin");
    assert!(
        run.status.success(),
        "jardin build {} failed ({}):\n{}{}",
        root.display(),
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let mut clusters: Vec<(String, PathBuf)> = std::fs::read_dir(out.join("k8s"))
        .unwrap_or_else(|e| panic!("{}/k8s: {e}", out.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    clusters.sort();
    assert!(!clusters.is_empty(), "{example}: no cluster under k8s/");
    Build {
        example,
        _dir: dir,
        clusters,
    }
}

/// One object of the output, where it comes from.
#[derive(Clone)]
struct Manifest {
    /// `examples/<example>` → `k8s/<cluster>/<path>`.
    example: &'static str,
    cluster: String,
    wave: u32,
    /// Relative to `k8s/<cluster>/`.
    path: String,
    object: Value,
}

impl Manifest {
    fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or("")
    }
    fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or("")
    }
    fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str()
    }
    /// `apiVersion/Kind`, the schema index's key.
    fn key(&self) -> String {
        format!("{}/{}", self.api_version(), self.kind())
    }
    /// `k8s/<cluster>/<path>`.
    fn location(&self) -> String {
        format!("k8s/{}/{}", self.cluster, self.path)
    }
    /// `Kind namespace/name`.
    fn ident(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{} {ns}/{}", self.kind(), self.name()),
            None => format!("{} {}", self.kind(), self.name()),
        }
    }
}

/// The manifests of one cluster directory in the order of its
/// `apply-order.txt` (`# wave<TAB>manifest` then one `<wave><TAB><path>`
/// line per manifest, waves non-decreasing), and what is wrong with that
/// file: a malformed line, a wave going back, a listed file that is
/// missing, a manifest that is not listed (the whole output is applied, or
/// the test says why not).
fn read_apply_order(
    example: &'static str,
    cluster: &str,
    dir: &Path,
) -> (Vec<Manifest>, Vec<String>) {
    let order_file = dir.join("apply-order.txt");
    let text = std::fs::read_to_string(&order_file)
        .unwrap_or_else(|e| panic!("{}: {e}", order_file.display()));
    let mut problems = Vec::new();
    let mut manifests = Vec::new();
    let mut listed = BTreeSet::new();
    let mut last_wave = 0;
    for (i, line) in text.lines().enumerate() {
        let at = format!("k8s/{cluster}/apply-order.txt:{}", i + 1);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((wave, path)) = line.split_once('\t') else {
            problems.push(format!("{at}: not `<wave><TAB><manifest>`: {line:?}"));
            continue;
        };
        let Ok(wave) = wave.parse::<u32>() else {
            problems.push(format!("{at}: wave {wave:?} is not a number"));
            continue;
        };
        if wave < last_wave {
            problems.push(format!("{at}: wave {wave} after wave {last_wave}"));
        }
        last_wave = wave;
        if !listed.insert(path.to_string()) {
            problems.push(format!("{at}: {path} listed twice"));
            continue;
        }
        let text = match std::fs::read_to_string(dir.join(path)) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{at}: {path}: {e}"));
                continue;
            }
        };
        match crds::parse_documents(&text) {
            Ok(objects) if objects.is_empty() => {
                problems.push(format!("{at}: {path} holds no object"))
            }
            Ok(objects) => manifests.extend(objects.into_iter().map(|object| Manifest {
                example,
                cluster: cluster.to_string(),
                wave,
                path: path.to_string(),
                object,
            })),
            Err(e) => problems.push(format!("{at}: {path}: not YAML: {e}")),
        }
    }
    for file in yaml_files(dir, dir) {
        if !listed.contains(&file) {
            problems.push(format!(
                "k8s/{cluster}/{file}: not in apply-order.txt, so never applied"
            ));
        }
    }
    (manifests, problems)
}

/// Every `*.yaml` under `dir`, relative to `base`.
fn yaml_files(base: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(yaml_files(base, &p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
    out
}

// ---------------------------------------------------------------- client

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn client(cluster: &TestCluster) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(cluster.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The server's answer to a refused request: (message, reason and code).
fn refusal(e: kube::Error) -> (String, String) {
    match e {
        kube::Error::Api(status) => (
            status.message.clone(),
            format!("{} {}", status.code, status.reason),
        ),
        other => (other.to_string(), "client error".to_string()),
    }
}

/// What discovery says of an `apiVersion` and `kind`.
fn resolve(
    discovery: &Discovery,
    api_version: &str,
    kind: &str,
) -> Option<(ApiResource, ApiCapabilities)> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    discovery.resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
}

/// Server-side apply of one object (a dry run if asked): None if
/// accepted, else the server's (message, reason).
async fn apply(
    client: &kube::Client,
    resource: &(ApiResource, ApiCapabilities),
    object: &Value,
    dry_run: bool,
) -> Option<(String, String)> {
    let (ar, caps) = resource;
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => Api::namespaced_with(
            client.clone(),
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default"),
            ar,
        ),
        Scope::Cluster => Api::all_with(client.clone(), ar),
    };
    let mut params = PatchParams::apply(MANAGER).force();
    if dry_run {
        params = params.dry_run();
    }
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .err()
        .map(refusal)
}

/// Peak resident memory of each server process of a cluster, in MiB.
fn peak_memory_mib(cluster: &TestCluster) -> Vec<(&'static str, u64)> {
    cluster
        .pids()
        .into_iter()
        .map(|(name, pid)| {
            let kib: u64 = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmHWM:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                })
                .unwrap_or(0);
            (name, kib / 1024)
        })
        .collect()
}

// ---------------------------------------------------------------- test 1

/// An object the server refused.
struct Rejection {
    manifest: Manifest,
    message: String,
    reason: String,
    /// When the object was refused because its namespace does not exist
    /// (it is not in the output): the server's answer once the test has
    /// created that namespace itself (None: accepted), which the missing
    /// namespace hid.
    behind_missing_namespace: Option<Option<String>>,
}

impl Rejection {
    /// The namespace whose absence is the whole reason of the refusal.
    fn missing_namespace(&self) -> Option<&str> {
        let ns = self.manifest.namespace()?;
        (self.reason.starts_with("404 ")
            && self.message == format!("namespaces \"{ns}\" not found"))
        .then_some(ns)
    }
}

/// An object of a kind 1.20 does not serve.
struct NotServed {
    manifest: Manifest,
    /// jardin's embedded schema's verdict (empty: valid).
    violations: Vec<String>,
    /// The version 1.20 serves instead, and the server's answer to a dry
    /// run of the object in that version (None: accepted).
    beta: Option<(String, Option<String>)>,
}

/// What applying one cluster's output gave.
struct ClusterRun {
    example: &'static str,
    cluster: String,
    objects: usize,
    applied: usize,
    rejections: Vec<Rejection>,
    not_served: Vec<NotServed>,
    order_problems: Vec<String>,
    startup: Duration,
    apply_time: Duration,
    memory: Vec<(&'static str, u64)>,
}

fn apply_cluster(
    example: &'static str,
    cluster_name: &str,
    dir: &Path,
    crds: &[UpstreamCrd],
) -> ClusterRun {
    let (manifests, order_problems) = read_apply_order(example, cluster_name, dir);
    let cluster = TestCluster::start();
    let startup = cluster.startup_time();
    let t0 = Instant::now();
    let (rejections, not_served) = runtime().block_on(async {
        let client = client(&cluster).await;
        crds::install(&client, crds, MANAGER).await;
        let discovery = Discovery::new(client.clone()).run().await.unwrap();
        let mut rejections = Vec::new();
        let mut not_served = Vec::new();
        for m in &manifests {
            match resolve(&discovery, m.api_version(), m.kind()) {
                Some(resource) => {
                    if let Some((message, reason)) = apply(&client, &resource, &m.object, false).await {
                        rejections.push(Rejection {
                            manifest: m.clone(),
                            message,
                            reason,
                            behind_missing_namespace: None,
                        });
                    }
                }
                None => {
                    let violations = jardin_compiler::schema::validate(&m.object)
                        .into_iter()
                        .map(|v| format!("{}: {}", v.path, v.message))
                        .collect();
                    let key = m.key();
                    let beta = match NOT_SERVED_BY_1_20.iter().find(|(k, _)| *k == key) {
                        Some((_, served)) => {
                            let mut object = m.object.clone();
                            object["apiVersion"] = Value::from(*served);
                            let answer = match resolve(&discovery, served, m.kind()) {
                                Some(resource) => apply(&client, &resource, &object, true)
                                    .await
                                    .map(|(message, _)| message),
                                None => Some(format!("{served} {} is not served either", m.kind())),
                            };
                            Some((served.to_string(), answer))
                        }
                        None => None,
                    };
                    not_served.push(NotServed {
                        manifest: m.clone(),
                        violations,
                        beta,
                    });
                }
            }
        }
        // What the missing namespaces hide: the test creates them (they are
        // not in the output, and stay rejections) and applies the objects
        // they held back, in order.
        let missing: BTreeSet<String> = rejections
            .iter()
            .filter_map(|r| r.missing_namespace().map(str::to_string))
            .collect();
        let namespace = resolve(&discovery, "v1", "Namespace").unwrap();
        for ns in &missing {
            let object = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            if let Some((msg, _)) = apply(&client, &namespace, &object, false).await {
                panic!("creating namespace {ns}: {msg}");
            }
        }
        for r in rejections.iter_mut() {
            if r.missing_namespace().is_some() {
                let m = &r.manifest;
                let resource = resolve(&discovery, m.api_version(), m.kind()).unwrap();
                r.behind_missing_namespace =
                    Some(apply(&client, &resource, &m.object, false).await.map(|(msg, _)| msg));
            }
        }
        (rejections, not_served)
    });
    let apply_time = t0.elapsed();
    let memory = peak_memory_mib(&cluster);
    drop(cluster);
    ClusterRun {
        example,
        cluster: cluster_name.to_string(),
        objects: manifests.len(),
        applied: manifests.len() - rejections.len() - not_served.len(),
        rejections,
        not_served,
        order_problems,
        startup,
        apply_time,
        memory,
    }
}

/// What a rejection is about, without the object's own name: the server's
/// message with the `Kind.group "name" is invalid: ` prefix dropped and
/// the object's name and namespace replaced, one cause per field error.
fn causes(r: &Rejection, message: &str, reason: &str) -> Vec<String> {
    let m = &r.manifest;
    let mut msg = message.to_string();
    if let Some(i) = msg.find(" is invalid: ") {
        msg = msg[i + " is invalid: ".len()..].to_string();
    }
    let name = m.name();
    let mut msg = if name.is_empty() {
        msg
    } else {
        msg.replace(&format!("\"{name}\""), "\"<name>\"")
    };
    if let Some(ns) = m.namespace() {
        msg = msg.replace(&format!("\"{ns}\""), "\"<namespace>\"");
    }
    // `[a: x, b: y]`: the server's list of field errors.
    let list = msg.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
    let parts: Vec<String> = match list {
        Some(inner) => split_field_errors(inner),
        None => vec![msg],
    };
    parts
        .into_iter()
        .map(|p| format!("{} {reason}: {p}", m.key()))
        .collect()
}

/// Splits `a.b: Invalid value: "x, y": msg, c: Required value` at the
/// commas that start a new field error (`, <path>: `), not inside quotes.
fn split_field_errors(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' && (i == 0 || chars[i - 1] != '\\') {
            in_quotes = !in_quotes;
        }
        if !in_quotes && c == ',' && chars.get(i + 1) == Some(&' ') {
            let rest: String = chars[i + 2..].iter().collect();
            let head = rest.split(": ").next().unwrap_or("");
            let looks_like_path = !head.is_empty()
                && head.len() < rest.len()
                && head
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._[]-/".contains(c));
            if looks_like_path {
                out.push(std::mem::take(&mut current));
                i += 2;
                continue;
            }
        }
        current.push(c);
        i += 1;
    }
    out.push(current);
    out
}

#[test]
fn examples_apply_on_kube_1_20() {
    let t0 = Instant::now();
    let crds = upstream_crds();
    let builds: Vec<Build> = EXAMPLES.iter().map(|e| build(e)).collect();
    let build_time = t0.elapsed();

    // One API server per jardin cluster, all at once.
    let runs: Vec<ClusterRun> = std::thread::scope(|s| {
        let handles: Vec<_> = builds
            .iter()
            .flat_map(|b| b.clusters.iter().map(move |(c, d)| (b.example, c, d)))
            .map(|(example, cluster, dir)| {
                let crds = &crds;
                s.spawn(move || apply_cluster(example, cluster, dir, crds))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut report = String::new();
    let _ = writeln!(
        report,
        "\n===== jardin output applied to kube-apiserver 1.20 (server-side apply, field manager {MANAGER}) ====="
    );
    let _ = writeln!(
        report,
        "upstream CRDs from {}:",
        crds::dir(&repo()).display()
    );
    for c in &crds {
        let _ = writeln!(report, "  {} ({}): {}", c.name, c.file, c.changes);
    }
    let _ = writeln!(report, "builds: {:.1} s", build_time.as_secs_f64());
    for r in &runs {
        let _ = writeln!(
            report,
            "examples/{} cluster {}: {} objects, {} applied, {} rejected, {} of kinds 1.20 does not serve; \
             server up in {:.1} s, CRDs + objects in {:.1} s; peak RSS MiB {:?}",
            r.example,
            r.cluster,
            r.objects,
            r.applied,
            r.rejections.len(),
            r.not_served.len(),
            r.startup.as_secs_f64(),
            r.apply_time.as_secs_f64(),
            r.memory
        );
    }

    // Rejections, grouped by cause.
    let rejections: Vec<&Rejection> = runs.iter().flat_map(|r| &r.rejections).collect();
    let mut by_cause: BTreeMap<String, Vec<&Rejection>> = BTreeMap::new();
    for r in &rejections {
        for cause in causes(r, &r.message, &r.reason) {
            by_cause.entry(cause).or_default().push(r);
        }
        // What a missing namespace hid, as a cause of its own.
        if let Some(Some(msg)) = &r.behind_missing_namespace {
            for cause in causes(r, msg, "once its namespace exists") {
                by_cause.entry(cause).or_default().push(r);
            }
        }
    }
    let total: usize = runs.iter().map(|r| r.objects).sum();
    let _ = writeln!(
        report,
        "\n----- {} of {total} objects rejected, {} causes -----",
        rejections.len(),
        by_cause.len()
    );
    for (cause, rs) in &by_cause {
        let _ = writeln!(report, "\n[{}] {cause}", rs.len());
        for r in rs {
            let m = &r.manifest;
            let namespace_cause =
                r.missing_namespace().is_some() && causes(r, &r.message, &r.reason).contains(cause);
            let behind = match &r.behind_missing_namespace {
                Some(None) if namespace_cause => " (accepted once the namespace exists)",
                Some(Some(_)) if namespace_cause => {
                    " (REFUSED once the namespace exists: see that cause)"
                }
                _ => "",
            };
            let _ = writeln!(
                report,
                "    examples/{} {} (wave {}) {}{behind}",
                m.example,
                m.location(),
                m.wave,
                m.ident()
            );
        }
    }
    let _ = writeln!(report, "\n----- every rejection, in full -----");
    for r in &rejections {
        let m = &r.manifest;
        let behind = match &r.behind_missing_namespace {
            Some(None) => " → once the namespace exists: accepted".to_string(),
            Some(Some(msg)) => format!(" → once the namespace exists: REFUSED: {msg}"),
            None => String::new(),
        };
        let _ = writeln!(
            report,
            "examples/{} {} {}: {} ({}){behind}",
            m.example,
            m.location(),
            m.ident(),
            r.message,
            r.reason
        );
    }

    // Kinds 1.20 does not serve.
    let not_served: Vec<&NotServed> = runs.iter().flat_map(|r| &r.not_served).collect();
    let schema_checked = not_served
        .iter()
        .filter(|n| n.violations.is_empty())
        .count();
    let _ = writeln!(
        report,
        "\n----- {} objects of kinds 1.20 does not serve: {schema_checked} valid against jardin's embedded schema -----",
        not_served.len()
    );
    for (kind, why) in CRD_NOT_AVAILABLE {
        let n = not_served
            .iter()
            .filter(|n| n.manifest.key() == *kind)
            .count();
        let _ = writeln!(
            report,
            "    {kind}: {n} objects checked by jardin's schema only, CRD not available: {why}"
        );
    }
    let mut unexpected_kinds = Vec::new();
    let mut invalid = Vec::new();
    for n in &not_served {
        let m = &n.manifest;
        let expected = NOT_SERVED_BY_1_20
            .iter()
            .chain(CRD_NOT_AVAILABLE)
            .any(|(k, _)| *k == m.key());
        if !expected {
            unexpected_kinds.push(format!(
                "examples/{} {} {}: {} is not served by the 1.20 server (no CRD installed for it?)",
                m.example,
                m.location(),
                m.ident(),
                m.key()
            ));
        }
        if !n.violations.is_empty() {
            invalid.push(format!(
                "examples/{} {} {}: {}",
                m.example,
                m.location(),
                m.ident(),
                n.violations.join("; ")
            ));
        }
        let beta = match &n.beta {
            Some((v, None)) => format!("as {v} (dry run): accepted"),
            Some((v, Some(msg))) => format!("as {v} (dry run): REFUSED: {msg}"),
            None if CRD_NOT_AVAILABLE.iter().any(|(k, _)| *k == m.key()) => {
                "checked by jardin's schema only, CRD not available".to_string()
            }
            None => String::new(),
        };
        let _ = writeln!(
            report,
            "    examples/{} {} {} ({}): schema {}; {beta}",
            m.example,
            m.location(),
            m.ident(),
            m.key(),
            if n.violations.is_empty() {
                "valid".to_string()
            } else {
                format!("INVALID: {}", n.violations.join("; "))
            }
        );
    }
    let order_problems: Vec<&String> = runs.iter().flat_map(|r| &r.order_problems).collect();
    if !order_problems.is_empty() {
        let _ = writeln!(report, "\n----- apply-order.txt problems -----");
        for p in &order_problems {
            let _ = writeln!(report, "    {p}");
        }
    }
    let _ = writeln!(report, "\ntotal {:.1} s", t0.elapsed().as_secs_f64());
    eprintln!("{report}");

    assert!(
        order_problems.is_empty(),
        "{} apply-order.txt problems (see above)",
        order_problems.len()
    );
    assert!(
        unexpected_kinds.is_empty(),
        "objects of kinds the 1.20 server does not serve, and which the test does not check otherwise:\n{}",
        unexpected_kinds.join("\n")
    );
    assert!(
        invalid.is_empty(),
        "objects of kinds 1.20 does not serve that jardin's embedded schema refuses:\n{}",
        invalid.join("\n")
    );
    assert!(
        rejections.is_empty(),
        "the 1.20 API server rejected {} of {total} objects ({} causes, listed above)",
        rejections.len(),
        by_cause.len()
    );
}

// ---------------------------------------------------------------- test 2

/// One object offered to the server and to jardin's schema.
struct Case {
    manifest: Manifest,
    /// `as emitted`, or `without spec.instances`.
    variant: String,
    object: Value,
    /// Fields the upstream CRD requires that the object lacks, each with
    /// the default the upstream CRD gives it (if any).
    missing_required: Vec<(String, Option<Value>)>,
}

/// The fields an upstream CRD's schema requires at the top of the object
/// (but `apiVersion`, `kind`, `metadata`) and at the top of `spec`, as
/// (JSON pointer, the default the CRD gives it).
fn required_fields(schema: &Value) -> Vec<(String, Option<Value>)> {
    let mut out = Vec::new();
    let req = |s: &Value| -> Vec<String> {
        s["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for f in req(schema) {
        if !["apiVersion", "kind", "metadata"].contains(&f.as_str()) {
            out.push((
                format!("/{f}"),
                schema["properties"][&f].get("default").cloned(),
            ));
        }
    }
    let spec = &schema["properties"]["spec"];
    for f in req(spec) {
        out.push((
            format!("/spec/{f}"),
            spec["properties"][&f].get("default").cloned(),
        ));
    }
    out
}

fn remove_pointer(object: &mut Value, pointer: &str) -> bool {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    object
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(last))
        .is_some()
}

#[test]
fn embedded_crd_schemas_refuse_what_upstream_crds_refuse() {
    let t0 = Instant::now();
    let crds = upstream_crds();
    let builds: Vec<Build> = EXAMPLES.iter().map(|e| build(e)).collect();

    // The kinds jardin has a CRD schema for (schemas/index.json → crd/…).
    let index: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("crates/compiler/schemas/index.json")).unwrap(),
    )
    .unwrap();
    let crd_kinds: BTreeSet<&String> = index
        .iter()
        .filter(|(_, f)| f.starts_with("crd/"))
        .map(|(k, _)| k)
        .collect();

    // Every custom resource of the output, and its variants.
    let mut cases = Vec::new();
    let mut no_upstream: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
    for b in &builds {
        for (cluster, dir) in &b.clusters {
            let (manifests, _) = read_apply_order(b.example, cluster, dir);
            for m in manifests {
                let upstream = crds.iter().find(|c| c.serves(m.api_version(), m.kind()));
                let Some(upstream) = upstream else {
                    if crd_kinds.contains(&m.key()) {
                        *no_upstream.entry(m.key()).or_default() += 1;
                    }
                    continue;
                };
                *per_kind.entry(m.key()).or_default() += 1;
                let version = m.api_version().split_once('/').unwrap().1;
                let required = required_fields(upstream.schema(version).unwrap());
                let missing = |o: &Value| -> Vec<(String, Option<Value>)> {
                    required
                        .iter()
                        .filter(|(p, _)| o.pointer(p).is_none())
                        .cloned()
                        .collect()
                };
                cases.push(Case {
                    manifest: m.clone(),
                    variant: "as emitted".into(),
                    object: m.object.clone(),
                    missing_required: missing(&m.object),
                });
                for (pointer, _) in &required {
                    let mut object = m.object.clone();
                    if remove_pointer(&mut object, pointer) {
                        cases.push(Case {
                            manifest: m.clone(),
                            variant: format!("without {}", pointer[1..].replace('/', ".")),
                            missing_required: missing(&object),
                            object,
                        });
                    }
                }
            }
        }
    }
    assert!(
        !cases.is_empty(),
        "no custom resource in the examples' output"
    );

    let cluster = TestCluster::start();
    let startup = cluster.startup_time();
    let t1 = Instant::now();
    // (case, the server's refusal, jardin's violations)
    let verdicts: Vec<(Case, Option<String>, Vec<String>)> = runtime().block_on(async {
        let client = client(&cluster).await;
        crds::install(&client, &crds, MANAGER).await;
        let discovery = Discovery::new(client.clone()).run().await.unwrap();
        // The namespaces the objects name (a dry run needs them to exist).
        let namespaces: BTreeSet<&str> = cases
            .iter()
            .filter_map(|c| c.manifest.namespace())
            .collect();
        let ns_resource = resolve(&discovery, "v1", "Namespace").unwrap();
        for ns in namespaces {
            let object = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            if let Some((msg, _)) = apply(&client, &ns_resource, &object, false).await {
                panic!("creating namespace {ns}: {msg}");
            }
        }
        let mut out = Vec::new();
        for case in cases {
            let m = &case.manifest;
            let resource = resolve(&discovery, m.api_version(), m.kind())
                .unwrap_or_else(|| panic!("{} not served although its CRD is installed", m.key()));
            let server = apply(&client, &resource, &case.object, true)
                .await
                .map(|(msg, _)| msg);
            let jardin: Vec<String> = jardin_compiler::schema::validate(&case.object)
                .into_iter()
                .map(|v| format!("{}: {}", v.path, v.message))
                .collect();
            out.push((case, server, jardin));
        }
        out
    });
    let check_time = t1.elapsed();
    let memory = peak_memory_mib(&cluster);
    drop(cluster);

    // Failures: (kind, variant, cause) → objects.
    type Groups = BTreeMap<(String, String, String), Vec<String>>;
    let mut refused_upstream_only: Groups = BTreeMap::new();
    let mut defaulted_upstream_only: Groups = BTreeMap::new();
    let mut stricter: Groups = BTreeMap::new();
    let mut agree = 0;
    for (case, server, jardin) in &verdicts {
        let m = &case.manifest;
        let who = format!("examples/{} {} {}", m.example, m.location(), m.ident());
        let key = |cause: String| (m.key(), case.variant.clone(), cause);
        match (server, jardin.is_empty()) {
            (Some(msg), true) => {
                let cause = msg
                    .find(" is invalid: ")
                    .map(|i| msg[i + " is invalid: ".len()..].to_string())
                    .unwrap_or_else(|| msg.clone())
                    .replace(&format!("\"{}\"", m.name()), "\"<name>\"");
                refused_upstream_only
                    .entry(key(cause))
                    .or_default()
                    .push(who);
            }
            (None, true) if !case.missing_required.is_empty() => {
                let cause = case
                    .missing_required
                    .iter()
                    .map(|(p, d)| match d {
                        Some(d) => format!(
                            "{} is required by the upstream CRD, which defaults it to {d}",
                            p[1..].replace('/', ".")
                        ),
                        None => format!(
                            "{} is required by the upstream CRD (the server accepted the object without it)",
                            p[1..].replace('/', ".")
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                defaulted_upstream_only
                    .entry(key(cause))
                    .or_default()
                    .push(who);
            }
            (None, false) => {
                stricter
                    .entry(key(jardin.join("; ").replace(m.name(), "<name>")))
                    .or_default()
                    .push(who);
            }
            _ => agree += 1,
        }
    }

    let mut report = String::new();
    let _ = writeln!(
        report,
        "\n===== jardin's embedded CRD schemas against the upstream CRDs on kube-apiserver 1.20 (dry-run server-side apply) ====="
    );
    let _ = writeln!(
        report,
        "{} cases ({} custom resources as emitted, and without each field the upstream CRD requires): {agree} same verdict",
        verdicts.len(),
        verdicts.iter().filter(|v| v.0.variant == "as emitted").count()
    );
    let _ = writeln!(
        report,
        "the upstream CRDs refuse {} of them, jardin's schemas {}",
        verdicts.iter().filter(|v| v.1.is_some()).count(),
        verdicts.iter().filter(|v| !v.2.is_empty()).count()
    );
    for (k, n) in &per_kind {
        let _ = writeln!(report, "    {k}: {n} objects");
    }
    let mut unexplained = Vec::new();
    for (k, n) in &no_upstream {
        match CRD_NOT_AVAILABLE.iter().find(|(kind, _)| kind == k) {
            Some((_, why)) => {
                let _ = writeln!(
                    report,
                    "    {k}: {n} objects NOT compared (checked by jardin's schema only, CRD not available): {why}"
                );
            }
            None => {
                let _ = writeln!(
                    report,
                    "    {k}: {n} objects NOT compared: no upstream CRD for it in shared/crds"
                );
                unexplained.push(k.clone());
            }
        }
    }
    let _ = writeln!(
        report,
        "server up in {:.1} s, checks in {:.1} s, peak RSS MiB {memory:?}",
        startup.as_secs_f64(),
        check_time.as_secs_f64()
    );
    let mut print = |title: &str, groups: &Groups| {
        let n: usize = groups.values().map(Vec::len).sum();
        let _ = writeln!(report, "\n----- {title}: {n} cases -----");
        for ((kind, variant, cause), who) in groups {
            let _ = writeln!(report, "\n[{}] {kind} {variant}: {cause}", who.len());
            for w in who {
                let _ = writeln!(report, "    {w}");
            }
        }
    };
    print(
        "FAIL: the upstream CRD refuses, jardin's schema accepts",
        &refused_upstream_only,
    );
    print(
        "FAIL: a field the upstream CRD requires is missing (the server defaults it), jardin's schema accepts",
        &defaulted_upstream_only,
    );
    print(
        "note: jardin's schema refuses, the upstream CRD accepts (jardin is stricter; not a failure)",
        &stricter,
    );
    let _ = writeln!(report, "\ntotal {:.1} s", t0.elapsed().as_secs_f64());
    eprintln!("{report}");

    assert!(
        unexplained.is_empty(),
        "custom resources with no upstream CRD in shared/crds and not in CRD_NOT_AVAILABLE: {unexplained:?}"
    );
    let failures = refused_upstream_only.values().map(Vec::len).sum::<usize>()
        + defaulted_upstream_only
            .values()
            .map(Vec::len)
            .sum::<usize>();
    assert!(
        failures == 0,
        "{failures} cases where jardin's embedded CRD schema accepts what the upstream CRD refuses or requires (listed above)"
    );
}
