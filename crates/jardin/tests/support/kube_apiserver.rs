//! A real Kubernetes 1.20 control plane for integration tests: etcd,
//! kube-apiserver and kube-controller-manager, on 127.0.0.1 only, in a
//! temporary directory, torn down on drop.
//!
//! Include it from a test crate with
//!
//! ```ignore
//! #[path = "support/kube_apiserver.rs"]
//! mod kube_apiserver;
//! use kube_apiserver::TestCluster;
//! ```
//!
//! The binaries come from `scripts/prepare-kube-apiserver.sh` (built from
//! Debian 12's `kubernetes` source package, with reflect2 1.0.2 so that
//! server-side apply works; etcd from the `etcd-server` package). They are
//! looked up in `$JARDIN_KUBE_BIN`, else in
//! `${JARDIN_KUBE_CACHE:-/var/cache/jardin/kube-1.20}/bin`; etcd in that
//! directory, else on `PATH`. A missing binary is a panic, never a skip.
//!
//! Clients authenticate with a static bearer token (`ADMIN_TOKEN`, group
//! `system:masters`, authorization mode RBAC) over HTTPS, and verify the
//! serving certificate against the CA that the apiserver generates in its
//! `--cert-dir`. The kubeconfig works with kubectl and kube-rs (rustls).
//! The harness itself speaks HTTPS through the `openssl s_client` CLI
//! (1.20 already refuses a non-zero `--insecure-port`), so it needs no crate
//! beyond std; `openssl` also generates the service-account key.
//!
//! Cleanup: `Drop` stops the three processes one by one (SIGTERM, SIGKILL
//! after 5 s; ~1.2 s in all) and removes the directory. A small guardian
//! shell process also does that once the test process is gone, so that a
//! cluster kept in a `static` (see `TestCluster::shared`, never dropped) or
//! a test binary that aborts leaves no servers behind. `JARDIN_KUBE_KEEP=1` keeps the directory (logs,
//! etcd data) and prints its path.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where `scripts/prepare-kube-apiserver.sh` caches its build by default.
pub(crate) const DEFAULT_CACHE: &str = "/var/cache/jardin/kube-1.20";
/// The bearer token of the test cluster's administrator (`system:masters`).
pub(crate) const ADMIN_TOKEN: &str = "jardin-test-admin-token";
/// The bearer token of user `reader`, in no group: it may do only what a
/// test grants it (`reader_kubeconfig`).
pub(crate) const READER_TOKEN: &str = "jardin-test-reader-token";
/// How long `start` waits for the cluster to be usable.
const START_TIMEOUT: Duration = Duration::from_secs(90);

pub(crate) struct TestCluster {
    dir: PathBuf,
    /// Started processes, in start order (etcd, kube-apiserver, kube-controller-manager).
    procs: Vec<(&'static str, Child)>,
    guardian: Option<Child>,
    secure_port: u16,
    etcd_port: u16,
    kubeconfig: PathBuf,
    ca: PathBuf,
    startup: Duration,
}

struct Bins {
    apiserver: PathBuf,
    controller_manager: PathBuf,
    etcd: PathBuf,
}

unsafe extern "C" {
    // From the C library that std already links; avoids a `libc` dependency.
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGTERM: i32 = 15;

fn prepare_hint() -> String {
    let ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
    format!(
        "run `bash scripts/prepare-kube-apiserver.sh` (builds kube-apiserver 1.20 from Debian's \
         source package into {DEFAULT_CACHE}/bin and installs etcd-server; ~8 min cold, instant \
         when cached){}, or point JARDIN_KUBE_BIN at a directory holding kube-apiserver and \
         kube-controller-manager",
        if ci {
            "; in CI, .ci/run must run it before the tests"
        } else {
            ""
        }
    )
}

fn find_bins() -> Bins {
    let dir = match std::env::var_os("JARDIN_KUBE_BIN") {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("JARDIN_KUBE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE))
            .join("bin"),
    };
    let need = |name: &str| {
        let p = dir.join(name);
        if !p.is_file() {
            panic!("TestCluster: {} not found; {}", p.display(), prepare_hint());
        }
        p
    };
    let apiserver = need("kube-apiserver");
    let controller_manager = need("kube-controller-manager");
    let etcd = std::iter::once(dir.join("etcd"))
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths)
                .map(|d| d.join("etcd")),
        )
        .chain(std::iter::once(PathBuf::from("/usr/bin/etcd")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "TestCluster: etcd not found (Debian package etcd-server); {}",
                prepare_hint()
            )
        });
    Bins {
        apiserver,
        controller_manager,
        etcd,
    }
}

/// Distinct free ports on 127.0.0.1 (held open together while choosing).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

fn unique_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    // tmpfs makes etcd's fsyncs free (etcd 3.4 has no --unsafe-no-fsync).
    let base = std::env::var_os("JARDIN_KUBE_TMPDIR")
        .map(PathBuf::from)
        .or_else(|| {
            let shm = Path::new("/dev/shm");
            let probe = shm.join(format!(".jardin-probe-{}", std::process::id()));
            let ok = fs::create_dir(&probe).is_ok();
            let _ = fs::remove_dir(&probe);
            ok.then(|| shm.to_path_buf())
        })
        .unwrap_or_else(std::env::temp_dir);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = base.join(format!(
        "jardin-kube-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// `GET https://127.0.0.1:{port}{path}` as the admin, through
/// `openssl s_client` (no certificate check): (status, body), or None if
/// the request fails.
fn https_get(port: u16, path: &str) -> Option<(u16, String)> {
    // `timeout`: a request that hangs must not hang the test.
    let mut child = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-quiet", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Connection: close\r\n\r\n"
    );
    let mut stdin = child.stdin.take()?;
    let _ = stdin.write_all(request.as_bytes());
    let out = child.wait_with_output().ok()?;
    drop(stdin);
    let text = String::from_utf8_lossy(&out.stdout);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("<{e}>"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl TestCluster {
    /// Starts etcd, kube-apiserver and kube-controller-manager and waits
    /// until the API is ready and the controller manager has given the
    /// `default` namespace its service account token (so pods can be
    /// created). Panics, with the servers' logs, if that takes over 90 s.
    pub(crate) fn start() -> TestCluster {
        let bins = find_bins();
        let mut last = String::new();
        // A port picked free can be taken by someone else before the
        // server binds it: retry then, and only then.
        for _ in 0..3 {
            match Self::try_start(&bins) {
                Ok(c) => return c,
                Err(e) if e.contains("address already in use") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{last}")
    }

    /// One cluster for the whole test binary, started on first use. It is
    /// never dropped: the guardian process stops it when the binary exits.
    pub(crate) fn shared() -> &'static TestCluster {
        static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
        CLUSTER.get_or_init(TestCluster::start)
    }

    fn try_start(bins: &Bins) -> Result<TestCluster, String> {
        let t0 = Instant::now();
        let dir = unique_dir();
        let p = free_ports(3);
        let (etcd_port, peer_port, secure_port) = (p[0], p[1], p[2]);
        let mut c = TestCluster {
            kubeconfig: dir.join("kubeconfig"),
            ca: dir.join("ca.crt"),
            dir,
            procs: Vec::new(),
            guardian: None,
            secure_port,
            etcd_port,
            startup: Duration::ZERO,
        };
        let d = c.dir.clone();

        // Service-account signing key (the apiserver 1.20 requires one).
        let key = d.join("sa.key");
        let out = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&key)
            .arg("2048")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("TestCluster: running openssl: {e} (apt-get install openssl)"))?;
        if !out.status.success() {
            return Err(format!(
                "TestCluster: openssl genrsa failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        fs::write(
            d.join("tokens.csv"),
            format!("{ADMIN_TOKEN},admin,admin,\"system:masters\"\n{READER_TOKEN},reader,reader\n"),
        )
        .unwrap();

        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        c.spawn(
            "etcd",
            Command::new(&bins.etcd)
                .arg(format!("--data-dir={}", d.join("etcd").display()))
                .arg(format!("--listen-client-urls={etcd_url}"))
                .arg(format!("--advertise-client-urls={etcd_url}"))
                .arg(format!("--listen-peer-urls={peer_url}"))
                .arg(format!("--initial-advertise-peer-urls={peer_url}"))
                .arg(format!("--initial-cluster=default={peer_url}"))
                .args(["--logger=zap", "--log-outputs=stderr"]),
        )?;

        c.spawn(
            "kube-apiserver",
            Command::new(&bins.apiserver)
                .arg(format!("--etcd-servers={etcd_url}"))
                .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
                .arg(format!("--secure-port={secure_port}"))
                .arg(format!("--cert-dir={}", d.join("pki").display()))
                .arg(format!(
                    "--token-auth-file={}",
                    d.join("tokens.csv").display()
                ))
                .args(["--authorization-mode=RBAC", "--allow-privileged=true"])
                .args(["--service-account-issuer=https://kubernetes.default.svc.cluster.local"])
                .arg(format!("--service-account-key-file={}", key.display()))
                .arg(format!(
                    "--service-account-signing-key-file={}",
                    key.display()
                ))
                .args([
                    "--service-cluster-ip-range=10.0.0.0/24",
                    "--profiling=false",
                ]),
        )?;
        c.wait_for("kube-apiserver /readyz", |c| {
            matches!(https_get(c.secure_port, "/readyz"), Some((200, _)))
        })?;

        // The serving certificate file holds the leaf and then the CA that
        // signed it; clients trust that CA.
        let chain = fs::read_to_string(d.join("pki/apiserver.crt"))
            .map_err(|e| c.failure(&format!("reading the serving certificate: {e}")))?;
        let ca_start = chain
            .rfind("-----BEGIN CERTIFICATE-----")
            .ok_or_else(|| c.failure("no certificate in pki/apiserver.crt"))?;
        fs::write(&c.ca, &chain[ca_start..]).unwrap();
        fs::write(
            &c.kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: jardin-test\n  cluster:\n    \
                 server: https://127.0.0.1:{secure_port}\n    certificate-authority: {ca}\n\
                 users:\n- name: admin\n  user:\n    token: {ADMIN_TOKEN}\ncontexts:\n\
                 - name: jardin-test\n  context:\n    cluster: jardin-test\n    user: admin\n\
                 current-context: jardin-test\n",
                ca = c.ca.display()
            ),
        )
        .unwrap();

        c.spawn(
            "kube-controller-manager",
            Command::new(&bins.controller_manager)
                .arg(format!("--kubeconfig={}", c.kubeconfig.display()))
                .arg(format!(
                    "--service-account-private-key-file={}",
                    key.display()
                ))
                .arg(format!("--root-ca-file={}", c.ca.display()))
                .args([
                    "--controllers=*",
                    "--leader-elect=false",
                    "--use-service-account-credentials=false",
                ])
                // No HTTPS, no 0.0.0.0:10252 (the 1.20 insecure default).
                .args([
                    "--bind-address=127.0.0.1",
                    "--secure-port=0",
                    "--port=0",
                    "--profiling=false",
                ]),
        )?;
        c.wait_for("the default service account's token (kube-controller-manager)", |c| {
            matches!(https_get(c.secure_port, "/api/v1/namespaces/default/serviceaccounts/default"),
                     Some((200, body)) if body.contains("\"secrets\""))
        })?;
        c.startup = t0.elapsed();
        Ok(c)
    }

    fn spawn(&mut self, name: &'static str, cmd: &mut Command) -> Result<(), String> {
        let log = fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = cmd
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                self.failure(&format!("spawning {name} ({:?}): {e}", cmd.get_program()))
            })?;
        self.procs.push((name, child));
        self.respawn_guardian();
        Ok(())
    }

    /// (Re)starts the guardian: once this test process is gone, it stops
    /// the servers and removes the directory.
    fn respawn_guardian(&mut self) {
        if let Some(mut g) = self.guardian.take() {
            let _ = g.kill();
            let _ = g.wait();
        }
        // Newest first: etcd must outlive the apiserver's shutdown.
        let pids: Vec<String> = self
            .procs
            .iter()
            .rev()
            .map(|(_, c)| c.id().to_string())
            .collect();
        let pids = pids.join(" ");
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; \
             for p in {pids}; do kill -TERM $p 2>/dev/null; sleep 1; done; \
             sleep 2; kill -KILL {pids} 2>/dev/null; rm -rf '{dir}'",
            me = std::process::id(),
            dir = self.dir.display()
        );
        self.guardian = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0) // survives a Ctrl-C sent to the test's group
            .spawn()
            .ok();
    }

    fn wait_for(&mut self, what: &str, ready: impl Fn(&Self) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ready(self) {
                return Ok(());
            }
            let exited = self
                .procs
                .iter_mut()
                .find_map(|(name, child)| Some((*name, child.try_wait().ok()??)));
            if let Some((name, status)) = exited {
                return Err(self.failure(&format!(
                    "{name} exited ({status}) while waiting for {what}"
                )));
            }
            if Instant::now() > deadline {
                return Err(self.failure(&format!(
                    "timed out after {START_TIMEOUT:?} waiting for {what}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn failure(&self, msg: &str) -> String {
        let mut s = format!(
            "TestCluster failed to start: {msg}\ndirectory: {}\n",
            self.dir.display()
        );
        for (name, _) in &self.procs {
            s += &format!(
                "\n----- {name}.log (last 60 lines) -----\n{}\n",
                tail(&self.dir.join(format!("{name}.log")), 60)
            );
        }
        s
    }

    /// A kubeconfig like `kubeconfig()`, its context of the same name, but
    /// as user `reader` (`READER_TOKEN`): a merge request's job, say.
    pub(crate) fn reader_kubeconfig(&self) -> PathBuf {
        let admin = fs::read_to_string(&self.kubeconfig).unwrap();
        let path = self.kubeconfig.with_file_name("reader-kubeconfig");
        fs::write(&path, admin.replace(ADMIN_TOKEN, READER_TOKEN)).unwrap();
        path
    }

    /// A kubeconfig (token auth, CA-verified HTTPS) for kubectl and kube-rs.
    pub(crate) fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }
    /// `https://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.secure_port)
    }
    /// PEM file of the CA that signed the serving certificate.
    pub(crate) fn ca_cert(&self) -> &Path {
        &self.ca
    }
    pub(crate) fn token(&self) -> &str {
        ADMIN_TOKEN
    }
    pub(crate) fn etcd_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.etcd_port)
    }
    /// The cluster's directory (logs `<process>.log`, etcd data, pki).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
    /// From `start()` to the cluster being usable.
    pub(crate) fn startup_time(&self) -> Duration {
        self.startup
    }
    /// PIDs of the server processes, in start order.
    pub(crate) fn pids(&self) -> Vec<(&'static str, u32)> {
        self.procs.iter().map(|(n, c)| (*n, c.id())).collect()
    }
    /// Resident memory of each server process, in KiB (from /proc).
    pub(crate) fn memory_kib(&self) -> Vec<(&'static str, u64)> {
        self.procs
            .iter()
            .map(|(n, c)| {
                let kib = fs::read_to_string(format!("/proc/{}/status", c.id()))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find(|l| l.starts_with("VmRSS:"))
                            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                    })
                    .unwrap_or(0);
                (*n, kib)
            })
            .collect()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(mut g) = self.guardian.take() {
            let _ = g.kill();
            let _ = g.wait();
        }
        // One at a time, in reverse order (controller manager, apiserver,
        // etcd): an apiserver whose etcd is already gone takes its full
        // grace period to stop, one with etcd up ~1 s.
        for (_, child) in self.procs.iter_mut().rev() {
            if let Ok(None) = child.try_wait() {
                unsafe { kill(child.id() as i32, SIGTERM) };
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill(); // SIGKILL
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
        if std::env::var("JARDIN_KUBE_KEEP")
            .map(|v| v == "1")
            .unwrap_or(false)
        {
            eprintln!("TestCluster: kept {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
