//! Backup coverage, end to end: the example collective is fully covered;
//! removing its backup policy makes `check` fail naming every piece of
//! state; an opt-out is reported, and its volume is skipped by k8up.

mod common;
use common::*;

/// A copy of examples/collective in a temp dir, to edit.
fn copy_example() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo().join("examples/collective");
    std::fs::create_dir_all(tmp.path().join("tenants")).unwrap();
    std::fs::copy(src.join("jardin.ncl"), tmp.path().join("jardin.ncl")).unwrap();
    for e in std::fs::read_dir(src.join("tenants")).unwrap().flatten() {
        std::fs::copy(e.path(), tmp.path().join("tenants").join(e.file_name())).unwrap();
    }
    tmp
}

fn coverage_json(root: &str) -> serde_json::Value {
    let (code, stdout, stderr) =
        jardin(&["--no-cache", "backup", "coverage", root, "--format", "json"]);
    assert!(code == 0 || code == 1, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

#[test]
fn the_example_is_fully_covered() {
    let (code, table, stderr) = jardin(&[
        "--no-cache",
        "--color",
        "never",
        "backup",
        "coverage",
        "examples/collective",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(table.starts_with("TENANT"), "{table}");
    assert!(table.contains("0 opted out, 0 not backed up"), "{table}");
    let v = coverage_json("examples/collective");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["summary"]["uncovered"], 0);
    assert_eq!(v["summary"]["covered"], v["summary"]["total"]);
}

#[test]
fn removing_the_backup_policy_names_every_piece_of_state() {
    let expected = coverage_json("examples/collective");
    let tmp = copy_example();
    let path = tmp.path().join("jardin.ncl");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text
        .find("    backup = {\n")
        .expect("a default backup policy");
    let end = start + text[start..].find("\n    },\n").unwrap() + "\n    },\n".len();
    std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).unwrap();

    let root = tmp.path().to_str().unwrap();
    let (code, _, stderr) = jardin(&["--no-cache", "--color", "never", "check", root]);
    assert_eq!(code, 1, "check should fail:\n{stderr}");
    let pieces = expected["state"].as_array().unwrap();
    assert!(pieces.len() >= 20);
    for p in pieces {
        let needle = format!(
            "{} \"{}\" of {}/{} ({}) is not backed up",
            p["kind"].as_str().unwrap(),
            p["state"].as_str().unwrap(),
            p["tenant"].as_str().unwrap(),
            p["app"].as_str().unwrap(),
            p["catalog_app"].as_str().unwrap(),
        );
        assert!(stderr.contains(&needle), "missing {needle:?} in\n{stderr}");
    }
    assert_eq!(stderr.matches("J0501").count(), pieces.len(), "{stderr}");
    // Each points at the tenant's own file.
    assert!(stderr.contains("╭─[tenants/faire-ecole.ncl:"), "{stderr}");

    let (code, table, _) = jardin(&["--no-cache", "backup", "coverage", root]);
    assert_eq!(code, 1);
    assert!(table.contains("NOT BACKED UP"), "{table}");
}

#[test]
fn an_opt_out_is_reported_and_its_volume_skipped() {
    let tmp = copy_example();
    let path = tmp.path().join("tenants/le-zinc.ncl");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace(
        "pad = { app = \"hedgedoc\", host = \"pad.lezinc.org\", version = \"1.10.2\" },",
        "pad = { app = \"hedgedoc\", host = \"pad.lezinc.org\", version = \"1.10.2\", backup.exclude.uploads = \"uploads are copies of printed menus\" },",
    );
    assert_ne!(text, edited, "the fixture changed: update this test");
    std::fs::write(&path, edited).unwrap();
    let root = tmp.path().to_str().unwrap();
    let v = coverage_json(root);
    let entry = v["state"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "le-zinc/pad/uploads")
        .unwrap();
    assert_eq!(entry["status"], "opted-out");
    assert_eq!(entry["reason"], "uploads are copies of printed menus");

    let out = tmp.path().join("out");
    let (code, _, stderr) = jardin(&["--no-cache", "build", root, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let pvc = std::fs::read_to_string(
        out.join("k8s/ada-lovelace/le-zinc-pad/persistentvolumeclaim-uploads.yaml"),
    )
    .unwrap();
    assert!(pvc.contains("k8up.io/backup: 'false'"), "{pvc}");
    let written = std::fs::read_to_string(out.join("backup/coverage.json")).unwrap();
    let from_build: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(from_build, v, "build and `backup coverage` disagree");
}

/// A backup counts only if it can run. Without the API server's address,
/// k8up's backup pods on louise-michel could not list the pods of their
/// namespace: every k8up piece there is "uncovered", with what stands in
/// the way, and `check` fails with J0862; the other cluster stays covered.
/// Before, the report said "covered" over backups that could never run.
#[test]
fn a_backup_that_cannot_run_is_not_covered() {
    let tmp = copy_example();
    let path = tmp.path().join("jardin.ncl");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("kubernetes_api = { addresses = [\"10.10.")
        })
        .expect("louise-michel's kubernetes_api: update this test");
    std::fs::write(&path, text.replace(&format!("{line}\n"), "")).unwrap();
    let root = tmp.path().to_str().unwrap();

    let v = coverage_json(root);
    let state = v["state"].as_array().unwrap();
    let blocked: Vec<&serde_json::Value> = state
        .iter()
        .filter(|e| e["blocked_by"].is_array())
        .collect();
    assert!(!blocked.is_empty());
    for e in &blocked {
        assert_eq!(e["status"], "uncovered", "{e}");
        assert_eq!(e["cluster"], "louise-michel", "{e}");
        assert_ne!(e["kind"], "database", "{e}");
        assert!(e.get("backup").is_none(), "{e}");
        let why = e["blocked_by"].to_string();
        assert!(
            why.contains("k8up → kubernetes api") && why.contains("kubernetes_api"),
            "{e}"
        );
    }
    // Every k8up piece of louise-michel, and nothing else.
    let k8up_there = state
        .iter()
        .filter(|e| e["cluster"] == "louise-michel" && e["kind"] != "database")
        .count();
    assert_eq!(blocked.len(), k8up_there);
    assert_eq!(v["summary"]["uncovered"], blocked.len());
    assert_eq!(
        v["summary"]["covered"].as_u64().unwrap() as usize,
        state.len() - blocked.len()
    );

    let (code, table, _) = jardin(&["--no-cache", "--color", "never", "backup", "coverage", root]);
    assert_eq!(code, 1);
    assert!(table.contains("CANNOT RUN"), "{table}");

    let (code, _, stderr) = jardin(&["--no-cache", "--color", "never", "check", root]);
    assert_eq!(code, 1);
    assert_eq!(stderr.matches("J0862").count(), blocked.len(), "{stderr}");
    assert!(stderr.contains("its backup cannot run"), "{stderr}");
}

/// CloudNativePG's in-tree barman object store is deprecated since 1.26
/// and removed in 1.31: each database backs up through the Barman Cloud
/// plugin. Every file the report names for a database exists; the shared
/// Cluster names the plugin as its WAL archiver and the ObjectStore beside
/// it, which holds the report's destination and recovery window and reads
/// keys that are in the output; the ScheduledBackup asks the plugin.
#[test]
fn databases_back_up_through_the_barman_cloud_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = jardin(&[
        "--no-cache",
        "build",
        "examples/collective",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let read = |rel: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(out.join(rel))
            .unwrap_or_else(|e| panic!("{rel}, named by the coverage report: {e}"));
        yaml_serde::from_str(&text).unwrap()
    };
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("backup/coverage.json")).unwrap())
            .unwrap();
    let mut databases = 0;
    for entry in report["state"].as_array().unwrap() {
        if entry["kind"] != "database" {
            continue;
        }
        databases += 1;
        let b = &entry["backup"];
        let objects: Vec<&str> = b["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        let of = |kind: &str| -> serde_json::Value {
            let path = objects
                .iter()
                .find(|p| p.contains(&format!("/{kind}-")))
                .unwrap_or_else(|| panic!("no {kind} in {objects:?}"));
            read(path)
        };
        let (cluster, store, scheduled) = (of("cluster"), of("objectstore"), of("scheduledbackup"));
        assert!(cluster["spec"].get("backup").is_none(), "{cluster}");
        let plugins = cluster["spec"]["plugins"].as_array().unwrap();
        assert_eq!(plugins.len(), 1, "{cluster}");
        assert_eq!(plugins[0]["name"], "barman-cloud.cloudnative-pg.io");
        assert_eq!(plugins[0]["isWALArchiver"], true);
        assert_eq!(
            plugins[0]["parameters"]["barmanObjectName"],
            store["metadata"]["name"]
        );
        assert_eq!(store["apiVersion"], "barmancloud.cnpg.io/v1");
        let ns = store["metadata"]["namespace"].as_str().unwrap();
        assert_eq!(cluster["metadata"]["namespace"], ns);
        assert_eq!(
            store["spec"]["configuration"]["destinationPath"],
            b["destination"]
        );
        assert_eq!(
            store["spec"]["retentionPolicy"],
            format!("{}d", b["pitr_days"])
        );
        let cluster_dir = objects[0].rsplit_once('/').unwrap().0;
        for key in ["accessKeyId", "secretAccessKey"] {
            let secret = store["spec"]["configuration"]["s3Credentials"][key]["name"]
                .as_str()
                .unwrap();
            assert!(
                out.join(cluster_dir)
                    .join(format!("secret-{secret}.yaml"))
                    .is_file(),
                "the ObjectStore reads Secret {ns}/{secret}, which is not in the output"
            );
        }
        assert_eq!(scheduled["spec"]["method"], "plugin");
        assert_eq!(
            scheduled["spec"]["pluginConfiguration"]["name"],
            "barman-cloud.cloudnative-pg.io"
        );
        assert_eq!(
            scheduled["spec"]["cluster"]["name"],
            cluster["metadata"]["name"]
        );
    }
    assert!(databases > 0, "no database in the example's coverage");
    // Nothing in the output uses the in-tree object store any more.
    for e in walkdir_yaml(&out) {
        let text = std::fs::read_to_string(&e).unwrap();
        assert!(
            !text.contains("barmanObjectStore"),
            "{} still uses the in-tree barman object store",
            e.display()
        );
    }
}

/// Every YAML file below `dir`.
fn walkdir_yaml(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir_yaml(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out
}
