//! The command line contract: exit codes, streams, atomic output, the build
//! stamp, and that no secret written in a config reaches any output.

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// `dir` holds exactly these entries: no staging directory was left.
fn assert_entries(dir: &Path, expected: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, expected);
}

/// A copy of examples/minimal under `dir`: (root, output dir, cache dir).
fn minimal_copy(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let root = dir.join("root");
    copy_dir(&repo().join("examples/minimal"), &root);
    (root, dir.join("out"), dir.join("cache"))
}

#[test]
fn a_broken_tenant_fails_and_leaves_the_output_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, out, cache) = minimal_copy(tmp.path());
    let (r, c, o) = (
        root.to_str().unwrap(),
        cache.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let (code, _, err) = jardin(&["--cache-dir", c, "build", r, "-o", o]);
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read_dir(out.join("k8s/potager/les-amis-pad"))
        .unwrap()
        .count();

    // A typo in an app name: diagnostic with file:line and a hint, exit 1.
    let tenant = root.join("tenants/les-amis.ncl");
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(&tenant, text.replace("\"hedgedoc\"", "\"hedgedok\"")).unwrap();
    let (code, stdout, err) = jardin(&["--color", "never", "--cache-dir", c, "build", r, "-o", o]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(err.contains("tenants/les-amis.ncl:"), "{err}");
    assert!(err.contains("did you mean \"hedgedoc\"?"), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert_eq!(
        std::fs::read_dir(out.join("k8s/potager/les-amis-pad"))
            .unwrap()
            .count(),
        before
    );
    // Nothing half-written beside the output either.
    assert_entries(tmp.path(), &["cache", "out", "root"]);
}

/// Tenants write their manifests while the build runs; a rule that fails
/// afterwards (two tenants claim one host) must still publish nothing.
#[test]
fn a_rule_failing_after_tenants_were_written_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_dir_except(&repo().join("examples/collective"), &root, &|name| {
        name.starts_with("live")
    });
    let out = tmp.path().join("out");
    let (r, o) = (root.to_str().unwrap(), out.to_str().unwrap());
    let (code, _, err) = jardin(&["--no-cache", "build", r, "-o", o]);
    assert_eq!(code, 0, "{err}");
    let deployment = out.join("k8s/ada-lovelace/le-zinc-pad/deployment-hedgedoc.yaml");
    let before = std::fs::read_to_string(&deployment).unwrap();

    let tenant = root.join("tenants/le-zinc.ncl");
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(
        &tenant,
        text.replace(
            "host = \"pad.lezinc.org\"",
            "host = \"pad.faire-ecole.org\"",
        ),
    )
    .unwrap();
    let (code, _, err) = jardin(&["--color", "never", "--no-cache", "build", r, "-o", o]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("J0210"), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert_eq!(std::fs::read_to_string(&deployment).unwrap(), before);
    assert_entries(tmp.path(), &["out", "root"]);
}

#[test]
fn an_unchanged_build_is_up_to_date_and_a_change_rebuilds() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, out, cache) = minimal_copy(tmp.path());
    let (r, c, o) = (
        root.to_str().unwrap(),
        cache.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    assert_eq!(jardin(&["--cache-dir", c, "build", r, "-o", o]).0, 0);
    let (code, _, err) = jardin(&["--cache-dir", c, "build", r, "-o", o]);
    assert_eq!(code, 0);
    assert!(err.contains("up to date"), "{err}");
    let tenant = root.join("tenants/les-amis.ncl");
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(
        &tenant,
        text.replace("pad.petit-jardin.org", "notes.petit-jardin.org"),
    )
    .unwrap();
    let (code, _, err) = jardin(&["--cache-dir", c, "build", r, "-o", o]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote"), "{err}");
    let ingress =
        std::fs::read_to_string(out.join("k8s/potager/les-amis-pad/ingress-hedgedoc.yaml"))
            .unwrap();
    assert!(ingress.contains("notes.petit-jardin.org"));
}

#[test]
fn a_literal_secret_is_rejected_and_never_echoed_whole() {
    let (code, _, err) = jardin(&[
        "--color",
        "never",
        "--no-cache",
        "--import-root",
        "examples/errors",
        "check",
        "examples/errors/literal-secret",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("J0701"), "{err}");
    // The value appears only inside the quoted source line the user wrote,
    // never in the message or the help.
    for line in err
        .lines()
        .filter(|l| l.contains("correct horse battery staple"))
    {
        assert!(
            line.contains("secrets = {"),
            "secret echoed outside the source snippet: {line}"
        );
    }
}

#[test]
fn json_diagnostics_carry_file_line_and_code() {
    let (code, _, err) = jardin(&[
        "--error-format",
        "json",
        "--no-cache",
        "--import-root",
        "examples/errors",
        "check",
        "examples/errors/unknown-app",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(err.lines().next().unwrap()).unwrap();
    assert_eq!(v["code"], "J0103");
    assert_eq!(v["file"], "tenants/asso.ncl");
    assert_eq!(v["line"], 6);
    assert_eq!(v["help"], "did you mean \"nextcloud\"?");
}

#[test]
fn check_passes_on_the_examples_without_warnings() {
    for ex in ["examples/minimal", "examples/collective"] {
        let (code, stdout, err) = jardin(&["--no-cache", "check", "--deny-warnings", ex]);
        assert_eq!(code, 0, "{ex}: {err}");
        assert!(stdout.is_empty());
        assert!(err.starts_with("ok:"), "{err}");
    }
}

#[test]
fn catalog_lists_the_apps() {
    let (code, stdout, _) = jardin(&["catalog", "list"]);
    assert_eq!(code, 0);
    for app in ["nextcloud", "hedgedoc", "jitsi"] {
        assert!(stdout.contains(app));
    }
    let (code, _, err) = jardin(&["--color", "never", "catalog", "show", "hedgdoc"]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean \"hedgedoc\"?"));
}

/// A mistyped flag is an error (1), never "there are changes" (2): CI
/// scripts accept 2 from `jardin plan` and `jardin diff`.
#[test]
fn a_usage_error_exits_1_and_help_exits_0() {
    let (code, _, err) = jardin(&["plan", "examples/minimal", "--live-snapshot", "x"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--live-snapshot"), "{err}");
    let (code, _, err) = jardin(&["plan", "examples/minimal", "--markdown-budget", "999"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("at least 1000 characters"), "{err}");
    let (code, stdout, _) = jardin(&["plan", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("--markdown-budget"), "{stdout}");
}

/// A `tenants` that cannot be read (a dangling link, a file) is an error
/// for every command that reads a config root, never an empty collective:
/// `plan` would then propose deleting every tenant's objects, `diff`
/// would show every tenant removed, and `build` would publish an output
/// without them.
#[test]
fn an_unreadable_tenants_is_an_error_for_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_dir(&repo().join("examples/collective"), &root);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("k8s")).unwrap();
    std::fs::write(out.join("k8s/previous.yaml"), "kind: Namespace\n").unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["-c", "user.email=ci@jardin.invalid", "-c", "user.name=ci"])
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "base"]);

    let (r, o) = (root.to_str().unwrap(), out.to_str().unwrap());
    let live = root.join("live");
    let live = live.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["check", r],
        &["build", r, "-o", o],
        &["graph", r],
        &["plan", r, "--live", live],
        &["diff", "HEAD", "--root", r],
    ];
    type Breaks<'a> = (&'a str, &'a dyn Fn(&Path));
    let unreadable: [Breaks<'_>; 2] = [
        ("a dangling link", &|tenants| {
            std::os::unix::fs::symlink(tenants.with_file_name("gone"), tenants).unwrap()
        }),
        ("a file", &|tenants| std::fs::write(tenants, "").unwrap()),
    ];
    for (what, make) in unreadable {
        let tenants = root.join("tenants");
        if std::fs::symlink_metadata(&tenants).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(&tenants).unwrap();
        } else {
            std::fs::remove_file(&tenants).unwrap();
        }
        make(&tenants);
        for args in commands {
            let mut full = vec!["--no-cache", "--error-format", "json"];
            full.extend_from_slice(args);
            let (code, stdout, err) = jardin(&full);
            assert_eq!(code, 1, "{what}: {args:?}\n{stdout}\n{err}");
            assert!(
                err.contains("\"code\":\"J0005\"") && err.contains("tenants"),
                "{what}: {args:?}\n{err}"
            );
            // No plan, graph or review was printed: nothing proposes to
            // delete what the tenants run.
            assert!(stdout.trim().is_empty(), "{what}: {args:?}\n{stdout}");
        }
        assert_eq!(
            std::fs::read_to_string(out.join("k8s/previous.yaml")).unwrap(),
            "kind: Namespace\n",
            "{what}"
        );
        assert_entries(tmp.path(), &["out", "root"]);
        assert_entries(&out, &["k8s"]);
    }
}

/// A build killed while it wrote leaves its staging directory beside the
/// output, or the previous output it was removing: the next build removes
/// them, and swaps the complete new output in.
#[test]
fn the_next_build_removes_what_a_killed_build_left() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, out, _) = minimal_copy(tmp.path());
    let (r, o) = (root.to_str().unwrap(), out.to_str().unwrap());
    let (code, _, err) = jardin(&["--no-cache", "build", r, "-o", o]);
    assert_eq!(code, 0, "{err}");
    let complete = std::fs::read_dir(out.join("k8s/potager/les-amis-pad"))
        .unwrap()
        .count();
    for leftover in [".out.new-Q3xk9a", ".out.old-7Hh2Lp"] {
        let half = tmp.path().join(leftover).join("k8s/potager");
        std::fs::create_dir_all(&half).unwrap();
        std::fs::write(half.join("half-written.yaml"), "kind: Dep").unwrap();
    }
    std::fs::write(out.join("stale.txt"), "from an older build").unwrap();
    let (code, _, err) = jardin(&["--no-cache", "build", r, "-o", o]);
    assert_eq!(code, 0, "{err}");
    assert_entries(tmp.path(), &["out", "root"]);
    assert!(!out.join("stale.txt").exists());
    assert_eq!(
        std::fs::read_dir(out.join("k8s/potager/les-amis-pad"))
            .unwrap()
            .count(),
        complete
    );
}

/// The shared objects of one cluster's `databases` namespace in a build
/// (the CloudNativePG Cluster, its ObjectStore and ScheduledBackup), by
/// file name.
fn shared_database_objects(out: &Path, cluster: &str) -> Vec<(String, String)> {
    let dir = out.join("k8s").join(cluster).join("databases");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            ["cluster-", "objectstore-", "scheduledbackup-"]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            (n, text)
        })
        .collect();
    files.sort();
    files
}

/// `--tenant` once wrote the shared CloudNativePG Cluster with only the
/// selected tenant's managed roles: applied, it dropped every other
/// tenant's role. A filtered build now writes the objects tenants share as
/// a whole build does, and leaves them out, saying so (J0870), when
/// another tenant on the cluster does not compile.
#[test]
fn a_tenant_filtered_build_keeps_the_shared_database_cluster_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_dir(&repo().join("examples/collective"), &root);
    let (r, whole, one) = (
        root.to_str().unwrap(),
        tmp.path().join("whole"),
        tmp.path().join("one"),
    );
    let (code, _, err) = jardin(&["--no-cache", "build", r, "-o", whole.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = jardin(&[
        "--no-cache",
        "--tenant",
        "faire-ecole",
        "build",
        r,
        "-o",
        one.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // Only faire-ecole's own objects, but the shared ones whole.
    assert!(!one.join("k8s/louise-michel/velorution-brest-pad").exists());
    let expected = shared_database_objects(&whole, "louise-michel");
    assert_eq!(expected.len(), 3, "{expected:?}");
    let cluster = &expected[0].1;
    for role in [
        "faire_ecole_cloud",
        "velorution_brest_pad",
        "festival_des_possibles_pad",
    ] {
        assert!(
            cluster.contains(&format!("name: {role}")),
            "{role}:\n{cluster}"
        );
    }
    assert_eq!(shared_database_objects(&one, "louise-michel"), expected);
    // Nothing of the other clusters.
    assert!(!one.join("k8s/ada-lovelace").exists());

    // Another tenant on the cluster no longer compiles: the shared objects
    // cannot be complete, so none are written, and the build says why.
    let tenant = root.join("tenants/velorution-brest.ncl");
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(&tenant, text.replace("\"hedgedoc\"", "\"hedgedok\"")).unwrap();
    let (code, _, err) = jardin(&[
        "--color",
        "never",
        "--no-cache",
        "--tenant",
        "faire-ecole",
        "build",
        r,
        "-o",
        one.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("J0870"), "{err}");
    assert!(err.contains("velorution-brest"), "{err}");
    assert!(shared_database_objects(&one, "louise-michel").is_empty());
    assert!(one.join("k8s/louise-michel/faire-ecole-pad").exists());
}
