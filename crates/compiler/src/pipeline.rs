//! The pipeline, end to end: evaluate → model → check → emit → schema.
//! The CLI calls [`compile`]; nothing here reads argv or prints.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::de::DeserializeOwned;

use crate::backup;
use crate::check;
use crate::emit::{self, DesiredObject};
use crate::graph::{self, Graph, Outline};
use crate::schema;
use jardin_core::code;
use jardin_core::diag::{Diagnostic, Severity};
use jardin_core::model::{Catalog, Collective, CompiledTenant, TenantUnit};
use jardin_core::source::SourceMap;
use jardin_eval::{DiskCache, Evaluated, Evaluator};

/// What to compile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub root: PathBuf,
    pub cache: Option<PathBuf>,
    /// Only these tenants (by id), when not empty.
    pub tenants: Vec<String>,
    /// Only tenants on these clusters, when not empty.
    pub clusters: Vec<String>,
    /// Keep every object whole in [`Compilation::objects`] (plan, diff).
    /// Otherwise each tenant's objects are dropped once emitted, validated
    /// and (with `manifests_to`) written: memory stays flat as tenants grow.
    pub keep_objects: bool,
    /// Keep each app's network flows in [`Compilation::tenants`] (`graph
    /// --flows`). Otherwise they are dropped once its tenant's objects are
    /// judged: no phase that spans tenants reads them.
    pub keep_flows: bool,
    /// Write each manifest below this (staging) directory as soon as its
    /// tenant is emitted and validated.
    pub manifests_to: Option<PathBuf>,
    /// Compile only these tenant files (by id), when set: a review leaves
    /// out the tenants whose inputs are the same at both revisions.
    pub only: Option<std::collections::BTreeSet<String>>,
    /// Told how far the tenants are (a progress bar on a terminal).
    pub progress: Option<Arc<dyn Progress>>,
    /// The time and memory each file's evaluation may use.
    pub limits: jardin_eval::Limits,
    /// Where imports may reach, when wider than the root: an ancestor of
    /// the root (`--import-root`, docs/SECURITY.md).
    pub import_root: Option<PathBuf>,
    /// Render apps per shape (the default) or per tenant.
    pub render: jardin_eval::RenderMode,
    /// The previous output, whose files a tenant unchanged since then links
    /// instead of writing them again (with `manifests_to`).
    pub reuse: Option<Arc<Reuse>>,
}

/// The output of the previous build and what each tenant was then.
#[derive(Debug, Default)]
pub struct Reuse {
    /// The previous output directory.
    pub from: PathBuf,
    /// Each tenant file (absolute) and its evaluation key at that build.
    pub keys: std::collections::HashMap<PathBuf, [u8; 32]>,
}

impl Options {
    /// The directory every file the build may read is under: the import
    /// root when set, else the config root.
    pub fn reads_under(&self) -> &Path {
        self.import_root.as_deref().unwrap_or(&self.root)
    }
}

/// The stack of each worker thread. The interpreter's passes over a syntax
/// tree recurse once per level, and a file may nest up to the limits of
/// `jardin-eval` (512 levels of expressions): measured, that needs about
/// 5 MiB, more than the 2 MiB threads get by default. Only the pages a
/// thread touches are ever committed.
const WORKER_STACK: usize = 64 << 20;

/// Makes the worker threads (once per process) with stacks large enough
/// for any file the evaluator accepts. Every evaluation runs on them.
pub fn init_workers() {
    static WORKERS: std::sync::Once = std::sync::Once::new();
    WORKERS.call_once(|| {
        // Fails only when the pool exists already (then with its own
        // settings, e.g. in a test harness): nothing to do then.
        let _ = rayon::ThreadPoolBuilder::new()
            .stack_size(WORKER_STACK)
            .thread_name(|i| format!("jardin-worker-{i}"))
            .build_global();
    });
}

/// Follows the tenants phase, the long part of a compilation. Called from
/// every worker thread.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// The phase starts, with this many tenants to compile.
    fn start(&self, tenants: usize);
    /// One more tenant compiled, evaluated or taken from the cache.
    fn tenant_done(&self);
    /// The phase is over.
    fn finish(&self);
}

/// Time spent in each phase, for `-v` and the benchmarks.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Per tenant, in parallel: evaluate (or load from the cache), emit,
    /// validate against the schemas, write.
    pub tenants_phase: Duration,
    pub check: Duration,
    /// Objects shared by tenants (database roles, cluster-wide backups).
    pub shared: Duration,
    pub graph: Duration,
    /// DNS zones and the backup coverage report.
    pub outputs: Duration,
    pub tenants: usize,
    pub cached: usize,
    /// Manifests linked from the previous output instead of written.
    pub reused: usize,
}

/// The result of a compilation: the model, the desired objects, and every
/// diagnostic.
#[derive(Default)]
pub struct Compilation {
    pub collective: Option<Collective>,
    pub catalog: Catalog,
    pub tenants: Vec<TenantUnit>,
    /// Every object, whole, in path order: only with
    /// [`Options::keep_objects`], and empty when there are errors.
    pub objects: Vec<DesiredObject>,
    /// Every object reduced to what the graph reads ([`Outline`]), in
    /// path order; the graph's nodes point into it.
    pub(crate) outline: Vec<Outline>,
    /// Output files besides the manifests (zone files, reports), by path
    /// below the output directory.
    pub extra_files: Vec<(String, Vec<u8>)>,
    /// Files besides the manifests written straight into
    /// [`Options::manifests_to`] as they were made (`graph.dot`).
    pub streamed_files: usize,
    /// Each tenant file whose manifests were written, and its evaluation
    /// key: what the next build may reuse ([`Options::reuse`]).
    pub tenant_keys: Vec<(PathBuf, [u8; 32])>,
    pub diagnostics: Vec<Diagnostic>,
    pub timings: Timings,
    /// How the tenants' apps were rendered (`jardin -v`).
    pub shapes: jardin_eval::ShapeReport,
    /// The dependency graph of `outline` (absent when there are errors).
    pub graph: Option<Graph>,
}

impl Compilation {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// How many objects the desired state holds.
    pub fn object_count(&self) -> usize {
        self.outline.len()
    }

    /// Writes the files besides the manifests (those went to
    /// [`Options::manifests_to`] as they were emitted) below `dir`, and
    /// counts them with those already written there.
    pub fn write_extra_files(&self, dir: &Path) -> std::io::Result<usize> {
        // Thousands of zone files: written on every core.
        self.extra_files
            .par_iter()
            .try_for_each(|(rel, bytes)| crate::emit::write::write_file(dir, rel, bytes))?;
        Ok(self.extra_files.len() + self.streamed_files)
    }
}

/// The catalog's metadata, evaluated once per process.
pub fn catalog() -> Result<&'static Catalog, Vec<Diagnostic>> {
    static CATALOG: OnceLock<Result<Catalog, Vec<Diagnostic>>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let value = Evaluator::catalog()?;
            serde_json::from_value(value).map_err(|e| {
                vec![Diagnostic::error(
                    code::MODEL_MISMATCH,
                    format!("the catalog does not match jardin's model: {e}"),
                )]
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn typed<T: DeserializeOwned>(e: &mut Evaluated, what: &str) -> Result<T, Diagnostic> {
    // Taken, not cloned: a tenant's value holds all its rendered objects.
    let value = std::mem::take(&mut e.value);
    serde_json::from_value(value).map_err(|err| {
        Diagnostic::error(
            code::MODEL_MISMATCH,
            format!("{what} does not match jardin's model: {err}"),
        )
        .with_span(e.source_map.get("").as_ref(), "evaluated from here")
        .with_note("the stdlib contracts and the Rust model disagree: this is a bug in jardin")
    })
}

/// The tenant files of a config root, sorted by name.
/// A root without `tenants/` has none yet; a `tenants` that is there but
/// cannot be read (a dangling link, a file) is an error, never an empty
/// collective: a plan would then propose deleting every tenant.
pub fn tenant_files(root: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let dir = root.join("tenants");
    if std::fs::symlink_metadata(&dir).is_err() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        Diagnostic::error(
            code::CANNOT_READ,
            format!("cannot read {}: {e}", dir.display()),
        )
        .with_help("`tenants` must be a directory of tenant files (a link to one is fine)")
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ncl"))
        .collect();
    files.sort();
    Ok(files)
}

/// Compiles a config root: every diagnostic, and the desired state when
/// there is no error.
pub fn compile(opts: &Options) -> Compilation {
    let mut out = Compilation::default();
    if let Err(stop) = compile_into(opts, &mut out) {
        out.diagnostics.extend(stop);
    }
    jardin_core::diag::sort(&mut out.diagnostics);
    out
}

/// The phases in order. An `Err` is what stopped the compilation before
/// any tenant was compiled (the catalog, the collective, the root).
fn compile_into(opts: &Options, out: &mut Compilation) -> Result<(), Vec<Diagnostic>> {
    let root = std::fs::canonicalize(&opts.root).map_err(|e| {
        vec![Diagnostic::error(
            code::CANNOT_READ,
            format!("cannot open config root {}: {e}", opts.root.display()),
        )
        .with_help("pass the directory that holds jardin.ncl")]
    })?;
    let t0 = Instant::now();
    init_workers();
    let mut evaluator = Evaluator::new(&root, opts.cache.as_ref().map(DiskCache::new))
        .with_limits(opts.limits)
        .with_render(opts.render);
    if let Some(dir) = &opts.import_root {
        let dir = std::fs::canonicalize(dir).map_err(|e| {
            vec![Diagnostic::error(
                code::CANNOT_READ,
                format!("cannot open --import-root {}: {e}", dir.display()),
            )]
        })?;
        evaluator = evaluator.with_import_root(&dir).map_err(|d| vec![d])?;
    }
    // The catalog (embedded, or with the root's own `catalog/` apps) and the
    // collective are evaluated at the same time: each loads the stdlib.
    let (catalog, collective_eval) = rayon::join(
        || {
            if evaluator.has_local_catalog() {
                evaluator.root_catalog().and_then(|v| {
                    serde_json::from_value(v).map_err(|e| {
                        vec![Diagnostic::error(
                            code::MODEL_MISMATCH,
                            format!("the catalog does not match jardin's model: {e}"),
                        )]
                    })
                })
            } else {
                catalog().cloned()
            }
        },
        || evaluator.collective(),
    );
    out.catalog = catalog?;
    let collective_eval = collective_eval?;
    let collective: Collective =
        typed(&mut collective_eval.clone(), "jardin.ncl").map_err(|d| vec![d])?;
    let all_files = tenant_files(&root).map_err(|d| vec![d])?;
    let files = selected_files(opts, all_files.clone());
    let session = evaluator.tenant_session(&collective_eval.value);
    let mut tenants = compile_tenants(&session, &collective, opts, &files, out);
    let others = if opts.tenants.is_empty() || out.errors() > 0 {
        Others::default()
    } else {
        other_tenants(&session, &collective, &all_files, &files, out)
    };
    compile_shared_services(
        &session,
        &collective,
        &collective_eval.source_map,
        opts,
        &others,
        out,
        &mut tenants,
    );
    out.timings.tenants_phase = t0.elapsed();
    out.shapes = session.shape_report();

    // The rules and what follows them (the objects tenants share, the
    // graph) run side by side: the latter are kept only when the rules
    // pass, and a clean build spends its sequential tail on both cores.
    let tenants_ok = out.errors() == 0;
    let ((rules, zones, check_time, zones_time), tail) = rayon::join(
        || {
            let t1 = Instant::now();
            let zones = tenants_ok
                .then(|| crate::dns::derive::derive(&collective, &out.catalog, &out.tenants));
            let zones_time = t1.elapsed();
            let ctx = check::Context {
                collective: &collective,
                collective_map: &collective_eval.source_map,
                catalog: &out.catalog,
                tenants: &out.tenants,
                coverage: &tenants.coverage,
                zones: zones.as_ref(),
            };
            (
                check::run(&ctx),
                zones,
                t1.elapsed() - zones_time,
                zones_time,
            )
        },
        || {
            tenants_ok.then(|| {
                Tail::compute(
                    opts,
                    &collective,
                    &collective_eval.source_map,
                    Sharers {
                        tenants: &out.tenants,
                        coverage: &tenants.coverage,
                        others: &others,
                    },
                    tenants.objects,
                    tenants.outline,
                )
            })
        },
    );
    out.diagnostics.extend(rules);
    out.timings.check = check_time;
    out.timings.outputs = zones_time;
    publish(out, tenants.schema_diagnostics, tail, zones);
    let report = backup::report::build(&collective, &tenants.coverage);
    out.extra_files.push((
        backup::report::PATH.to_string(),
        backup::report::to_json(&report),
    ));
    out.collective = Some(collective);
    Ok(())
}

/// The tenant files `--tenant` and a review's selection keep.
fn selected_files(opts: &Options, files: Vec<PathBuf>) -> Vec<PathBuf> {
    files
        .into_iter()
        .filter(|f| {
            let id = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (opts.tenants.is_empty() || opts.tenants.contains(&id))
                && opts.only.as_ref().is_none_or(|only| only.contains(&id))
        })
        .collect()
}

/// The tenants a `--tenant` build leaves out, on the clusters of those it
/// selected: the objects tenants share are made from them too. A shared
/// CloudNativePG `Cluster` made from the selected tenants alone would list
/// only their managed roles, and applying it would drop every other
/// tenant's role; the repository key would stop replicating to the other
/// namespaces.
#[derive(Default)]
struct Others {
    compiled: Vec<CompiledTenant>,
    coverage: backup::Coverage,
    /// Tenant files that did not compile: the shared objects cannot be
    /// complete, so none are written (J0870).
    failed: Vec<String>,
}

/// Compiles the tenant files `--tenant` left out, in parallel (from the
/// cache when it has them), for what the shared objects need of them: their
/// model and their backup coverage, judged as in a whole build. Nothing of
/// theirs is validated, checked or written.
fn other_tenants(
    session: &jardin_eval::TenantSession<'_>,
    collective: &Collective,
    all: &[PathBuf],
    selected: &[PathBuf],
    out: &mut Compilation,
) -> Others {
    let clusters: std::collections::BTreeSet<&str> = out
        .tenants
        .iter()
        .map(|t| t.compiled.tenant.cluster.as_str())
        .collect();
    let catalog = &out.catalog;
    let outcomes: Vec<Result<Option<(CompiledTenant, backup::Coverage)>, String>> = all
        .par_iter()
        .filter(|f| !selected.contains(f))
        .map(|path| {
            let id = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut e = session.evaluate(path).map_err(|_| id.clone())?;
            let compiled = typed::<CompiledTenant>(&mut e, "a tenant").map_err(|_| id.clone())?;
            if !clusters.contains(compiled.tenant.cluster.as_str()) {
                return Ok(None);
            }
            // An app that did not render (a dangling reference, which a
            // whole build refuses) would be missing from the shared objects.
            if compiled.apps.values().any(|a| !a.rendered) {
                return Err(id);
            }
            let mut unit = TenantUnit {
                compiled,
                source_map: e.source_map,
                from_cache: e.from_cache,
            };
            let (coverage, _) = emit_tenant(collective, catalog, &mut unit);
            Ok(Some((unit.compiled, coverage)))
        })
        .collect();
    let mut others = Others::default();
    for o in outcomes {
        match o {
            Ok(Some((compiled, coverage))) => {
                others.coverage.pieces.extend(coverage.pieces);
                others.coverage.apps.extend(coverage.apps);
                others.compiled.push(compiled);
            }
            Ok(None) => {}
            Err(id) => others.failed.push(id),
        }
    }
    if !others.failed.is_empty() {
        let mut clusters: Vec<&str> = clusters.into_iter().collect();
        clusters.sort_unstable();
        out.diagnostics.push(
            Diagnostic::warning(
                code::SHARED_OBJECTS_LEFT_OUT,
                format!(
                    "the objects tenants share on cluster{} {} are left out of this build: tenant{} {} did not compile, and they are made from every tenant",
                    if clusters.len() == 1 { "" } else { "s" },
                    clusters.join(", "),
                    if others.failed.len() == 1 { "" } else { "s" },
                    others.failed.join(", "),
                ),
            )
            .with_help("the output holds only the selected tenants' own objects; fix that tenant, or build without --tenant, to write the database clusters and backups"),
        );
    }
    others
}

/// What the tenants phase leaves for the phases over every tenant, besides
/// the tenants themselves (in [`Compilation::tenants`]).
struct Tenants {
    coverage: backup::Coverage,
    objects: Vec<DesiredObject>,
    outline: Vec<Outline>,
    /// Reported only if the rules pass: an object is often invalid because
    /// of what a rule reports better (a derived name too long, say).
    schema_diagnostics: Vec<Diagnostic>,
}

/// Every tenant file, in parallel, through [`compile_tenant`].
fn compile_tenants(
    session: &jardin_eval::TenantSession<'_>,
    collective: &Collective,
    opts: &Options,
    files: &[PathBuf],
    out: &mut Compilation,
) -> Tenants {
    let catalog = &out.catalog;
    let progress = opts.progress.as_deref();
    if let Some(p) = progress {
        p.start(files.len());
    }
    let per_tenant: Vec<TenantOutcome> = files
        .par_iter()
        .map(|path| {
            let outcome = compile_tenant(session, collective, catalog, opts, path);
            if let Some(p) = progress {
                p.tenant_done();
            }
            outcome
        })
        .collect();
    if let Some(p) = progress {
        p.finish();
    }
    // Sized once, with room for the few shared objects: growing a vector
    // of 600,000 outlines copies it each time.
    let outlines = per_tenant
        .iter()
        .map(|t| match t {
            TenantOutcome::Compiled(t) => t.outline.len(),
            _ => 0,
        })
        .sum::<usize>();
    let mut tenants = Tenants {
        coverage: backup::Coverage::default(),
        objects: Vec::new(),
        outline: Vec::with_capacity(outlines + outlines / 50),
        schema_diagnostics: Vec::new(),
    };
    out.tenants.reserve(per_tenant.len());
    for outcome in per_tenant {
        match outcome {
            TenantOutcome::Failed(d) => out.diagnostics.extend(d),
            TenantOutcome::Skipped => {}
            TenantOutcome::Compiled(t) => tenants.absorb(out, *t),
        }
    }
    out.timings.tenants = out.tenants.len();
    tenants
}

impl Tenants {
    /// Takes in one compiled unit: its objects, coverage and diagnostics.
    fn absorb(&mut self, out: &mut Compilation, t: CompiledUnit) {
        out.timings.cached += usize::from(t.unit.from_cache);
        out.timings.reused += t.reused;
        out.tenant_keys.extend(t.written);
        self.schema_diagnostics.extend(t.schema_errors);
        out.diagnostics.extend(t.rule_errors);
        out.diagnostics.extend(t.write_error);
        self.coverage.pieces.extend(t.coverage.pieces);
        self.coverage.apps.extend(t.coverage.apps);
        self.objects.extend(t.objects);
        self.outline.extend(t.outline);
        out.tenants.push(t.unit);
    }
}

/// The shared services of each cluster (`shared.rs`), once every tenant is
/// compiled: their consumers are the tenants' apps. Each cluster's services
/// are compiled as the collective's own tenant and go through what a
/// tenant's apps go through. Skipped when a tenant failed: the consumers
/// would be incomplete.
fn compile_shared_services(
    session: &jardin_eval::TenantSession<'_>,
    collective: &Collective,
    collective_map: &SourceMap,
    opts: &Options,
    others: &Others,
    out: &mut Compilation,
    tenants: &mut Tenants,
) {
    use std::collections::BTreeSet;
    if out.errors() > 0 || !others.failed.is_empty() {
        return;
    }
    let tenant_clusters: BTreeSet<&str> = out
        .tenants
        .iter()
        .map(|t| t.compiled.tenant.cluster.as_str())
        .collect();
    let clusters: Vec<String> = collective
        .clusters
        .iter()
        .filter(|(_, c)| !c.shared.apps.is_empty())
        .map(|(name, _)| name)
        .filter(|name| opts.clusters.is_empty() || opts.clusters.contains(*name))
        .filter(|name| opts.tenants.is_empty() || tenant_clusters.contains(name.as_str()))
        .cloned()
        .collect();
    let compiled: Vec<&CompiledTenant> = out
        .tenants
        .iter()
        .map(|t| &t.compiled)
        .chain(&others.compiled)
        .collect();
    let consumers: Vec<(String, serde_json::Value)> = clusters
        .iter()
        .map(|c| {
            (
                c.clone(),
                crate::shared::consumers(collective, &out.catalog, c, &compiled),
            )
        })
        .collect();
    let units: Vec<Result<CompiledUnit, Vec<Diagnostic>>> = consumers
        .par_iter()
        .map(|(cluster, consumers)| {
            let mut e = Evaluated {
                value: session.evaluate_shared(cluster, consumers)?,
                source_map: collective_map.rebased(&format!("clusters.{cluster}.shared")),
                from_cache: false,
                key: [0; 32],
            };
            let compiled = typed::<CompiledTenant>(&mut e, "a cluster's shared services")
                .map_err(|d| vec![d])?;
            let unit = TenantUnit {
                compiled,
                source_map: e.source_map,
                from_cache: false,
            };
            Ok(finish_unit(collective, &out.catalog, opts, unit, None))
        })
        .collect();
    for unit in units {
        match unit {
            Ok(u) => tenants.absorb(out, u),
            Err(d) => out.diagnostics.extend(d),
        }
    }
}

/// Adds what is reported only when everything before it passed, in this
/// order: the schema errors, the shared objects' errors, the graph (or its
/// cycle), then the zone files. Each step is reached only with no error so
/// far, so the user sees the first cause, not its consequences.
fn publish(
    out: &mut Compilation,
    schema_diagnostics: Vec<Diagnostic>,
    tail: Option<Tail>,
    zones: Option<crate::dns::derive::Derived>,
) {
    if out.errors() > 0 {
        return;
    }
    out.diagnostics.extend(schema_diagnostics);
    let Some(tail) = tail.filter(|_| out.errors() == 0) else {
        return;
    };
    out.timings.shared = tail.shared_time;
    out.diagnostics.extend(tail.shared_errors);
    if out.errors() > 0 {
        return;
    }
    out.objects = tail.objects;
    out.outline = tail.outline;
    match tail.graph_files {
        Ok(files) => {
            out.extra_files.extend(files);
            out.streamed_files = tail.streamed;
        }
        Err(stop) => out.diagnostics.push(stop),
    }
    out.graph = Some(tail.graph);
    out.timings.graph = tail.graph_time;
    if let Some(zones) = zones.filter(|_| out.errors() == 0) {
        out.extra_files.extend(crate::dns::files(&zones));
    }
}

/// The tenants the shared objects are made from: those compiled, with their
/// coverage, and those a `--tenant` build brought in only for them.
struct Sharers<'a> {
    tenants: &'a [TenantUnit],
    coverage: &'a backup::Coverage,
    others: &'a Others,
}

/// What follows the tenants once they are all compiled: the objects they
/// share and the graph of every object.
struct Tail {
    /// Writing or validating the shared objects.
    shared_errors: Vec<Diagnostic>,
    objects: Vec<DesiredObject>,
    outline: Vec<Outline>,
    graph: Graph,
    /// The apply orders, or what prevents them (a cycle, or `graph.dot`
    /// could not be written).
    graph_files: Result<Files, Diagnostic>,
    /// Files written below the staging directory along with them
    /// (`graph.dot`, in a build).
    streamed: usize,
    shared_time: Duration,
    graph_time: Duration,
}

impl Tail {
    fn compute(
        opts: &Options,
        collective: &Collective,
        collective_map: &SourceMap,
        from: Sharers<'_>,
        mut objects: Vec<DesiredObject>,
        mut outline: Vec<Outline>,
    ) -> Tail {
        let Sharers {
            tenants,
            coverage,
            others,
        } = from;
        let t2 = Instant::now();
        let mut shared = Vec::new();
        if others.failed.is_empty() {
            let compiled: Vec<&CompiledTenant> = tenants
                .iter()
                .map(|t| &t.compiled)
                .chain(&others.compiled)
                .collect();
            // Borrowed as it is in a whole build; merged only when a
            // `--tenant` build brought the other tenants in.
            let merged;
            let coverage = if others.compiled.is_empty() {
                coverage
            } else {
                let mut all = coverage.clone();
                all.pieces.extend(others.coverage.pieces.iter().cloned());
                all.apps.extend(
                    others
                        .coverage
                        .apps
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                merged = all;
                &merged
            };
            shared = emit::k8s::shared_objects(collective, &compiled);
            backup::derive::merge(
                &mut shared,
                backup::derive::shared_objects(collective, coverage),
                coverage,
            );
            let namespaces = emit::k8s::shared_namespaces(&shared);
            shared.extend(namespaces);
        }
        let mut shared_errors = schema_errors(&shared, Origin::Cluster(collective_map));
        if shared_errors.is_empty() {
            if let Err(e) = write_manifests(opts, &shared, None) {
                shared_errors.push(e);
            }
        }
        outline.extend(shared.iter().map(Outline::of));
        if opts.keep_objects {
            objects.extend(shared);
            objects.par_sort_by_cached_key(DesiredObject::path);
        }
        outline.par_sort_by_cached_key(Outline::path);
        let shared_time = t2.elapsed();
        let (graph, graph_files, graph_time) =
            graph_outputs(&outline, tenants, opts.manifests_to.as_deref());
        Tail {
            streamed: usize::from(opts.manifests_to.is_some()),
            shared_errors,
            objects,
            outline,
            graph,
            graph_files,
            shared_time,
            graph_time,
        }
    }
}

/// What the parallel phase gives for one tenant file.
enum TenantOutcome {
    Failed(Vec<Diagnostic>),
    /// Left out by `--cluster`.
    Skipped,
    Compiled(Box<CompiledUnit>),
}

struct CompiledUnit {
    unit: TenantUnit,
    coverage: backup::Coverage,
    /// Whole objects, only with `keep_objects`.
    objects: Vec<DesiredObject>,
    outline: Vec<Outline>,
    /// What the rules judged on the tenant's whole objects.
    rule_errors: Vec<Diagnostic>,
    schema_errors: Vec<Diagnostic>,
    write_error: Option<Diagnostic>,
    /// The tenant's file and evaluation key, when its manifests were
    /// written; and how many of them were linked from the previous output.
    written: Option<(PathBuf, [u8; 32])>,
    reused: usize,
}

/// One tenant, start to finish, on a worker thread: evaluate (or load from
/// the cache), emit its objects and its backups, validate them, write them,
/// and keep only what the cross-tenant phases need. The rules run later,
/// over every tenant: objects emitted here are never published when they
/// report an error (the build's staging directory is dropped).
fn compile_tenant(
    session: &jardin_eval::TenantSession<'_>,
    collective: &Collective,
    catalog: &Catalog,
    opts: &Options,
    path: &Path,
) -> TenantOutcome {
    let mut e = match session.evaluate(path) {
        Ok(e) => e,
        Err(d) => return TenantOutcome::Failed(d),
    };
    let compiled = match typed::<CompiledTenant>(&mut e, "a tenant") {
        Ok(c) => c,
        Err(d) => return TenantOutcome::Failed(vec![d]),
    };
    if !opts.clusters.is_empty() && !opts.clusters.contains(&compiled.tenant.cluster) {
        return TenantOutcome::Skipped;
    }
    let unit = TenantUnit {
        compiled,
        source_map: e.source_map,
        from_cache: e.from_cache,
    };
    TenantOutcome::Compiled(Box::new(finish_unit(
        collective,
        catalog,
        opts,
        unit,
        Some((path, e.key)),
    )))
}

/// An evaluated unit (a tenant, or a cluster's shared services): emitted,
/// judged on its objects, and written when clean. `file`: the tenant file
/// and its evaluation key, by which its previous output may be reused.
fn finish_unit(
    collective: &Collective,
    catalog: &Catalog,
    opts: &Options,
    mut unit: TenantUnit,
    file: Option<(&Path, [u8; 32])>,
) -> CompiledUnit {
    let (coverage, mut objects) = emit_tenant(collective, catalog, &mut unit);
    let rule_errors = check::run_on_objects(&unit, &objects);
    let schema_errors = schema_errors(&objects, Origin::App(&unit.source_map));
    // A tenant with an error is never published: its objects are not
    // written at all, so that one whose name would leave the output
    // (J0230) never reaches the disk.
    let clean =
        schema_errors.is_empty() && !rule_errors.iter().any(|d| d.severity == Severity::Error);
    // Unchanged since the previous build (same key: same value, same
    // objects): its manifests there are what would be written.
    let previous = file.and_then(|(path, key)| {
        opts.reuse
            .as_ref()
            .filter(|r| r.keys.get(path) == Some(&key))
            .map(|r| r.from.as_path())
    });
    let (write_error, reused) = if clean {
        match write_manifests(opts, &objects, previous) {
            Ok(reused) => (None, reused),
            Err(d) => (Some(d), 0),
        }
    } else {
        (None, 0)
    };
    let written = file
        .filter(|_| clean && write_error.is_none() && opts.manifests_to.is_some())
        .map(|(path, key)| (path.to_path_buf(), key));
    let outline = objects.iter().map(Outline::of).collect();
    if !opts.keep_objects {
        objects = Vec::new();
    }
    if !opts.keep_flows {
        for app in unit.compiled.apps.values_mut() {
            app.flows = Vec::new();
        }
    }
    CompiledUnit {
        unit,
        coverage,
        objects,
        outline,
        rule_errors,
        schema_errors,
        write_error,
        written,
        reused,
    }
}

/// A tenant's objects and its backup coverage, which counts only backups
/// that can run, judged on the objects.
fn emit_tenant(
    collective: &Collective,
    catalog: &Catalog,
    unit: &mut TenantUnit,
) -> (backup::Coverage, Vec<DesiredObject>) {
    let mut coverage = backup::resolve(collective, catalog, std::slice::from_ref(unit));
    let mut objects = emit::k8s::tenant_objects(collective, catalog, &mut unit.compiled);
    backup::derive::merge(
        &mut objects,
        backup::derive::tenant_objects(collective, &coverage),
        &coverage,
    );
    backup::derive::declare_flows(collective, &coverage, &mut unit.compiled);
    objects.sort_by_cached_key(DesiredObject::path);
    check::backup::settle(collective, unit, &objects, &mut coverage);
    (coverage, objects)
}

/// What a schema error points at.
enum Origin<'a> {
    /// A tenant's objects (its source map): the app they come from.
    App(&'a SourceMap),
    /// The objects tenants share (the collective's source map): their
    /// cluster in jardin.ncl, whose settings they are made of.
    Cluster(&'a SourceMap),
}

/// J0901 for every object that fails its kind's schema, pointing at where
/// it comes from.
fn schema_errors(objects: &[DesiredObject], origin: Origin<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for o in objects {
        for v in schema::validate(&o.value) {
            let (span, label) = match origin {
                Origin::App(m) => (
                    m.get(&format!("apps.{}", o.instance.as_deref().unwrap_or(""))),
                    "the object comes from this app",
                ),
                Origin::Cluster(m) => (
                    m.get(&format!("clusters.{}", o.cluster)),
                    "the object is made from this cluster's settings",
                ),
            };
            out.push(Diagnostic::error(code::SCHEMA_VIOLATION, format!("{} {}: {} at {}", o.kind(), o.path(), v.message, if v.path.is_empty() { "/" } else { &v.path }))
                .with_span(span.as_ref(), label)
                .with_help("the catalog's render function or jardin emitted an invalid object: report it with this message"));
        }
    }
    out
}

/// Writes manifests below [`Options::manifests_to`], if set, through the
/// one writer that refuses any path leaving it.
/// Writes a tenant's manifests below `manifests_to`, or links them from
/// `previous` (the previous output, when the tenant is unchanged since);
/// a file that cannot be linked is written. Returns how many were linked.
fn write_manifests(
    opts: &Options,
    objects: &[DesiredObject],
    previous: Option<&Path>,
) -> Result<usize, Diagnostic> {
    let Some(dir) = &opts.manifests_to else {
        return Ok(0);
    };
    let mut staging = emit::write::Staging::new(dir);
    let mut linked = 0;
    for o in objects {
        let path = o.path();
        if let Some(from) = previous {
            if staging.link(&from.join(&path), &path).is_ok() {
                linked += 1;
                continue;
            }
        }
        staging
            .write(&path, emit::to_yaml(&o.value).as_bytes())
            .map_err(|e| emit::write::cannot_write(&dir.join(&path), &e))?;
    }
    Ok(linked)
}

/// Output files by path below the output directory.
type Files = Vec<(String, Vec<u8>)>;

/// The graph of the objects, with `apply-order.txt` per cluster, and
/// `graph.dot` written into `dir` (a build's staging directory), or the
/// cycle that prevents an order; and the time taken.
fn graph_outputs(
    outline: &[Outline],
    tenants: &[TenantUnit],
    dir: Option<&Path>,
) -> (Graph, Result<Files, Diagnostic>, Duration) {
    let t = Instant::now();
    let g = Graph::build(outline);
    // Without an output directory only a cycle matters.
    let result = match dir {
        Some(dir) => g
            .waves()
            .map_err(|cycle| cycle_diagnostic(&cycle, tenants))
            .and_then(|waves| {
                let (mut files, dot) =
                    rayon::join(|| apply_order(&g, &waves, outline), || write_dot(&g, dir));
                dot?;
                // Held until the output is swapped in: without the room
                // each text grew into.
                for (_, bytes) in &mut files {
                    bytes.shrink_to_fit();
                }
                Ok(files)
            }),
        None => g
            .acyclic()
            .map(|()| Vec::new())
            .map_err(|cycle| cycle_diagnostic(&cycle, tenants)),
    };
    (g, result, t.elapsed())
}

/// `graph.dot`, written as it is rendered: at thousands of tenants it is
/// the largest output file, and need not be held in memory.
fn write_dot(g: &Graph, dir: &Path) -> Result<(), Diagnostic> {
    const PATH: &str = "graph.dot";
    let written = emit::write::Staging::new(dir)
        .create(PATH)
        .and_then(|file| {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
            graph::render::write_dot(g, &mut w)?;
            std::io::Write::flush(&mut w)
        });
    written.map_err(|e| emit::write::cannot_write(&dir.join(PATH), &e))
}

/// `k8s/<cluster>/apply-order.txt`: every manifest with its apply wave, in
/// order. Teardown is the same list read from the end.
fn apply_order(g: &Graph, waves: &[Vec<petgraph::graph::NodeIndex>], objects: &[Outline]) -> Files {
    use std::collections::BTreeMap;
    let mut per_cluster: BTreeMap<&str, String> = BTreeMap::new();
    for (i, wave) in waves.iter().enumerate() {
        for n in wave {
            let node = &g.graph[*n];
            if let Some(o) = node.object.and_then(|k| objects.get(k)) {
                let text = per_cluster.entry(o.node.cluster.as_ref()).or_default();
                let prefix = format!("k8s/{}/", o.node.cluster);
                text.push_str(&format!("{i}\t{}\n", o.path().trim_start_matches(&prefix)));
            }
        }
    }
    per_cluster
        .into_iter()
        .map(|(c, text)| {
            (
                format!("k8s/{c}/apply-order.txt"),
                format!("# wave\tmanifest (apply in order; tear down in reverse)\n{text}")
                    .into_bytes(),
            )
        })
        .collect()
}

/// J0830: a dependency cycle, each step pointing at the app it comes from.
fn cycle_diagnostic(cycle: &graph::Cycle, tenants: &[TenantUnit]) -> Diagnostic {
    let path: Vec<String> = cycle.0.iter().map(|n| n.label()).collect();
    let mut d = Diagnostic::error(code::DEPENDENCY_CYCLE, format!("dependency cycle: {} → {}", path.join(" → "), path.first().cloned().unwrap_or_default()))
        .with_help("nothing in a cycle can be created first: the catalog app or a binding introduced it; break one of the links");
    for n in &cycle.0 {
        let span = tenants
            .iter()
            .find(|t| Some(t.compiled.tenant.id.as_str()) == n.tenant.as_deref())
            .and_then(|t| {
                t.source_map
                    .get(&format!("apps.{}", n.instance.as_deref().unwrap_or("")))
            });
        d = d.with_span(span.as_ref(), format!("{} needs the next step", n.label()));
    }
    d
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Counts what the pipeline tells it.
    #[derive(Debug, Default)]
    struct Counter {
        started: AtomicUsize,
        done: AtomicUsize,
        finished: AtomicUsize,
    }

    impl Progress for Counter {
        fn start(&self, tenants: usize) {
            self.started.fetch_add(tenants, Ordering::SeqCst);
        }
        fn tenant_done(&self) {
            self.done.fetch_add(1, Ordering::SeqCst);
        }
        fn finish(&self) {
            self.finished.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn progress_hears_of_every_tenant_once() {
        let counter = Arc::new(Counter::default());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/collective");
        let c = compile(&Options {
            root,
            progress: Some(counter.clone()),
            ..Default::default()
        });
        assert_eq!(c.errors(), 0);
        assert_eq!(counter.started.load(Ordering::SeqCst), 9);
        assert_eq!(counter.done.load(Ordering::SeqCst), 9);
        assert_eq!(counter.finished.load(Ordering::SeqCst), 1);
    }
}
