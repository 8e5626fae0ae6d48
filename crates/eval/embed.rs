//! What both build scripts that embed files share (crates/eval embeds the
//! stdlib and catalog, crates/compiler the JSON schemas): included by each
//! with `#[path]`.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Every file below `dir` whose extension is `ext`.
pub(crate) fn collect(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, ext, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some(ext) {
            out.push(path);
        }
    }
}

/// A Rust static `name` listing (virtual path, `include_str!` of the file).
pub(crate) fn table(name: &str, files: &[(String, PathBuf)]) -> String {
    let mut s = format!("pub(crate) static {name}: &[(&str, &str)] = &[\n");
    for (virt, path) in files {
        writeln!(
            s,
            "    ({virt:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    s.push_str("];\n");
    s
}
