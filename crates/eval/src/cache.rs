//! The on-disk evaluation cache.
//!
//! An entry is found by a hash of the compiler and its embedded library, the
//! evaluated collective, the tenant file's name and content. It records the
//! files the tenant imported with their hashes, and is used only if they are
//! unchanged. Keys depend on content, not on paths or times, so the same
//! entry serves a working tree and any git revision of it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::nickel::{Naming, Output};
use super::{library_hash, Evaluated};
use jardin_core::source::SourceFile;
use jardin_core::source::{SourceMap, StoredSourceMap};

pub(crate) struct Key(blake3::Hash);

impl Key {
    pub(crate) fn new(collective: blake3::Hash, name: &str, text: &str) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(library_hash().as_bytes());
        h.update(collective.as_bytes());
        h.update(name.as_bytes());
        h.update(&[0]);
        h.update(text.as_bytes());
        Key(h.finalize())
    }
}

#[derive(Deserialize)]
struct Entry {
    imports: Vec<(PathBuf, String)>,
    source_map: StoredSourceMap,
    value: serde_json::Value,
}

/// An entry as written: the value borrowed, never copied.
#[derive(Serialize)]
struct EntryRef<'a> {
    imports: Vec<(PathBuf, String)>,
    source_map: StoredSourceMap,
    value: &'a serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
}

fn hash_file(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| blake3::hash(&b).to_hex().to_string())
}

impl DiskCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DiskCache { dir: dir.into() }
    }

    /// The default location: `$JARDIN_CACHE_DIR`, else `$XDG_CACHE_HOME/jardin`,
    /// else `~/.cache/jardin`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("JARDIN_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("jardin"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("jardin"))
    }

    fn path(&self, key: &Key) -> PathBuf {
        let hex = key.0.to_hex();
        self.dir.join(&hex[..2]).join(format!("{}.json", &hex[2..]))
    }

    pub(crate) fn load(
        &self,
        key: &Key,
        file: &SourceFile,
        naming: &Naming<'_>,
    ) -> Option<Evaluated> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        for (path, hash) in &entry.imports {
            if hash_file(path).as_deref() != Some(hash.as_str()) {
                return None;
            }
        }
        let source_map = SourceMap::from_stored(&entry.source_map, Some(file.clone()), |name| {
            if name == file.name {
                return Some(file.clone());
            }
            let path = naming.root.join(name);
            std::fs::read_to_string(&path)
                .ok()
                .map(|t| SourceFile::new(name, t))
        });
        Some(Evaluated {
            value: entry.value,
            source_map,
            from_cache: true,
        })
    }

    /// Stores a result. Failures are ignored: the cache only saves time.
    pub(crate) fn store(&self, key: &Key, out: &Output) {
        let imports = hash_all(&out.imports);
        let Some(imports) = imports else { return };
        let entry = EntryRef {
            imports,
            source_map: out.source_map.to_stored(),
            value: &out.value,
        };
        let path = self.path(key);
        let Some(parent) = path.parent() else { return };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(&entry) else {
            return;
        };
        // Write then rename, so a concurrent reader never sees half an entry.
        if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(parent) {
            use std::io::Write;
            if tmp.write_all(&bytes).is_ok() {
                let _ = tmp.persist(&path);
            }
        }
    }
}

fn hash_all(paths: &BTreeSet<PathBuf>) -> Option<Vec<(PathBuf, String)>> {
    paths
        .iter()
        .map(|p| hash_file(p).map(|h| (p.clone(), h)))
        .collect()
}
