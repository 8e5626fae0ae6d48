//! The one place that talks to the Nickel interpreter.
//!
//! A [`NickelContext`] owns a Nickel VM context with the embedded stdlib and
//! catalog loaded. It is reused for many files (the parsed stdlib stays
//! cached), lives on one thread (Nickel values are `!Send`), and turns every
//! result into JSON and every error into our own [`Diagnostic`] before
//! returning.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic::{LabelStyle, Severity as CsSeverity};
use nickel_lang_core::cache::{CacheHub, InputFormat, SourcePath};
use nickel_lang_core::error::{IntoDiagnostics, NullReporter};
use nickel_lang_core::eval::cache::CacheImpl;
use nickel_lang_core::eval::value::NickelValue;
use nickel_lang_core::eval::{VirtualMachine, VmContext};
use nickel_lang_core::files::{FileId, Files};
use nickel_lang_core::position::{PosTable, TermPos};
use nickel_lang_core::serialize::{self, ExportFormat};

use super::embedded;
use crate::diag::{Diagnostic, SourceFile};
use crate::source::{SourceMap, Span};

/// Where embedded files live in Nickel's file table. No real file can be
/// there, so an import resolves to the embedded copy.
pub const VIRTUAL_ROOT: &str = "/__jardin__";

/// A successful evaluation: the exported value, the source map of the part
/// of it that comes from the user, and the files it imported.
pub struct Output {
    pub value: serde_json::Value,
    pub source_map: SourceMap,
    /// Files outside the embedded library that evaluation read, besides the
    /// main file (absolute paths).
    pub imports: BTreeSet<PathBuf>,
}

pub struct NickelContext {
    vm: VmContext<CacheHub, CacheImpl>,
    /// How many files this context evaluated: its memory grows with each one,
    /// so callers recycle it now and then.
    pub uses: usize,
}

/// How to name files in diagnostics: relative to the config root.
pub struct Naming<'a> {
    pub root: &'a Path,
}

impl Naming<'_> {
    pub fn display(&self, name: &str) -> String {
        if let Some(rest) = name.strip_prefix(VIRTUAL_ROOT) {
            return format!("<{}>", rest.trim_start_matches('/'));
        }
        let p = Path::new(name);
        match p.strip_prefix(self.root) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => name.to_string(),
        }
    }
}

impl NickelContext {
    /// A fresh context with the stdlib, the catalog and `extra` in-memory
    /// sources (e.g. the evaluated collective) loaded.
    pub fn new(extra: &[(&str, &str, InputFormat)]) -> Self {
        let mut cache = CacheHub::new();
        cache
            .sources
            .add_import_paths(std::iter::once(VIRTUAL_ROOT));
        for (path, text) in embedded::NICKEL_FILES {
            cache.sources.add_string(
                SourcePath::Path(
                    PathBuf::from(format!("{VIRTUAL_ROOT}/{path}")),
                    InputFormat::Nickel,
                ),
                (*text).to_string(),
            );
        }
        for (path, text, format) in extra {
            cache.sources.add_string(
                SourcePath::Path(PathBuf::from(format!("{VIRTUAL_ROOT}/{path}")), *format),
                (*text).to_string(),
            );
        }
        let vm = VmContext::new(cache, std::io::sink(), NullReporter {});
        NickelContext { vm, uses: 0 }
    }

    /// Registers a user file with the text already read (so the interpreter
    /// does not read it again) and returns its id.
    fn add_user_file(&mut self, path: &Path, text: &str) -> FileId {
        self.vm.import_resolver.sources.add_string(
            SourcePath::Path(path.to_path_buf(), InputFormat::Nickel),
            text.to_string(),
        )
    }

    /// Evaluates `main_text` (a generated program, named `main_name` under the
    /// virtual root) that imports the user file `user_path`. `map_field` names
    /// the field of the result whose positions form the source map (empty for
    /// the whole value).
    pub fn eval(
        &mut self,
        naming: &Naming<'_>,
        user_path: &Path,
        user_text: &str,
        main_name: &str,
        main_text: String,
        map_field: &str,
    ) -> Result<Output, Vec<Diagnostic>> {
        self.uses += 1;
        let user_id = self.add_user_file(user_path, user_text);
        let main_id = self.vm.import_resolver.sources.add_string(
            SourcePath::Path(
                PathBuf::from(format!("{VIRTUAL_ROOT}/{main_name}")),
                InputFormat::Nickel,
            ),
            main_text,
        );
        let result = (|| {
            let prepared = self.vm.prepare_eval(main_id)?;
            let value = VirtualMachine::new(&mut self.vm).eval_full_for_export(prepared)?;
            serialize::validate(ExportFormat::Json, &value).map_err(|e| {
                nickel_lang_core::error::Error::export_error(self.vm.pos_table.clone(), e)
            })?;
            Ok::<_, nickel_lang_core::error::Error>(value)
        })();
        match result {
            Ok(value) => {
                let json = serde_json::to_value(&value).map_err(|e| {
                    vec![Diagnostic::error(
                        "J0003",
                        format!("cannot export the evaluated config: {e}"),
                    )]
                })?;
                let user_file =
                    SourceFile::new(naming.display(&user_path.to_string_lossy()), user_text);
                let mut source_map = SourceMap::new(Some(user_file.clone()));
                let mapped = if map_field.is_empty() {
                    Some(value.clone())
                } else {
                    field(&value, map_field)
                };
                if let Some(v) = mapped {
                    let mut walker = MapWalker {
                        table: &self.vm.pos_table,
                        user_id,
                        user_file: &user_file,
                        map: &mut source_map,
                    };
                    walker.walk(&v, &mut String::new(), 0);
                }
                let imports = self.imports_of(user_id);
                Ok(Output {
                    value: json,
                    source_map,
                    imports,
                })
            }
            Err(err) => {
                let mut files = self.vm.import_resolver.sources.files().clone();
                let diags = err.into_diagnostics(&mut files);
                Err(convert(naming, &files, diags))
            }
        }
    }

    fn imports_of(&self, file: FileId) -> BTreeSet<PathBuf> {
        let resolver = &self.vm.import_resolver;
        resolver
            .import_data
            .transitive_imports(file)
            .into_iter()
            .map(|id| PathBuf::from(resolver.sources.files().name(id)))
            .filter(|p| !p.starts_with(VIRTUAL_ROOT))
            .collect()
    }
}

fn field(value: &NickelValue, name: &str) -> Option<NickelValue> {
    let record = value.as_record()?.into_opt()?;
    record
        .fields
        .iter()
        .find(|(k, _)| k.label() == name)
        .and_then(|(_, f)| f.value.clone())
}

/// Collects the spans of the values the user wrote in their own file.
struct MapWalker<'a> {
    table: &'a PosTable,
    user_id: FileId,
    user_file: &'a SourceFile,
    map: &'a mut SourceMap,
}

impl MapWalker<'_> {
    fn span_of(&self, pos: TermPos) -> Option<Span> {
        let raw = match pos {
            TermPos::Original(s) | TermPos::Inherited(s) => s,
            TermPos::None => return None,
        };
        (raw.src_id == self.user_id).then(|| Span {
            file: self.user_file.clone(),
            range: raw.start.to_usize()..raw.end.to_usize(),
        })
    }

    fn walk(&mut self, value: &NickelValue, path: &mut String, depth: usize) {
        // Source maps serve diagnostics about the config, never deep data.
        if depth > 8 {
            return;
        }
        if let Some(span) = self.span_of(value.pos(self.table)) {
            self.map.insert(path.clone(), span);
        }
        if let Some(record) = value.as_record().and_then(|c| c.into_opt()) {
            for (name, field) in record.fields.iter() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name.label());
                if let Some(span) = self.span_of(name.pos) {
                    // The field name: where a diagnostic about the field points
                    // when its value came from somewhere else.
                    self.map.insert(format!("{path}#name"), span);
                }
                if let Some(v) = &field.value {
                    self.walk(v, path, depth + 1);
                }
                path.truncate(len);
            }
        } else if let Some(array) = value.as_array().and_then(|c| c.into_opt()) {
            for (i, v) in array.array.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!(".{i}"));
                self.walk(v, path, depth + 1);
                path.truncate(len);
            }
        }
    }
}

/// Nickel's codespan diagnostics → ours. Labels in generated or embedded
/// files are kept only when nothing points at the user's files.
fn convert(
    naming: &Naming<'_>,
    files: &Files,
    diags: Vec<codespan_reporting::diagnostic::Diagnostic<FileId>>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for d in diags {
        // Nickel emits one extra diagnostic per call-stack frame ("note: …");
        // they add noise without the user's own line.
        if d.severity != CsSeverity::Error && d.severity != CsSeverity::Bug && !out.is_empty() {
            continue;
        }
        let code = code_of(&d.message);
        let mut diag = Diagnostic::error(code, tidy_message(&d.message));
        let mut labels: Vec<_> = d
            .labels
            .iter()
            .filter_map(|l| {
                let name = files.name(l.file_id).to_string_lossy().into_owned();
                if name.starts_with('<') {
                    return None;
                }
                let user = !name.starts_with(VIRTUAL_ROOT);
                let text = files.source(l.file_id);
                Some((
                    user,
                    l.style == LabelStyle::Primary,
                    SourceFile::new(naming.display(&name), text),
                    l.range.clone(),
                    l.message.clone(),
                ))
            })
            .collect();
        let any_user = labels.iter().any(|l| l.0);
        if any_user {
            labels.retain(|l| l.0);
        }
        // Primary labels first, so the diagnostic points at the offending value.
        labels.sort_by_key(|l| !l.1);
        for (_, _, file, range, message) in labels {
            let range = range.start.min(file.text.len())..range.end.min(file.text.len());
            diag = diag.with_label(file, range, message);
        }
        for note in d.notes {
            if note.contains("github.com/tweag/nickel") {
                diag =
                    diag.with_note("this is a bug in the Nickel interpreter, not in your config");
                continue;
            }
            diag = diag.with_note(note.trim().to_string());
        }
        if code == "J0002" && diag.help.is_none() {
            diag = diag.with_help("fix the value so that it satisfies the contract named above");
        }
        out.push(diag);
    }
    if out.is_empty() {
        out.push(Diagnostic::error(
            "J0003",
            "the Nickel interpreter failed without saying why",
        ));
    }
    out
}

fn code_of(message: &str) -> &'static str {
    let m = message.to_lowercase();
    if m.contains("parse") || m.contains("unexpected token") || m.contains("unexpected end") {
        "J0001"
    } else if m.contains("import") {
        "J0004"
    } else {
        "J0002"
    }
}

fn tidy_message(message: &str) -> String {
    message.trim().to_string()
}
