//! Evaluation: Nickel files in, JSON values and source maps out.
//!
//! This is the only module that knows Nickel (see `nickel.rs`). Tenant files
//! are evaluated independently, in parallel, one reused interpreter context
//! per worker thread, and each result is cached on disk (see `cache.rs`).

mod cache;
mod embedded;
mod nickel;

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use nickel_lang_core::cache::InputFormat;

pub use cache::DiskCache;
pub use embedded::{embedded_files, library_hash, write_library};

use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::source::SourceFile;
use jardin_core::source::SourceMap;
use nickel::{Naming, NickelContext};

/// A file evaluated to JSON, with where its values came from.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub value: serde_json::Value,
    pub source_map: SourceMap,
    pub from_cache: bool,
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

/// Installs a panic hook that keeps interpreter panics off stderr: they are
/// caught and reported as diagnostics instead.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !nickel::in_interpreter() {
            default(info);
        }
    }));
}

pub struct Evaluator {
    root: PathBuf,
    cache: Option<DiskCache>,
    /// The catalog index when the root has its own `catalog/` (apps added or
    /// overridden by the collective), and a hash of those files.
    local_catalog: Option<(String, blake3::Hash)>,
}

/// The catalog index for a root with a `catalog/` directory: every embedded
/// app, then every local file, which adds an app or replaces the embedded
/// one of the same name. Local files are imported by path, so diagnostics
/// name them as the user knows them.
fn local_catalog(root: &Path) -> Option<(String, blake3::Hash)> {
    let dir = root.join("catalog");
    let mut local: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ncl"))
        .collect();
    if local.is_empty() {
        return None;
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
    let mut hash = blake3::Hasher::new();
    for path in &local {
        let name = path.file_stem()?.to_string_lossy().into_owned();
        hash.update(name.as_bytes());
        hash.update(&std::fs::read(path).ok()?);
        apps.insert(name, format!("import {}", nickel_string(path)));
    }
    let body: Vec<String> = apps
        .iter()
        .map(|(k, v)| format!("  \"{k}\" | CatalogApp = {v},"))
        .collect();
    // The same contract as the embedded index: a local app is checked too.
    let index = format!(
        "let CatalogApp = (import \"jardin/model.ncl\").CatalogApp in\n{{\n{}\n}}\n",
        body.join("\n")
    );
    Some((index, hash.finalize()))
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
        Evaluator {
            root: root.to_path_buf(),
            cache,
            local_catalog: local_catalog(root),
        }
    }

    fn naming(&self) -> Naming<'_> {
        Naming { root: &self.root }
    }

    /// Reads a file of the config root as a diagnostic-friendly source.
    pub(crate) fn read(&self, path: &Path) -> Result<SourceFile, Diagnostic> {
        let name = self.naming().display(&path.to_string_lossy());
        std::fs::read_to_string(path)
            .map(|text| SourceFile::new(name.clone(), text))
            .map_err(|e| Diagnostic::error(code::CANNOT_READ, format!("cannot read {name}: {e}")))
    }

    /// Evaluates `jardin.ncl` against the `Collective` contract.
    pub fn collective(&self) -> Result<Evaluated, Vec<Diagnostic>> {
        let path = self.root.join("jardin.ncl");
        let file = self
            .read(&path)
            .map_err(|d| vec![d.with_help("a config root holds a jardin.ncl file")])?;
        let main = format!(
            "let jardin = import \"jardin/std.ncl\" in (import {}) | jardin.Collective",
            nickel_string(&path)
        );
        let out = self.with_context(|worker| {
            worker.ctx.eval(
                &self.naming(),
                &path,
                &file.text,
                "collective-main.ncl",
                main,
                "",
            )
        })?;
        Ok(Evaluated {
            value: out.value,
            source_map: out.source_map,
            from_cache: false,
        })
    }

    /// True when the root brings its own catalog apps.
    pub fn has_local_catalog(&self) -> bool {
        self.local_catalog.is_some()
    }

    /// In-memory sources every context of this root gets.
    fn extra_sources(&self) -> Vec<(&str, &str, InputFormat)> {
        match &self.local_catalog {
            Some((index, _)) => vec![(
                "jardin/catalog/index.ncl",
                index.as_str(),
                InputFormat::Nickel,
            )],
            None => Vec::new(),
        }
    }

    /// The catalog's metadata with this root's own apps.
    pub fn root_catalog(&self) -> Result<serde_json::Value, Vec<Diagnostic>> {
        self.catalog_metadata()
    }

    /// The catalog's metadata: every app without its render function.
    pub fn catalog() -> Result<serde_json::Value, Vec<Diagnostic>> {
        Evaluator {
            root: PathBuf::from("/"),
            cache: None,
            local_catalog: None,
        }
        .catalog_metadata()
    }

    fn catalog_metadata(&self) -> Result<serde_json::Value, Vec<Diagnostic>> {
        let main = "let catalog = import \"jardin/catalog/index.ncl\" in \
                    std.record.map (fun _id app => std.record.remove \"render\" (std.record.remove \"Settings\" app)) catalog"
            .to_string();
        let path = PathBuf::from(format!("{}/catalog-main-user.ncl", nickel::VIRTUAL_ROOT));
        self.with_context(|worker| {
            worker
                .ctx
                .eval(&self.naming(), &path, "{}", "catalog-main.ncl", main, "")
        })
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
        let catalog = self.local_catalog.as_ref().map(|(_, h)| *h);
        CONTEXT.with(|cell| {
            let mut slot = cell.borrow_mut();
            let fresh = match &*slot {
                Some(w) => w.catalog == catalog && w.ctx.uses < CONTEXT_USES,
                None => false,
            };
            if !fresh {
                *slot = Some(WorkerContext {
                    catalog,
                    collectives: HashSet::new(),
                    ctx: NickelContext::new(&self.extra_sources()),
                });
            }
            let worker = slot.as_mut().expect("context was just made");
            let result = f(worker);
            if result
                .as_ref()
                .err()
                .is_some_and(|d| d.iter().any(|d| d.code == code::INTERPRETER_CRASH))
            {
                // A panic may leave the context inconsistent: start afresh.
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
        if let Some((_, local)) = &self.local_catalog {
            h.update(local.as_bytes());
        }
        TenantSession {
            evaluator: self,
            collective_hash: h.finalize(),
            collective_json,
        }
    }

    fn tenant(
        &self,
        path: &Path,
        collective_json: &str,
        collective_hash: blake3::Hash,
    ) -> Result<Evaluated, Vec<Diagnostic>> {
        let file = self.read(path).map_err(|d| vec![d])?;
        let key = cache::Key::new(collective_hash, &file.name, &file.text);
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.load(&key, &file, &self.naming()) {
                return Ok(hit);
            }
        }
        // Each collective is its own source, so one context serves several
        // (`jardin diff` compiles two revisions).
        let collective_source = format!("collective-{}.json", collective_hash.to_hex());
        let main = format!(
            "let jardin = import \"jardin/std.ncl\" in \
             jardin.compile_tenant (import \"{collective_source}\") ((import {}) | jardin.Tenant)",
            nickel_string(path)
        );
        let out = self.with_context(|worker| {
            if worker.collectives.insert(collective_hash) {
                worker
                    .ctx
                    .add_source(&collective_source, collective_json, InputFormat::Json);
            }
            worker.ctx.eval(
                &self.naming(),
                path,
                &file.text,
                "tenant-main.ncl",
                main,
                "tenant",
            )
        })?;
        if let Some(cache) = &self.cache {
            cache.store(&key, &out);
        }
        Ok(Evaluated {
            value: out.value,
            source_map: out.source_map,
            from_cache: false,
        })
    }
}

/// Tenants evaluated against one collective, from any worker thread.
pub struct TenantSession<'a> {
    evaluator: &'a Evaluator,
    collective_json: String,
    collective_hash: blake3::Hash,
}

impl TenantSession<'_> {
    /// Evaluates one tenant file (or takes it from the cache).
    pub fn evaluate(&self, path: &Path) -> Result<Evaluated, Vec<Diagnostic>> {
        self.evaluator
            .tenant(path, &self.collective_json, self.collective_hash)
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
