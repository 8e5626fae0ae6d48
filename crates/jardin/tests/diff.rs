//! `jardin diff`: two revisions of a test repository, created here with git.
//! The text, Markdown and JSON reviews are pinned in golden/diff/
//! (`JARDIN_UPDATE_GOLDEN=1 cargo test --test diff` regenerates them).

mod common;
use common::*;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.email=ci@jardin.invalid",
            "-c",
            "user.name=ci",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "git {args:?}");
}

/// A repository holding the example collective under `infra/`, committed.
fn test_repo(with_catalog: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    copy_dir_except(
        &repo().join("examples/collective"),
        &dir.join("infra"),
        &|n| n.starts_with("live"),
    );
    if with_catalog {
        std::fs::create_dir_all(dir.join("infra/catalog")).unwrap();
        std::fs::copy(
            repo().join("catalog/hedgedoc.ncl"),
            dir.join("infra/catalog/hedgedoc.ncl"),
        )
        .unwrap();
    }
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "base"]);
    tmp
}

fn jardin(tmp: &Path, args: &[&str]) -> (i32, String, String) {
    let cache = tmp.join("cache");
    let out = Command::new(env!("CARGO_BIN_EXE_jardin"))
        .args(["--color", "never", "--cache-dir", cache.to_str().unwrap()])
        .args(args)
        .current_dir(tmp.join("repo"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn edit(tmp: &Path, file: &str, from: &str, to: &str) {
    let p = tmp.join("repo").join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file} has no {from}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

fn pin(name: &str, text: &str) {
    let path = repo().join("golden/diff").join(name);
    if std::env::var_os("JARDIN_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != text {
        let diff = similar::TextDiff::from_lines(&expected, text);
        panic!(
            "{} differs:\n{}\n(JARDIN_UPDATE_GOLDEN=1 cargo test --test diff)",
            path.display(),
            diff.unified_diff()
        );
    }
}

fn tenants_changed(json: &str) -> BTreeSet<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["format_version"], 1);
    v["objects"]["tenants"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| {
            c["create"].as_u64().unwrap()
                + c["update"].as_u64().unwrap()
                + c["delete"].as_u64().unwrap()
                > 0
        })
        .map(|(t, _)| t.clone())
        .collect()
}

/// The JSON review of the working tree against HEAD, which must have
/// changes and have compared every tenant.
fn review_in_full(t: &Path) -> (serde_json::Value, String) {
    let (code, json, err) = jardin(t, &["diff", "HEAD", "--root", "infra", "--format", "json"]);
    assert_eq!(code, 2, "{err}\n{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["unaffected_tenants"], 0, "{json}");
    (v, json)
}

#[test]
fn a_one_tenant_change_touches_only_that_tenant() {
    let tmp = test_repo(false);
    let t = tmp.path();
    edit(
        t,
        "infra/tenants/le-zinc.ncl",
        "host = \"pad.lezinc.org\"",
        "host = \"notes.lezinc.org\"",
    );
    let (code, text, err) = jardin(t, &["diff", "HEAD", "--root", "infra"]);
    assert_eq!(code, 2, "{err}");
    let (_, md, _) = jardin(
        t,
        &["diff", "HEAD", "--root", "infra", "--format", "markdown"],
    );
    let (_, json, _) = jardin(t, &["diff", "HEAD", "--root", "infra", "--format", "json"]);
    assert_eq!(
        tenants_changed(&json),
        BTreeSet::from(["le-zinc".to_string()])
    );
    assert!(md.contains("| le-zinc | +0 ~2 −0 | +2 −2 |"), "{md}");
    // Only le-zinc was compiled at each revision.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["unaffected_tenants"], 8);
    pin("one-tenant.txt", &text);
    pin("one-tenant.md", &md);
    pin("one-tenant.json", &json);

    // The same change, committed, compared revision to revision.
    git(&t.join("repo"), &["commit", "-qam", "move the pad"]);
    let (code, text2, _) = jardin(t, &["diff", "HEAD~1", "HEAD", "--root", "infra"]);
    assert_eq!(code, 2);
    assert_eq!(
        text2.lines().skip(1).collect::<Vec<_>>(),
        text.lines().skip(1).collect::<Vec<_>>()
    );
    // The working tree was not touched by reading revisions.
    let (code, _, _) = jardin(t, &["diff", "HEAD", "--root", "infra"]);
    assert_eq!(code, 0);
}

#[test]
fn a_catalog_change_touches_every_tenant_using_that_app() {
    let tmp = test_repo(true);
    let t = tmp.path();
    // The collective's own copy of the HedgeDoc app turns on HSTS.
    edit(
        t,
        "infra/catalog/hedgedoc.ncl",
        "CMD_URL_ADDPORT = \"false\",",
        "CMD_URL_ADDPORT = \"false\",\n              CMD_HSTS_ENABLE = \"true\",",
    );
    let (code, md, err) = jardin(
        t,
        &["diff", "HEAD", "--root", "infra", "--format", "markdown"],
    );
    assert_eq!(code, 2, "{err}");
    let (_, json, _) = jardin(t, &["diff", "HEAD", "--root", "infra", "--format", "json"]);
    let users: BTreeSet<String> = [
        "faire-ecole",
        "velorution-brest",
        "ressourcerie-du-canal",
        "habitat-solidaire",
        "le-zinc",
        "festival-des-possibles",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(tenants_changed(&json), users);
    // A catalog change is compared over every tenant.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["unaffected_tenants"], 0);
    let (_, text, _) = jardin(t, &["diff", "HEAD", "--root", "infra"]);
    pin("catalog.txt", &text);
    pin("catalog.md", &md);
    pin("catalog.json", &json);
}

#[test]
fn a_comment_or_formatting_change_reports_nothing() {
    let tmp = test_repo(false);
    let t = tmp.path();
    let p = t.join("repo/infra/tenants/velorution-brest.ncl");
    let text = std::fs::read_to_string(&p).unwrap();
    let reformatted = format!(
        "# Reviewed at the 2026 general assembly.\n{}",
        text.replace("  ", "    ").replace(", ", " , ")
    );
    std::fs::write(&p, reformatted).unwrap();
    let (code, text, err) = jardin(t, &["diff", "HEAD", "--root", "infra"]);
    assert_eq!(code, 0, "{err}\n{text}");
    assert!(text.contains("No changes to the generated output."));
    let (_, md, _) = jardin(
        t,
        &["diff", "HEAD", "--root", "infra", "--format", "markdown"],
    );
    let (_, json, _) = jardin(t, &["diff", "HEAD", "--root", "infra", "--format", "json"]);
    assert!(tenants_changed(&json).is_empty());
    pin("formatting.txt", &text);
    pin("formatting.md", &md);
    pin("formatting.json", &json);
}

#[test]
fn an_unknown_revision_is_a_clear_error() {
    let tmp = test_repo(false);
    let (code, _, err) = jardin(tmp.path(), &["diff", "no-such-branch", "--root", "infra"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("J0711") && err.contains("no-such-branch"),
        "{err}"
    );
}

/// A tenant's new database adds a role to the shared Postgres cluster: the
/// review sees the shared object change, as a full comparison would.
#[test]
fn a_change_to_a_shared_object_is_compared_in_full() {
    let tmp = test_repo(false);
    let t = tmp.path();
    edit(
        t,
        "infra/tenants/le-zinc.ncl",
        "version = \"1.10.2\" },",
        "version = \"1.10.2\" },\n    notes = { app = \"hedgedoc\", host = \"notes.lezinc.org\" },",
    );
    let (v, json) = review_in_full(t);
    let shared = &v["objects"]["tenants"]["(shared)"];
    assert_eq!(shared["update"], 1, "{json}");
    assert_eq!(
        tenants_changed(&json),
        BTreeSet::from(["le-zinc".to_string(), "(shared)".to_string()])
    );
}

/// A change to the collective itself: every tenant is compiled against each
/// revision's collective in the same process, so each must see its own.
#[test]
fn a_collective_change_is_seen_by_every_tenant_it_reaches() {
    let tmp = test_repo(false);
    let t = tmp.path();
    edit(
        t,
        "infra/jardin.ncl",
        "host = \"smtp.jardins-numeriques.org\",",
        "host = \"smtp.jardins-numeriques.org\",\n      port = 465,",
    );
    let (v, json) = review_in_full(t);
    let changes = v["objects"]["changes"].as_array().unwrap();
    let ports: BTreeSet<&str> = changes
        .iter()
        .flat_map(|c| c["fields"].as_array().into_iter().flatten())
        .filter_map(|f| f["path"].as_str())
        .filter(|p| p.contains("SMTP_PORT"))
        .collect();
    assert!(!ports.is_empty(), "{json}");
    // Every Nextcloud, WordPress, Discourse, Rocket.Chat and Decidim sends
    // mail through the relay: their Deployments (and Decidim's scheduled
    // tasks, which read the same settings) and the egress of their pods
    // (which allows the relay's port, and no other) change. So does each cluster's Keycloak,
    // whose realms send their invitations through it: the realms, their
    // import (a new Job replaces the old one), and Keycloak's egress.
    // Nothing else.
    let mailers = [
        "nextcloud",
        "wordpress",
        "discourse",
        "sidekiq",
        "rocketchat",
        "decidim",
    ];
    assert!(
        changes.iter().all(|c| (c["kind"] == "Deployment"
            && mailers.iter().any(|m| c["name"] == *m))
            || (c["kind"] == "CronJob" && c["name"].as_str().unwrap().starts_with("decidim-"))
            || (c["kind"] == "NetworkPolicy"
                && (mailers
                    .iter()
                    .any(|m| c["name"] == format!("allow-{m}-egress"))
                    || c["name"] == "allow-nextcloud-cron-egress"
                    || c["name"] == "allow-keycloak-egress"))
            || (c["namespace"] == "jardin-sso"
                && ((c["kind"] == "ConfigMap" && c["name"] == "realms")
                    || (c["kind"] == "Job"
                        && c["name"].as_str().unwrap().starts_with("realm-import-"))))),
        "{json}"
    );
    assert_eq!(changes.len(), 41, "{json}");
}
