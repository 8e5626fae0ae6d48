//! `jardin plan`: golden plans of examples/collective against its live
//! snapshot, the no-change case, exit codes, planted secrets, and the kube
//! client against recorded API responses served from 127.0.0.1.
//!
//! Regenerate after an intended change, then review the diff like code:
//!     JARDIN_UPDATE_GOLDEN=1 cargo test --test plan

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn updating() -> bool {
    std::env::var_os("JARDIN_UPDATE_GOLDEN").is_some()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The binary under test. `$JARDIN_BIN` overrides cargo's path: several
/// worktrees may share one target directory, and so its `debug/jardin`.
fn bin() -> PathBuf {
    std::env::var_os("JARDIN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_jardin")))
}

fn jardin_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(repo())
        .env_remove("NO_COLOR")
        .env_remove("JARDIN_PLAN_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run jardin");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn jardin(args: &[&str]) -> Run {
    jardin_env(args, &[])
}

fn plan(live: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "--color",
        "never",
        "--no-cache",
        "plan",
        "examples/collective",
        "--live",
        live,
    ];
    args.extend_from_slice(extra);
    jardin(&args)
}

fn check_golden(rel: &str, actual: &str) {
    let path = repo().join("golden").join(rel);
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual);
        let report: String = diff
            .unified_diff()
            .context_radius(2)
            .to_string()
            .chars()
            .take(6000)
            .collect();
        panic!(
            "{rel} differs:\n{report}\n(JARDIN_UPDATE_GOLDEN=1 cargo test --test plan regenerates)"
        );
    }
}

#[test]
fn collective_plans_are_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plan.json");
    let text = plan("examples/collective/live", &["-o", file.to_str().unwrap()]);
    assert_eq!(
        text.code, 2,
        "changes, none needing approval:\n{}{}",
        text.stdout, text.stderr
    );
    check_golden("collective/plan.txt", &text.stdout);
    let md = plan("examples/collective/live", &["--format", "markdown"]);
    assert_eq!(md.code, 2, "{}", md.stderr);
    check_golden("collective/plan.md", &md.stdout);
    let json = plan("examples/collective/live", &["--format", "json"]);
    assert_eq!(json.code, 2, "{}", json.stderr);
    check_golden("collective/plan.json", &json.stdout);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        json.stdout,
        "-o writes the JSON plan"
    );

    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert!(v["desired_hash"].as_str().unwrap().starts_with("blake3:"));
    let actions: Vec<(&str, &str)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&("create", "Ingress")), "{actions:?}");
    assert!(actions.contains(&("delete", "Deployment")), "{actions:?}");
    assert!(actions.contains(&("update", "Secret")), "{actions:?}");
}

#[test]
fn a_snapshot_equal_to_the_desired_state_has_no_changes() {
    let r = plan("examples/collective/live-unchanged", &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    check_golden("collective/plan-unchanged.txt", &r.stdout);
    let md = plan(
        "examples/collective/live-unchanged",
        &["--format", "markdown"],
    );
    assert_eq!(md.code, 0);
    assert!(md.stdout.contains("No changes."));
}

#[test]
fn the_same_state_gives_the_same_plan() {
    let a = plan("examples/collective/live", &["--format", "json"]);
    let b = plan("examples/collective/live", &["--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
    // A key in the environment changes tokens, never what changed.
    let c = jardin_env(
        &[
            "--color",
            "never",
            "--no-cache",
            "plan",
            "examples/collective",
            "--live",
            "examples/collective/live",
            "--format",
            "json",
        ],
        &[("JARDIN_PLAN_KEY", "ci-key")],
    );
    assert_eq!(c.code, 2);
    assert_ne!(a.stdout, c.stdout);
}

/// Copies examples/collective/live to a temp dir, for variants.
fn copy_live(dst: &Path) {
    for cluster in ["ada-lovelace", "louise-michel"] {
        let from = repo()
            .join("examples/collective/live")
            .join(cluster)
            .join("list.yaml");
        std::fs::create_dir_all(dst.join(cluster)).unwrap();
        std::fs::copy(from, dst.join(cluster).join("list.yaml")).unwrap();
    }
}

fn add_file(dst: &Path, cluster: &str, name: &str, text: &str) {
    std::fs::write(dst.join(cluster).join(name), text).unwrap();
}

const ORPHAN_PVC: &str = "apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: uploads
  namespace: atelier-paysan-pad
  labels:
    app.kubernetes.io/managed-by: jardin
    jardin.dev/tenant: atelier-paysan
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 5Gi}}
status: {phase: Bound}
";

#[test]
fn deleting_a_volume_needs_approval() {
    let tmp = tempfile::tempdir().unwrap();
    copy_live(tmp.path());
    add_file(tmp.path(), "louise-michel", "orphan-pvc.yaml", ORPHAN_PVC);
    let r = plan(tmp.path().to_str().unwrap(), &[]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Needs approval"), "{}", r.stdout);
    assert!(
        r.stdout.contains("orphan of a removed tenant"),
        "{}",
        r.stdout
    );
    // Too many deletions need approval too.
    let r = plan("examples/collective/live", &["--max-deletes", "0"]);
    assert_eq!(r.code, 3, "{}", r.stdout);
}

#[test]
fn filters_never_delete_outside_their_scope() {
    let r = plan(
        "examples/collective/live",
        &["--tenant", "faire-ecole", "--format", "json"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for c in v["changes"].as_array().unwrap() {
        assert_eq!(c["tenant"], "faire-ecole", "{c}");
    }
}

#[test]
fn errors_are_diagnostics() {
    let r = plan("/nonexistent/live", &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("J0601"), "{}", r.stderr);
    let tmp = tempfile::tempdir().unwrap();
    copy_live(tmp.path());
    add_file(
        tmp.path(),
        "ada-lovelace",
        "broken.yaml",
        "kind: List\nitems: [\n",
    );
    let r = plan(tmp.path().to_str().unwrap(), &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("J0602"), "{}", r.stderr);
}

/// Secret values planted in the live state, in every place one can hide:
/// data we set, generated data, an orphan Secret, a literal env value,
/// kubectl's last-applied annotation, a file listed twice (an error), a
/// file that does not parse (an error). No output may contain any of them,
/// raw or base64-encoded.
#[test]
fn no_output_contains_a_secret_value() {
    use base64::Engine;
    let planted = [
        "PLANTED-username-4f1c9e",
        "PLANTED-generated-8a2d7b",
        "PLANTED-orphan-0e3b5a",
        "PLANTED-env-77c1d2",
        "PLANTED-lastapplied-91aa",
    ];
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let tmp = tempfile::tempdir().unwrap();
    copy_live(tmp.path());
    let list = tmp.path().join("ada-lovelace/list.yaml");
    let text = std::fs::read_to_string(&list).unwrap();
    let mut doc: serde_json::Value = yaml_value(&text);
    for item in doc["items"].as_array_mut().unwrap() {
        let (kind, name, ns) = (
            item["kind"].as_str().unwrap().to_string(),
            item["metadata"]["name"].as_str().unwrap().to_string(),
            item["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
        if kind == "Secret" && name == "le-zinc-pad-db" {
            item["data"]["username"] = b64(planted[0]).into();
            item["data"]["password"] = b64(planted[1]).into();
            item["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
                format!("{{\"stringData\":{{\"password\":\"{}\"}}}}", planted[4]).into();
        }
        if kind == "Deployment" && ns == "le-zinc-pad" {
            let env = item["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array_mut()
                .unwrap();
            env.push(serde_json::json!({"name": "ADMIN_PASSWORD", "value": planted[3]}));
        }
    }
    std::fs::write(&list, serde_json::to_string(&doc).unwrap()).unwrap();
    let orphan = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: old\n  namespace: gone-pad\n  labels: {{app.kubernetes.io/managed-by: jardin, jardin.dev/tenant: gone}}\ndata:\n  token: {}\n",
        b64(planted[2])
    );
    add_file(tmp.path(), "ada-lovelace", "orphan.yaml", &orphan);
    let live = tmp.path().to_str().unwrap().to_string();

    let mut outputs: Vec<(String, String)> = Vec::new();
    let json_file = tmp.path().join("plan.json");
    for format in ["text", "markdown", "json"] {
        for color in ["never", "always"] {
            let r = jardin(&[
                "--color",
                color,
                "-v",
                "--no-cache",
                "plan",
                "examples/collective",
                "--live",
                &live,
                "--format",
                format,
                "-o",
                json_file.to_str().unwrap(),
            ]);
            assert!(r.code == 2 || r.code == 3, "{format}: {}", r.stderr);
            outputs.push((format!("{format}/{color} stdout"), r.stdout));
            outputs.push((format!("{format}/{color} stderr"), r.stderr));
            outputs.push((
                format!("{format} -o"),
                std::fs::read_to_string(&json_file).unwrap(),
            ));
        }
    }
    // The changed username shows as a changed token.
    assert!(outputs[0].1.contains("(secret "), "{}", outputs[0].1);
    // Errors: the same Secret twice, and a file that does not parse.
    add_file(tmp.path(), "ada-lovelace", "twice.yaml", &orphan);
    let r = jardin(&[
        "--no-cache",
        "--error-format",
        "json",
        "plan",
        "examples/collective",
        "--live",
        &live,
    ]);
    assert_eq!(r.code, 1);
    outputs.push(("duplicate".into(), r.stdout + &r.stderr));
    std::fs::remove_file(tmp.path().join("ada-lovelace/twice.yaml")).unwrap();
    add_file(
        tmp.path(),
        "ada-lovelace",
        "twice.yaml",
        &format!("{orphan}  extra: [\n"),
    );
    let r = jardin(&["--no-cache", "plan", "examples/collective", "--live", &live]);
    assert_eq!(r.code, 1);
    outputs.push(("parse error".into(), r.stdout + &r.stderr));

    for (what, out) in &outputs {
        for p in planted {
            assert!(!out.contains(p), "{what} contains the planted secret {p}");
            assert!(
                !out.contains(&b64(p)),
                "{what} contains the planted secret {p} (base64)"
            );
        }
    }
}

fn yaml_value(text: &str) -> serde_json::Value {
    yaml_serde::from_str(text).unwrap()
}

/// Serves recorded list responses from `dir` (file name: the URL path with
/// `/` as `_`, plus `.json`), and a 404 Status for anything else, as the
/// API server does. Records every request line.
fn serve(dir: PathBuf) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let dir = dir.clone();
            let log = log2.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut request = String::new();
                    if reader.read_line(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    let target = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                    log.lock().unwrap().push(target.clone());
                    let path = target.split('?').next().unwrap_or("");
                    // A next page (`continue=TOKEN`) is `<file>@TOKEN.json`.
                    let page = target
                        .split(['?', '&'])
                        .find_map(|p| p.strip_prefix("continue="))
                        .map(|t| format!("@{t}"))
                        .unwrap_or_default();
                    let file = dir.join(format!(
                        "{}{page}.json",
                        path.trim_start_matches('/').replace('/', "_")
                    ));
                    let (status, body) = match std::fs::read_to_string(&file) {
                        Ok(body) => ("200 OK", body),
                        Err(_) => ("404 Not Found", r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#.to_string()),
                    };
                    let head = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
                    if stream
                        .write_all(head.as_bytes())
                        .and_then(|_| stream.write_all(body.as_bytes()))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, log)
}

/// The recorded responses, with the Secret list split into two pages as
/// the API server does past `limit` (`metadata.continue`).
fn recorded_with_pages(dst: &Path) {
    let src = repo().join("crates/jardin/tests/data/kube/ada-lovelace");
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    let file = dst.join("api_v1_secrets.json");
    let mut first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let items = first["items"].as_array_mut().unwrap();
    let rest = items.split_off(items.len() / 2);
    let mut second = first.clone();
    second["items"] = serde_json::Value::Array(rest);
    first["metadata"]["continue"] = "page-2".into();
    std::fs::write(&file, first.to_string()).unwrap();
    std::fs::write(dst.join("api_v1_secrets@page-2.json"), second.to_string()).unwrap();
}

#[test]
fn kube_client_reads_recorded_list_responses() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("recorded");
    std::fs::create_dir_all(&recorded).unwrap();
    recorded_with_pages(&recorded);
    let (port, log) = serve(recorded);
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: recorded\n  cluster:\n    server: http://127.0.0.1:{port}\nusers:\n- name: ci\n  user:\n    token: not-a-real-token\ncontexts:\n- name: ada-lovelace\n  context:\n    cluster: recorded\n    user: ci\ncurrent-context: ada-lovelace\n"
        ),
    )
    .unwrap();
    let args = [
        "--color",
        "never",
        "--no-cache",
        "--cluster",
        "ada-lovelace",
        "plan",
        "examples/collective",
        "--format",
        "json",
        "--live",
    ];
    // Recorded responses cannot answer server-side dry runs: compared
    // offline, as a snapshot is (the dry runs are tested against a real
    // API server in tests/apply.rs).
    let mut kube_args = args.to_vec();
    kube_args.extend(["kube", "--compare", "offline"]);
    let from_kube = jardin_env(&kube_args, &[("KUBECONFIG", kubeconfig.to_str().unwrap())]);
    assert_eq!(from_kube.code, 2, "{}", from_kube.stderr);
    let mut snap_args = args.to_vec();
    snap_args.push("examples/collective/live");
    let from_snapshot = jardin(&snap_args);
    assert_eq!(from_snapshot.code, 2, "{}", from_snapshot.stderr);
    let mut a: serde_json::Value = serde_json::from_str(&from_kube.stdout).unwrap();
    let mut b: serde_json::Value = serde_json::from_str(&from_snapshot.stdout).unwrap();
    assert_eq!(
        a["live_sources"]["ada-lovelace"],
        "kube context ada-lovelace"
    );
    a["live_sources"] = serde_json::Value::Null;
    b["live_sources"] = serde_json::Value::Null;
    assert_eq!(a, b, "the cluster and the snapshot give the same plan");

    // Only label-selected lists, one per kind: never a GET per object.
    let requests = log.lock().unwrap().clone();
    assert!(
        requests.iter().any(|r| r.contains("continue=page-2")),
        "the second page was read: {requests:?}"
    );
    assert!(requests.len() >= 10, "{requests:?}");
    for r in &requests {
        assert!(
            r.contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Djardin"),
            "{r}"
        );
        let segments = r
            .split('?')
            .next()
            .unwrap()
            .trim_start_matches('/')
            .split('/')
            .count();
        let list_depth = if r.starts_with("/api/") { 3 } else { 4 };
        assert_eq!(segments, list_depth, "not a cluster-wide list: {r}");
    }
}

#[test]
fn markdown_stays_under_its_budget_and_says_what_it_cut() {
    let r = plan(
        "examples/collective/live",
        &["--format", "markdown", "--markdown-budget", "2500"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.len() <= 2500, "{} characters", r.stdout.len());
    assert!(
        r.stdout.contains("Cut to stay under 2500 characters"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("| **total** |"),
        "the summary is never cut"
    );
}
