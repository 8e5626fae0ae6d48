//! The stdlib, catalog and JSON schemas, compiled into the binary.

use std::path::Path;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/nickel_files.rs"));

/// Every embedded Nickel file, as (path under the import root, text).
pub fn embedded_files() -> &'static [(&'static str, &'static str)] {
    NICKEL_FILES
}

/// A hash of everything embedded plus the compiler version: part of every
/// cache key, so a new jardin never reuses an old result.
pub fn library_hash() -> blake3::Hash {
    static HASH: OnceLock<blake3::Hash> = OnceLock::new();
    *HASH.get_or_init(|| {
        let mut h = blake3::Hasher::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        for (path, text) in NICKEL_FILES {
            h.update(path.as_bytes());
            h.update(&[0]);
            h.update(text.as_bytes());
            h.update(&[0]);
        }
        h.finalize()
    })
}

/// Writes the embedded Nickel library under `dir` (as `dir/jardin/...`), for
/// the Nickel language server or the `nickel` CLI (`--import-path dir`).
pub fn write_library(dir: &Path) -> std::io::Result<()> {
    for (path, text) in NICKEL_FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, text)?;
    }
    Ok(())
}
