//! The diagnostic codes no example under `examples/errors/` can raise,
//! raised here end to end through the `jardin` binary: inputs that cannot
//! be read, outputs that cannot be written, the catalog and the Rust model
//! disagreeing, live state listing an object twice, DNS snapshots, servers
//! and plan files, git missing. Each test asserts the code (by constant,
//! which `docs.rs` counts), the exit code and what the message says.
//! J0006, a panic inside the interpreter, cannot be provoked from input:
//! it is tested in `crates/eval/src/nickel.rs`.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use jardin_core::code;
use serde_json::Value;

/// What one run of jardin gave.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The diagnostics on stderr (`--error-format json`: one object a line).
    fn diagnostics(&self) -> Vec<Value> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {e}: {l}")))
            .collect()
    }

    fn codes(&self) -> Vec<String> {
        self.diagnostics()
            .iter()
            .map(|d| d["code"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The message of the only diagnostic, then its help.
    fn message(&self) -> (String, String) {
        let d = self.diagnostics();
        assert_eq!(d.len(), 1, "{}", self.stderr);
        let text = |k: &str| d[0][k].as_str().unwrap_or_default().to_string();
        (text("message"), text("help"))
    }
}

/// Runs jardin in `dir` with JSON diagnostics, no cache, and `PATH` set to
/// `path` when given.
fn run_with_path(dir: &Path, path: Option<&Path>, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jardin"));
    cmd.args(["--color", "never", "--error-format", "json", "--no-cache"])
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR");
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = cmd.output().expect("run jardin");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(dir: &Path, args: &[&str]) -> Run {
    run_with_path(dir, None, args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A copy of examples/minimal in `dir/name`.
fn minimal(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join(name);
    copy_dir(&repo().join("examples/minimal"), &root);
    root
}

/// A config root in `dir/root` on the error examples' collective: the zone
/// example.org is updated by RFC 2136 on `server` (a loopback port nothing
/// answers on, unless a test serves it); asso.org, the tenant's other
/// zone, is only written as a file. The tenant `asso` publishes a pad and
/// sends mail from example.org.
fn dns_root(dir: &Path, server: &str) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("tenants")).unwrap();
    std::fs::copy(
        repo().join("examples/errors/_shared/collective.ncl"),
        root.join("collective.ncl"),
    )
    .unwrap();
    std::fs::write(
        root.join("jardin.ncl"),
        format!(
            "(import \"collective.ncl\") & {{\n  zones.\"example.org\" = {{\n    provider = \"rfc2136\",\n    server = \"{server}\",\n    ttl = 300,\n    nameservers = [\"ns1.example.net\"],\n  }},\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("tenants/asso.ncl"),
        "{\n  id = \"asso\",\n  display_name = \"Asso\",\n  cluster = \"potager\",\n  zones = [\"example.org\", \"asso.org\"],\n  mail = { sending_domain = \"example.org\", relay = \"relay\" },\n  apps = { pad = { app = \"hedgedoc\", host = \"pad.example.org\" } },\n}\n",
    )
    .unwrap();
    root
}

/// A loopback address nothing listens on: a port the system just gave and
/// took back.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}

/// Saves the DNS plan of `root` against the snapshot `snapshot` to
/// `dir/plan.json`, expecting `exit`.
fn saved_dns_plan(dir: &Path, root: &Path, snapshot: &Path, exit: i32) -> PathBuf {
    let plan = dir.join("plan.json");
    let r = run(
        dir,
        &[
            "dns",
            "plan",
            s(root),
            "--zone",
            "example.org",
            "--snapshot",
            s(snapshot),
            "-o",
            s(&plan),
        ],
    );
    assert_eq!(r.code, exit, "{}{}", r.stdout, r.stderr);
    plan
}

/// J0005: a config root that does not exist, one without jardin.ncl, a
/// `tenants` that is not a directory or a dangling link, a tenant file that
/// is not a file.
#[test]
fn unreadable_config_files_are_j0005() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();

    let r = run(t, &["check", "no-such-root"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::CANNOT_READ.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(
        message.contains("cannot open config root no-such-root"),
        "{message}"
    );
    assert!(help.contains("jardin.ncl"), "{help}");

    std::fs::create_dir_all(t.join("empty")).unwrap();
    let r = run(t, &["check", "empty"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::CANNOT_READ.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(message.contains("cannot read jardin.ncl"), "{message}");
    assert!(
        help.contains("a config root holds a jardin.ncl file"),
        "{help}"
    );

    let root = minimal(t, "tenants-is-a-file");
    std::fs::remove_dir_all(root.join("tenants")).unwrap();
    std::fs::write(root.join("tenants"), "").unwrap();
    let r = run(t, &["check", s(&root)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::CANNOT_READ.id()], "{}", r.stderr);
    assert!(r.message().0.contains("tenants"), "{}", r.stderr);

    // A dangling `tenants` link is an error, never an empty collective
    // (a plan would propose deleting every tenant).
    let root = minimal(t, "tenants-dangling");
    std::fs::remove_dir_all(root.join("tenants")).unwrap();
    std::os::unix::fs::symlink(t.join("gone"), root.join("tenants")).unwrap();
    let r = run(t, &["check", s(&root)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::CANNOT_READ.id()], "{}", r.stderr);
    assert!(r.message().0.contains("tenants"), "{}", r.stderr);

    // The other tenants are still checked: only the unreadable one fails.
    let root = minimal(t, "tenant-is-a-directory");
    std::fs::create_dir_all(root.join("tenants/broken.ncl")).unwrap();
    let r = run(t, &["check", s(&root)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::CANNOT_READ.id()], "{}", r.stderr);
    assert!(
        r.message().0.contains("cannot read tenants/broken.ncl"),
        "{}",
        r.stderr
    );
}

/// J0007: the catalog's metadata passes the stdlib's contracts but not
/// jardin's Rust model. A root's own catalog app declares a size of
/// 2^32 replicas: the `CatalogApp` contract takes any natural number, the
/// model a `u32`. The two disagree, which is what J0007 reports.
#[test]
fn catalog_outside_the_rust_model_is_j0007() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_dir(&repo().join("examples/errors/schema-violation"), &root);
    std::fs::copy(
        repo().join("examples/errors/_shared/collective.ncl"),
        root.join("collective.ncl"),
    )
    .unwrap();
    std::fs::write(root.join("jardin.ncl"), "import \"collective.ncl\"\n").unwrap();
    let app = root.join("catalog/motd.ncl");
    let text = std::fs::read_to_string(&app).unwrap();
    let huge = text.replace("replicas = 1 }", "replicas = 4294967296 }");
    assert_ne!(huge, text, "the fixture's size moved");
    std::fs::write(&app, huge).unwrap();
    let r = run(tmp.path(), &["check", s(&root)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::MODEL_MISMATCH.id()], "{}", r.stderr);
    let (message, _) = r.message();
    assert!(
        message.contains("the catalog does not match jardin's model")
            && message.contains("4294967296"),
        "{message}"
    );
}

/// J0008: the build output, a DNS plan and the stdlib cannot be written
/// below a regular file; the file is left as it was.
#[test]
fn outputs_below_a_regular_file_are_j0008() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let file = t.join("a-file");
    std::fs::write(&file, "keep me").unwrap();
    let root = minimal(t, "root");

    let out = file.join("out");
    let r = run(t, &["build", s(&root), "-o", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::CANNOT_WRITE.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(
        message.contains(&format!("cannot write {}", out.display())),
        "{message}"
    );
    assert!(help.contains("left as it was"), "{help}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    let snapshot = t.join("snapshot");
    std::fs::create_dir_all(&snapshot).unwrap();
    let plan = file.join("plan.json");
    let r = run(
        t,
        &[
            "dns",
            "plan",
            s(&root),
            "--snapshot",
            s(&snapshot),
            "-o",
            s(&plan),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::CANNOT_WRITE.id()], "{}", r.stderr);
    assert!(r.message().0.contains("plan.json"), "{}", r.stderr);

    let r = run(t, &["stdlib", "path", "--write", s(&file.join("stdlib"))]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::CANNOT_WRITE.id()], "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// J0420: a snapshot zone file that does not parse, or that is a directory.
#[test]
fn unreadable_dns_snapshot_is_j0420() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = dns_root(t, &closed_port());

    let garbled = t.join("garbled");
    std::fs::create_dir_all(&garbled).unwrap();
    std::fs::write(
        garbled.join("example.org.zone"),
        "this is not a zone file\n",
    )
    .unwrap();
    let r = run(t, &["dns", "plan", s(&root), "--snapshot", s(&garbled)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.codes(),
        [code::DNS_SNAPSHOT_UNREADABLE.id()],
        "{}",
        r.stderr
    );
    let (message, help) = r.message();
    assert!(message.contains("example.org.zone"), "{message}");
    assert!(help.contains("RFC 1035 master file"), "{help}");

    let dir = t.join("dir");
    std::fs::create_dir_all(dir.join("example.org.zone")).unwrap();
    let r = run(t, &["dns", "plan", s(&root), "--snapshot", s(&dir)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.codes(),
        [code::DNS_SNAPSHOT_UNREADABLE.id()],
        "{}",
        r.stderr
    );
    assert!(r.message().0.contains("example.org.zone"), "{}", r.stderr);
}

/// J0421: nothing listens on the server's port; a server refuses the
/// transfer.
#[test]
fn unreachable_or_refusing_dns_server_is_j0421() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let closed = closed_port();
    let root = dns_root(t, &closed);
    let r = run(t, &["dns", "plan", s(&root)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::DNS_SERVER_ERROR.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(
        message.contains(&format!("cannot connect to {closed}")),
        "{message}"
    );
    assert!(help.contains("accepts TCP"), "{help}");

    // A server that answers every query with REFUSED.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).unwrap();
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut query).unwrap();
        // Same id; QR set, RCODE 5 (REFUSED); no records.
        let reply = [query[0], query[1], 0x80, 0x05, 0, 0, 0, 0, 0, 0, 0, 0];
        conn.write_all(&[0, reply.len() as u8]).unwrap();
        conn.write_all(&reply).unwrap();
    });
    let r = run(t, &["dns", "plan", s(&root), "--server", &addr]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::DNS_SERVER_ERROR.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(
        message.contains(&format!("AXFR of example.org: {addr} answered")),
        "{message}"
    );
    assert!(help.contains("authoritative"), "{help}");
}

/// J0422: a plan given to `dns apply --plan` that does not exist, is not a
/// jardin DNS plan, or has a format this jardin does not know. Nothing is
/// sent: the zone's server is a closed port.
#[test]
fn unusable_dns_plan_file_is_j0422() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = dns_root(t, &closed_port());
    let apply = |plan: &Path| run(t, &["dns", "apply", s(&root), "--plan", s(plan)]);

    let r = apply(&t.join("no-such-plan.json"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::DNS_PLAN_UNUSABLE.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(message.contains("cannot read plan"), "{message}");
    assert!(help.contains("jardin dns plan -o"), "{help}");

    let other = t.join("other.json");
    std::fs::write(&other, "{ \"zones\": 3 }").unwrap();
    let r = apply(&other);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::DNS_PLAN_UNUSABLE.id()], "{}", r.stderr);
    assert!(
        r.message().0.contains("is not a jardin DNS plan"),
        "{}",
        r.stderr
    );

    let future = t.join("future.json");
    std::fs::write(&future, "{ \"format_version\": 2, \"zones\": [] }").unwrap();
    let r = apply(&future);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::DNS_PLAN_UNUSABLE.id()], "{}", r.stderr);
    assert!(r.message().0.contains("plan format 2"), "{}", r.stderr);
}

/// J0423: the saved plan deletes every record jardin owned for a tenant
/// that left, over the zone's deletion budget: `dns plan` exits 3, and
/// `dns apply` refuses it (exit 3) before contacting any server, until
/// `--allow-deletes` covers it.
#[test]
fn dns_deletions_over_budget_are_j0423() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let closed = closed_port();
    let root = dns_root(t, &closed);
    // What runs now: the zone as jardin wrote it.
    let out = t.join("out");
    let r = run(t, &["build", s(&root), "-o", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(
        root.join("tenants/asso.ncl"),
        "{ id = \"asso\", display_name = \"Asso\", cluster = \"potager\", zones = [\"example.org\"], apps = {} }\n",
    )
    .unwrap();
    let plan = saved_dns_plan(t, &root, &out.join("dns"), 3);

    let r = run(t, &["dns", "apply", s(&root), "--plan", s(&plan)]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        r.codes(),
        [code::DNS_DELETIONS_OVER_BUDGET.id()],
        "{}",
        r.stderr
    );
    let (message, help) = r.message();
    assert!(
        message.contains("zone example.org: 4 RRset deletions are over the zone's budget"),
        "{message}"
    );
    assert!(help.contains("--allow-deletes 4"), "{help}");

    // Allowed: the update is then sent, and meets the closed port.
    let r = run(
        t,
        &[
            "dns",
            "apply",
            s(&root),
            "--plan",
            s(&plan),
            "--allow-deletes",
            "4",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::DNS_SERVER_ERROR.id()], "{}", r.stderr);
    assert!(r.message().0.contains(&closed), "{}", r.stderr);
}

/// J0424: a zone written only as a file (asso.org) has no server to read
/// its live records from.
#[test]
fn dns_zone_without_live_source_is_j0424() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = dns_root(t, &closed_port());
    let r = run(t, &["dns", "plan", s(&root), "--zone", "asso.org"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.codes(),
        [code::DNS_PROVIDER_UNPLANNABLE.id()],
        "{}",
        r.stderr
    );
    let (message, help) = r.message();
    assert!(message.contains("zone asso.org has no server"), "{message}");
    assert!(help.contains("--snapshot"), "{help}");
}

/// A DNS plan saved against an empty snapshot, then edited by `edit`, as
/// someone could between review and apply.
fn edited_dns_plan(t: &Path, root: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let empty = t.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let plan = saved_dns_plan(t, root, &empty, 2);
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    edit(&mut saved);
    std::fs::write(&plan, saved.to_string()).unwrap();
    plan
}

/// J0432: a saved plan (edited since) holds a record the wire format
/// refuses; it is found before anything is sent (the server is a closed
/// port, which would give J0421).
#[test]
fn dns_update_that_cannot_be_encoded_is_j0432() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = dns_root(t, &closed_port());
    let plan = edited_dns_plan(t, &root, |saved| {
        let record = &mut saved["zones"][0]["changes"][0]["after"][0];
        assert!(record.is_object(), "{record}");
        record["type"] = "A".into();
        record["data"] = "192.0.2.300".into();
    });

    let r = run(t, &["dns", "apply", s(&root), "--plan", s(&plan)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.codes(),
        [code::DNS_UPDATE_UNENCODABLE.id()],
        "{}",
        r.stderr
    );
    let (message, _) = r.message();
    assert!(
        message.contains("cannot encode") && message.contains("A 192.0.2.300"),
        "{message}"
    );
}

/// J0422 too: a saved plan made for a zone this config does not have is
/// refused, never silently skipped.
#[test]
fn dns_plan_for_other_zones_is_j0422() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = dns_root(t, &closed_port());
    let plan = edited_dns_plan(t, &root, |saved| {
        saved["zones"][0]["zone"] = "elsewhere.org".into();
    });

    let r = run(t, &["dns", "apply", s(&root), "--plan", s(&plan)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::DNS_PLAN_UNUSABLE.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(message.contains("elsewhere.org"), "{message}");
    assert!(help.contains("jardin dns plan -o"), "{help}");
}

/// J0425: `--zone` names a zone the config does not derive; the note
/// suggests the closest one.
#[test]
fn unknown_zone_on_the_command_line_is_j0425() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = dns_root(t, &closed_port());
    let r = run(t, &["dns", "plan", s(&root), "--zone", "exemple.org"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::UNKNOWN_ZONE.id()], "{}", r.stderr);
    assert!(
        r.message().0.contains("no zone exemple.org"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("example.org"), "{}", r.stderr);
}

/// A snapshot of the minimal example's cluster holding `files`, each the
/// same manifest of its build.
fn live_snapshot(t: &Path, root: &Path, files: &[&str]) -> PathBuf {
    let out = t.join("desired");
    let r = run(t, &["build", s(root), "-o", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let service = out.join("k8s/potager/les-amis-pad/service-hedgedoc.yaml");
    let live = t.join("live");
    std::fs::create_dir_all(live.join("potager")).unwrap();
    for f in files {
        std::fs::copy(&service, live.join("potager").join(f)).unwrap();
    }
    live
}

/// J0604: the live state lists the same object in two snapshot files.
#[test]
fn object_listed_twice_in_the_live_state_is_j0604() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = minimal(t, "root");
    let live = live_snapshot(t, &root, &["a.yaml", "b.yaml"]);
    let r = run(t, &["plan", s(&root), "--live", s(&live)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::LISTED_TWICE.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(
        message.contains("Service potager/les-amis-pad/hedgedoc is listed twice"),
        "{message}"
    );
    assert!(help.contains("two files"), "{help}");
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

/// J0605: the JSON plan cannot be written where `-o` says (a missing
/// directory, a regular file); nothing is printed as if it had been.
#[test]
fn plan_that_cannot_be_written_is_j0605() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = minimal(t, "root");
    let live = live_snapshot(t, &root, &["service.yaml"]);
    let file = t.join("a-file");
    std::fs::write(&file, "keep me").unwrap();
    for target in [t.join("no-such-dir/plan.json"), file.join("plan.json")] {
        let r = run(t, &["plan", s(&root), "--live", s(&live), "-o", s(&target)]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(r.codes(), [code::PLAN_NOT_WRITTEN.id()], "{}", r.stderr);
        let (message, help) = r.message();
        assert!(
            message.contains(&format!("cannot write {}", target.display())),
            "{message}"
        );
        assert!(help.contains("writable"), "{help}");
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// The `git` found on PATH.
fn git_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("git"))
        .find(|p| p.is_file())
        .expect("git on PATH (jardin diff's tests need it)")
}

/// J0710: `jardin diff` with no git on PATH; with git alone, it works
/// (revisions are read from git's objects, without tar).
#[test]
fn diff_without_git_is_j0710() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let git = git_binary();
    let repo_dir = t.join("repo");
    copy_dir(&repo().join("examples/minimal"), &repo_dir);
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.email=ci@jardin.invalid",
            "-c",
            "user.name=ci",
            "commit",
            "-qm",
            "base",
        ],
    ] {
        let ok = Command::new(&git)
            .arg("-C")
            .arg(&repo_dir)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    let nothing = t.join("bin-empty");
    std::fs::create_dir_all(&nothing).unwrap();
    let r = run_with_path(&repo_dir, Some(&nothing), &["diff", "HEAD"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.codes(), [code::GIT_FAILED.id()], "{}", r.stderr);
    let (message, help) = r.message();
    assert!(message.contains("cannot run git"), "{message}");
    assert!(help.contains("git on PATH"), "{help}");

    let only_git = t.join("bin-git");
    std::fs::create_dir_all(&only_git).unwrap();
    std::os::unix::fs::symlink(&git, only_git.join("git")).unwrap();
    let r = run_with_path(&repo_dir, Some(&only_git), &["diff", "HEAD"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
