//! The pipeline, end to end: evaluate → model → check → emit → schema.
//! The CLI calls [`compile`]; nothing here reads argv or prints.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::de::DeserializeOwned;

use crate::backup;
use crate::check;
use crate::diag::{Diagnostic, Severity};
use crate::emit::{self, DesiredObject};
use crate::eval::{DiskCache, Evaluated, Evaluator};
use crate::graph::{self, Graph};
use crate::model::{Catalog, Collective, CompiledTenant, TenantUnit};
use crate::schema;
use crate::source::SourceMap;

/// What to compile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub root: PathBuf,
    pub cache: Option<PathBuf>,
    /// Only these tenants (by id), when not empty.
    pub tenants: Vec<String>,
    /// Only tenants on these clusters, when not empty.
    pub clusters: Vec<String>,
}

/// Time spent in each phase, for `-v` and the benchmarks.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    pub eval: Duration,
    pub check: Duration,
    pub emit: Duration,
    pub schema: Duration,
    pub graph: Duration,
    /// DNS zones and the backup coverage report.
    pub outputs: Duration,
    pub tenants: usize,
    pub cached: usize,
}

/// The result of a compilation: the model, the desired objects (empty when
/// there are errors), and every diagnostic.
#[derive(Default)]
pub struct Compilation {
    pub collective: Option<Collective>,
    pub catalog: Catalog,
    pub tenants: Vec<TenantUnit>,
    pub objects: Vec<DesiredObject>,
    /// Output files besides the manifests (zone files, reports), by path
    /// below the output directory.
    pub extra_files: Vec<(String, Vec<u8>)>,
    pub diagnostics: Vec<Diagnostic>,
    pub timings: Timings,
    /// The dependency graph of `objects` (absent when there are errors).
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

    /// Writes every output file below `dir` (a staging directory), the
    /// manifests serialized and written in parallel, never all in memory.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<usize> {
        use crate::emit::write::write_file;
        let mut dirs: Vec<String> = self
            .objects
            .iter()
            .filter_map(|o| o.path().rsplit_once('/').map(|(d, _)| d.to_string()))
            .collect();
        dirs.dedup();
        for d in &dirs {
            std::fs::create_dir_all(dir.join(d))?;
        }
        self.objects
            .par_iter()
            .try_for_each(|o| std::fs::write(dir.join(o.path()), emit::to_yaml(&o.value)))?;
        for (rel, bytes) in &self.extra_files {
            write_file(dir, rel, bytes)?;
        }
        Ok(self.objects.len() + self.extra_files.len())
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
                    "J0007",
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
            "J0007",
            format!("{what} does not match jardin's model: {err}"),
        )
        .with_span(e.source_map.get("").as_ref(), "evaluated from here")
        .with_note("the stdlib contracts and the Rust model disagree: this is a bug in jardin")
    })
}

/// The tenant files of a config root, sorted by name.
pub fn tenant_files(root: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let dir = root.join("tenants");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| Diagnostic::error("J0005", format!("cannot read {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ncl"))
        .collect();
    files.sort();
    Ok(files)
}

pub fn compile(opts: &Options) -> Compilation {
    let mut out = Compilation::default();
    let root = match std::fs::canonicalize(&opts.root) {
        Ok(r) => r,
        Err(e) => {
            out.diagnostics.push(
                Diagnostic::error(
                    "J0005",
                    format!("cannot open config root {}: {e}", opts.root.display()),
                )
                .with_help("pass the directory that holds jardin.ncl"),
            );
            return out;
        }
    };
    let t0 = Instant::now();
    let evaluator = Evaluator::new(&root, opts.cache.as_ref().map(DiskCache::new));
    // The embedded catalog, or with the root's own `catalog/` apps.
    let catalog = if evaluator.has_local_catalog() {
        evaluator.root_catalog().and_then(|v| {
            serde_json::from_value(v).map_err(|e| {
                vec![Diagnostic::error(
                    "J0007",
                    format!("the catalog does not match jardin's model: {e}"),
                )]
            })
        })
    } else {
        catalog().cloned()
    };
    match catalog {
        Ok(c) => out.catalog = c,
        Err(d) => {
            out.diagnostics = d;
            return out;
        }
    }
    let collective_eval = match evaluator.collective() {
        Ok(c) => c,
        Err(d) => {
            out.diagnostics = d;
            return out;
        }
    };
    let collective: Collective = match typed(&mut collective_eval.clone(), "jardin.ncl") {
        Ok(c) => c,
        Err(d) => {
            out.diagnostics.push(d);
            return out;
        }
    };
    let files = match tenant_files(&root) {
        Ok(f) => f,
        Err(d) => {
            out.diagnostics.push(d);
            return out;
        }
    };
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            opts.tenants.is_empty()
                || f.file_stem().is_some_and(|s| {
                    opts.tenants
                        .iter()
                        .any(|t| t.as_str() == s.to_string_lossy())
                })
        })
        .collect();
    let results = evaluator.tenants(&files, &collective_eval.value);
    for result in results {
        match result {
            Err(d) => out.diagnostics.extend(d),
            Ok(mut e) => match typed::<CompiledTenant>(&mut e, "a tenant") {
                Ok(compiled) => {
                    out.timings.cached += usize::from(e.from_cache);
                    out.tenants.push(TenantUnit {
                        compiled,
                        source_map: e.source_map,
                        from_cache: e.from_cache,
                    });
                }
                Err(d) => out.diagnostics.push(d),
            },
        }
    }
    if !opts.clusters.is_empty() {
        out.tenants
            .retain(|t| opts.clusters.contains(&t.compiled.tenant.cluster));
    }
    out.timings.tenants = out.tenants.len();
    out.timings.eval = t0.elapsed();

    let t1 = Instant::now();
    let ctx = check::Context {
        collective: &collective,
        collective_map: &collective_eval.source_map,
        catalog: &out.catalog,
        tenants: &out.tenants,
    };
    out.diagnostics.extend(check::run(&ctx));
    let coverage = backup::resolve(&collective, &out.catalog, &out.tenants);
    out.diagnostics
        .extend(backup::rules::run(&backup::rules::Context {
            collective: &collective,
            collective_map: &collective_eval.source_map,
            tenants: &out.tenants,
            coverage: &coverage,
        }));
    out.timings.check = t1.elapsed();

    if out.errors() == 0 {
        let t2 = Instant::now();
        let catalog = &out.catalog;
        let mut objects: Vec<DesiredObject> = out
            .tenants
            .par_iter_mut()
            .flat_map_iter(|t| emit::k8s::tenant_objects(&collective, catalog, &mut t.compiled))
            .collect();
        let compiled: Vec<&CompiledTenant> = out.tenants.iter().map(|t| &t.compiled).collect();
        objects.extend(emit::k8s::shared_objects(&collective, &compiled));
        let backup_objects = backup::derive::objects(&collective, &coverage);
        backup::derive::merge(&mut objects, backup_objects, &coverage);
        objects.sort_by_cached_key(DesiredObject::path);
        out.timings.emit = t2.elapsed();

        let t3 = Instant::now();
        let maps: std::collections::HashMap<&str, &SourceMap> = out
            .tenants
            .iter()
            .map(|t| (t.compiled.tenant.id.as_str(), &t.source_map))
            .collect();
        let schema_errors: Vec<Diagnostic> = objects
            .par_iter()
            .flat_map_iter(|o| {
                let violations = schema::validate(&o.value);
                let map = o.tenant.as_deref().and_then(|t| maps.get(t));
                violations.into_iter().map(move |v| {
                    let span = map.and_then(|m| m.get(&format!("apps.{}", o.instance.as_deref().unwrap_or(""))));
                    Diagnostic::error("J0901", format!("{} {}: {} at {}", o.kind(), o.path(), v.message, if v.path.is_empty() { "/" } else { &v.path }))
                        .with_span(span.as_ref(), "the object comes from this app")
                        .with_help("the catalog's render function or jardin emitted an invalid object: report it with this message")
                })
            })
            .collect();
        out.timings.schema = t3.elapsed();
        if schema_errors.is_empty() {
            out.objects = objects;
        } else {
            out.diagnostics.extend(schema_errors);
        }
    }
    if out.errors() == 0 {
        let t4 = Instant::now();
        let g = Graph::build(&out.objects);
        match g.waves() {
            Ok(waves) => out
                .extra_files
                .extend(apply_order(&g, &waves, &out.objects)),
            Err(cycle) => out.diagnostics.push(cycle_diagnostic(&cycle, &out.tenants)),
        }
        out.extra_files
            .push(("graph.dot".to_string(), graph::render::dot(&g).into_bytes()));
        out.graph = Some(g);
        out.timings.graph = t4.elapsed();
    }
    // Further outputs and their rules (DNS zones, backup coverage) go here,
    // each from its own module.
    let t5 = Instant::now();
    let report = backup::report::build(&collective, &coverage);
    out.extra_files.push((
        backup::report::PATH.to_string(),
        backup::report::to_json(&report),
    ));
    if out.errors() == 0 {
        let (diags, files) =
            crate::dns::build(&collective, &collective_eval.source_map, &out.tenants);
        out.diagnostics.extend(diags);
        if out.errors() == 0 {
            out.extra_files.extend(files);
        }
    }
    out.timings.outputs = t5.elapsed();
    out.collective = Some(collective);
    crate::diag::sort(&mut out.diagnostics);
    out
}

/// `k8s/<cluster>/apply-order.txt`: every manifest with its apply wave, in
/// order. Teardown is the same list read from the end.
fn apply_order(
    g: &Graph,
    waves: &[Vec<petgraph::graph::NodeIndex>],
    objects: &[DesiredObject],
) -> Vec<(String, Vec<u8>)> {
    use std::collections::BTreeMap;
    let mut per_cluster: BTreeMap<&str, String> = BTreeMap::new();
    for (i, wave) in waves.iter().enumerate() {
        for n in wave {
            let node = &g.graph[*n];
            if let Some(o) = node.object.and_then(|k| objects.get(k)) {
                let text = per_cluster.entry(o.cluster.as_str()).or_default();
                let prefix = format!("k8s/{}/", o.cluster);
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
    let mut d = Diagnostic::error("J0830", format!("dependency cycle: {} → {}", path.join(" → "), path.first().cloned().unwrap_or_default()))
        .with_help("nothing in a cycle can be created first: the catalog app or a binding introduced it; break one of the links");
    for n in &cycle.0 {
        let span = tenants
            .iter()
            .find(|t| Some(&t.compiled.tenant.id) == n.tenant.as_ref())
            .and_then(|t| {
                t.source_map
                    .get(&format!("apps.{}", n.instance.as_deref().unwrap_or("")))
            });
        d = d.with_span(span.as_ref(), format!("{} needs the next step", n.label()));
    }
    d
}
