//! Helpers shared by the integration tests.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (examples/, golden/, docs/).
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// True when golden files are being regenerated.
pub(crate) fn updating() -> bool {
    std::env::var_os("JARDIN_UPDATE_GOLDEN").is_some()
}

/// Runs jardin from the repository root: (exit code, stdout, stderr).
pub(crate) fn jardin(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jardin"))
        .args(args)
        .current_dir(repo())
        .env_remove("NO_COLOR")
        .output()
        .expect("run jardin");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies a directory tree, leaving out entries for which `skip` is true.
pub(crate) fn copy_dir_except(from: &Path, to: &Path, skip: &dyn Fn(&str) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name();
        if skip(&name.to_string_lossy()) {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            copy_dir_except(&p, &to.join(&name), skip);
        } else {
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    copy_dir_except(from, to, &|_| false)
}

/// Every file under `dir`, by path relative to it, with its bytes. A
/// symbolic link fails the test: an output never holds one.
pub(crate) fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            assert!(!meta.file_type().is_symlink(), "{} is a link", p.display());
            if meta.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A build of `root` without the cache, in `<dir>/out`: the directory
/// lives as long as the returned handle.
pub(crate) fn built(root: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = jardin(&[
        "build",
        root.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--no-cache",
    ]);
    assert_eq!(code, 0, "{stderr}");
    tmp
}

/// The manifests a build of `root` writes, by path below `k8s/`, parsed.
pub(crate) fn built_manifests(
    root: &Path,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let tmp = built(root);
    tree(&tmp.path().join("out/k8s"))
        .into_iter()
        .filter(|(p, _)| p.ends_with(".yaml"))
        .map(|(p, bytes)| {
            let text = String::from_utf8(bytes).unwrap();
            (p, yaml_serde::from_str(&text).unwrap())
        })
        .collect()
}
