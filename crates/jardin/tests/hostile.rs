//! A config change written as an attacker would write it cannot make
//! `jardin build` write outside its output directory: every name that
//! becomes a path or a namespace (an app's key, a cluster id, a tenant id,
//! a zone, the kind, namespace and name of a rendered object) is refused
//! with a diagnostic located in the user's file, before any tenant is
//! written, and the previous output stays as it was.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

use jardin_core::code;

/// A local catalog app without state, so that a clean tenant builds
/// without any backup or network rule in the way; `NAME`, `NAMESPACE` and
/// `KIND` are what the attack replaces.
const MOTD: &str = r#"{
  id = "motd",
  description = "A message of the day",
  versions = { default = "1", available = { "1" = { image = "example.org/motd:1" } } },
  requires = {},
  state = [],
  singletons = [],
  secrets = {},
  sizes = { s = { cpu = "100m", memory = "128Mi", storage = "1Gi", replicas = 1 } },
  pod_security = "restricted",
  render = fun ctx => [
    {
      apiVersion = "v1",
      kind = "@KIND@",
      metadata = { name = "@NAME@", namespace = @NAMESPACE@ },
      data = { message = "Bienvenue" },
    },
  ],
}
"#;

const TENANT: &str = r#"{
  id = "asso",
  display_name = "Asso",
  cluster = "potager",
  zones = ["asso.org"],
  apps = { motd = { app = "motd", host = "motd.asso.org" } },
}
"#;

/// What an attack changes in a clean config root.
#[derive(Default)]
struct Attack {
    /// (from, to) in jardin.ncl.
    collective: Option<(&'static str, &'static str)>,
    /// (from, to) in tenants/asso.ncl.
    tenant: Option<(&'static str, &'static str)>,
    name: Option<&'static str>,
    namespace: Option<&'static str>,
    kind: Option<&'static str>,
}

/// Every file below `dir` with its content, links as their target.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(base, &path, out);
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, target.display().to_string().into_bytes());
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Writes the config root for `attack` into `dir/root`.
fn write_root(dir: &Path, attack: &Attack) -> std::path::PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("tenants")).unwrap();
    std::fs::create_dir_all(root.join("catalog")).unwrap();
    let mut collective =
        std::fs::read_to_string(repo().join("examples/errors/_shared/collective.ncl")).unwrap();
    if let Some((from, to)) = attack.collective {
        assert!(collective.contains(from), "{from} is not in the collective");
        collective = collective.replacen(from, to, 1);
    }
    std::fs::write(root.join("jardin.ncl"), collective).unwrap();
    let mut tenant = TENANT.to_string();
    if let Some((from, to)) = attack.tenant {
        assert!(tenant.contains(from), "{from} is not in the tenant");
        tenant = tenant.replacen(from, to, 1);
    }
    std::fs::write(root.join("tenants/asso.ncl"), tenant).unwrap();
    let namespace = match attack.namespace {
        Some(ns) => format!("\"{ns}\""),
        None => "ctx.namespace".to_string(),
    };
    let app = MOTD
        .replace("@KIND@", attack.kind.unwrap_or("ConfigMap"))
        .replace("@NAME@", attack.name.unwrap_or("motd"))
        .replace("@NAMESPACE@", &namespace);
    std::fs::write(root.join("catalog/motd.ncl"), app).unwrap();
    root
}

/// Builds `attack` over a previous output: the build fails with `expected`,
/// located in a file of the root, and nothing changed anywhere in the
/// directory that holds the root and the output (where every `..` of the
/// attacks points).
fn assert_refused(attack: Attack, expected: code::Code) {
    let tmp = tempfile::tempdir().unwrap();
    // The build the attack follows: a clean root, and its output.
    let clean = tmp.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    let clean_root = write_root(&clean, &Attack::default());
    let out = tmp.path().join("out");
    let (code, _, err) = jardin(&[
        "--no-cache",
        "build",
        clean_root.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "the clean root does not build: {err}");
    assert!(out
        .join("k8s/potager/asso-motd/configmap-motd.yaml")
        .is_file());
    std::fs::remove_dir_all(&clean).unwrap();

    let root = write_root(tmp.path(), &attack);
    let before = tree(tmp.path());
    let (code, stdout, err) = jardin(&[
        "--no-cache",
        "--error-format",
        "json",
        "build",
        root.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    let diagnostics: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let refusal = diagnostics
        .iter()
        .find(|d| d["code"] == expected.id())
        .unwrap_or_else(|| panic!("no {expected}: {err}"));
    let file = refusal["file"].as_str().unwrap_or_default();
    assert!(
        !file.is_empty() && root.join(file).is_file(),
        "{expected} is not located in the root: {refusal}"
    );
    // Nothing was written: not the output, not beside it, not where the
    // names point; no staging directory was left.
    assert_eq!(tree(tmp.path()), before, "{err}");
}

#[test]
fn an_app_key_that_climbs_out_is_refused() {
    assert_refused(
        Attack {
            tenant: Some(("motd = {", "\"meet/../../../../x\" = {")),
            ..Default::default()
        },
        code::CONTRACT_VIOLATION,
    );
}

#[test]
fn a_cluster_id_that_climbs_out_is_refused() {
    // In the collective, where clusters are declared…
    assert_refused(
        Attack {
            collective: Some(("potager = {", "\"../../../escaped\" = {")),
            tenant: Some(("\"potager\"", "\"../../../escaped\"")),
            ..Default::default()
        },
        code::CONTRACT_VIOLATION,
    );
    // …and in a tenant, which names one that does not exist.
    assert_refused(
        Attack {
            tenant: Some(("\"potager\"", "\"../../../escaped\"")),
            ..Default::default()
        },
        code::UNKNOWN_CLUSTER,
    );
}

#[test]
fn a_tenant_id_or_a_zone_that_climbs_out_is_refused() {
    assert_refused(
        Attack {
            tenant: Some(("id = \"asso\"", "id = \"../../../escaped\"")),
            ..Default::default()
        },
        code::INVALID_IDENTIFIER,
    );
    assert_refused(
        Attack {
            tenant: Some(("[\"asso.org\"]", "[\"../../../escaped.org\"]")),
            ..Default::default()
        },
        code::INVALID_HOSTNAME,
    );
    // A zone of the collective becomes dns/<zone>.zone.
    assert_refused(
        Attack {
            collective: Some((
                "smtp_relays = {",
                "zones = { \"../../../escaped\" = {} },\n  smtp_relays = {",
            )),
            ..Default::default()
        },
        code::CONTRACT_VIOLATION,
    );
}

/// The objects an app renders (a collective's own catalog app is code the
/// collective's members write) are written as
/// `k8s/<cluster>/<namespace>/<kind>-<name>.yaml`: a name, a namespace or
/// a kind that would leave the output is J0230, and none of the tenant's
/// objects is written.
#[test]
fn a_rendered_object_whose_path_climbs_out_is_refused() {
    // Five `..` from k8s/potager/asso-motd/configmap-x lead to the
    // directory that holds the output.
    assert_refused(
        Attack {
            name: Some("x/../../../../../escaped"),
            ..Default::default()
        },
        code::OBJECT_NAME_UNUSABLE,
    );
    assert_refused(
        Attack {
            name: Some(".."),
            ..Default::default()
        },
        code::OBJECT_NAME_UNUSABLE,
    );
    assert_refused(
        Attack {
            namespace: Some("../../../escaped"),
            ..Default::default()
        },
        code::OBJECT_NAME_UNUSABLE,
    );
    assert_refused(
        Attack {
            kind: Some("x/../../../../../escaped"),
            ..Default::default()
        },
        code::OBJECT_NAME_UNUSABLE,
    );
}

/// The output directory is replaced only when it is a directory jardin
/// can replace: a link there (to a directory elsewhere) is refused, and
/// what it points to is left alone.
#[test]
fn an_output_that_is_a_link_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = write_root(tmp.path(), &Attack::default());
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("precious"), b"x").unwrap();
    std::os::unix::fs::symlink(&elsewhere, tmp.path().join("out")).unwrap();
    let before = tree(tmp.path());
    let (code, _, err) = jardin(&[
        "--no-cache",
        "build",
        root.to_str().unwrap(),
        "-o",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("J0008"), "{err}");
    assert_eq!(tree(tmp.path()), before);
}
