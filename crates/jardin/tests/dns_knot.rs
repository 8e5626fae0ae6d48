//! DNS against a real Knot DNS server on 127.0.0.1: AXFR reads, RFC 2136
//! updates signed with TSIG, ownership, stale plans, wrong keys.
//!
//! Each test starts its own `knotd` (config, storage, rundir and journal in
//! a temp dir, listening on a free loopback port) and kills it by PID when
//! the guard drops. A missing `knotd`, `kdig` or `kzonecheck` fails the
//! tests: `scripts/prepare-test-tools.sh` installs them.

#[path = "support/knot.rs"]
mod knot;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use knot::{free_port, initial_zone, required, Knot, SECRET, WRONG};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A config root with one tenant on example.org, its zone on `addr`.
fn config_root(addr: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shared =
        std::fs::read_to_string(repo().join("examples/errors/_shared/collective.ncl")).unwrap();
    std::fs::write(dir.path().join("collective.ncl"), shared).unwrap();
    std::fs::write(
        dir.path().join("jardin.ncl"),
        format!(
            "(import \"collective.ncl\") & {{\n  zones.\"example.org\" = {{\n    provider = \"rfc2136\",\n    server = \"{addr}\",\n    ttl = 300,\n    nameservers = [\"ns1.example.net\"],\n    tsig = {{ name = \"jardin\", secret = {{ external = \"env:JARDIN_TEST_TSIG\" }} }},\n  }},\n}}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("tenants")).unwrap();
    std::fs::write(
        dir.path().join("tenants/asso.ncl"),
        "{\n  id = \"asso\",\n  display_name = \"Asso\",\n  cluster = \"potager\",\n  zones = [\"example.org\"],\n  mail = { sending_domain = \"example.org\", relay = \"relay\" },\n  apps = {\n    pad = { app = \"hedgedoc\", host = \"pad.example.org\" },\n  },\n}\n",
    )
    .unwrap();
    dir
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn jardin(root: &Path, secret: &str, args: &[&str]) -> Run {
    let cache = root.join(".cache");
    let out = Command::new(env!("CARGO_BIN_EXE_jardin"))
        .args(["--color", "never", "--cache-dir", cache.to_str().unwrap()])
        .args(args)
        .env("JARDIN_TEST_TSIG", secret)
        .env("JARDIN_TSIG_SECRET", secret)
        .output()
        .expect("run jardin");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // The secret never appears in any output.
    for s in [SECRET, WRONG] {
        assert!(
            !run.stdout.contains(s) && !run.stderr.contains(s),
            "secret printed"
        );
    }
    run
}

fn plan(root: &Path) -> Run {
    jardin(root, SECRET, &["dns", "plan", root.to_str().unwrap()])
}

fn apply(root: &Path) -> Run {
    jardin(root, SECRET, &["dns", "apply", root.to_str().unwrap()])
}

#[test]
fn fresh_zone_is_created_then_clean() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    let p = plan(root.path());
    assert_eq!(p.code, 2, "{}{}", p.stdout, p.stderr);
    assert!(
        p.stdout
            .contains("+ pad.example.org. 300 CNAME ingress.potager.exemple.org."),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout.contains("0 to change, 0 to delete"),
        "{}",
        p.stdout
    );
    let a = apply(root.path());
    assert_eq!(a.code, 0, "{}", a.stderr);
    let axfr = knot.axfr("example.org");
    assert!(axfr.contains("_jardin-owner.pad.example.org."), "{axfr}");
    assert!(axfr.contains("v=DMARC1"), "{axfr}");
    let again = plan(root.path());
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("0 to add, 0 to change, 0 to delete"),
        "{}",
        again.stdout
    );
}

#[test]
fn out_of_band_change_is_repaired_and_foreign_records_left_alone() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    assert_eq!(apply(root.path()).code, 0);
    knot.nsupdate(
        "example.org",
        &[
            "update delete pad.example.org. CNAME",
            "update add pad.example.org. 300 CNAME hijacked.example.net.",
            "update add foreign.example.org. 300 TXT \"not jardin's\"",
        ],
    );
    let p = plan(root.path());
    assert_eq!(p.code, 2, "{}{}", p.stdout, p.stderr);
    assert!(
        p.stdout.contains("~ pad.example.org. CNAME"),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout.contains("- 300 hijacked.example.net."),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout
            .contains("foreign, left alone: foreign.example.org. TXT"),
        "{}",
        p.stdout
    );
    assert_eq!(apply(root.path()).code, 0);
    let axfr = knot.axfr("example.org");
    assert!(!axfr.contains("hijacked"), "{axfr}");
    assert!(
        axfr.contains("not jardin's"),
        "foreign record deleted: {axfr}"
    );
    let again = plan(root.path());
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(again.stdout.contains("1 foreign"), "{}", again.stdout);
}

#[test]
fn stale_plan_is_refused() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    let plan_file = root.path().join("plan.json");
    let p = jardin(
        root.path(),
        SECRET,
        &[
            "dns",
            "plan",
            root.path().to_str().unwrap(),
            "-o",
            plan_file.to_str().unwrap(),
        ],
    );
    assert_eq!(p.code, 2, "{}", p.stderr);
    knot.nsupdate(
        "example.org",
        &["update add other.example.org. 300 A 192.0.2.7"],
    );
    let a = jardin(
        root.path(),
        SECRET,
        &[
            "dns",
            "apply",
            root.path().to_str().unwrap(),
            "--plan",
            plan_file.to_str().unwrap(),
        ],
    );
    assert_eq!(a.code, 1, "{}", a.stderr);
    assert!(
        a.stderr.contains("J0433") && a.stderr.contains("changed on"),
        "{}",
        a.stderr
    );
    assert!(
        !knot.axfr("example.org").contains("pad.example.org"),
        "a stale plan changed the zone"
    );
}

#[test]
fn wrong_tsig_key_is_a_clear_error() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    let p = jardin(
        root.path(),
        WRONG,
        &["dns", "plan", root.path().to_str().unwrap()],
    );
    assert_eq!(p.code, 1, "{}{}", p.stdout, p.stderr);
    assert!(p.stderr.contains("J0431"), "{}", p.stderr);
    assert!(
        p.stderr.contains("refused the request (Not authorized)"),
        "{}",
        p.stderr
    );
    let a = jardin(
        root.path(),
        WRONG,
        &["dns", "apply", root.path().to_str().unwrap()],
    );
    assert_eq!(a.code, 1, "{}", a.stderr);
}

#[test]
fn deletions_over_budget_need_approval() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    assert_eq!(apply(root.path()).code, 0);
    // The tenant stops sending mail and drops its pad: jardin's records go.
    std::fs::write(
        root.path().join("tenants/asso.ncl"),
        "{ id = \"asso\", display_name = \"Asso\", cluster = \"potager\", zones = [\"example.org\"], apps = {} }\n",
    )
    .unwrap();
    let p = plan(root.path());
    assert_eq!(p.code, 3, "{}{}", p.stdout, p.stderr);
    assert!(p.stdout.contains("over budget"), "{}", p.stdout);
    let refused = apply(root.path());
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(knot.axfr("example.org").contains("pad.example.org"));
    let allowed = jardin(
        root.path(),
        SECRET,
        &[
            "dns",
            "apply",
            root.path().to_str().unwrap(),
            "--allow-deletes",
            "10",
        ],
    );
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert!(!knot.axfr("example.org").contains("pad.example.org"));
    assert_eq!(plan(root.path()).code, 0);
}

/// The example collective: its zone files pass kzonecheck, apply to Knot,
/// and a second plan shows no changes.
#[test]
fn example_collective_zones_check_apply_and_replan_clean() {
    let root = repo().join("examples/collective");
    let zones = [
        "faire-ecole.org",
        "festivaldespossibles.org",
        "habitat-solidaire.coop",
        "jardins-numeriques.org",
        "lalyre.org",
        "lespousses.org",
        "lezinc.org",
        "libraires-independants.org",
        "ressourcerie-canal.fr",
    ];
    let initial: Vec<(&str, String)> = zones.iter().map(|z| (*z, initial_zone(z))).collect();
    let knot = Knot::start(&initial);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let b = jardin(
        tmp.path(),
        SECRET,
        &["build", root.to_str().unwrap(), "-o", out.to_str().unwrap()],
    );
    assert_eq!(b.code, 0, "{}", b.stderr);
    {
        let kzonecheck = required("kzonecheck");
        for entry in std::fs::read_dir(out.join("dns")).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "zone") {
                let apex = path.file_stem().unwrap().to_string_lossy().into_owned();
                let check = Command::new(&kzonecheck)
                    .args(["-o", &apex])
                    .arg(&path)
                    .output()
                    .unwrap();
                assert!(
                    check.status.success(),
                    "kzonecheck {apex}: {}",
                    String::from_utf8_lossy(&check.stdout)
                );
            }
        }
    }
    let addr = knot.addr();
    let r = root.to_str().unwrap();
    let p = jardin(tmp.path(), SECRET, &["dns", "plan", r, "--server", &addr]);
    assert_eq!(p.code, 2, "{}{}", p.stdout, p.stderr);
    let a = jardin(tmp.path(), SECRET, &["dns", "apply", r, "--server", &addr]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let again = jardin(tmp.path(), SECRET, &["dns", "plan", r, "--server", &addr]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let _ = &knot.dir;
}

/// The figure in docs/PERFORMANCE.md: plan 1,000 zones (one tenant each,
/// three apps and mail) against a local Knot, fresh then after apply.
/// Run with `cargo test --release --test dns_knot -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_plan_1000_zones() {
    const N: usize = 1000;
    let names: Vec<String> = (0..N).map(|i| format!("bench{i:04}.org")).collect();
    let initial: Vec<(&str, String)> = names
        .iter()
        .map(|z| (z.as_str(), initial_zone(z)))
        .collect();
    let knot = Knot::start(&initial);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let shared =
        std::fs::read_to_string(repo().join("examples/errors/_shared/collective.ncl")).unwrap();
    std::fs::write(r.join("collective.ncl"), shared).unwrap();
    let mut zones = String::new();
    for z in &names {
        zones.push_str(&format!("    \"{z}\" = primary,\n"));
    }
    std::fs::write(
        r.join("jardin.ncl"),
        format!(
            "let primary = {{ provider = \"rfc2136\", server = \"{}\", nameservers = [\"ns1.example.net\"], tsig = {{ name = \"jardin\", secret = {{ external = \"env:JARDIN_TEST_TSIG\" }} }} }} in\n(import \"collective.ncl\") & {{\n  plans.small.quotas.max_apps = 10,\n  clusters.potager.capacity | force = {{ cpu = \"4000\", memory = \"8Ti\", storage = \"1Pi\", nodes = 100 }},\n  zones = {{\n{zones}  }},\n}}\n",
            knot.addr()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(r.join("tenants")).unwrap();
    for (i, z) in names.iter().enumerate() {
        std::fs::write(
            r.join(format!("tenants/t{i:04}.ncl")),
            format!(
                "{{ id = \"t{i:04}\", display_name = \"T{i}\", cluster = \"potager\", zones = [\"{z}\"],\n  mail = {{ sending_domain = \"{z}\", relay = \"relay\" }},\n  apps = {{ pad = {{ app = \"hedgedoc\", host = \"pad.{z}\" }}, meet = {{ app = \"jitsi\", host = \"meet.{z}\" }}, site = {{ app = \"hedgedoc\", host = \"{z}\" }} }} }}\n"
            ),
        )
        .unwrap();
    }
    let rs = r.to_str().unwrap();
    let timed = |args: &[&str]| {
        let t = Instant::now();
        let run = jardin(r, SECRET, args);
        (run, t.elapsed())
    };
    // Warm the evaluation cache so that the figures are about DNS.
    let (check, t_check) = timed(&["check", rs]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let (warm, t_warm) = timed(&["check", rs]);
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    let (fresh, t_fresh) = timed(&["-v", "dns", "plan", rs]);
    assert_eq!(fresh.code, 2, "{}", fresh.stderr);
    let (applied, t_apply) = timed(&["dns", "apply", rs]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let (clean, t_clean) = timed(&["-v", "dns", "plan", rs]);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let planned = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("planned"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!("check (cold cache): {t_check:?}");
    eprintln!("check (warm cache, the compile every plan pays): {t_warm:?}");
    eprintln!(
        "plan, fresh zones: {t_fresh:?} ({})",
        planned(&fresh.stderr)
    );
    eprintln!("apply: {t_apply:?}");
    eprintln!("plan, no changes: {t_clean:?} ({})", planned(&clean.stderr));
}

/// A zone too big for one message: the AXFR spans many TSIG-signed
/// messages, each verified in the chain.
#[test]
fn large_zone_transfer_spans_several_signed_messages() {
    let mut zone = initial_zone("example.org");
    for i in 0..3000 {
        zone.push_str(&format!(
            "host{i} 300 IN TXT \"foreign record number {i} with some padding text\"\n"
        ));
    }
    let knot = Knot::start(&[("example.org", zone)]);
    let root = config_root(&knot.addr());
    let p = jardin(
        root.path(),
        SECRET,
        &[
            "dns",
            "plan",
            root.path().to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(p.code, 2, "{}", p.stderr);
    let plan: serde_json::Value = serde_json::from_str(&p.stdout).expect("JSON plan");
    assert_eq!(plan["format_version"], 1);
    assert_eq!(
        plan["zones"][0]["foreign"].as_array().map(Vec::len),
        Some(3000)
    );
}

/// Saves the plan of `root` to `root/plan.json`, expecting `exit`.
fn save_plan(root: &Path, exit: i32) -> PathBuf {
    let file = root.join("plan.json");
    let p = jardin(
        root,
        SECRET,
        &[
            "dns",
            "plan",
            root.to_str().unwrap(),
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(p.code, exit, "{}{}", p.stdout, p.stderr);
    file
}

/// Edits a saved plan as someone could between review and apply.
fn edit_plan(file: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    edit(&mut plan);
    std::fs::write(file, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
}

/// `dns apply` (with `--plan file` when given), diagnostics as JSON lines.
fn apply_json(root: &Path, file: Option<&Path>, extra: &[&str]) -> Run {
    let mut args = vec![
        "--error-format",
        "json",
        "dns",
        "apply",
        root.to_str().unwrap(),
    ];
    if let Some(f) = file {
        args.extend(["--plan", f.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    jardin(root, SECRET, &args)
}

/// One diagnostic of a run with `--error-format json`.
struct Diag {
    code: String,
    message: String,
    /// The help, then the notes.
    advice: String,
    /// `file:line` of the primary label, or empty.
    at: String,
}

fn diagnostics(run: &Run) -> Vec<Diag> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let d: serde_json::Value = serde_json::from_str(l).unwrap();
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let mut advice = text(&d["help"]);
            for n in d["notes"].as_array().into_iter().flatten() {
                advice.push('\n');
                advice.push_str(&text(n));
            }
            let at = match d["file"].as_str() {
                Some(f) => format!("{f}:{}", d["line"]),
                None => String::new(),
            };
            Diag {
                code: text(&d["code"]),
                message: text(&d["message"]),
                advice,
                at,
            }
        })
        .collect()
}

/// The zone as served, every record, SOA included: a refused apply sends
/// nothing, so not even the serial moves.
fn records(knot: &Knot) -> Vec<String> {
    let mut lines: Vec<String> = knot
        .axfr("example.org")
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty() && !l.contains("TSIG"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// The attack of issue 15: a reviewed plan, edited to delete five records
/// jardin does not own, is refused whole, each record named at its place
/// in the file; the zone is unchanged.
#[test]
fn edited_plan_deleting_foreign_records_is_refused() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    assert_eq!(apply(root.path()).code, 0);
    let foreign: Vec<String> = (1..=5).map(|i| format!("shop{i}.example.org.")).collect();
    let adds: Vec<String> = foreign
        .iter()
        .map(|n| format!("update add {n} 300 A 192.0.2.7"))
        .collect();
    knot.nsupdate(
        "example.org",
        &adds.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let file = save_plan(root.path(), 0);
    let before = records(&knot);
    edit_plan(&file, |plan| {
        let changes = plan["zones"][0]["changes"].as_array_mut().unwrap();
        assert!(changes.is_empty(), "{changes:?}");
        for n in &foreign {
            changes.push(serde_json::json!({
                "action": "delete", "name": n, "type": "A",
                "before": [{ "name": n, "type": "A", "ttl": 300, "data": "192.0.2.7" }],
                "after": [],
            }));
        }
    });
    let a = apply_json(root.path(), Some(&file), &[]);
    assert_eq!(a.code, 1, "{}", a.stderr);
    // Each deletion refused; the deletion count the file states (0) is
    // not what apply counts (5): refused too.
    let d = diagnostics(&a);
    let refused: Vec<&Diag> = d.iter().filter(|d| d.code == "J0440").collect();
    assert_eq!(refused.len(), 5, "{}", a.stderr);
    assert!(
        d.iter().any(|d| d.code == "J0441"
            && d.message
                .contains("the plan says deletes = 0, apply computes 5")),
        "{}",
        a.stderr
    );
    let text = std::fs::read_to_string(&file).unwrap();
    for (n, d) in foreign.iter().zip(refused) {
        assert!(
            d.message.contains(&format!(
                "the plan would delete {n} A, which jardin does not propose now: it is not jardin's"
            )),
            "{}",
            d.message
        );
        assert!(
            d.advice.contains("the plan file was edited"),
            "{}",
            d.advice
        );
        // Located: at the change's name in the plan file.
        let (path, line) = d.at.rsplit_once(':').unwrap();
        assert_eq!(path, file.display().to_string());
        let line: usize = line.parse().unwrap();
        assert!(
            text.lines()
                .nth(line - 1)
                .unwrap()
                .contains(&format!("\"name\": \"{n}\"")),
            "{}",
            d.at
        );
    }
    assert!(!a.stderr.contains(": applied"), "{}", a.stderr);
    assert_eq!(records(&knot), before, "a refused plan changed the zone");
}

/// A plan over the deletion budget, with its approval flag flipped or its
/// figures edited so that it looks within budget: refused, zone unchanged.
#[test]
fn edited_plan_budget_and_approval_are_refused() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    assert_eq!(apply(root.path()).code, 0);
    std::fs::write(
        root.path().join("tenants/asso.ncl"),
        "{ id = \"asso\", display_name = \"Asso\", cluster = \"potager\", zones = [\"example.org\"], apps = {} }\n",
    )
    .unwrap();
    let before = records(&knot);
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 3] = [
        ("over_budget", |z| z["over_budget"] = false.into()),
        ("budget_count", |z| {
            z["budget_count"] = 100.into();
            z["over_budget"] = false.into();
        }),
        ("deletes", |z| {
            z["deletes"] = 0.into();
            z["over_budget"] = false.into();
        }),
    ];
    for (field, edit) in edits {
        let file = save_plan(root.path(), 3);
        edit_plan(&file, |plan| edit(&mut plan["zones"][0]));
        let a = apply_json(root.path(), Some(&file), &[]);
        assert_eq!(a.code, 1, "{field}: {}", a.stderr);
        let d = diagnostics(&a);
        assert!(
            d.iter().any(|d| d.code == "J0441"
                && d.message.contains(&format!("the plan says {field} = "))
                && d.at.starts_with(&file.display().to_string())),
            "{field}: {}",
            a.stderr
        );
        assert!(d.iter().all(|d| d.code == "J0441"), "{field}: {}", a.stderr);
        assert_eq!(records(&knot), before, "{field}: the zone changed");
    }
    // Not edited, the same plan still needs its approval.
    let file = save_plan(root.path(), 3);
    assert_eq!(apply_json(root.path(), Some(&file), &[]).code, 3);
    let a = apply_json(root.path(), Some(&file), &["--allow-deletes", "10"]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert!(!knot.axfr("example.org").contains("pad.example.org"));
}

/// A plan that writes other data than jardin would (a CNAME pointed
/// elsewhere) is refused.
#[test]
fn edited_plan_with_other_data_is_refused() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    let file = save_plan(root.path(), 2);
    edit_plan(&file, |plan| {
        let changes = plan["zones"][0]["changes"].as_array_mut().unwrap();
        let pad = changes
            .iter_mut()
            .find(|c| c["name"] == "pad.example.org." && c["type"] == "CNAME")
            .unwrap();
        pad["after"][0]["data"] = "evil.example.net.".into();
    });
    let a = apply_json(root.path(), Some(&file), &[]);
    assert_eq!(a.code, 1, "{}", a.stderr);
    let d = diagnostics(&a);
    assert_eq!(d.len(), 1, "{}", a.stderr);
    assert_eq!(d[0].code, "J0440");
    assert!(
        d[0].message.contains("create pad.example.org. CNAME, which jardin does not propose now: jardin would write 300 ingress.potager.exemple.org., the plan writes 300 evil.example.net."),
        "{}",
        a.stderr
    );
    assert!(!knot.axfr("example.org").contains("pad.example.org"));
}

/// A plan that was not edited, but the config changed since: the app it
/// creates records for is gone. Refused, nothing sent.
#[test]
fn plan_stale_against_the_config_is_refused() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    let file = save_plan(root.path(), 2);
    std::fs::write(
        root.path().join("tenants/asso.ncl"),
        "{ id = \"asso\", display_name = \"Asso\", cluster = \"potager\", zones = [\"example.org\"], mail = { sending_domain = \"example.org\", relay = \"relay\" }, apps = {} }\n",
    )
    .unwrap();
    let a = apply_json(root.path(), Some(&file), &[]);
    assert_eq!(a.code, 1, "{}", a.stderr);
    let d = diagnostics(&a);
    // The CNAME and its ownership marker.
    assert_eq!(d.len(), 2, "{}", a.stderr);
    assert!(
        d.iter().all(|d| d.code == "J0440"
            && d.message
                .contains("which jardin does not propose now: the config does not ask for it")
            && d.advice.contains("the config changed since the plan")),
        "{}",
        a.stderr
    );
    assert!(
        d.iter()
            .any(|d| d.message.contains("create pad.example.org. CNAME")),
        "{}",
        a.stderr
    );
    assert!(
        !knot.axfr("example.org").contains("DMARC"),
        "part of a refused plan was applied"
    );
}

/// The config gained an app since the plan: the reviewed changes are
/// applied, the new ones are not (nobody reviewed them), and apply exits 2
/// with a warning naming them.
#[test]
fn changes_not_in_the_plan_are_left_for_the_next_plan() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    let file = save_plan(root.path(), 2);
    let tenant = root.path().join("tenants/asso.ncl");
    let text = std::fs::read_to_string(&tenant).unwrap().replace(
        "pad = { app = \"hedgedoc\", host = \"pad.example.org\" },",
        "pad = { app = \"hedgedoc\", host = \"pad.example.org\" },\n    wiki = { app = \"hedgedoc\", host = \"wiki.example.org\" },",
    );
    std::fs::write(&tenant, text).unwrap();
    let a = apply_json(root.path(), Some(&file), &[]);
    assert_eq!(a.code, 2, "{}", a.stderr);
    let d = diagnostics(&a);
    assert_eq!(d.len(), 1, "{}", a.stderr);
    assert_eq!(d[0].code, "J0443");
    assert!(
        d[0].message
            .contains("2 changes jardin proposes now are not in the plan, and are not applied")
            && d[0].message.contains("create wiki.example.org. CNAME"),
        "{}",
        a.stderr
    );
    let axfr = knot.axfr("example.org");
    assert!(axfr.contains("pad.example.org."), "{axfr}");
    assert!(!axfr.contains("wiki.example.org."), "{axfr}");
    let again = plan(root.path());
    assert_eq!(again.code, 2, "{}", again.stdout);
    assert!(
        again.stdout.contains("+ wiki.example.org."),
        "{}",
        again.stdout
    );
}

/// A plan read from one server is not applied to another.
#[test]
fn plan_from_another_server_is_refused() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    let file = save_plan(root.path(), 2);
    let elsewhere = format!("127.0.0.1:{}", free_port());
    let a = apply_json(root.path(), Some(&file), &["--server", &elsewhere]);
    assert_eq!(a.code, 1, "{}", a.stderr);
    let d = diagnostics(&a);
    assert_eq!(d.len(), 1, "{}", a.stderr);
    assert_eq!(d[0].code, "J0442");
    assert!(
        d[0].message.contains(&format!(
            "the plan was made against {}, apply would change {elsewhere}",
            knot.addr()
        )) && d[0]
            .advice
            .contains(&format!("pass --server {}", knot.addr())),
        "{}",
        a.stderr
    );
    // The plan's own server, named, is the one the plan was made for.
    let a = apply_json(root.path(), Some(&file), &["--server", &knot.addr()]);
    assert_eq!(a.code, 0, "{}", a.stderr);
}

/// Knot answers NOERROR to an update adding a CNAME beside other data at
/// the same name, and drops the CNAME (RFC 2136 §3.4.2.2). jardin reads the
/// zone back and reports it, exit 1.
#[test]
fn change_the_server_silently_drops_is_an_error() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    knot.nsupdate(
        "example.org",
        &["update add pad.example.org. 300 TXT \"someone else's\""],
    );
    let a = apply_json(root.path(), None, &[]);
    assert_eq!(a.code, 1, "{}", a.stderr);
    // Everything else of the update was taken: only the CNAME is reported.
    let d = diagnostics(&a);
    assert_eq!(d.len(), 1, "{}", a.stderr);
    assert_eq!(d[0].code, "J0444");
    assert!(
        d[0].message.contains(&format!(
            "{} did not take create pad.example.org. CNAME: it holds nothing",
            knot.addr()
        )) && d[0].advice.contains("RFC 1034")
            && d[0].advice.contains("pad.example.org. holds TXT"),
        "{}",
        a.stderr
    );
    assert!(!a.stderr.contains(": applied"), "{}", a.stderr);
    assert!(knot.axfr("example.org").contains("v=DMARC1"));
}

/// A host that goes from a CNAME to addresses: the update deletes the
/// CNAME before it adds the A, which Knot would otherwise drop.
#[test]
fn host_switching_from_cname_to_address_is_applied() {
    let knot = Knot::start(&[("example.org", initial_zone("example.org"))]);
    let root = config_root(&knot.addr());
    assert_eq!(apply(root.path()).code, 0);
    let conf = root.path().join("jardin.ncl");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("ttl = 300,", "ttl = 300,\n    hosts = \"address\",");
    std::fs::write(&conf, text).unwrap();
    let p = plan(root.path());
    // One deletion (the CNAME) in a zone of five RRsets: over the 10 %
    // budget.
    assert_eq!(p.code, 3, "{}{}", p.stdout, p.stderr);
    assert!(
        p.stdout.contains("+ pad.example.org. 300 A 203.0.113.10"),
        "{}",
        p.stdout
    );
    let a = apply_json(root.path(), None, &["--allow-deletes", "1"]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let axfr = knot.axfr("example.org");
    assert!(axfr.contains("203.0.113.10"), "{axfr}");
    assert_eq!(plan(root.path()).code, 0);
}
