//! Review: what a change to the config does to everything jardin
//! generates, between two git revisions, without a cluster.
//!
//! Each revision is read from git's objects into a temporary directory,
//! exactly as committed (`revision.rs`), never touching the working tree, and compiled like any
//! config root. The tenant cache is keyed by content, so the tenants a
//! change does not touch come from the cache. The objects are compared with
//! the plan's structural diff and secret masking; DNS zones and the backup
//! coverage report are compared as files.

pub mod render;
mod revision;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::pipeline::Compilation;

pub use revision::{checkout, Checkout};

/// Which tenants a change can affect, from the files of the two config
/// roots: `Some(ids)` when only tenant files differ (the ids of those that
/// differ or exist on one side), `None` when anything else differs, and
/// every tenant must be compared.
///
/// Every file of each root counts, hidden ones and links included: a tenant
/// reads only files of its root (`jardin-eval` confines imports), so a
/// change outside `tenants/*.ncl` may change any tenant. A tenant file that
/// imports anything besides jardin's library is always compared: what it
/// imports may be another tenant's file. When in doubt, everything is
/// compared. The collective is checked after evaluation
/// ([`same_collective`]).
pub fn affected_tenants(base: &Path, head: &Path) -> Option<BTreeSet<String>> {
    let (b, h) = (tree_files(base)?, tree_files(head)?);
    let mut affected = BTreeSet::new();
    for path in b.keys().chain(h.keys()) {
        let (x, y) = (b.get(path), h.get(path));
        let id = tenant_id(path);
        if x != y && id.is_none() {
            return None;
        }
        let Some(id) = id else { continue };
        if x != y || [x, y].into_iter().flatten().any(imports_files) {
            affected.insert(id);
        }
    }
    Some(affected)
}

/// A file of a config root, as compared between revisions.
#[derive(PartialEq)]
enum TreeFile {
    File(Vec<u8>),
    Link(PathBuf),
}

/// Every file and link under `root`, by relative path. `None` when the tree
/// cannot be read whole: then everything is compared.
fn tree_files(root: &Path) -> Option<BTreeMap<PathBuf, TreeFile>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ok()? {
            let entry = entry.ok()?;
            let path = entry.path();
            let rel = path.strip_prefix(root).ok()?.to_path_buf();
            let kind = entry.file_type().ok()?;
            if kind.is_symlink() {
                files.insert(rel, TreeFile::Link(std::fs::read_link(&path).ok()?));
            } else if kind.is_dir() {
                dirs.push(path);
            } else {
                files.insert(rel, TreeFile::File(std::fs::read(&path).ok()?));
            }
        }
    }
    Some(files)
}

/// The tenant id of `tenants/<id>.ncl`, a plain file of the tenants
/// directory; `None` for any other path.
fn tenant_id(path: &Path) -> Option<String> {
    let mut parts = path.components();
    let (Some(first), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    if first.as_os_str() != "tenants" {
        return None;
    }
    Path::new(name.as_os_str())
        .extension()
        .filter(|e| *e == "ncl")?;
    Some(
        Path::new(name.as_os_str())
            .file_stem()?
            .to_string_lossy()
            .into_owned(),
    )
}

/// True when a tenant file may read another file of the root: it imports
/// something besides a plain `"jardin/…"` path, or it is a link (its
/// target is another file).
fn imports_files(file: &TreeFile) -> bool {
    let TreeFile::File(text) = file else {
        return true;
    };
    let text = String::from_utf8_lossy(text);
    text.match_indices("import").any(|(i, _)| {
        let rest = text[i + "import".len()..].trim_start();
        let Some(path) = rest.strip_prefix("\"jardin/") else {
            return true;
        };
        let path = path.split('"').next().unwrap_or_default();
        path.contains("..") || path.contains('\\') || path.contains('%')
    })
}

/// True when both compilations evaluated the same collective.
pub fn same_collective(base: &Compilation, head: &Compilation) -> bool {
    let value = |c: &Compilation| {
        c.collective
            .as_ref()
            .and_then(|k| serde_json::to_value(k).ok())
    };
    value(base).is_some() && value(base) == value(head)
}

/// True when the objects no tenant owns (database roles, cluster-wide
/// backups) are the same in both compilations. Each is a union (or a
/// maximum) over tenants, so when the affected tenants give the same, the
/// whole config gives the same too.
pub fn same_shared_objects(base: &Compilation, head: &Compilation) -> bool {
    let shared = |c: &Compilation| -> BTreeMap<String, serde_json::Value> {
        c.objects
            .iter()
            .filter(|o| o.tenant.is_none())
            .map(|o| (o.path(), o.value.clone()))
            .collect()
    };
    shared(base) == shared(head)
}

/// A generated file (zone, coverage report) that differs between revisions.
#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    pub(crate) path: String,
    /// Records or entries added and removed (a changed one counts once in each).
    pub(crate) added: usize,
    pub(crate) removed: usize,
    pub(crate) diff: String,
}

/// Lines that carry meaning, with their spacing folded (zone files align
/// columns to the longest name): not blank, not comments, not the SOA (its
/// serial is a hash of the rest and changes with any record).
fn meaningful(text: &str) -> String {
    let mut out = String::new();
    for l in text.lines() {
        let t = l.trim();
        if t.is_empty() || t.starts_with(';') || t.split_whitespace().any(|w| w == "SOA") {
            continue;
        }
        out.push_str(&t.split_whitespace().collect::<Vec<_>>().join(" "));
        out.push('\n');
    }
    out
}

/// Splits two object lists into the pairs that differ and the count of
/// objects equal on both sides, per tenant. Most objects of a review are
/// untouched: comparing them as plain values first keeps the plan's
/// normalization for the few that changed.
pub fn drop_identical(
    base: &mut Vec<crate::emit::DesiredObject>,
    head: &mut Vec<crate::emit::DesiredObject>,
) -> std::collections::BTreeMap<String, usize> {
    use std::collections::{BTreeMap, HashMap};
    let key = |o: &crate::emit::DesiredObject| {
        (
            o.cluster.clone(),
            o.value["apiVersion"].as_str().unwrap_or("").to_string(),
            o.key(),
        )
    };
    let before: HashMap<_, usize> = base.iter().enumerate().map(|(i, o)| (key(o), i)).collect();
    let mut same_base = vec![false; base.len()];
    let mut same_head = vec![false; head.len()];
    let mut unchanged: BTreeMap<String, usize> = BTreeMap::new();
    for (j, o) in head.iter().enumerate() {
        if let Some(&i) = before.get(&key(o)) {
            if base[i].value == o.value {
                same_base[i] = true;
                same_head[j] = true;
                *unchanged
                    .entry(
                        o.tenant
                            .clone()
                            .unwrap_or_else(|| crate::plan::SHARED.to_string()),
                    )
                    .or_default() += 1;
            }
        }
    }
    let mut i = 0;
    base.retain(|_| {
        i += 1;
        !same_base[i - 1]
    });
    let mut j = 0;
    head.retain(|_| {
        j += 1;
        !same_head[j - 1]
    });
    unchanged
}

/// Compares the files under `prefix` (e.g. `dns/` with `suffix` `.zone`).
pub fn compare_files(
    base: &[(String, Vec<u8>)],
    head: &[(String, Vec<u8>)],
    prefix: &str,
    suffix: &str,
) -> Vec<FileChange> {
    use std::collections::BTreeMap;
    let pick = |files: &[(String, Vec<u8>)]| -> BTreeMap<String, String> {
        files
            .iter()
            .filter(|(p, _)| p.starts_with(prefix) && p.ends_with(suffix))
            .map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned()))
            .collect()
    };
    let (b, h) = (pick(base), pick(head));
    let mut paths: Vec<&String> = b.keys().chain(h.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut out = Vec::new();
    for path in paths {
        let before = b.get(path).map(String::as_str).unwrap_or("");
        let after = h.get(path).map(String::as_str).unwrap_or("");
        let (bl, hl) = (meaningful(before), meaningful(after));
        if bl == hl {
            continue;
        }
        let diff = similar::TextDiff::from_lines(&bl, &hl);
        let mut added = 0;
        let mut removed = 0;
        for change in diff.iter_all_changes() {
            match change.tag() {
                similar::ChangeTag::Insert => added += 1,
                similar::ChangeTag::Delete => removed += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        let text = diff
            .unified_diff()
            .context_radius(1)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string();
        out.push(FileChange {
            path: path.clone(),
            added,
            removed,
            diff: text,
        });
    }
    out
}

/// What a change does to the generated output.
#[derive(Debug, Serialize)]
pub struct Review {
    pub format_version: u32,
    pub base: String,
    pub head: String,
    pub objects: crate::plan::Plan,
    pub dns: Vec<FileChange>,
    pub backup: Vec<FileChange>,
    /// Tenants left out of the comparison: their files are the same at
    /// both revisions and nothing they read changed.
    pub unaffected_tenants: usize,
}

impl Review {
    pub fn has_changes(&self) -> bool {
        self.objects.summary.changes() > 0 || !self.dns.is_empty() || !self.backup.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soa_and_comments_do_not_count() {
        let a = vec![(
            "dns/x.zone".to_string(),
            b"; c\n@ 3600 IN SOA ns. h. 1 2 3 4 5\nwww 3600 IN A 192.0.2.1\n".to_vec(),
        )];
        let b = vec![(
            "dns/x.zone".to_string(),
            b"; d\n@ 3600 IN SOA ns. h. 9 2 3 4 5\nwww 3600 IN A 192.0.2.1\n".to_vec(),
        )];
        assert!(compare_files(&a, &b, "dns/", ".zone").is_empty());
        let c = vec![(
            "dns/x.zone".to_string(),
            b"www 3600 IN A 192.0.2.2\n".to_vec(),
        )];
        let ch = compare_files(&a, &c, "dns/", ".zone");
        assert_eq!((ch[0].added, ch[0].removed), (1, 1));
    }
}
