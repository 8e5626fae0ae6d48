//! Rendering once per app shape gives, byte for byte, what evaluating every
//! tenant in full gives (docs/CONFIG.md, "Staying on the fast path"): on
//! every example, on every error fixture, on random tenants, and for a
//! catalog app whose render function inspects a name.

mod common;

use std::path::Path;
use std::process::Command;

use common::{copy_dir, repo, tree};
use proptest::prelude::*;

/// Runs jardin in `dir`: (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jardin"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run jardin");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Builds `root` by shape and per tenant, with no cache, and requires the
/// same exit code, the same messages and the same files. Returns what the
/// shape build printed with `-v`.
fn same_both_ways(root: &Path, extra: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    let mut verbose = String::new();
    for mode in ["shapes", "per-tenant"] {
        let out = tmp.path().join(mode);
        let root_s = root.to_string_lossy();
        let out_s = out.to_string_lossy();
        let mut args = vec!["--no-cache", "-v", "--render", mode];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["build", &root_s, "-o", &out_s]);
        let (code, stdout, stderr) = run(&repo(), &args);
        // Timings differ from run to run; everything else must not.
        let messages: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                !l.starts_with("tenants: ")
                    && !l.starts_with("apps rendered: ")
                    && !l.starts_with("tenants' contracts: ")
            })
            .filter(|l| !l.starts_with("app ") || !l.contains("rendered per tenant"))
            .collect();
        let files = if out.exists() {
            tree(&out)
        } else {
            Default::default()
        };
        if mode == "shapes" {
            verbose = stderr.clone();
        }
        let messages = messages.join("\n").replace(&*out_s, "OUT");
        outputs.push((code, stdout.replace(&*out_s, "OUT"), messages, files));
    }
    let (shapes, full) = (&outputs[0], &outputs[1]);
    assert_eq!(shapes.0, full.0, "exit codes differ for {}", root.display());
    assert_eq!(shapes.1, full.1, "stdout differs for {}", root.display());
    assert_eq!(shapes.2, full.2, "messages differ for {}", root.display());
    assert_eq!(
        shapes.3.keys().collect::<Vec<_>>(),
        full.3.keys().collect::<Vec<_>>(),
        "the files written differ for {}",
        root.display()
    );
    for (path, bytes) in &shapes.3 {
        assert!(
            &full.3[path] == bytes,
            "{path} differs between shape and per-tenant rendering for {}",
            root.display()
        );
    }
    verbose
}

#[test]
fn every_example_builds_the_same_by_shape_and_per_tenant() {
    for example in ["minimal", "collective", "tiers-lieu"] {
        let v = same_both_ways(&repo().join("examples").join(example), &[]);
        assert!(v.contains("apps rendered: "), "{v}");
        assert!(
            !v.contains("is rendered per tenant"),
            "the bundled catalog stays on the fast path: {v}"
        );
        // The examples' tenant files are plain data, and the contracts
        // checked in Rust agree with the interpreter's.
        assert!(!v.contains(" 0 checked in Rust"), "{v}");
        assert!(!v.contains("disagree"), "{v}");
    }
}

#[test]
fn every_error_fixture_fails_the_same_by_shape_and_per_tenant() {
    let dir = repo().join("examples/errors");
    let import_root = dir.to_string_lossy().into_owned();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("jardin.ncl").exists())
        .collect();
    cases.sort();
    assert!(cases.len() > 40, "the error fixtures moved");
    for case in cases {
        same_both_ways(&case, &["--import-root", &import_root]);
    }
}

/// The collective the random tenants live in: two clusters with what every
/// bundled app needs.
const COLLECTIVE: &str = r#"{
  name = "Shapes",
  contact = "admin@shapes.example",
  defaults = { plan = "base", backup = { target = "offsite", encryption_key = { generate = {} } } },
  plans = {
    base = { quotas = { cpu = "64", memory = "128Gi", storage = "4Ti", buckets = 10, max_apps = 10 } },
    ha = { quotas = { cpu = "64", memory = "128Gi", storage = "4Ti", buckets = 10, max_apps = 10 }, ha = true },
  },
  clusters = {
    nord = {
      location = "lille",
      ingress = { ipv4 = ["198.51.100.10"], hostname = "ingress.nord.shapes.example" },
      storage_classes = { rwo = "ceph-rbd", rwx = "cephfs" },
      capacity = { cpu = "4000", memory = "8000Gi", storage = "500Ti", nodes = 100 },
      capabilities = ["cnpg", "cert-manager", "cosi", "k8up", "secret-generator", "secret-replicator"],
      kubernetes_api.addresses = ["10.0.0.1/32"],
      services = {
        postgres.pg = { cluster = "pg-lille", namespace = "databases", version = 16 },
        object_stores.s3 = { bucket_class = "garage-lille", endpoint = "https://s3.lille.shapes.example", location = "lille" },
      },
    },
    sud = {
      location = "nimes",
      ingress = { ipv4 = ["203.0.113.20"], hostname = "ingress.sud.shapes.example" },
      storage_classes = { rwo = "ceph-rbd" },
      capacity = { cpu = "4000", memory = "8000Gi", storage = "500Ti", nodes = 100 },
      capabilities = ["cnpg", "cert-manager", "cosi", "k8up", "secret-generator", "secret-replicator"],
      kubernetes_api.addresses = ["10.0.0.2/32"],
      services = {
        postgres.pg = { cluster = "pg-nimes", namespace = "databases", version = 16 },
        object_stores.s3 = { bucket_class = "garage-nimes", endpoint = "https://s3.nimes.shapes.example", location = "nimes" },
      },
    },
  },
  backup_targets.offsite = {
    endpoint = "https://s3.backup.shapes.example",
    bucket = "backups",
    location = "paris",
    credentials = { ref = { name = "backup-s3", key = "credentials" } },
  },
  smtp_relays.relay = { host = "smtp.shapes.example", password = { ref = { name = "smtp", key = "password" } } },
}
"#;

/// A Nickel string literal.
fn nickel_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("\\%"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One random app instance: (instance name, app, size, settings, alias?).
#[derive(Debug, Clone)]
struct Instance {
    name: String,
    app: &'static str,
    size: &'static str,
    settings: String,
    alias: bool,
}

#[derive(Debug, Clone)]
struct Tenant {
    id: String,
    display_name: String,
    cluster: &'static str,
    plan: &'static str,
    mail: bool,
    apps: Vec<Instance>,
}

fn instance() -> impl Strategy<Value = Instance> {
    (
        "[a-z][a-z0-9]{0,3}(-[a-z0-9]{1,3})?",
        prop_oneof![Just("nextcloud"), Just("hedgedoc"), Just("jitsi")],
        prop_oneof![Just("xs"), Just("s"), Just("m")],
        any::<bool>(),
        0u8..4,
    )
        .prop_map(|(name, app, size, alias, setting)| {
            let settings = match app {
                "jitsi" => format!("settings.media_ip = \"198.51.100.{}\"", 40 + setting),
                "hedgedoc" if setting % 2 == 1 => "settings.allow_anonymous = true".to_string(),
                "nextcloud" if setting > 1 => format!("settings.max_upload = \"{setting}G\""),
                _ => String::new(),
            };
            Instance {
                name,
                app,
                size,
                settings,
                alias,
            }
        })
}

/// Tenants that differ in their names (ids and instance names with dashes,
/// display names with quotes, backslashes and `%{`), with the same apps on
/// the same cluster and plan, all sending mail or none: after the first,
/// each is built from shapes. (A tenant's sending domain is another name
/// than its hosts, so it makes another shape of an app that sends mail.)
fn tenants() -> impl Strategy<Value = Vec<Tenant>> {
    (
        proptest::collection::vec(
            (
                "[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5}){0,2}",
                "[ -~é\"'\\\\%{}]{1,24}",
            ),
            2..7,
        ),
        any::<bool>(),
        prop_oneof![Just("nord"), Just("sud")],
        prop_oneof![Just("base"), Just("ha")],
        proptest::collection::vec(instance(), 1..4),
    )
        .prop_map(|(names, mail, cluster, plan, apps)| {
            // Instance names are keys: one of each.
            let mut seen = std::collections::BTreeSet::new();
            let apps: Vec<Instance> = apps
                .into_iter()
                .filter(|a| seen.insert(a.name.clone()))
                .collect();
            let mut ids = std::collections::BTreeSet::new();
            names
                .into_iter()
                .filter(|(id, _)| ids.insert(id.clone()))
                .map(|(id, display_name)| Tenant {
                    id,
                    display_name,
                    cluster,
                    plan,
                    mail,
                    apps: apps.clone(),
                })
                .collect()
        })
}

fn tenant_file(t: &Tenant) -> String {
    let zone = format!("{}.org", t.id);
    let apps: Vec<String> = t
        .apps
        .iter()
        .map(|a| {
            let host = format!("{}.{zone}", a.name);
            let mut fields = vec![
                format!("app = \"{}\"", a.app),
                format!("host = \"{host}\""),
                format!("size = \"{}\"", a.size),
            ];
            if a.alias {
                fields.push(format!("aliases = [\"www-{host}\"]"));
            }
            if !a.settings.is_empty() {
                fields.push(a.settings.clone());
            }
            format!("    \"{}\" = {{ {} }},", a.name, fields.join(", "))
        })
        .collect();
    let mail = if t.mail {
        format!("  mail = {{ sending_domain = \"{zone}\", relay = \"relay\" }},\n")
    } else {
        String::new()
    };
    format!(
        "{{\n  id = \"{}\",\n  display_name = {},\n  cluster = \"{}\",\n  plan = \"{}\",\n  zones = [\"{zone}\"],\n{mail}  apps = {{\n{}\n  }},\n}}\n",
        t.id,
        nickel_str(&t.display_name),
        t.cluster,
        t.plan,
        apps.join("\n")
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random tenants (ids and instance names with dashes, display names
    /// with quotes, backslashes and `%{`, aliases, mail or not, settings)
    /// build the same both ways, whatever `check` thinks of them.
    #[test]
    fn random_tenants_build_the_same_by_shape_and_per_tenant(tenants in tenants()) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("tenants")).unwrap();
        std::fs::write(root.join("jardin.ncl"), COLLECTIVE).unwrap();
        for t in &tenants {
            std::fs::write(root.join(format!("tenants/{}.ncl", t.id)), tenant_file(t)).unwrap();
        }
        let verbose = same_both_ways(&root, &[]);
        // Each tenant that renders the first of some shape is evaluated in
        // full (which tenant that is depends on the threads); with more
        // tenants than apps, at least one has all its apps from shapes.
        if tenants.len() > tenants[0].apps.len() && verbose.contains("wrote ") {
            prop_assert!(!verbose.contains("apps rendered: 0 from"), "{}", verbose);
        }
        prop_assert!(!verbose.contains("is rendered per tenant"), "{}", verbose);
        prop_assert!(!verbose.contains("disagree"), "{}", verbose);
    }
}

/// A root's own app whose render function looks inside a name: its length,
/// a comparison. It is detected, rendered per tenant, named by `-v`, and the
/// output is still what evaluating every tenant gives.
#[test]
fn an_app_that_inspects_a_name_is_rendered_per_tenant() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_dir(&repo().join("examples/collective"), &root);
    std::fs::create_dir_all(root.join("catalog")).unwrap();
    let app = std::fs::read_to_string(repo().join("catalog/hedgedoc.ncl")).unwrap();
    let inspecting = app.replacen(
        "CMD_DOMAIN = ctx.host,",
        "CMD_DOMAIN = ctx.host,\n              CMD_NAME_LENGTH = std.to_string (std.string.length ctx.tenant.id),",
        1,
    );
    assert_ne!(inspecting, app, "hedgedoc's environment moved");
    std::fs::write(root.join("catalog/hedgedoc.ncl"), inspecting).unwrap();
    let verbose = same_both_ways(&root, &[]);
    assert!(
        verbose.contains(
            "app hedgedoc is rendered per tenant: its output depends on a name beyond copying it"
        ),
        "{verbose}"
    );
    assert!(
        !verbose.contains("app nextcloud is rendered per tenant"),
        "{verbose}"
    );

    // A name cut apart is seen even when one tenant's check would not.
    let cutting = app.replacen(
        "CMD_DOMAIN = ctx.host,",
        "CMD_DOMAIN = ctx.host,\n              CMD_FIRST = std.string.substring 0 1 ctx.namespace,",
        1,
    );
    std::fs::write(root.join("catalog/hedgedoc.ncl"), cutting).unwrap();
    let verbose = same_both_ways(&root, &[]);
    assert!(
        verbose.contains(
            "app hedgedoc is rendered per tenant: its render function takes a name apart"
        ),
        "{verbose}"
    );
}
