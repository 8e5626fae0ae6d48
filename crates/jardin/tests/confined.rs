//! A hostile config, end to end through the binary: it reads nothing
//! outside its root, hides nothing from a review or a cached build, and
//! cannot exhaust the runner (docs/SECURITY.md). Each test is an attack
//! that worked before.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A value no output, comment or diagnostic may ever show.
const SECRET: &str = "tsig-secret-3f9a1c";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The minimal example in `<tmp>/repo/infra`, and a secret file beside it.
fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &repo().join("examples/minimal"),
        &tmp.path().join("repo/infra"),
    );
    std::fs::write(tmp.path().join("runner-secret"), format!("\"{SECRET}\"")).unwrap();
    tmp
}

fn root(tmp: &Path) -> PathBuf {
    tmp.join("repo/infra")
}

fn jardin(tmp: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jardin"))
        .args(["--color", "never", "--cache-dir"])
        .arg(tmp.join("cache"))
        .args(args)
        .current_dir(tmp.join("repo"))
        .env("RUNNER_TSIG_SECRET", SECRET)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

const TENANT: &str = "infra/tenants/les-amis.ncl";

fn set_display_name(tmp: &Path, expr: &str) {
    let path = tmp.join("repo").join(TENANT);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("display_name = ").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    let line = format!("display_name = {expr},");
    std::fs::write(&path, format!("{}{}{}", &text[..start], line, &text[end..])).unwrap();
}

/// `import "/proc/self/environ"`, a `..` out of the root, `jardin/../…`,
/// and a link to a file outside: each is J0009 at the import, from every
/// command, and the secret appears nowhere.
#[test]
fn nothing_outside_the_root_is_read() {
    let tmp = setup();
    let outside = tmp.path().join("runner-secret");
    std::os::unix::fs::symlink(&outside, root(tmp.path()).join("tenants/secret.ncl")).unwrap();
    // Not a tenant: the tenants are the `.ncl` files of `tenants/`, and
    // this one would be refused on its own. Hide it from the listing.
    std::fs::rename(
        root(tmp.path()).join("tenants/secret.ncl"),
        root(tmp.path()).join("tenants/secret.txt"),
    )
    .unwrap();
    for expr in [
        "import \"/proc/self/environ\" as 'Text",
        "import \"../../runner-secret\" as 'Text",
        "import \"jardin/../../../runner-secret\" as 'Text",
        "import \"secret.txt\"",
    ] {
        set_display_name(tmp.path(), expr);
        for args in [
            vec!["check", "infra"],
            vec!["build", "infra", "-o", "out"],
            vec!["graph", "infra"],
        ] {
            let (code, stdout, stderr) = jardin(tmp.path(), &args);
            assert_eq!(code, 1, "{expr} {args:?}: {stderr}");
            assert!(stderr.contains("J0009"), "{expr} {args:?}: {stderr}");
            assert!(stderr.contains("tenants/les-amis.ncl:"), "{stderr}");
            assert!(
                !stdout.contains(SECRET) && !stderr.contains(SECRET),
                "{expr}"
            );
            assert!(!tmp.path().join("repo/out").exists());
        }
    }
}

/// An import of a file that does not exist is J0004 at the import, with
/// where imports are looked for.
#[test]
fn a_missing_import_is_located() {
    let tmp = setup();
    set_display_name(tmp.path(), "import \"names/display.ncl\"");
    let (code, _, stderr) = jardin(tmp.path(), &["check", "infra"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("J0004"), "{stderr}");
    assert!(
        stderr.contains("cannot find `names/display.ncl`"),
        "{stderr}"
    );
    assert!(stderr.contains("tenants/les-amis.ncl:3:"), "{stderr}");
}

/// A tenant file that is itself a link to a file outside the root is
/// refused before it is read: its content cannot leak through a snippet.
#[test]
fn a_tenant_linked_outside_the_root_is_refused() {
    let tmp = setup();
    let outside = tmp.path().join("evil.ncl");
    std::fs::write(&outside, format!("{{ id = \"{SECRET}\" syntax error")).unwrap();
    std::os::unix::fs::symlink(&outside, root(tmp.path()).join("tenants/evil.ncl")).unwrap();
    let (code, stdout, stderr) = jardin(tmp.path(), &["check", "infra"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("J0009"), "{stderr}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stderr}"
    );
}

/// The review comment of a merge request that imports the runner's
/// environment: an error, with nothing of the environment in it.
#[test]
fn a_review_cannot_post_the_environment() {
    let tmp = setup();
    let repo_dir = tmp.path().join("repo");
    git(&repo_dir, &["init", "-q"]);
    git(&repo_dir, &["add", "-A"]);
    git(&repo_dir, &["commit", "-qm", "base"]);
    set_display_name(tmp.path(), "import \"/proc/self/environ\" as 'Text");
    git(&repo_dir, &["commit", "-qam", "head"]);
    let (code, stdout, stderr) = jardin(
        tmp.path(),
        &[
            "diff", "HEAD~1", "HEAD", "--root", "infra", "--format", "markdown",
        ],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("J0009"), "{stderr}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
}

/// A local catalog app whose image comes from a helper it imports: a
/// change to the helper alone shows in `jardin diff`, and a cached build
/// writes the new image.
#[test]
fn a_change_to_a_catalog_helper_is_seen() {
    let tmp = setup();
    let infra = root(tmp.path());
    std::fs::create_dir_all(infra.join("catalog/lib")).unwrap();
    let app = std::fs::read_to_string(repo().join("catalog/hedgedoc.ncl")).unwrap();
    let pinned = "\"1.10.3\" = { image = \"quay.io/hedgedoc/hedgedoc:1.10.3\" }";
    assert!(app.contains(pinned));
    let app = app.replace(pinned, "\"1.10.3\" = { image = import \"lib/img.ncl\" }");
    std::fs::write(infra.join("catalog/hedgedoc.ncl"), app).unwrap();
    std::fs::write(
        infra.join("catalog/lib/img.ncl"),
        "\"quay.io/hedgedoc/hedgedoc:1.10.3\"",
    )
    .unwrap();
    let repo_dir = tmp.path().join("repo");
    git(&repo_dir, &["init", "-q"]);
    git(&repo_dir, &["add", "-A"]);
    git(&repo_dir, &["commit", "-qm", "base"]);
    let (code, _, stderr) = jardin(tmp.path(), &["build", "infra", "-o", "out"]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(
        infra.join("catalog/lib/img.ncl"),
        "\"quay.io/hedgedoc/hedgedoc:1.10.2\"",
    )
    .unwrap();
    git(&repo_dir, &["commit", "-qam", "bump the image in a helper"]);
    let (code, stdout, stderr) = jardin(tmp.path(), &["diff", "HEAD~1", "HEAD", "--root", "infra"]);
    assert_eq!(code, 2, "the change is seen: {stdout}{stderr}");
    assert!(stdout.contains("hedgedoc:1.10.2"), "{stdout}");
    // The cached build writes the new image, not the one it cached.
    let (code, _, stderr) = jardin(tmp.path(), &["build", "infra", "-o", "out"]);
    assert_eq!(code, 0, "{stderr}");
    let mut found = String::new();
    for entry in walk(&tmp.path().join("repo/out")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        if text.contains("quay.io/hedgedoc/hedgedoc:") {
            found = text;
        }
    }
    assert!(found.contains("hedgedoc:1.10.2"), "{found}");
}

/// `.gitattributes` do not make the reviewed files differ from the
/// committed ones: `export-ignore` on a changed tenant does not hide it,
/// and `export-subst` does not rewrite it.
#[test]
fn gitattributes_change_nothing_in_a_review() {
    let tmp = setup();
    let repo_dir = tmp.path().join("repo");
    git(&repo_dir, &["init", "-q"]);
    git(&repo_dir, &["add", "-A"]);
    git(&repo_dir, &["commit", "-qm", "base"]);
    let tenant = repo_dir.join(TENANT);
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(
        &tenant,
        text.replace("pad.petit-jardin.org", "docs.petit-jardin.org") + "# $Format:%H$\n",
    )
    .unwrap();
    std::fs::write(
        repo_dir.join(".gitattributes"),
        "*.ncl export-subst\ninfra/tenants/les-amis.ncl export-ignore\n",
    )
    .unwrap();
    git(&repo_dir, &["add", "-A"]);
    git(&repo_dir, &["commit", "-qm", "head"]);
    let (code, stdout, stderr) = jardin(tmp.path(), &["diff", "HEAD~1", "HEAD", "--root", "infra"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.contains("docs.petit-jardin.org"), "{stdout}");
    assert!(
        !stdout.contains("deleted"),
        "the tenant is not hidden: {stdout}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

/// Runs `check` on the tenant `expr` makes; it must end with `code` and
/// well within `within`.
fn check_ends(tmp: &Path, expr: &str, extra: &[&str], within: Duration) -> (i32, String) {
    set_display_name(tmp, expr);
    let start = Instant::now();
    let mut args = vec!["check", "infra"];
    args.extend_from_slice(extra);
    let (code, _, stderr) = jardin(tmp, &args);
    assert!(
        start.elapsed() < within,
        "{expr}: took {:?}",
        start.elapsed()
    );
    (code, stderr)
}

/// Exponential recursion ends on the time budget, unbounded recursion on
/// the memory budget: each a diagnostic on the file, exit code 1.
#[test]
fn runaway_evaluation_ends_with_a_diagnostic() {
    let tmp = setup();
    let (code, stderr) = check_ends(
        tmp.path(),
        "let rec f = fun n => if n == 0 then 1 else f (n - 1) + f (n - 1) in std.to_string (f 200)",
        &["--max-eval-seconds", "2"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("J0010"), "{stderr}");
    assert!(stderr.contains("tenants/les-amis.ncl"), "{stderr}");

    let (code, stderr) = check_ends(
        tmp.path(),
        "let rec f = fun n => [n] @ f (n + 1) in std.to_string (std.array.length (f 0))",
        &["--max-eval-memory", "256"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("J0011") || stderr.contains("J0010"),
        "{stderr}"
    );
    assert!(stderr.contains("tenants/les-amis.ncl"), "{stderr}");
}

/// Deep nesting, long chains and a deep syntax error: a diagnostic, exit
/// code 1, at once; never a stack overflow (exit 134) or a long parse.
#[test]
fn pathological_files_end_with_a_diagnostic() {
    let tmp = setup();
    let cases = [
        format!(
            "std.to_string (std.array.length {}1{})",
            "[".repeat(1500),
            "]".repeat(1500)
        ),
        format!("std.to_string ({}1)", "1 + ".repeat(10_000)),
        format!("\"x\" {}", "++ \"x\" ".repeat(20_000)),
        // A syntax error deep inside 51 KB of nesting.
        format!("{}1 +{}", "{ a = ".repeat(8_500), " }".repeat(8_500)),
        // A value built 100,000 levels deep at run time.
        "let rec f = fun n => if n == 0 then [] else [f (n - 1)] in std.serialize 'Json (f 100000)"
            .to_string(),
    ];
    for expr in &cases {
        let (code, stderr) = check_ends(tmp.path(), expr, &[], Duration::from_secs(30));
        assert_eq!(code, 1, "{}: {stderr}", &expr[..40]);
        assert!(stderr.contains("J0012"), "{}: {stderr}", &expr[..40]);
        assert!(stderr.contains("tenants/les-amis.ncl"), "{stderr}");
    }
    // A DNS record name of 65,536 characters, which once panicked.
    set_display_name(tmp.path(), "\"Les Amis\"");
    let collective = root(tmp.path()).join("jardin.ncl");
    let text = std::fs::read_to_string(&collective).unwrap();
    let long = "a".repeat(65_536);
    let edited = text.replacen(
        "records = [",
        &format!("records = [{{ name = \"{long}\", type = \"A\", value = \"203.0.113.9\" }}, "),
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&collective, edited).unwrap();
    let (code, _, stderr) = jardin(tmp.path(), &["check", "infra"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("jardin.ncl:"), "located: {stderr}");
}
