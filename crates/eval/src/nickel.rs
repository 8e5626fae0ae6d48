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
use nickel_lang_core::cache::{CacheHub, InputFormat, SourcePath, TermEntry};
use nickel_lang_core::error::{IntoDiagnostics, NullReporter};
use nickel_lang_core::eval::value::NickelValue;
use nickel_lang_core::eval::{VirtualMachine, VmContext};
use nickel_lang_core::files::{FileId, Files};
use nickel_lang_core::position::{PosTable, TermPos};
use nickel_lang_core::serialize::{self, ExportFormat};

use super::budget::{self, BudgetedCache, Exceeded, Limits};
use super::confine::ReadFile;
use super::embedded;
use jardin_core::code::{self, Code};
use jardin_core::diag::Diagnostic;
use jardin_core::source::SourceFile;
use jardin_core::source::{SourceMap, Span};

/// Where embedded files live in Nickel's file table. No real file can be
/// there, so an import resolves to the embedded copy.
pub(crate) const VIRTUAL_ROOT: &str = "/__jardin__";

/// A successful evaluation: the exported value, and the source map of the
/// part of it that comes from the user.
pub(crate) struct Output {
    pub(crate) value: serde_json::Value,
    pub(crate) source_map: SourceMap,
}

/// The deepest an evaluated value may nest: a Kubernetes manifest nests
/// about ten levels. Deeper values are refused before they are exported,
/// which recurses once per level.
pub(crate) const MAX_VALUE_DEPTH: usize = 64;

pub(crate) struct NickelContext {
    vm: VmContext<CacheHub, BudgetedCache>,
    /// How many files this context evaluated: its memory grows with each one,
    /// so callers recycle it now and then.
    pub(crate) uses: usize,
}

/// How to name files in diagnostics: relative to the config root.
pub(crate) struct Naming<'a> {
    pub(crate) root: &'a Path,
}

impl Naming<'_> {
    /// Replaces absolute paths under the root by relative ones in a message.
    pub(crate) fn strip_root(&self, message: &str) -> String {
        let root = format!("{}/", self.root.display());
        message.replace(&root, "")
    }

    pub(crate) fn display(&self, name: &str) -> String {
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
    pub(crate) fn new(extra: &[(&str, &str, InputFormat)]) -> Self {
        let mut cache = CacheHub::new();
        cache
            .sources
            .add_import_paths(std::iter::once(VIRTUAL_ROOT));
        let vm = VmContext::new(cache, std::io::sink(), NullReporter {});
        let mut ctx = NickelContext { vm, uses: 0 };
        for (path, text) in embedded::NICKEL_FILES {
            ctx.add_source(path, text, InputFormat::Nickel);
        }
        for (path, text, format) in extra {
            ctx.add_source(path, text, *format);
        }
        ctx
    }

    /// Adds an in-memory source under the virtual root, importable as
    /// `import "<path>"`.
    pub(crate) fn add_source(&mut self, path: &str, text: &str, format: InputFormat) {
        self.vm.import_resolver.sources.add_string(
            SourcePath::Path(PathBuf::from(format!("{VIRTUAL_ROOT}/{path}")), format),
            text.to_string(),
        );
    }

    /// Registers a file of the config root with the text already read and
    /// checked (`confine`), under the path the interpreter looks it up by,
    /// so that the interpreter never reads a file itself. Returns its id.
    pub(crate) fn add_user_file(&mut self, file: &ReadFile) -> FileId {
        self.vm.import_resolver.sources.add_string(
            SourcePath::Path(file.path.clone(), file.format),
            file.text.clone(),
        )
    }

    /// Evaluates `main_text` (a generated program, named `main_name` under the
    /// virtual root) that imports the user file `reads[0]`, which imports the
    /// others, under `limits`. `map_field` names the field of the result
    /// whose positions form the source map (empty for the whole value).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn eval(
        &mut self,
        naming: &Naming<'_>,
        reads: &[ReadFile],
        main_name: &str,
        main_text: String,
        map_field: &str,
        limits: Limits,
    ) -> Result<Output, Vec<Diagnostic>> {
        self.uses += 1;
        let Some((user, imported)) = reads.split_first() else {
            return Err(vec![Diagnostic::error(
                code::MODEL_MISMATCH,
                "an evaluation was asked for no file",
            )]);
        };
        let (user_path, user_text) = (user.path.as_path(), user.text.as_str());
        let user_id = self.add_user_file(user);
        for file in imported {
            self.add_user_file(file);
        }
        let main_id = self.vm.import_resolver.sources.add_string(
            SourcePath::Path(
                PathBuf::from(format!("{VIRTUAL_ROOT}/{main_name}")),
                InputFormat::Nickel,
            ),
            main_text,
        );
        let run = || {
            let prepared = self.vm.prepare_eval(main_id)?;
            let value = VirtualMachine::new(&mut self.vm).eval_full_for_export(prepared)?;
            if nests_deeper(&value, MAX_VALUE_DEPTH) {
                return Ok((value, Err(None)));
            }
            // Exporting checks every value on its way; only a value that
            // cannot be exported is walked again, for the error's position.
            let json = serde_json::to_value(&value).map_err(Some);
            if json.is_err() {
                serialize::validate(ExportFormat::Json, &value).map_err(|e| {
                    nickel_lang_core::error::Error::export_error(self.vm.pos_table.clone(), e)
                })?;
            }
            Ok::<_, nickel_lang_core::error::Error>((value, json))
        };
        let crashed = |stop: Stop| match stop {
            Stop::Panic(what) => crash_diagnostic(naming, user_path, user_text, &what),
            Stop::Exceeded(over) => exceeded_diagnostic(naming, user_path, user_text, over),
        };
        let what = naming.display(&user_path.to_string_lossy());
        let result = match budget::run(limits, &what, || interpreter(run)) {
            Ok(r) => r,
            // The context may be inconsistent: the caller drops it.
            Err(stop) => return Err(crashed(stop)),
        };
        let outcome = match result {
            Ok((_, Err(None))) => Err(vec![Diagnostic::error(
                code::INPUT_TOO_LARGE,
                format!("the evaluated value nests more than {MAX_VALUE_DEPTH} deep"),
            )
            .with_label(
                SourceFile::new(what.clone(), user_text),
                0..user_text.len().min(1),
                "in the value of this file",
            )
            .with_help("a config nests a few levels: look for a recursive function that builds nested arrays or records")]),
            Ok((_, Err(Some(e)))) => Err(vec![Diagnostic::error(
                code::NOT_EXPORTABLE,
                format!("cannot export the evaluated config: {e}"),
            )]),
            Ok((value, Ok(json))) => {
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
                Ok(Output {
                    value: json,
                    source_map,
                })
            }
            Err(err) => {
                let mut files = self.vm.import_resolver.sources.files().clone();
                match interpreter(|| err.into_diagnostics(&mut files)) {
                    Ok(diags) => Err(convert(naming, &files, diags)),
                    Err(stop) => return Err(crashed(stop)),
                }
            }
        };
        self.release(main_id);
        outcome
    }

    /// Drops the evaluated term of a generated program, which nothing
    /// imports. Its thunk was updated in place with the whole evaluated
    /// value, which the context would otherwise keep until it is recycled:
    /// a tenant's memory is then reused for the next one instead of growing
    /// the heap. The user's file stays: another file may import it.
    fn release(&mut self, main: FileId) {
        let terms = &mut self.vm.import_resolver.terms;
        if let Some(entry) = terms.get_entry(main) {
            let emptied = TermEntry {
                value: NickelValue::null(),
                state: entry.state,
                format: entry.format,
            };
            terms.insert(main, emptied);
        }
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

/// A label of a Nickel diagnostic, with the file it points into.
struct RawLabel {
    user: bool,
    primary: bool,
    file: SourceFile,
    range: std::ops::Range<usize>,
    message: String,
}

/// Nickel's codespan diagnostics → ours. Labels in generated or embedded
/// files are kept only when nothing points at the user's files; what they
/// show (the contract that was expected) becomes the help.
fn convert(
    naming: &Naming<'_>,
    files: &Files,
    diags: Vec<codespan_reporting::diagnostic::Diagnostic<FileId>>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for d in diags {
        // Nickel emits one extra diagnostic per call-stack frame; they add
        // noise without the user's own line.
        if d.severity != CsSeverity::Error && d.severity != CsSeverity::Bug && !out.is_empty() {
            continue;
        }
        let mut labels: Vec<RawLabel> = d
            .labels
            .iter()
            .filter_map(|l| {
                let name = files.name(l.file_id).to_string_lossy().into_owned();
                if name.starts_with('<') {
                    return None;
                }
                let text = files.source(l.file_id);
                let range = l.range.start.min(text.len())..l.range.end.min(text.len());
                Some(RawLabel {
                    user: !name.starts_with(VIRTUAL_ROOT),
                    primary: l.style == LabelStyle::Primary,
                    file: SourceFile::new(naming.display(&name), text),
                    range,
                    message: l.message.clone(),
                })
            })
            .collect();
        let mut code = code_of(&d.message);
        // What the contract expected, read from the stdlib's annotation.
        let expected = labels
            .iter()
            .find(|l| !l.user && l.message.contains("expected"))
            .map(|l| l.file.text[l.range.clone()].trim().to_string())
            .filter(|t| !t.is_empty() && t.len() < 80 && !t.contains('\n'))
            // `c.Hostname` → `Hostname`: the contract's name, not our import alias.
            .map(|t| t.rsplit('.').next().unwrap_or(&t).to_string());
        // Contracts with a rule of their own get that rule's code.
        code = match expected.as_deref() {
            Some("Hostname") if code == code::CONTRACT_VIOLATION => code::INVALID_HOSTNAME,
            Some("DnsLabel") if code == code::CONTRACT_VIOLATION => code::INVALID_IDENTIFIER,
            Some("SecretSource") if code == code::CONTRACT_VIOLATION => code::LITERAL_SECRET,
            _ => code,
        };
        if labels.iter().any(|l| l.user) {
            labels.retain(|l| l.user);
        }
        labels.sort_by_key(|l| !l.primary);
        let mut lines = d.message.lines().map(str::trim).filter(|l| !l.is_empty());
        let headline = naming.strip_root(lines.next().unwrap_or("evaluation failed"));
        let detail: Vec<&str> = lines.collect();
        let path = labels
            .first()
            .filter(|l| l.user)
            .and_then(|l| field_path_at(&l.file.text, l.range.start));
        let what = match (&expected, detail.is_empty()) {
            (_, false) => detail.join(" "),
            (Some(e), true) if headline.starts_with("contract broken") => {
                format!("expected a value satisfying `{e}`")
            }
            _ => headline.clone(),
        };
        let message = match &path {
            Some(p)
                if code != code::SYNTAX_ERROR && code != code::IMPORT_FAILED && !p.is_empty() =>
            {
                format!("`{p}`: {what}")
            }
            _ if code != code::SYNTAX_ERROR && code != code::IMPORT_FAILED => what.clone(),
            _ => headline.clone(),
        };
        let mut diag = Diagnostic::error(code, message);
        let missing_field = what
            .strip_prefix("missing definition for `")
            .and_then(|r| r.strip_suffix('`'))
            .map(str::to_string);
        let extra_field = what
            .strip_prefix("extra field `")
            .and_then(|r| r.strip_suffix('`'))
            .map(str::to_string);
        for l in labels {
            let mut range = l.range.clone();
            let mut message = match l.message.as_str() {
                "applied to this expression" => "this value".to_string(),
                m => m.to_string(),
            };
            // Point at the misspelt field itself rather than at its record.
            if let Some(field) = &extra_field {
                if let Some(at) = find_field(&l.file.text[range.clone()], field) {
                    range = range.start + at..range.start + at + field.len();
                    message = "not a field of this record".to_string();
                }
            }
            diag = diag.with_label(l.file, range, message);
        }
        for note in &d.notes {
            let note = note.trim();
            if note.contains("github.com/tweag/nickel") {
                diag =
                    diag.with_note("this is a bug in the Nickel interpreter, not in your config");
            } else if note.starts_with("Have you misspelled")
                || note.starts_with("The record contract might")
                || note.starts_with("Append `, ..`")
            {
                // Advice about writing contracts: ours are closed on purpose.
            } else if !note.is_empty() {
                diag = diag.with_note(note.to_string());
            }
        }
        let help = match (&extra_field, &expected) {
            (Some(f), _) => Some(
                match jardin_core::diag::did_you_mean(
                    f,
                    field_vocabulary().iter().map(String::as_str),
                ) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "remove `{f}`: jardin's records accept only the fields they document"
                    ),
                },
            ),
            (None, _) if missing_field.is_some() => Some(format!(
                "add `{} = ...` to this record: the field is required",
                missing_field.as_deref().unwrap_or_default()
            )),
            (None, Some(e)) => Some(format!("expected a value satisfying `{e}`")),
            (None, None) if code == code::SYNTAX_ERROR => {
                Some("check the brackets, commas and quotes around this point".to_string())
            }
            _ => None,
        };
        if let Some(h) = help {
            diag = diag.with_help(h);
        }
        out.push(diag);
    }
    if out.is_empty() {
        out.push(Diagnostic::error(
            code::NOT_EXPORTABLE,
            "the Nickel interpreter failed without saying why",
        ));
    }
    out
}

/// The position of `field` written as a field name in `text`.
fn find_field(text: &str, field: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(field) {
        let at = from + i;
        let before_ok = at == 0
            || !(bytes[at - 1].is_ascii_alphanumeric()
                || bytes[at - 1] == b'_'
                || bytes[at - 1] == b'-');
        let rest = text[at + field.len()..].trim_start();
        if before_ok && (rest.starts_with('=') || rest.starts_with('|') || rest.starts_with('.')) {
            return Some(at);
        }
        from = at + field.len();
    }
    None
}

/// Every field name the stdlib declares: the candidates of `did you mean`
/// for a misspelt field.
fn field_vocabulary() -> &'static Vec<String> {
    static VOCABULARY: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    VOCABULARY.get_or_init(|| {
        let mut words = BTreeSet::new();
        for (path, text) in embedded::NICKEL_FILES {
            if !path.ends_with("model.ncl") {
                continue;
            }
            for line in text.lines() {
                let t = line.trim_start();
                let name: String = t
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let rest = t[name.len()..].trim_start();
                if !name.is_empty() && (rest.starts_with('|') || rest.starts_with("= {")) {
                    words.insert(name);
                }
            }
        }
        words.into_iter().collect()
    })
}

/// The dotted path of the innermost field of `text` whose definition
/// contains `offset` (`apps.cloud.host`), for literal records.
fn field_path_at(text: &str, offset: usize) -> Option<String> {
    use nickel_lang_core::ast::{record::FieldPathElem, Ast, AstAlloc, Node};
    use nickel_lang_core::parser::{grammar::TermParser, lexer::Lexer, ErrorTolerantParser};

    fn contains(pos: TermPos, offset: usize) -> bool {
        match pos {
            TermPos::Original(s) | TermPos::Inherited(s) => {
                s.start.to_usize() <= offset && offset < s.end.to_usize()
            }
            TermPos::None => false,
        }
    }
    fn walk(ast: &Ast<'_>, offset: usize, path: &mut Vec<String>) {
        match &ast.node {
            Node::Record(record) => {
                for def in record.field_defs.iter() {
                    if contains(def.pos, offset) {
                        for elem in def.path.iter() {
                            match elem {
                                FieldPathElem::Ident(id) => path.push(id.label().to_string()),
                                FieldPathElem::Expr(_) => return,
                            }
                        }
                        if let Some(v) = &def.value {
                            walk(v, offset, path);
                        }
                        return;
                    }
                }
            }
            Node::Annotated { inner, .. } => walk(inner, offset, path),
            Node::Let { body, .. } => walk(body, offset, path),
            _ => {}
        }
    }
    let alloc = AstAlloc::new();
    let mut files = Files::empty();
    let id = files.add("source", text);
    let ast = TermParser::new()
        .parse_strict(&alloc, id, Lexer::new(text))
        .ok()?;
    let mut path = Vec::new();
    walk(&ast, offset, &mut path);
    Some(path.join("."))
}

thread_local! {
    /// Set while this thread runs the interpreter, so the panic hook stays quiet.
    static IN_NICKEL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True while this thread runs interpreter code.
pub(crate) fn in_interpreter() -> bool {
    IN_NICKEL.with(|f| f.get())
}

/// Why interpreter code stopped before returning.
#[derive(Debug, PartialEq)]
pub(crate) enum Stop {
    /// It panicked, with this message.
    Panic(String),
    /// It went over a budget.
    Exceeded(Exceeded),
}

/// Runs interpreter code and catches its panics (the interpreter has known
/// ones, and the budget checks unwind through it). Only the interpreter's
/// own calls go through here: a panic in jardin's code around them is a
/// jardin bug and must not pass for the interpreter's.
pub(crate) fn interpreter<T>(f: impl FnOnce() -> T) -> Result<T, Stop> {
    IN_NICKEL.with(|flag| flag.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_NICKEL.with(|flag| flag.set(false));
    result.map_err(|panic| {
        if let Some(over) = panic.downcast_ref::<Exceeded>() {
            return Stop::Exceeded(*over);
        }
        Stop::Panic(
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default(),
        )
    })
}

/// True when `value` nests deeper than `limit` (records and arrays). The
/// walk keeps its own stack, so it never recurses.
fn nests_deeper(value: &NickelValue, limit: usize) -> bool {
    let mut stack = vec![(value.clone(), 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        if let Some(record) = v.as_record().and_then(|c| c.into_opt()) {
            for field in record.fields.values() {
                if let Some(inner) = &field.value {
                    stack.push((inner.clone(), depth + 1));
                }
            }
        } else if let Some(array) = v.as_array().and_then(|c| c.into_opt()) {
            for inner in array.array.iter() {
                stack.push((inner.clone(), depth + 1));
            }
        }
    }
    false
}

/// J0010 or J0011: evaluating the user's file went over a budget.
fn exceeded_diagnostic(
    naming: &Naming<'_>,
    user_path: &Path,
    user_text: &str,
    over: Exceeded,
) -> Vec<Diagnostic> {
    let file = SourceFile::new(naming.display(&user_path.to_string_lossy()), user_text);
    let at = 0..file.text.len().min(1);
    let diagnostic = match over {
        Exceeded::Time(limit) => Diagnostic::error(
            code::EVALUATION_TIMEOUT,
            format!("evaluating this file took more than {} s", limit.as_secs_f64()),
        )
        .with_label(file, at, "while evaluating this file")
        .with_help("look for a recursion that never ends or grows exponentially; `--max-eval-seconds` raises the limit"),
        Exceeded::Memory(limit) => Diagnostic::error(
            code::EVALUATION_MEMORY,
            format!("evaluating this file allocated more than {} MiB", limit >> 20),
        )
        .with_label(file, at, "while evaluating this file")
        .with_help("look for a recursion without end or a huge generated array; `--max-eval-memory` raises the limit"),
    };
    vec![diagnostic]
}

/// J0006: the interpreter panicked (`what`, its message) while evaluating
/// the user's file, shown at the start of that file.
fn crash_diagnostic(
    naming: &Naming<'_>,
    user_path: &Path,
    user_text: &str,
    what: &str,
) -> Vec<Diagnostic> {
    let file = SourceFile::new(naming.display(&user_path.to_string_lossy()), user_text);
    vec![Diagnostic::error(code::INTERPRETER_CRASH, "the Nickel interpreter crashed while evaluating this file")
        .with_label(file.clone(), 0..file.text.len().min(1), "while evaluating this file")
        .with_note(format!("interpreter message: {what}"))
        .with_help("this is a bug in the interpreter; simplify the file around recent changes to work around it")]
}

fn code_of(message: &str) -> Code {
    let m = message.to_lowercase();
    if m.contains("parse") || m.contains("unexpected token") || m.contains("unexpected end") {
        code::SYNTAX_ERROR
    } else if m.contains("import") {
        code::IMPORT_FAILED
    } else {
        code::CONTRACT_VIOLATION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(path: &Path, text: &str) -> Vec<ReadFile> {
        vec![ReadFile {
            path: path.to_path_buf(),
            format: InputFormat::Nickel,
            text: text.to_string(),
        }]
    }

    /// The prelude's untyped helpers give what the typed `std` functions
    /// they replace give, edge cases included: the catalog's output must not
    /// depend on which one a render function calls.
    #[test]
    fn prelude_helpers_agree_with_std() {
        let tmp = tempfile::tempdir().unwrap();
        let user_path = tmp.path().join("user.ncl");
        let naming = Naming { root: tmp.path() };
        let program = r#"
let fast = import "jardin/prelude.ncl" in
let pairs = fun f g cases => std.array.map (fun c => { fast = f c, std = g c }) cases in
{
  join = pairs (fast.join ", ") (std.string.join ", ") [[], ["a"], ["a", "b", "c"]],
  split = pairs (fast.split "@") (std.string.split "@") ["a@b", "ab", "@", ""],
  first = pairs fast.first std.array.first [["a"], ["a", "b"]],
  last = pairs fast.last std.array.last [["a"], ["a", "b"]],
  to_string = pairs fast.to_string std.to_string [5432, 1.5, true, "x"],
  replace = pairs (fast.replace "-" "_") (std.string.replace "-" "_") ["a-b-c", "abc", ""],
  fields = pairs fast.fields std.record.fields [{}, { b = 1, a = 2 }],
  map_record = pairs (fast.map_record (fun k v => "%{k}=%{v}")) (std.record.map (fun k v => "%{k}=%{v}")) [{}, { a = "1", b = "2" }],
  set = pairs (fast.set "ha" false) (std.record.update "ha" false) [{}, { ha = true, x = 1 }],
  elem = pairs (fun c => fast.elem c.x c.array) (fun c => std.array.elem c.x c.array) [{ x = "a", array = [] }, { x = "a", array = ["b", "a"] }, { x = "c", array = ["a", "b"] }, { x = 1, array = [1] }],
  from_array = pairs fast.from_array std.record.from_array [[], [{ field = "a", value = 1 }, { field = "b", value = { c = 2 } }]],
  max = pairs (fun c => fast.max c.a c.b) (fun c => std.number.max c.a c.b) [{ a = 1, b = 2 }, { a = 2, b = 1 }, { a = 3, b = 3 }],
}
"#;
        let mut ctx = NickelContext::new(&[]);
        let out = ctx
            .eval(
                &naming,
                &user(&user_path, "{}"),
                "main.ncl",
                program.to_string(),
                "",
                Limits::default(),
            )
            .unwrap_or_else(|d| panic!("{d:?}"));
        let cases = out.value.as_object().unwrap();
        assert_eq!(cases.len(), 12);
        for (name, pairs) in cases {
            for pair in pairs.as_array().unwrap() {
                assert_eq!(pair["fast"], pair["std"], "{name}");
            }
        }
    }

    /// A panic inside the interpreter (no input is known to cause one) is
    /// caught with its message, whether a `&str` or a `String`, and becomes
    /// J0006 at the start of the user's file; the thread then no longer
    /// counts as inside the interpreter, so the panic hook lets a later
    /// panic of jardin's own code through.
    #[test]
    fn an_interpreter_panic_becomes_j0006_on_the_users_file() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("tenants/asso.ncl");
        let naming = Naming { root: tmp.path() };
        let Err(Stop::Panic(what)) =
            interpreter::<()>(|| panic!("index out of bounds: the len is 0"))
        else {
            panic!("the panic is caught with its message")
        };
        assert!(!in_interpreter());
        assert_eq!(what, "index out of bounds: the len is 0");
        let owned = interpreter::<()>(|| std::panic::panic_any(format!("thunk {} blackholed", 7)));
        assert_eq!(owned, Err(Stop::Panic("thunk 7 blackholed".to_string())));
        assert_eq!(interpreter(|| 42), Ok(42));

        let d = crash_diagnostic(&naming, &user, "{ id = \"asso\" }", &what);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, code::INTERPRETER_CRASH);
        assert_eq!(
            d[0].location().as_deref(),
            Some("tenants/asso.ncl:1:1"),
            "{d:?}"
        );
        assert!(
            d[0].notes
                .iter()
                .any(|n| n.contains("index out of bounds: the len is 0")),
            "{d:?}"
        );
        assert!(d[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("simplify the file")));
        // An empty file is still pointed at.
        let empty = crash_diagnostic(&naming, &user, "", &what);
        assert_eq!(empty[0].labels[0].span, 0..0);
    }

    /// A context lets go of each evaluation's result, but a user's file it
    /// evaluated stays importable by the next one (a tenant built on
    /// another's file).
    #[test]
    fn a_file_evaluated_earlier_can_still_be_imported() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.ncl");
        let b = tmp.path().join("b.ncl");
        let (a_text, b_text) = ("{ x = 1 }", "(import \"a.ncl\") & { y = 2 }");
        std::fs::write(&a, a_text).unwrap();
        std::fs::write(&b, b_text).unwrap();
        let naming = Naming { root: tmp.path() };
        let mut ctx = NickelContext::new(&[]);
        let main = |p: &Path| format!("import {}", super::super::nickel_string(p));
        let first = ctx.eval(
            &naming,
            &user(&a, a_text),
            "main.ncl",
            main(&a),
            "",
            Limits::default(),
        );
        assert_eq!(
            first.ok().map(|o| o.value),
            Some(serde_json::json!({ "x": 1 }))
        );
        // `b` reads `a`, which the first evaluation registered.
        let second = ctx.eval(
            &naming,
            &user(&b, b_text),
            "main.ncl",
            main(&b),
            "",
            Limits::default(),
        );
        assert_eq!(
            second.ok().map(|o| o.value),
            Some(serde_json::json!({ "x": 1, "y": 2 }))
        );
    }
}
