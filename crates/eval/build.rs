//! Embeds the stdlib and the catalog into the binary, so a config root needs
//! nothing else on disk.
use std::path::PathBuf;

#[path = "embed.rs"]
mod embed;
use embed::{collect, table};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..");
    let mut nickel = Vec::new();
    for (dir, prefix) in [("stdlib", "jardin"), ("catalog", "jardin/catalog")] {
        let base = root.join(dir);
        println!("cargo:rerun-if-changed={}", base.display());
        let mut found = Vec::new();
        collect(&base, "ncl", &mut found);
        for path in found {
            let rel = path
                .strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            nickel.push((format!("{prefix}/{rel}"), path));
        }
    }
    nickel.sort();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("nickel_files.rs"), table("NICKEL_FILES", &nickel)).unwrap();
}
