//! The on-disk evaluation cache.
//!
//! An entry is found by a hash of the compiler and its embedded library, the
//! evaluated collective, and every file the tenant reads: its own, and each
//! file it imports, transitively (`confine` finds them before evaluating).
//! Keys depend on content and on paths relative to the root, not on times,
//! so the same entry serves a working tree and any git revision of it.
//!
//! Each entry starts with a digest of the key and the rest of the entry: an
//! entry edited or truncated by hand, or by another tool, does not match,
//! and the tenant is evaluated again. The digest is not a signature: anyone
//! who can write the cache can write a matching entry. docs/SECURITY.md says
//! which caches a CI job may trust.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::confine::ReadFile;
use super::nickel::{Naming, Output};
use super::{library_hash, Evaluated};
use jardin_core::source::SourceFile;
use jardin_core::source::{SourceMap, StoredSourceMap};

pub(crate) struct Key(blake3::Hash);

impl Key {
    pub(crate) fn new(collective: blake3::Hash, root: &Path, reads: &[ReadFile]) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(library_hash().as_bytes());
        h.update(collective.as_bytes());
        for file in reads {
            let name = file.path.strip_prefix(root).unwrap_or(&file.path);
            h.update(name.to_string_lossy().as_bytes());
            h.update(&[0]);
            h.update(format!("{:?}", file.format).as_bytes());
            h.update(&[0]);
            h.update(&(file.text.len() as u64).to_le_bytes());
            h.update(file.text.as_bytes());
        }
        Key(h.finalize())
    }

    pub(crate) fn bytes(&self) -> [u8; 32] {
        *self.0.as_bytes()
    }

    /// The digest an entry with this key and this body starts with.
    fn digest(&self, body: &[u8]) -> String {
        let mut h = blake3::Hasher::new();
        h.update(self.0.as_bytes());
        h.update(body);
        h.finalize().to_hex().to_string()
    }
}

#[derive(Deserialize)]
struct Entry {
    source_map: StoredSourceMap,
    value: serde_json::Value,
}

/// An entry as written: the value borrowed, never copied.
#[derive(Serialize)]
struct EntryRef<'a> {
    source_map: StoredSourceMap,
    value: &'a serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
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

    /// The entry for `key`, if there is one and its digest matches. Its
    /// source map points into `file` and the other files of `reads`, which
    /// were read for the key: nothing else is read.
    pub(crate) fn load(
        &self,
        key: &Key,
        file: &SourceFile,
        reads: &[ReadFile],
        naming: &Naming<'_>,
    ) -> Option<Evaluated> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let (digest, body) = bytes.split_at_checked(64)?;
        let body = body.strip_prefix(b"\n")?;
        if digest != key.digest(body).as_bytes() {
            return None;
        }
        let entry: Entry = serde_json::from_slice(body).ok()?;
        let source_map = SourceMap::from_stored(&entry.source_map, Some(file.clone()), |name| {
            if name == file.name {
                return Some(file.clone());
            }
            reads
                .iter()
                .find(|r| naming.display(&r.path.to_string_lossy()) == name)
                .map(|r| SourceFile::new(name, r.text.as_str()))
        });
        Some(Evaluated {
            value: entry.value,
            source_map,
            from_cache: true,
            key: key.bytes(),
        })
    }

    /// Stores a result. Failures are ignored: the cache only saves time.
    pub(crate) fn store(&self, key: &Key, out: &Output) {
        let entry = EntryRef {
            source_map: out.source_map.to_stored(),
            value: &out.value,
        };
        let path = self.path(key);
        let Some(parent) = path.parent() else { return };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        let Ok(body) = serde_json::to_vec(&entry) else {
            return;
        };
        let mut bytes = key.digest(&body).into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);
        // Write then rename, so a concurrent reader never sees half an entry.
        if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(parent) {
            use std::io::Write;
            if tmp.write_all(&bytes).is_ok() {
                let _ = tmp.persist(&path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nickel_lang_core::cache::InputFormat;

    /// An entry whose bytes were changed after it was written is not used;
    /// an intact one is.
    #[test]
    fn an_edited_entry_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(tmp.path());
        let root = tmp.path().join("root");
        let reads = vec![ReadFile {
            path: root.join("tenants/a.ncl"),
            format: InputFormat::Nickel,
            text: "{ id = \"a\" }".to_string(),
        }];
        let key = Key::new(blake3::hash(b"collective"), &root, &reads);
        let out = Output {
            value: serde_json::json!({ "image": "nextcloud:30" }),
            source_map: SourceMap::new(None),
        };
        cache.store(&key, &out);
        let naming = Naming { root: &root };
        let file = SourceFile::new("tenants/a.ncl", reads[0].text.as_str());
        let hit = cache
            .load(&key, &file, &reads, &naming)
            .expect("an intact entry is used");
        assert_eq!(hit.value, out.value);
        let path = cache.path(&key);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("nextcloud:30", "evil:latest")).unwrap();
        assert!(cache.load(&key, &file, &reads, &naming).is_none());
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(cache.load(&key, &file, &reads, &naming).is_none());
        // Another key (a changed import) finds nothing.
        let mut changed = reads;
        changed.push(ReadFile {
            path: root.join("lib/img.ncl"),
            format: InputFormat::Nickel,
            text: "\"nextcloud:31\"".to_string(),
        });
        let other = Key::new(blake3::hash(b"collective"), &root, &changed);
        assert_ne!(cache.path(&key), cache.path(&other));
    }
}
