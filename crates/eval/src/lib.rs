//! Evaluation: Nickel files in, JSON values and source maps out.
//!
//! This is the only module that knows Nickel (see `nickel.rs`). Tenant files
//! are evaluated independently, in parallel, one reused interpreter context
//! per worker thread, and each result is cached on disk (see `cache.rs`).

mod budget;
mod cache;
mod confine;
mod embedded;
mod nickel;
mod plain;
mod resolve;
mod shape;

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use nickel_lang_core::cache::InputFormat;

pub use budget::Limits;
pub use cache::DiskCache;
pub use embedded::{embedded_files, library_hash, write_library};
pub use shape::{Fallback, RenderMode, ShapeReport};

use confine::{ReadFile, Root};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::source::SourceFile;
use jardin_core::source::SourceMap;
use nickel::{Naming, NickelContext, Output};
use shape::{Shape, Shapes};

/// A file evaluated to JSON, with where its values came from.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub value: serde_json::Value,
    pub source_map: SourceMap,
    pub from_cache: bool,
    /// What the value is a function of (the cache key: the compiler and its
    /// library, the collective, every file read): equal keys, equal values.
    /// Zero for what is not a tenant.
    pub key: [u8; 32],
}

/// Contexts are recycled after this many files: each file evaluated leaves
/// its source, syntax tree and positions in the context.
const CONTEXT_USES: usize = 400;

thread_local! {
    /// One interpreter context per worker thread. The catalog, the
    /// collective and the tenants are all evaluated in it, so the stdlib is
    /// parsed and typechecked once per thread.
    static CONTEXT: RefCell<Option<WorkerContext>> = const { RefCell::new(None) };
}

/// A worker's context and what it was loaded with.
struct WorkerContext {
    /// The hash of the root's own catalog (`None`: the embedded one).
    catalog: Option<blake3::Hash>,
    /// The collectives added to it, each as `collective-<hash>.json`.
    collectives: HashSet<blake3::Hash>,
    ctx: NickelContext,
}

/// Installs the binary's panic hook. Interpreter panics (and budget
/// unwinds) stay off stderr: they are caught and reported as diagnostics.
/// Any other panic is a bug in jardin: it is printed, and the process ends
/// with exit code 1 (an error), never 101, so that CI reads every outcome
/// in jardin's codes (0 to 3; docs/CLI.md).
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !nickel::in_interpreter() {
            default(info);
            eprintln!("error: jardin stopped on an internal error (a bug in jardin, not in your config); please report it with the message above");
            std::process::exit(1);
        }
    }));
}

pub struct Evaluator {
    root: PathBuf,
    /// Where reads are allowed (`confine`).
    reads: Root,
    cache: Option<DiskCache>,
    limits: Limits,
    render: RenderMode,
    /// The root's own `catalog/` (apps added or overridden by the
    /// collective), or why it cannot be read.
    local_catalog: Result<Option<LocalCatalog>, Diagnostic>,
}

/// A root's own catalog apps.
struct LocalCatalog {
    /// The catalog index that replaces the embedded one.
    index: String,
    /// Every file the local apps read, transitively (their helpers too).
    files: Vec<ReadFile>,
    /// A hash of all of them: contexts and cache entries depend on it.
    hash: blake3::Hash,
}

/// The embedded library's paths, as imports name them.
fn library_paths() -> std::collections::BTreeSet<String> {
    embedded::NICKEL_FILES
        .iter()
        .map(|(path, _)| path.to_string())
        .collect()
}

/// The catalog index for a root with a `catalog/` directory: every embedded
/// app, then every local file, which adds an app or replaces the embedded
/// one of the same name. Local files are imported by path, so diagnostics
/// name them as the user knows them.
fn local_catalog(root: &Path, reads: &Root) -> Result<Option<LocalCatalog>, Diagnostic> {
    let dir = root.join("catalog");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Diagnostic::error(
                code::CANNOT_READ,
                format!("cannot read catalog/: {e}"),
            ))
        }
    };
    let mut local: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ncl"))
        .collect();
    if local.is_empty() {
        return Ok(None);
    }
    local.sort();
    let mut apps: std::collections::BTreeMap<String, String> = embedded::embedded_files()
        .iter()
        .filter_map(|(path, _)| path.strip_prefix("jardin/catalog/"))
        .filter_map(|name| name.strip_suffix(".ncl"))
        .filter(|name| *name != "index")
        .map(|name| {
            (
                name.to_string(),
                format!("import \"jardin/catalog/{name}.ncl\""),
            )
        })
        .collect();
    let mut files: Vec<ReadFile> = Vec::new();
    for path in &local {
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = reads.read(path)?;
        for file in reads.closure(path, text)? {
            if !files
                .iter()
                .any(|f| f.path == file.path && f.format == file.format)
            {
                files.push(file);
            }
        }
        apps.insert(name, format!("import {}", nickel_string(path)));
    }
    let hash = hash_reads(&files);
    let body: Vec<String> = apps
        .iter()
        .map(|(k, v)| format!("  \"{k}\" | CatalogApp = {v},"))
        .collect();
    // The same contract as the embedded index: a local app is checked too.
    let index = format!(
        "let CatalogApp = (import \"jardin/model.ncl\").CatalogApp in\n{{\n{}\n}}\n",
        body.join("\n")
    );
    Ok(Some(LocalCatalog { index, files, hash }))
}

/// A hash of files read: their paths, formats and texts.
fn hash_reads(files: &[ReadFile]) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    for f in files {
        h.update(f.path.to_string_lossy().as_bytes());
        h.update(&[0]);
        h.update(format!("{:?}", f.format).as_bytes());
        h.update(&[0]);
        h.update(&(f.text.len() as u64).to_le_bytes());
        h.update(f.text.as_bytes());
    }
    h.finalize()
}

fn nickel_string(path: &Path) -> String {
    let s = path.to_string_lossy();
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("\\%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Evaluator {
    /// `root` must be absolute; `cache` is where tenant results are kept.
    pub fn new(root: &Path, cache: Option<DiskCache>) -> Self {
        let reads = Root::new(root, library_paths());
        Evaluator {
            root: root.to_path_buf(),
            local_catalog: local_catalog(root, &reads),
            reads,
            cache,
            limits: Limits::default(),
            render: RenderMode::default(),
        }
    }

    /// Renders tenants' apps per shape (the default) or per tenant.
    pub fn with_render(mut self, render: RenderMode) -> Self {
        self.render = render;
        self
    }

    /// Evaluates each file under `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Lets the config's files import files anywhere under `dir`, an
    /// ancestor of the root (absolute), instead of only under the root:
    /// several config roots of one repository can then share files. The
    /// operator chooses it on the command line; a config cannot.
    pub fn with_import_root(mut self, dir: &Path) -> Result<Self, Diagnostic> {
        if !self.root.starts_with(dir) {
            return Err(Diagnostic::error(
                code::IMPORT_OUTSIDE_ROOT,
                format!(
                    "--import-root {} does not contain the config root {}",
                    dir.display(),
                    self.root.display()
                ),
            )
            .with_help(
                "pass a directory that holds the config root, such as the repository's top",
            ));
        }
        self.reads = Root::new(dir, library_paths());
        self.local_catalog = local_catalog(&self.root, &self.reads);
        Ok(self)
    }

    fn naming(&self) -> Naming<'_> {
        Naming { root: &self.root }
    }

    /// Every file evaluating `path` reads, `path` first: checked, confined
    /// to the root, and read once.
    fn reads_of(&self, path: &Path) -> Result<Vec<ReadFile>, Diagnostic> {
        let text = self.reads.read(path)?;
        self.reads.closure(path, text)
    }

    /// Evaluates `jardin.ncl` against the `Collective` contract.
    pub fn collective(&self) -> Result<Evaluated, Vec<Diagnostic>> {
        let path = self.root.join("jardin.ncl");
        let reads = self.reads_of(&path).map_err(|d| {
            vec![if d.code == code::CANNOT_READ {
                d.with_help("a config root holds a jardin.ncl file")
            } else {
                d
            }]
        })?;
        let main = format!(
            "let jardin = import \"jardin/std.ncl\" in (import {}) | jardin.Collective",
            nickel_string(&path)
        );
        let out = self.with_context(|worker| {
            worker.ctx.eval(
                &self.naming(),
                &reads,
                "collective-main.ncl",
                main,
                "",
                self.limits,
            )
        })?;
        Ok(Evaluated {
            value: out.value,
            source_map: out.source_map,
            from_cache: false,
            key: [0; 32],
        })
    }

    /// True when the root brings its own catalog apps.
    pub fn has_local_catalog(&self) -> bool {
        !matches!(self.local_catalog, Ok(None))
    }

    /// The root's own catalog, or why it cannot be read.
    fn local(&self) -> Result<Option<&LocalCatalog>, Vec<Diagnostic>> {
        self.local_catalog
            .as_ref()
            .map(Option::as_ref)
            .map_err(|d| vec![d.clone()])
    }

    /// The catalog's metadata with this root's own apps.
    pub fn root_catalog(&self) -> Result<serde_json::Value, Vec<Diagnostic>> {
        self.catalog_metadata()
    }

    /// The catalog's metadata: every app without its render function.
    pub fn catalog() -> Result<serde_json::Value, Vec<Diagnostic>> {
        Evaluator {
            root: PathBuf::from("/"),
            reads: Root::new(Path::new("/"), library_paths()),
            cache: None,
            limits: Limits::default(),
            render: RenderMode::default(),
            local_catalog: Ok(None),
        }
        .catalog_metadata()
    }

    fn catalog_metadata(&self) -> Result<serde_json::Value, Vec<Diagnostic>> {
        let main = "let catalog = import \"jardin/catalog/index.ncl\" in \
                    let defaults = fun s => std.array.fold_left (fun acc k => std.record.insert k (if %record/field_is_defined% k s then s.\"%{k}\" else null) acc) {} (std.record.fields s) in \
                    std.record.map (fun _id app => std.record.insert \"settings\" (defaults app.Settings) (std.record.remove \"render\" (std.record.remove \"Settings\" app))) catalog"
            .to_string();
        self.with_context(|worker| self.eval_library_program(worker, "catalog-main", main))
    }

    /// Evaluates a generated program that reads no file of the config
    /// root, only the library and in-memory sources, named `<name>.ncl`.
    fn eval_library_program(
        &self,
        worker: &mut WorkerContext,
        name: &str,
        main: String,
    ) -> Result<serde_json::Value, Vec<Diagnostic>> {
        // The interpreter wants a user file for the positions it reports.
        let placeholder = ReadFile {
            path: PathBuf::from(format!("{}/{name}-user.ncl", nickel::VIRTUAL_ROOT)),
            format: InputFormat::Nickel,
            text: "{}".to_string(),
        };
        worker
            .ctx
            .eval(
                &self.naming(),
                std::slice::from_ref(&placeholder),
                &format!("{name}.ncl"),
                main,
                "",
                self.limits,
            )
            .map(|o| o.value)
    }

    /// Runs `f` with this thread's interpreter context, made afresh when it
    /// was loaded with another catalog, has served [`CONTEXT_USES`] files,
    /// or after the interpreter panicked in it (`NickelContext::eval` turns
    /// such a panic into J0006).
    fn with_context<T>(
        &self,
        f: impl FnOnce(&mut WorkerContext) -> Result<T, Vec<Diagnostic>>,
    ) -> Result<T, Vec<Diagnostic>> {
        let local = self.local()?;
        let catalog = local.map(|l| l.hash);
        CONTEXT.with(|cell| {
            let mut slot = cell.borrow_mut();
            let fresh = match &*slot {
                Some(w) => w.catalog == catalog && w.ctx.uses < CONTEXT_USES,
                None => false,
            };
            if !fresh {
                let mut ctx = match local {
                    Some(l) => NickelContext::new(&[(
                        "jardin/catalog/index.ncl",
                        l.index.as_str(),
                        InputFormat::Nickel,
                    )]),
                    None => NickelContext::new(&[]),
                };
                for file in local.map(|l| l.files.as_slice()).unwrap_or_default() {
                    ctx.add_user_file(file);
                }
                *slot = Some(WorkerContext {
                    catalog,
                    collectives: HashSet::new(),
                    ctx,
                });
            }
            let worker = slot.as_mut().expect("context was just made");
            let result = f(worker);
            let stopped = [
                code::INTERPRETER_CRASH,
                code::EVALUATION_TIMEOUT,
                code::EVALUATION_MEMORY,
            ];
            if result
                .as_ref()
                .err()
                .is_some_and(|d| d.iter().any(|d| stopped.contains(&d.code)))
            {
                // A panic, or a budget's unwind, may leave the context
                // inconsistent (and holding the memory): start afresh.
                *slot = None;
            }
            result
        })
    }

    /// What evaluating tenants against `collective` needs, computed once:
    /// the collective as the JSON every context imports, and its hash.
    pub fn tenant_session(&self, collective: &serde_json::Value) -> TenantSession<'_> {
        let collective_json = serde_json::to_string(collective).unwrap_or_default();
        let mut h = blake3::Hasher::new();
        h.update(collective_json.as_bytes());
        if let Ok(Some(local)) = &self.local_catalog {
            h.update(local.hash.as_bytes());
        }
        TenantSession {
            evaluator: self,
            collective_hash: h.finalize(),
            collective_json,
            data: SessionData {
                collective: collective.clone(),
                catalog: std::sync::OnceLock::new(),
                shapes: Shapes::default(),
                plain: plain::Memo::default(),
            },
        }
    }

    fn tenant(
        &self,
        path: &Path,
        collective_json: &str,
        collective_hash: blake3::Hash,
        session: &SessionData,
    ) -> Result<Evaluated, Vec<Diagnostic>> {
        let reads = self.reads_of(path).map_err(|d| vec![d])?;
        let name = self.naming().display(&path.to_string_lossy());
        let key = cache::Key::new(collective_hash, &self.root, &reads);
        let file = SourceFile::new(name, reads[0].text.as_str());
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.load(&key, &file, &reads, &self.naming()) {
                return Ok(hit);
            }
        }
        let tenant = Tenant {
            path,
            reads: &reads,
            collective_json,
            collective_hash,
        };
        let out = match self.render {
            RenderMode::PerTenant => self.evaluate(&tenant, "compile_tenant"),
            RenderMode::Shapes => self.by_shapes(&tenant, session),
        }?;
        if let Some(cache) = &self.cache {
            cache.store(&key, &out);
        }
        Ok(Evaluated {
            value: out.value,
            source_map: out.source_map,
            from_cache: false,
            key: key.bytes(),
        })
    }

    /// Evaluates `jardin.<function> collective (tenant | jardin.Tenant)`.
    fn evaluate(&self, tenant: &Tenant<'_>, function: &str) -> Result<Output, Vec<Diagnostic>> {
        // Each collective is its own source, so one context serves several
        // (`jardin diff` compiles two revisions).
        let collective_source = format!("collective-{}.json", tenant.collective_hash.to_hex());
        let call = format!("jardin.{function} (import \"{collective_source}\")");
        self.tenant_program(tenant, &call, Some(&collective_source))
    }

    /// Evaluates `<call> (tenant | jardin.Tenant)` (with `jardin` the
    /// stdlib), adding the evaluated collective to the context first when
    /// the call imports it.
    fn tenant_program(
        &self,
        tenant: &Tenant<'_>,
        call: &str,
        collective_source: Option<&str>,
    ) -> Result<Output, Vec<Diagnostic>> {
        let main = format!(
            "let jardin = import \"jardin/std.ncl\" in {call} ((import {}) | jardin.Tenant)",
            nickel_string(tenant.path)
        );
        self.with_context(|worker| {
            if let Some(source) = collective_source {
                if worker.collectives.insert(tenant.collective_hash) {
                    worker
                        .ctx
                        .add_source(source, tenant.collective_json, InputFormat::Json);
                }
            }
            worker.ctx.eval(
                &self.naming(),
                tenant.reads,
                "tenant-main.ncl",
                main,
                "tenant",
                self.limits,
            )
        })
    }

    /// Runs the tenant's contracts (with its own spans) and its apps'
    /// settings contracts in the interpreter, resolves its apps in Rust
    /// (`resolve.rs`), then takes each app's objects from its shape
    /// (`shape.rs`). Whatever cannot go that way is evaluated in full,
    /// which also gives a tenant in error exactly its diagnostics of before.
    fn by_shapes(
        &self,
        tenant: &Tenant<'_>,
        session: &SessionData,
    ) -> Result<Output, Vec<Diagnostic>> {
        let full_evaluation = || self.evaluate(tenant, "compile_tenant");
        let settled = match self.settle_plain(tenant, session) {
            Some(settled) => settled,
            None => match self.settle(tenant) {
                Ok(settled) => settled,
                Err(_) => return full_evaluation(),
            },
        };
        let Some(catalog) = session.catalog(self) else {
            return full_evaluation();
        };
        let shapes = &session.shapes;
        let source_map = settled.source_map;
        let app_count = settled
            .value
            .pointer("/tenant/apps")
            .and_then(serde_json::Value::as_object)
            .map_or(0, |apps| apps.len());
        let Some(resolve::Resolved { mut value, apps }) =
            resolve::resolve(&session.collective, catalog, settled.value)
        else {
            shapes.count(0, app_count);
            return full_evaluation();
        };
        let tenant_name = self.naming().display(&tenant.path.to_string_lossy());
        let mut full: Option<Result<Output, Vec<Diagnostic>>> = None;
        let mut need_full = false;
        for app in &apps {
            let app_id = app.input["app"].as_str().unwrap_or_default().to_string();
            let Some(abs) =
                shape::abstract_input(&app.input).filter(|_| !shapes.is_per_tenant(&app_id))
            else {
                need_full = true;
                break;
            };
            let objects_at = format!("/apps/{}/objects", resolve::escape(&app.instance));
            let cell = shapes.cell(abs.key);
            let shape = cell.get_or_init(|| {
                let rendered = self.render_shape(&abs);
                let full = full.get_or_insert_with(full_evaluation);
                let expected = full.as_ref().ok().map(|f| &f.value);
                let reason = match (rendered, expected) {
                    // The render fails for this shape whatever the names:
                    // each tenant of it gets its own diagnostics.
                    (Err(_), None) => return Shape::PerTenant,
                    // Its contracts passed (`settle`), and the render
                    // passes with placeholders: what failed is the names.
                    (Ok(_), None) => "its render function fails for this tenant's names".to_string(),
                    (Err(_), Some(_)) => {
                        "its render function fails with names replaced by placeholders".to_string()
                    }
                    (Ok(objects), Some(_))
                        if !shape::placeholders_whole(&objects, abs.names.len()) =>
                    {
                        "its render function takes a name apart".to_string()
                    }
                    (Ok(objects), Some(expected)) => {
                        if expected.pointer(&objects_at)
                            != Some(&shape::substitute(&objects, &abs.names))
                        {
                            "its output depends on a name beyond copying it".to_string()
                        } else if !same_but_objects(expected, &value) {
                            // A bug in jardin, not in the app: resolve.rs
                            // drifted from the stdlib's `resolve`.
                            "jardin resolved it differently from the stdlib (a bug in jardin: please report it)".to_string()
                        } else {
                            return Shape::Ready(shape::Template::of(&objects));
                        }
                    }
                };
                shapes.fall_back(
                    &app_id,
                    Fallback {
                        reason,
                        tenant: tenant_name.clone(),
                    },
                );
                Shape::PerTenant
            });
            match shape {
                Shape::Ready(template) => {
                    if let Some(slot) = value.pointer_mut(&objects_at) {
                        *slot = template.fill(&abs.names);
                    }
                }
                Shape::PerTenant => {
                    need_full = true;
                    break;
                }
            }
        }
        // A tenant evaluated in full for a check gives its own output: the
        // check found it equal for the apps it checked.
        if need_full || full.is_some() {
            shapes.count(0, apps.len());
            return full.unwrap_or_else(full_evaluation);
        }
        shapes.count(apps.len(), 0);
        Ok(Output { value, source_map })
    }

    /// `jardin.settle_tenant (tenant | jardin.Tenant)`: the tenant's
    /// contracts and its apps' settings contracts, nothing else.
    fn settle(&self, tenant: &Tenant<'_>) -> Result<Output, Vec<Diagnostic>> {
        self.tenant_program(tenant, "jardin.settle_tenant", None)
    }

    /// `settle` in Rust for a tenant file of plain data (`plain.rs`), or
    /// `None`. The first tenant of each skeleton is settled by the
    /// interpreter too: where the two differ (a bug in jardin), that
    /// skeleton is left to the interpreter, and `jardin -v` names it.
    fn settle_plain(&self, tenant: &Tenant<'_>, session: &SessionData) -> Option<Output> {
        let memo = &session.plain;
        let settled = match tenant.reads {
            [file] => plain::parse(&file.text).and_then(|literal| {
                plain::settle(&literal, |app, settings| {
                    memo.settings(app, settings, || self.settle_settings(app, settings).ok())
                })
            }),
            _ => None,
        };
        let Some(settled) = settled else {
            memo.count(false);
            return None;
        };
        let name = self.naming().display(&tenant.path.to_string_lossy());
        let file = SourceFile::new(name.clone(), tenant.reads[0].text.as_str());
        let mut source_map = SourceMap::new(Some(file.clone()));
        for (path, range) in settled.spans {
            let span = jardin_core::source::Span {
                file: file.clone(),
                range,
            };
            source_map.insert(path, span);
        }
        let output = Output {
            value: settled.value,
            source_map,
        };
        let agreed = memo.agreed(&settled.skeleton, || match self.settle(tenant) {
            Ok(interpreted) => {
                let same = interpreted.value == output.value
                    && interpreted.source_map.to_stored() == output.source_map.to_stored();
                if !same {
                    memo.disagreed(name);
                }
                same
            }
            // Accepted here but refused by the interpreter: a disagreement
            // too, and the interpreter alone says why.
            Err(_) => {
                memo.disagreed(name);
                false
            }
        });
        memo.count(agreed);
        agreed.then_some(output)
    }

    /// `jardin.settle_settings app settings`: one app's settings after its
    /// catalog entry's contract.
    fn settle_settings(
        &self,
        app: &str,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, Vec<Diagnostic>> {
        let text = settings.to_string();
        let source = format!("settings-{}.json", blake3::hash(text.as_bytes()).to_hex());
        let main = format!(
            "(import \"jardin/std.ncl\").settle_settings {} (import \"{source}\")",
            serde_json::Value::String(app.to_string())
        );
        self.with_context(|worker| {
            worker.ctx.add_source(&source, &text, InputFormat::Json);
            self.eval_library_program(worker, "settings-main", main)
        })
    }

    /// Renders one shape: `jardin.render_shape` on its input with
    /// placeholders.
    fn render_shape(&self, abs: &shape::Abstracted) -> Result<serde_json::Value, Vec<Diagnostic>> {
        let source = format!("shape-{}.json", abs.key.to_hex());
        let text = serde_json::to_string(&abs.input).unwrap_or_default();
        let main = format!("(import \"jardin/std.ncl\").render_shape (import \"{source}\")");
        self.with_context(|worker| {
            worker.ctx.add_source(&source, &text, InputFormat::Json);
            self.eval_library_program(worker, "shape-main", main)
        })
    }
}

/// True when two tenants' values are equal but for their apps' objects.
fn same_but_objects(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(apps) = v.get_mut("apps").and_then(serde_json::Value::as_object_mut) {
            for app in apps.values_mut() {
                if let Some(o) = app.get_mut("objects") {
                    *o = serde_json::Value::Null;
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// What a session's tenants share: the collective, the catalog's metadata
/// (both as `resolve.rs` reads them) and the shapes rendered so far.
struct SessionData {
    collective: serde_json::Value,
    catalog: std::sync::OnceLock<Option<serde_json::Value>>,
    shapes: Shapes,
    plain: plain::Memo,
}

impl SessionData {
    /// The catalog's metadata, evaluated by the first tenant that needs it.
    fn catalog(&self, evaluator: &Evaluator) -> Option<&serde_json::Value> {
        self.catalog
            .get_or_init(|| evaluator.catalog_metadata().ok())
            .as_ref()
    }
}

/// One tenant file and what evaluating it needs.
struct Tenant<'a> {
    path: &'a Path,
    reads: &'a [ReadFile],
    collective_json: &'a str,
    collective_hash: blake3::Hash,
}

/// Tenants evaluated against one collective, from any worker thread.
pub struct TenantSession<'a> {
    evaluator: &'a Evaluator,
    collective_json: String,
    collective_hash: blake3::Hash,
    data: SessionData,
}

impl TenantSession<'_> {
    /// Evaluates one tenant file (or takes it from the cache).
    pub fn evaluate(&self, path: &Path) -> Result<Evaluated, Vec<Diagnostic>> {
        self.evaluator.tenant(
            path,
            &self.collective_json,
            self.collective_hash,
            &self.data,
        )
    }

    /// Evaluates the shared services of `cluster` (`jardin.compile_shared`),
    /// given their consumers (by instance name): a value shaped like a
    /// tenant's, for the tenant of the collective's own. Its source map is
    /// the caller's to make, from the collective's.
    pub fn evaluate_shared(
        &self,
        cluster: &str,
        consumers: &serde_json::Value,
    ) -> Result<serde_json::Value, Vec<Diagnostic>> {
        let evaluator = self.evaluator;
        let text = serde_json::to_string(consumers).unwrap_or_default();
        let hash = blake3::hash(text.as_bytes());
        let consumers_source = format!("consumers-{}.json", hash.to_hex());
        let collective_source = format!("collective-{}.json", self.collective_hash.to_hex());
        let main = format!(
            "(import \"jardin/std.ncl\").compile_shared (import \"{collective_source}\") {} (import \"{consumers_source}\")",
            serde_json::Value::String(cluster.to_string())
        );
        evaluator.with_context(|worker| {
            if worker.collectives.insert(self.collective_hash) {
                worker
                    .ctx
                    .add_source(&collective_source, &self.collective_json, InputFormat::Json);
            }
            worker
                .ctx
                .add_source(&consumers_source, &text, InputFormat::Json);
            evaluator.eval_library_program(worker, "shared-main", main)
        })
    }

    /// How the tenants evaluated so far were rendered.
    pub fn shape_report(&self) -> ShapeReport {
        let mut report = self.data.shapes.report();
        let (in_rust, by_interpreter, disagreements) = self.data.plain.report();
        report.tenants_settled_in_rust = in_rust;
        report.tenants_settled_by_interpreter = by_interpreter;
        report.settle_disagreements = disagreements;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_nickel() {
        assert_eq!(
            nickel_string(Path::new("/a/\"b\"/%{x}")),
            "\"/a/\\\"b\\\"/\\%{x}\""
        );
    }
}
/// Settling in Rust gives what the interpreter gives, value and source
/// map, or leaves the tenant to it: on every example tenant and on random
/// tenants, valid or not.
#[cfg(test)]
mod plain_settle {
    use super::*;
    use proptest::prelude::*;

    /// (what the interpreter gives, what Rust gives), for one tenant text.
    fn both(
        ev: &Evaluator,
        memo: &plain::Memo,
        path: &Path,
        reads: &[ReadFile],
    ) -> (Option<Output>, Option<plain::Settled>) {
        let t = Tenant {
            path,
            reads,
            collective_json: "{}",
            collective_hash: blake3::hash(b""),
        };
        let interpreted = ev.settle(&t).ok();
        let rust = match reads {
            [file] => plain::parse(&file.text).and_then(|lit| {
                plain::settle(&lit, |app, s| {
                    memo.settings(app, s, || ev.settle_settings(app, s).ok())
                })
            }),
            _ => None,
        };
        (interpreted, rust)
    }

    /// Panics unless Rust's result, when it has one, is the interpreter's.
    fn agree(what: &str, interpreted: Option<Output>, rust: Option<plain::Settled>) -> bool {
        let Some(rust) = rust else { return false };
        let interpreted = interpreted
            .unwrap_or_else(|| panic!("{what}: settled in Rust, refused by the interpreter"));
        assert_eq!(interpreted.value, rust.value, "{what}: values differ");
        let mut expected = interpreted.source_map.to_stored().spans().to_vec();
        let mut got: Vec<_> = rust
            .spans
            .iter()
            .map(|(p, r)| (p.clone(), 0, r.start, r.end))
            .collect();
        expected.sort();
        got.sort();
        assert_eq!(expected, got, "{what}: source maps differ");
        true
    }

    fn tenant_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                tenant_files(&path, out);
            } else if path.parent().is_some_and(|p| p.ends_with("tenants"))
                && path.extension().is_some_and(|e| e == "ncl")
            {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_example_tenant() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut files = Vec::new();
        tenant_files(&examples, &mut files);
        files.sort();
        let errors = examples.join("errors");
        let (mut in_rust, mut total) = (0, 0);
        let memo = plain::Memo::default();
        for path in &files {
            let root = path.parent().and_then(Path::parent).expect("a root");
            let mut ev = Evaluator::new(root, None);
            if path.starts_with(&errors) {
                ev = ev.with_import_root(&errors).expect("import root");
            }
            let Ok(reads) = ev.reads_of(path) else {
                continue;
            };
            let (interpreted, rust) = both(&ev, &memo, path, &reads);
            total += 1;
            in_rust += usize::from(agree(&path.display().to_string(), interpreted, rust));
        }
        // Most tenants a person writes are plain data.
        assert!(
            total > 60 && in_rust * 2 > total,
            "{in_rust} of {total} settled in Rust"
        );
    }

    fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
        proptest::sample::select(options)
    }

    /// Mostly `good`, sometimes `bad`: a random tenant is valid often
    /// enough to be settled in Rust, and invalid in one place otherwise.
    fn mostly(
        good: &'static [&'static str],
        bad: &'static [&'static str],
    ) -> BoxedStrategy<&'static str> {
        prop_oneof![12 => pick(good), 1 => pick(bad)].boxed()
    }

    const HOSTS: &[&str] = &[
        "\"cloud.example.org\"",
        "\"a.bc\"",
        "\"xn--e1a.example.org\"",
        "\"b.a1\"",
    ];
    const BAD_HOSTS: &[&str] = &[
        "\"Cloud.example.org\"",
        "\"x.example.org.\"",
        "\"a.b\"",
        "\"example\"",
        "\"a-.example.org\"",
        "\"1.2.3.4\"",
        "\"-a.example.org\"",
        "3",
    ];
    const EMAILS: &[&str] = &["\"a@b.org\"", "\"x.y+z@mail.example.org\""];
    const BAD_EMAILS: &[&str] = &[
        "\"bad\"",
        "\"x@Y.org\"",
        "\"a b@c.org\"",
        "\"é@c.org\"",
        "\"a@b\"",
        "true",
    ];

    fn array(
        good: &'static [&'static str],
        bad: &'static [&'static str],
    ) -> impl Strategy<Value = String> {
        proptest::collection::vec(mostly(good, bad), 0..3)
            .prop_map(|v| format!("[{}]", v.join(", ")))
    }

    fn instance() -> impl Strategy<Value = String> {
        (
            mostly(
                &["\"nextcloud\"", "\"hedgedoc\"", "\"jitsi\""],
                &["\"nope\"", "", "1"],
            ),
            mostly(HOSTS, BAD_HOSTS),
            mostly(&["", "size = \"xs\"", "size = \"m\""], &["size = \"huge\""]),
            mostly(
                &["", "replicas = 1", "replicas = 4294967295"],
                &[
                    "replicas = 4294967296",
                    "replicas = 2.5",
                    "replicas = \"2\"",
                ],
            ),
            (
                pick(&["", "aliases", "extra_hosts.element", "extra_hosts"]),
                array(HOSTS, BAD_HOSTS),
                mostly(HOSTS, BAD_HOSTS),
            ),
            mostly(
                &[
                    "",
                    "bindings.postgres = \"main\"",
                    "bindings = {}",
                    "bindings = { smtp = \"r\", postgres = \"p\" }",
                ],
                &[
                    "bindings = { postgres = 1 }",
                    "bindings = { other = \"x\" }",
                ],
            ),
            mostly(
                &[
                    "",
                    "settings.media_ip = \"198.51.100.4\"",
                    "settings = { allow_anonymous = true }",
                    "settings = {}",
                ],
                &["settings = { bogus = 1 }", "settings = 3"],
            ),
            mostly(
                &["", "backup = \"inherit\""],
                &[
                    "backup = { disabled.reason = \"because it is so\" }",
                    "backup = 'inherit",
                ],
            ),
            mostly(
                &[
                    "",
                    "state = \"suspended\"",
                    "office = true",
                    "version = \"1\"",
                ],
                &[
                    "state = \"archived\"",
                    "office = \"no\"",
                    "secrets = {}",
                    "other = 1",
                ],
            ),
        )
            .prop_map(
                |(
                    app,
                    host,
                    size,
                    replicas,
                    (hosts, list, one),
                    bindings,
                    settings,
                    backup,
                    more,
                )| {
                    let mut fields = Vec::new();
                    if !app.is_empty() {
                        fields.push(format!("app = {app}"));
                    }
                    fields.push(format!("host = {host}"));
                    for f in [size, replicas, bindings, settings, backup, more] {
                        if !f.is_empty() {
                            fields.push(f.to_string());
                        }
                    }
                    match hosts {
                        "aliases" => fields.push(format!("aliases = {list}")),
                        "extra_hosts.element" => {
                            fields.push(format!("extra_hosts.element = {one}"))
                        }
                        "extra_hosts" => fields.push(format!(
                            "extra_hosts = {{ element = {one}, admin = {one} }}"
                        )),
                        _ => {}
                    }
                    format!("{{ {} }}", fields.join(", "))
                },
            )
    }

    fn tenant() -> impl Strategy<Value = String> {
        (
            mostly(
                &["\"asso-1\"", "\"ok-name\"", "\"a\""],
                &["\"Asso\"", "\"-x\"", "\"\"", "1"],
            ),
            mostly(
                &["display_name = \"Name\"", "display_name = \"L'Été\""],
                &["display_name = 42", ""],
            ),
            (pick(&["", "contacts"]), array(EMAILS, BAD_EMAILS)),
            mostly(
                &[
                    "",
                    "plan = \"p\"",
                    "state = \"archived\"",
                    "state = \"suspended\"",
                ],
                &[
                    "plan = null",
                    "state = \"gone\"",
                    "backup = {}",
                    "other = 1",
                ],
            ),
            (pick(&["", "zones"]), array(HOSTS, BAD_HOSTS)),
            mostly(
                &[
                    "",
                    "mail = { sending_domain = \"a.example.org\", relay = \"r\" }",
                    "mail = { relay = \"r\", sending_domain = \"a.example.org\" }",
                ],
                &[
                    "mail.relay = \"r\"",
                    "mail = { sending_domain = \"A.org\", relay = \"r\" }",
                    "mail = { sending_domain = \"a.example.org\", relay = \"r\", x = 1 }",
                ],
            ),
            mostly(
                &[
                    "",
                    "identity = {}",
                    "identity.sso = true",
                    "identity = { admins = [\"a@b.org\"], sso = true }",
                    "identity = { admins = [] }",
                ],
                &["identity = { sso = \"yes\" }", "identity = { other = 1 }"],
            ),
            proptest::collection::vec(
                (
                    mostly(&["cloud", "pad", "x-1", "\"quoted\""], &["Pad", "\"a b\""]),
                    instance(),
                ),
                0..4,
            ),
        )
            .prop_map(
                |(id, name, (c, contacts), more, (z, zones), mail, identity, apps)| {
                    let mut fields = vec![format!("id = {id}"), "cluster = \"c1\"".to_string()];
                    for f in [name, more, mail, identity] {
                        if !f.is_empty() {
                            fields.push(f.to_string());
                        }
                    }
                    if !c.is_empty() {
                        fields.push(format!("contacts = {contacts}"));
                    }
                    if !z.is_empty() {
                        fields.push(format!("zones = {zones}"));
                    }
                    let mut seen = std::collections::HashSet::new();
                    let apps: Vec<String> = apps
                        .into_iter()
                        .filter(|(n, _)| seen.insert(*n))
                        .map(|(n, body)| format!("    {n} = {body},"))
                        .collect();
                    if !apps.is_empty() {
                        fields.push(format!("apps = {{\n{}\n  }}", apps.join("\n")));
                    }
                    format!("{{\n  {},\n}}\n", fields.join(",\n  "))
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn random_tenants(text in tenant()) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("tenants")).unwrap();
            let path = dir.path().join("tenants/t.ncl");
            std::fs::write(&path, &text).unwrap();
            let ev = Evaluator::new(dir.path(), None);
            let memo = plain::Memo::default();
            let reads = ev.reads_of(&path).unwrap();
            let (interpreted, rust) = both(&ev, &memo, &path, &reads);
            agree(&text, interpreted, rust);
        }
    }
}
