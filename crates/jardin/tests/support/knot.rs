//! A real Knot DNS server for the tests: its own config, storage, rundir
//! and journal in a temp dir, listening on a free loopback port, killed
//! by PID when the guard drops. A missing `knotd`, `kdig` or `knsupdate`
//! fails the test: `scripts/prepare-test-tools.sh` installs them.

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The TSIG secret the server knows, as `jardin` reads it from the
/// environment.
pub(crate) const SECRET: &str = "ZGVhZGJlZWYtdGhpcy1pcy10aGUtdGVzdC1zZWNyZXQtMzI=";
pub(crate) const WRONG: &str = "b3RoZXItc2VjcmV0LW5vdC1rbm93bi10by1rbm90LXNlcnZlcg==";

pub(crate) fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// A tool the tests need: its absence fails the test, so a machine without
/// Knot never reports the DNS tests as passed.
pub(crate) fn required(bin: &str) -> PathBuf {
    which(bin).unwrap_or_else(|| {
        panic!("{bin} is missing from this machine: run `bash scripts/prepare-test-tools.sh` (packages knot, knot-dnsutils, knot-dnssecutils)")
    })
}

/// A running knotd; killed by PID on drop.
pub(crate) struct Knot {
    child: Child,
    pub(crate) port: u16,
    pub(crate) dir: tempfile::TempDir,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Knot {
    /// Starts knotd serving `zones` (apex, initial master file). A missing
    /// knotd fails the test: these tests never pass without a server.
    pub(crate) fn start(zones: &[(&str, String)]) -> Knot {
        let knotd = required("knotd");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["run", "db", "zones"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        for (apex, text) in zones {
            std::fs::write(d.join("zones").join(format!("{apex}.zone")), text).unwrap();
        }
        let port = free_port();
        let mut conf = format!(
            "server:\n  rundir: \"{run}\"\n  listen: 127.0.0.1@{port}\n\
             database:\n  storage: \"{db}\"\n\
             log:\n  - target: stderr\n    any: warning\n\
             key:\n  - id: jardin\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
             acl:\n  - id: jardin\n    key: jardin\n    action: [transfer, update]\n\
             template:\n  - id: default\n    storage: \"{zones}\"\n    file: \"%s.zone\"\n    acl: jardin\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: changes\n    semantic-checks: on\n\
             zone:\n",
            run = d.join("run").display(),
            db = d.join("db").display(),
            zones = d.join("zones").display(),
        );
        for (apex, _) in zones {
            conf.push_str(&format!("  - domain: {apex}\n"));
        }
        let conf_path = d.join("knot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(knotd)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start knotd");
        let knot = Knot { child, port, dir };
        // Ready when every zone answers an SOA query.
        let deadline = Instant::now() + Duration::from_secs(15);
        for (apex, _) in zones {
            loop {
                let out = knot.kdig(&["SOA", apex]);
                if out.contains("status: NOERROR") && out.contains("ANSWER: 1") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "knotd did not load {apex}: {out}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        knot
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn kdig(&self, args: &[&str]) -> String {
        let out = Command::new(required("kdig"))
            .args([
                "@127.0.0.1",
                "-p",
                &self.port.to_string(),
                "+tcp",
                "+time=2",
            ])
            .args(args)
            .output()
            .expect("run kdig");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The zone by AXFR, as kdig prints it.
    pub(crate) fn axfr(&self, apex: &str) -> String {
        self.kdig(&["-y", &format!("hmac-sha256:jardin:{SECRET}"), "AXFR", apex])
    }

    /// An out-of-band change with knsupdate.
    pub(crate) fn nsupdate(&self, apex: &str, commands: &[&str]) {
        let mut script = format!(
            "server 127.0.0.1 {}\nkey hmac-sha256:jardin {SECRET}\nzone {apex}.\n",
            self.port
        );
        for c in commands {
            script.push_str(c);
            script.push('\n');
        }
        script.push_str("send\nquit\n");
        let mut child = Command::new(which("knsupdate").expect("knsupdate (knot-dnsutils)"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "knsupdate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

pub(crate) fn initial_zone(apex: &str) -> String {
    format!(
        "$ORIGIN {apex}.\n$TTL 3600\n@ 3600 IN SOA ns1.example.net. hostmaster.example.net. 1 3600 900 1209600 300\n@ 3600 IN NS ns1.example.net.\n"
    )
}
