//! Embeds the JSON schemas of the kinds jardin emits.
use std::path::PathBuf;

#[path = "../eval/embed.rs"]
mod embed;
use embed::{collect, table};

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
