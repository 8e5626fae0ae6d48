//! Embeds the JSON schemas of the kinds jardin emits.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
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

fn table(name: &str, files: &[(String, PathBuf)]) -> String {
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

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let schema_base = manifest.join("schemas");
    println!("cargo:rerun-if-changed={}", schema_base.display());
    let mut found = Vec::new();
    collect(&schema_base, "json", &mut found);
    let mut schemas: Vec<(String, PathBuf)> = found
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(&schema_base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
                p,
            )
        })
        .collect();
    schemas.sort();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("schema_files.rs"), table("SCHEMA_FILES", &schemas)).unwrap();
}
