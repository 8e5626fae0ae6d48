//! The stdlib, catalog and JSON schemas, compiled into the binary.

use std::path::Path;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/nickel_files.rs"));

/// Every embedded Nickel file, as (path under the import root, text).
pub fn embedded_files() -> &'static [(&'static str, &'static str)] {
    NICKEL_FILES
}

/// A hash of everything embedded, the compiler version and the identity of
/// the running executable (size and modification time): part of every cache
/// key and build stamp, so a rebuilt jardin never reuses an old result, even
/// at the same version number.
pub fn library_hash() -> blake3::Hash {
    static HASH: OnceLock<blake3::Hash> = OnceLock::new();
    *HASH.get_or_init(|| {
        let mut h = blake3::Hasher::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        if let Some(meta) = std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
        {
            h.update(&meta.len().to_le_bytes());
            if let Ok(t) = meta.modified() {
                if let Ok(d) = t.duration_since(std::time::UNIX_EPOCH) {
                    h.update(&d.as_nanos().to_le_bytes());
                }
            }
        }
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
