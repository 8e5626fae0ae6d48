//! Embeds the stdlib and the catalog into the binary, so a config root needs
//! nothing else on disk.
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
