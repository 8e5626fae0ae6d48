//! A build after a change links the unchanged tenants' manifests from the
//! previous output instead of writing them again; its output is, byte for
//! byte, what a cold build writes (docs/PERFORMANCE.md).

mod common;

use std::path::Path;
use std::process::Command;

use common::{copy_dir, repo, tree};

fn jardin(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jardin"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run jardin");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number of manifests `-v` says were linked.
fn linked(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("tenants: "))
        .unwrap_or_else(|| panic!("no timings in {stderr}"));
    let before = line.split(" manifests linked").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

fn assert_same(a: &Path, b: &Path) {
    let (a, b) = (tree(a), tree(b));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(&b[path] == bytes, "{path} differs from a cold build");
    }
}

#[test]
fn a_build_after_a_change_is_a_cold_build_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_dir(&repo().join("examples/collective"), &root);
    let (root_s, cache, out, cold) = (
        root.to_string_lossy().into_owned(),
        tmp.path().join("cache").to_string_lossy().into_owned(),
        tmp.path().join("out").to_string_lossy().into_owned(),
        tmp.path().join("cold").to_string_lossy().into_owned(),
    );
    let build = |extra: &[&str], to: &str| {
        let mut args = vec!["--cache-dir", &cache, "-v"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["build", &root_s, "-o", to]);
        let (code, stderr) = jardin(&args);
        assert_eq!(code, 0, "{stderr}");
        stderr
    };
    let cold_build = || {
        let _ = std::fs::remove_dir_all(&cold);
        let (code, stderr) = jardin(&["--no-cache", "build", &root_s, "-o", &cold]);
        assert_eq!(code, 0, "{stderr}");
    };

    assert_eq!(linked(&build(&[], &out)), 0, "a first build links nothing");

    // One tenant changes (a host), one goes, one comes.
    let zinc = root.join("tenants/le-zinc.ncl");
    let text = std::fs::read_to_string(&zinc).unwrap();
    let changed = text.replacen("pad.lezinc", "notes.lezinc", 1);
    assert_ne!(changed, text, "le-zinc's pad moved");
    std::fs::write(&zinc, changed).unwrap();
    let gone = std::fs::read_to_string(root.join("tenants/chorale-la-lyre.ncl")).unwrap();
    std::fs::remove_file(root.join("tenants/chorale-la-lyre.ncl")).unwrap();
    let v = build(&[], &out);
    assert!(
        linked(&v) > 200,
        "the unchanged tenants' manifests are linked: {v}"
    );
    cold_build();
    assert_same(Path::new(&out), Path::new(&cold));

    std::fs::write(root.join("tenants/chorale-la-lyre.ncl"), &gone).unwrap();
    build(&[], &out);
    cold_build();
    assert_same(Path::new(&out), Path::new(&cold));

    // Another build (without the cache) writes the output from another
    // config: the next build must not take its files for the recorded ones.
    std::fs::write(
        root.join("tenants/le-zinc.ncl"),
        std::fs::read_to_string(&zinc)
            .unwrap()
            .replacen("notes.lezinc", "wiki.lezinc", 1),
    )
    .unwrap();
    let (code, stderr) = jardin(&["--no-cache", "build", &root_s, "-o", &out]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(&zinc, text).unwrap();
    let v = build(&[], &out);
    assert_eq!(linked(&v), 0, "{v}");
    cold_build();
    assert_same(Path::new(&out), Path::new(&cold));
}
