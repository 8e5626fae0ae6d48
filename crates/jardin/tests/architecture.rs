//! The crate boundaries are the architecture's invariants
//! (docs/ARCHITECTURE.md): what a crate must never know, it does not depend
//! on. This test reads each crate's `Cargo.toml` and sources and fails when
//! a dependency or a socket crosses one of those lines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The names in a crate's `[dependencies]` table (not the dev ones).
fn dependencies(krate: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(crates_dir().join(krate).join("Cargo.toml")).unwrap();
    let mut out = BTreeSet::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            out.insert(name.to_string());
        }
    }
    out
}

fn sources(krate: &str, out: &mut Vec<(PathBuf, String)>) {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    walk(&crates_dir().join(krate).join("src"), out);
}

const CRATES: [&str; 5] = ["core", "eval", "compiler", "net", "jardin"];

/// Which crate may depend on what: `(dependency, the only crates allowed)`.
const ONLY: &[(&str, &[&str])] = &[
    // Only jardin-eval knows Nickel.
    ("nickel-lang-core", &["eval"]),
    // Only jardin-net talks to a cluster.
    ("kube", &["net"]),
    ("k8s-openapi", &["net"]),
    ("tokio", &["net"]),
    // Only the binary knows argv, terminals and the allocator.
    ("clap", &["jardin"]),
    ("indicatif", &["jardin"]),
    ("mimalloc", &["jardin"]),
    ("libmimalloc-sys", &["jardin"]),
    ("jardin-net", &["jardin"]),
];

#[test]
fn each_crate_depends_only_on_what_it_may_know() {
    for krate in CRATES {
        let deps = dependencies(krate);
        for (dep, allowed) in ONLY {
            assert!(
                !deps.contains(*dep) || allowed.contains(&krate),
                "crates/{krate} depends on {dep}, which only {allowed:?} may"
            );
        }
    }
    // The layers: core below everything, eval above core only, the
    // compiler above both, the network clients above the compiler.
    let jardin = |k: &str| -> BTreeSet<String> {
        dependencies(k)
            .into_iter()
            .filter(|d| d.starts_with("jardin-"))
            .collect()
    };
    assert!(jardin("core").is_empty(), "{:?}", jardin("core"));
    assert_eq!(jardin("eval"), BTreeSet::from(["jardin-core".to_string()]));
    assert_eq!(
        jardin("compiler"),
        BTreeSet::from(["jardin-core".to_string(), "jardin-eval".to_string()])
    );
    assert_eq!(
        jardin("net"),
        BTreeSet::from(["jardin-compiler".to_string(), "jardin-core".to_string()])
    );
}

#[test]
fn only_the_network_crate_opens_sockets() {
    for krate in ["core", "eval", "compiler", "jardin"] {
        let mut files = Vec::new();
        sources(krate, &mut files);
        for (path, text) in files {
            // Unit tests may serve recorded responses on loopback.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            // Addresses (`std::net::IpAddr`) are data: the network-flow rule
            // reasons about them. Sockets and name resolution are not.
            for socket in [
                "TcpStream",
                "TcpListener",
                "UdpSocket",
                "ToSocketAddrs",
                "to_socket_addrs",
            ] {
                assert!(
                    !code.contains(socket),
                    "{} uses {socket}: sockets belong to crates/net",
                    path.display()
                );
            }
        }
    }
}

/// What differs per app is declared in its catalog entry: no catalog app's
/// id appears in the compiler's code (its tests aside).
#[test]
fn no_app_name_in_the_compiler() {
    let catalog = crates_dir().join("../catalog");
    let apps: Vec<String> = std::fs::read_dir(&catalog)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .filter(|name| name != "index")
        .collect();
    assert!(apps.len() >= 3, "{apps:?}");
    for krate in ["core", "eval", "compiler", "net"] {
        let mut files = Vec::new();
        sources(krate, &mut files);
        for (path, text) in files {
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for app in &apps {
                assert!(
                    !code.contains(&format!("\"{app}\"")),
                    "{} names the app \"{app}\": declare what differs in catalog/{app}.ncl",
                    path.display()
                );
            }
        }
    }
}

/// The compiler's modules import each other without a circle: each can be
/// read, and changed, knowing only the modules below it.
#[test]
fn the_compiler_modules_import_no_circle() {
    use std::collections::BTreeMap;
    let mut files = Vec::new();
    sources("compiler", &mut files);
    let src = crates_dir().join("compiler/src");
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let module = rel.split(['/', '.']).next().unwrap().to_string();
        if module == "lib" {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let entry = uses.entry(module.clone()).or_default();
        for part in code.split("crate::").skip(1) {
            let used: String = part
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !used.is_empty() && used != module {
                entry.insert(used);
            }
        }
    }
    // Depth-first search for a path back to the start.
    fn reaches(
        uses: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in uses.get(from).into_iter().flatten() {
            if next == to || (seen.insert(next.clone()) && reaches(uses, next, to, seen)) {
                return true;
            }
        }
        false
    }
    for (module, used) in &uses {
        for other in used {
            assert!(
                !reaches(&uses, other, module, &mut BTreeSet::new()),
                "{module} imports {other}, which imports {module} back: move what they share below both"
            );
        }
    }
    assert!(uses.len() >= 10, "{uses:?}");
}
