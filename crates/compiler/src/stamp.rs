//! Build stamps: a hash of everything a build may read (every file of the
//! config root, hidden ones and link targets included, the compiler and its
//! embedded library, the filters). Evaluation reads nothing outside the
//! root (`jardin-eval` confines imports), so the stamp covers every file a
//! build actually reads. When a build's stamp matches the one recorded for
//! its output directory, the output is already what the build would
//! write, and nothing is redone.

use std::path::{Path, PathBuf};

use crate::pipeline::Options;

/// Hashes the inputs of a build: every file under the root (or the import
/// root), through links, except git's own directory and the output
/// directory itself.
pub fn inputs(opts: &Options, output: &Path) -> Option<blake3::Hash> {
    let root = std::fs::canonicalize(opts.reads_under()).ok()?;
    let output = std::fs::canonicalize(output).unwrap_or_else(|_| output.to_path_buf());
    let mut files = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    collect(&root, &output, &mut seen, &mut files).ok()?;
    files.sort();
    let mut h = blake3::Hasher::new();
    h.update(jardin_eval::library_hash().as_bytes());
    h.update(format!("{:?}{:?}", opts.tenants, opts.clusters).as_bytes());
    for path in files {
        let rel = path.strip_prefix(&root).ok()?;
        h.update(rel.to_string_lossy().as_bytes());
        h.update(&[0]);
        match std::fs::read(&path) {
            Ok(bytes) => h.update(blake3::hash(&bytes).as_bytes()),
            Err(_) => h.update(b"unreadable"),
        };
    }
    Some(h.finalize())
}

/// The files under `dir`, following links; a directory reached twice (a
/// link loop) is read once.
fn collect(
    dir: &Path,
    skip: &Path,
    seen: &mut std::collections::BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    if !seen.insert(std::fs::canonicalize(dir)?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name() == ".git" || path == skip {
            continue;
        }
        // Through links: what a build reads is the target.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => collect(&path, skip, seen, out)?,
            Ok(meta) if meta.is_file() => out.push(path),
            // A dangling link or a special file: the build would fail on it
            // if it read it; its name still counts.
            _ => out.push(path),
        }
    }
    Ok(())
}

/// Where the stamp of an output directory is kept: in the cache, never in
/// the output (which must hold only what the build writes).
fn stamp_path(cache: &Path, output: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(output).unwrap_or_else(|_| output.to_path_buf());
    let key = blake3::hash(abs.to_string_lossy().as_bytes()).to_hex();
    cache.join("builds").join(&key[..32])
}

/// True when `output` holds the result of a build with these inputs.
pub fn is_current(cache: &Path, output: &Path, inputs: &blake3::Hash) -> bool {
    output.is_dir()
        && std::fs::read_to_string(stamp_path(cache, output))
            .is_ok_and(|s| s.trim() == inputs.to_hex().as_str())
}

/// Records that `output` now holds the result of a build with these inputs.
pub fn record(cache: &Path, output: &Path, inputs: &blake3::Hash) {
    let path = stamp_path(cache, output);
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(path, inputs.to_hex().as_str());
}

/// Forgets the stamp (before an output directory is replaced).
pub fn forget(cache: &Path, output: &Path) {
    let _ = std::fs::remove_file(stamp_path(cache, output));
}

/// Where the tenants of the build that wrote `output` are recorded.
fn tenants_path(cache: &Path, output: &Path) -> PathBuf {
    stamp_path(cache, output).with_extension("tenants")
}

/// The identity of a directory: its device, inode and change time. Each
/// build puts a new directory in place, so another writer's output (even
/// one that got the same inode number back) is not taken for the one
/// recorded.
fn identity(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).ok()?;
    meta.is_dir().then(|| {
        format!(
            "{}:{}:{}.{:09}",
            meta.dev(),
            meta.ino(),
            meta.ctime(),
            meta.ctime_nsec()
        )
    })
}

/// Records each tenant of the build that just wrote `output`, with its
/// evaluation key, so that the next build links an unchanged tenant's
/// manifests instead of writing them (`pipeline::Reuse`).
pub fn record_tenants(cache: &Path, output: &Path, tenants: &[(PathBuf, [u8; 32])]) {
    let Some(id) = identity(output) else {
        return;
    };
    let mut lines: Vec<String> = tenants
        .iter()
        .map(|(path, key)| {
            format!(
                "{}\t{}",
                blake3::Hash::from_bytes(*key).to_hex(),
                path.to_string_lossy()
            )
        })
        .collect();
    lines.sort();
    let path = tenants_path(cache, output);
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(path, format!("{id}\n{}\n", lines.join("\n")));
}

/// What the build that wrote `output` recorded, if `output` is still the
/// directory it wrote.
pub fn previous_tenants(cache: &Path, output: &Path) -> Option<crate::pipeline::Reuse> {
    let text = std::fs::read_to_string(tenants_path(cache, output)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != identity(output)? {
        return None;
    }
    let mut keys = std::collections::HashMap::new();
    for line in lines {
        let (key, path) = line.split_once('\t')?;
        let key = blake3::Hash::from_hex(key).ok()?;
        keys.insert(PathBuf::from(path), *key.as_bytes());
    }
    Some(crate::pipeline::Reuse {
        from: output.to_path_buf(),
        keys,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_change_with_inputs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("tenants")).unwrap();
        std::fs::write(root.join("jardin.ncl"), "{}").unwrap();
        let opts = crate::pipeline::Options {
            root: root.clone(),
            ..Default::default()
        };
        let out = tmp.path().join("out");
        let a = super::inputs(&opts, &out).expect("stamp");
        assert_eq!(Some(a), super::inputs(&opts, &out));
        std::fs::write(root.join("tenants/x.ncl"), "{}").unwrap();
        let b = super::inputs(&opts, &out).unwrap();
        assert_ne!(a, b);
        // Hidden files and link targets count: a tenant may import them.
        std::fs::write(root.join(".lib.ncl"), "1").unwrap();
        let hidden = super::inputs(&opts, &out).unwrap();
        assert_ne!(b, hidden);
        let target = tmp.path().join("root/lib/img.ncl");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, "\"nextcloud:30\"").unwrap();
        std::os::unix::fs::symlink(&target, root.join("tenants/img.ncl")).unwrap();
        let linked = super::inputs(&opts, &out).unwrap();
        std::fs::write(&target, "\"nextcloud:31\"").unwrap();
        assert_ne!(linked, super::inputs(&opts, &out).unwrap());
        std::os::unix::fs::symlink(&root, root.join("lib/loop")).unwrap();
        assert!(super::inputs(&opts, &out).is_some(), "a link loop ends");
        std::fs::remove_file(root.join("lib/loop")).unwrap();
        std::fs::remove_file(root.join(".lib.ncl")).unwrap();
        std::fs::remove_file(root.join("tenants/img.ncl")).unwrap();
        std::fs::remove_dir_all(root.join("lib")).unwrap();
        let b = super::inputs(&opts, &out).unwrap();
        let cache = tmp.path().join("cache");
        std::fs::create_dir_all(&out).unwrap();
        assert!(!super::is_current(&cache, &out, &b));
        super::record(&cache, &out, &b);
        assert!(super::is_current(&cache, &out, &b));
    }
}
