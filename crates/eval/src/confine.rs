//! What a config may read: files under its root and jardin's embedded
//! library, nothing else, each within size and nesting limits.
//!
//! Before a file is evaluated, [`Root::closure`] finds every file it
//! imports, transitively, by lexing each one for `import "…"`. Each import
//! is resolved the way the interpreter resolves it (next to the importing
//! file, then in the embedded library), checked, read, and handed to the
//! interpreter's cache under the exact path the interpreter looks up, so
//! the interpreter never opens a file itself. A config merge request can
//! then neither read a file outside the root (`/proc/self/environ`, a
//! symlink to the runner's secrets) into an output, a review comment or a
//! diagnostic, nor change what a tenant reads without the cache key, the
//! build stamp and the review seeing it (docs/SECURITY.md).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use nickel_lang_core::cache::{normalize_abs_path, InputFormat};
use nickel_lang_core::parser::lexer::{Lexer, NormalToken, StringToken, Token};

use super::nickel::VIRTUAL_ROOT;
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::source::SourceFile;

/// The largest file jardin reads from a config root.
pub(crate) const MAX_FILE_BYTES: u64 = 1 << 20;
/// The deepest bracket nesting (`{`, `[`, `(`, `%{`) of a config file.
pub(crate) const MAX_NESTING: usize = 64;
/// The deepest expression nesting of a config file: a chain of operators
/// or applications nests one level per link without any bracket, and the
/// interpreter's passes over a syntax tree recurse once per level.
pub(crate) const MAX_DEPTH: usize = 512;
/// A file with fewer tokens cannot nest deeper than [`MAX_DEPTH`], and is
/// not parsed here (a tenant file has a few hundred).
const PARSE_ABOVE_TOKENS: usize = MAX_DEPTH;
/// The most files one evaluation may read (its own included).
const MAX_FILES: usize = 1000;

/// A file an evaluation reads, as the interpreter will see it.
#[derive(Debug)]
pub(crate) struct ReadFile {
    /// Absolute and normalized, as the interpreter names it.
    pub(crate) path: PathBuf,
    pub(crate) format: InputFormat,
    pub(crate) text: String,
}

/// A config root: where reads are allowed.
pub(crate) struct Root {
    /// As given (absolute): the interpreter names files under it.
    lexical: PathBuf,
    /// With every symbolic link resolved: where files must really be.
    canonical: PathBuf,
    /// The embedded library's paths, relative to [`VIRTUAL_ROOT`].
    library: BTreeSet<String>,
}

impl Root {
    pub(crate) fn new(root: &Path, library: BTreeSet<String>) -> Self {
        let lexical = normalize_abs_path(root);
        Root {
            canonical: std::fs::canonicalize(&lexical).unwrap_or_else(|_| lexical.clone()),
            lexical,
            library,
        }
    }

    fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.lexical)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string_lossy().into_owned())
    }

    /// Reads a file the config root itself names (a tenant, `jardin.ncl`, a
    /// catalog entry): it must be a regular file under the root once
    /// symbolic links are resolved, and not too large.
    pub(crate) fn read(&self, path: &Path) -> Result<String, Diagnostic> {
        let path = normalize_abs_path(path);
        let name = self.display(&path);
        if !path.starts_with(&self.lexical) {
            return Err(outside(&name, "it is not under the config root"));
        }
        let real = std::fs::canonicalize(&path).map_err(|e| {
            Diagnostic::error(code::CANNOT_READ, format!("cannot read {name}: {e}"))
        })?;
        if !real.starts_with(&self.canonical) {
            return Err(outside(
                &name,
                "it is a symbolic link to a file outside the config root",
            ));
        }
        // git's own files are not config, and may hold a CI job's token
        // (a runner's `.git/config`).
        let in_git = |p: &Path, under: &Path| {
            p.strip_prefix(under)
                .is_ok_and(|rel| rel.components().any(|c| c.as_os_str() == ".git"))
        };
        if in_git(&path, &self.lexical) || in_git(&real, &self.canonical) {
            return Err(outside(&name, "it is one of git's own files"));
        }
        let meta = std::fs::metadata(&real).map_err(|e| {
            Diagnostic::error(code::CANNOT_READ, format!("cannot read {name}: {e}"))
        })?;
        if !meta.is_file() {
            return Err(Diagnostic::error(
                code::CANNOT_READ,
                format!("cannot read {name}: not a regular file"),
            ));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(Diagnostic::error(
                code::INPUT_TOO_LARGE,
                format!(
                    "{name} is {} bytes, more than the {} a config file may have",
                    meta.len(),
                    MAX_FILE_BYTES
                ),
            )
            .with_help("split it into several files"));
        }
        std::fs::read_to_string(&real)
            .map_err(|e| Diagnostic::error(code::CANNOT_READ, format!("cannot read {name}: {e}")))
    }

    /// Every file that evaluating `path` (whose text is `text`) reads,
    /// `path` first, each checked and read. Files of the embedded library
    /// are not listed: they are part of jardin.
    pub(crate) fn closure(&self, path: &Path, text: String) -> Result<Vec<ReadFile>, Diagnostic> {
        let path = normalize_abs_path(path);
        let mut files = vec![ReadFile {
            path,
            format: InputFormat::Nickel,
            text,
        }];
        let mut seen: BTreeSet<(PathBuf, String)> = BTreeSet::new();
        let mut next = 0;
        while next < files.len() {
            if files[next].format != InputFormat::Nickel {
                next += 1;
                continue;
            }
            let imports = scan(&SourceFile::new(
                self.display(&files[next].path),
                files[next].text.clone(),
            ))?;
            let importer = files[next].path.clone();
            for import in imports {
                let Some(found) = self.resolve(&importer, &import)? else {
                    continue;
                };
                if seen.insert((found.clone(), format!("{:?}", import.format))) {
                    if files.len() >= MAX_FILES {
                        return Err(import.error(
                            code::INPUT_TOO_LARGE,
                            format!("this evaluation reads more than {MAX_FILES} files"),
                            "import fewer files",
                        ));
                    }
                    let text = self.read(&found).map_err(|d| {
                        import.error(d.code, d.message.clone(), "fix the imported file")
                    })?;
                    files.push(ReadFile {
                        path: found,
                        format: import.format,
                        text,
                    });
                }
            }
            next += 1;
        }
        Ok(files)
    }

    /// Where an import resolves, as the interpreter would resolve it:
    /// `Some(path)` for a file of the root, `None` for the embedded library.
    fn resolve(&self, importer: &Path, import: &Import) -> Result<Option<PathBuf>, Diagnostic> {
        let wanted = Path::new(&import.path);
        let hint = "import a file of the config root by a path relative to the importing file, or jardin's library as \"jardin/...\"";
        if wanted.is_absolute() {
            return Err(import.error(
                code::IMPORT_OUTSIDE_ROOT,
                format!("`{}` is an absolute path", import.path),
                hint,
            ));
        }
        if import
            .path
            .contains(nickel_lang_core::cache::IN_MEMORY_SOURCE_PATH_PREFIX)
        {
            return Err(import.error(
                code::IMPORT_OUTSIDE_ROOT,
                format!("`{}` names one of jardin's internal sources", import.path),
                hint,
            ));
        }
        let beside = normalize_abs_path(&importer.parent().unwrap_or(Path::new("/")).join(wanted));
        if !beside.starts_with(&self.lexical) {
            return Err(import.error(
                code::IMPORT_OUTSIDE_ROOT,
                format!("`{}` leaves the config root", import.path),
                "import files under the config root only; to share files between config roots of one repository, the operator can pass `--import-root DIR` (docs/SECURITY.md)",
            ));
        }
        if std::fs::symlink_metadata(&beside).is_ok() {
            let real = std::fs::canonicalize(&beside).ok();
            if !real.is_some_and(|r| r.starts_with(&self.canonical)) {
                return Err(import.error(
                    code::IMPORT_OUTSIDE_ROOT,
                    format!(
                        "`{}` is a symbolic link to a file outside the config root",
                        import.path
                    ),
                    "replace the link by the file itself, inside the config root",
                ));
            }
            return Ok(Some(beside));
        }
        let virtual_root = Path::new(VIRTUAL_ROOT);
        let library = normalize_abs_path(&virtual_root.join(wanted));
        let in_library = library
            .strip_prefix(virtual_root)
            .ok()
            .filter(|rel| !rel.components().any(|c| c == Component::ParentDir))
            .is_some_and(|rel| self.library.contains(rel.to_string_lossy().as_ref()));
        if in_library {
            return Ok(None);
        }
        Err(import.error(
            code::IMPORT_FAILED,
            format!("cannot find `{}`", import.path),
            "imports resolve relative to the importing file, then in jardin's library (\"jardin/std.ncl\", \"jardin/catalog/<app>.ncl\")",
        ))
    }
}

fn outside(name: &str, why: &str) -> Diagnostic {
    Diagnostic::error(
        code::IMPORT_OUTSIDE_ROOT,
        format!("refusing to read {name}: {why}"),
    )
    .with_help("a config root may only hold files, and links to files, inside it")
}

/// An `import` written in a file.
struct Import {
    path: String,
    format: InputFormat,
    file: SourceFile,
    span: std::ops::Range<usize>,
}

impl Import {
    fn error(&self, code: jardin_core::code::Code, message: String, help: &str) -> Diagnostic {
        Diagnostic::error(code, message)
            .with_label(self.file.clone(), self.span.clone(), "this import")
            .with_help(help.to_string())
    }
}

/// The imports of a Nickel file, from its tokens; and the nesting limit.
/// A file that does not lex has no imports the interpreter would follow:
/// it refuses the file before resolving any.
fn scan(file: &SourceFile) -> Result<Vec<Import>, Diagnostic> {
    let mut imports = Vec::new();
    let mut depth = 0usize;
    let mut count = 0usize;
    let text = without_lone_cr(&file.text);
    let mut tokens = Lexer::new(&text).peekable();
    while let Some(Ok((start, token, end))) = tokens.next() {
        count += 1;
        match token {
            Token::Normal(NormalToken::LBrace | NormalToken::LBracket | NormalToken::LParen)
            | Token::Str(StringToken::Interpolation) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::error(
                        code::INPUT_TOO_LARGE,
                        format!("brackets nest more than {MAX_NESTING} deep here"),
                    )
                    .with_label(file.clone(), start..end, "too deep")
                    .with_help("flatten the structure: name inner parts with `let`"));
                }
            }
            Token::MultiStr(nickel_lang_core::parser::lexer::MultiStringToken::Interpolation) => {
                depth += 1;
            }
            Token::Normal(NormalToken::RBrace | NormalToken::RBracket | NormalToken::RParen) => {
                depth = depth.saturating_sub(1);
            }
            Token::Normal(NormalToken::Import) => {
                let mut path = String::new();
                let mut last = end;
                let opened = matches!(
                    tokens.peek(),
                    Some(Ok((_, Token::Normal(NormalToken::DoubleQuote), _)))
                );
                if !opened {
                    // `import name`: a package, which jardin does not have.
                    return Err(Diagnostic::error(
                        code::IMPORT_OUTSIDE_ROOT,
                        "package imports are not supported",
                    )
                    .with_label(file.clone(), start..end, "this import")
                    .with_help("import a file by its path in quotes"));
                }
                tokens.next();
                for next in tokens.by_ref() {
                    let Ok((_, token, e)) = next else { break };
                    last = e;
                    match token {
                        Token::Str(StringToken::Literal(s)) => path.push_str(&s),
                        Token::Str(StringToken::EscapedChar(c)) => path.push(unescape(c)),
                        Token::Str(StringToken::EscapedAscii(hex)) => {
                            if let Some(c) = u8::from_str_radix(hex, 16).ok().map(char::from) {
                                path.push(c)
                            }
                        }
                        Token::Str(StringToken::EscapedUnicode(hex)) => {
                            if let Some(c) =
                                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                            {
                                path.push(c)
                            }
                        }
                        _ => break,
                    }
                }
                let mut format = InputFormat::from_path(&path).unwrap_or_default();
                if matches!(
                    tokens.peek(),
                    Some(Ok((_, Token::Normal(NormalToken::As), _)))
                ) {
                    tokens.next();
                    if let Some(Ok((_, Token::Normal(NormalToken::RawEnumTag(tag)), e))) =
                        tokens.peek().cloned()
                    {
                        if let Ok(f) = tag.parse::<InputFormat>() {
                            format = f;
                        }
                        last = e;
                        tokens.next();
                    }
                }
                imports.push(Import {
                    path,
                    format,
                    file: file.clone(),
                    span: start..last,
                });
            }
            _ => {}
        }
    }
    if count > PARSE_ABOVE_TOKENS {
        expression_depth(file, &text)?;
    }
    Ok(imports)
}

/// `text` with each carriage return that does not end a line replaced by a
/// space (same length, so spans stay right). The lexer asserts it never
/// sees one in debug builds; the interpreter reports it as a syntax error.
fn without_lone_cr(text: &str) -> std::borrow::Cow<'_, str> {
    let lone = |(i, b): (usize, &u8)| *b == b'\r' && text.as_bytes().get(i + 1) != Some(&b'\n');
    if !text.as_bytes().iter().enumerate().any(lone) {
        return std::borrow::Cow::Borrowed(text);
    }
    let bytes: Vec<u8> = text
        .as_bytes()
        .iter()
        .enumerate()
        .map(|(i, b)| if lone((i, b)) { b' ' } else { *b })
        .collect();
    // Only an ASCII byte was replaced by another: still UTF-8.
    std::borrow::Cow::Owned(String::from_utf8(bytes).unwrap_or_default())
}

/// Refuses a file whose syntax tree nests deeper than [`MAX_DEPTH`]. The
/// parser keeps its own stack on the heap; the walk stops at the limit,
/// so it never recurses deeper itself. A file that does not parse is left
/// to the interpreter, which reports the syntax error.
fn expression_depth(file: &SourceFile, text: &str) -> Result<(), Diagnostic> {
    use nickel_lang_core::ast::{Ast, AstAlloc};
    use nickel_lang_core::files::Files;
    use nickel_lang_core::parser::{grammar::TermParser, ErrorTolerantParser};
    use nickel_lang_core::position::TermPos;
    use nickel_lang_core::traverse::{TraverseAlloc, TraverseControl};

    let alloc = AstAlloc::new();
    let mut files = Files::empty();
    let id = files.add("source", text);
    let Ok(ast) = TermParser::new().parse_strict(&alloc, id, Lexer::new(text)) else {
        return Ok(());
    };
    let too_deep = <Ast<'_> as TraverseAlloc<'_, Ast<'_>>>::traverse_ref(
        &ast,
        &mut |node: &Ast<'_>, depth: &usize| {
            if *depth > MAX_DEPTH {
                let at = match node.pos {
                    TermPos::Original(s) | TermPos::Inherited(s) => {
                        s.start.to_usize()..s.end.to_usize().min(s.start.to_usize() + 1)
                    }
                    TermPos::None => 0..0,
                };
                TraverseControl::Return(at)
            } else {
                TraverseControl::ContinueWithScope(depth + 1)
            }
        },
        &0usize,
    );
    match too_deep {
        Some(at) => Err(Diagnostic::error(
            code::INPUT_TOO_LARGE,
            format!("expressions nest more than {MAX_DEPTH} deep here"),
        )
        .with_label(file.clone(), at, "too deep")
        .with_help("split the expression: name its parts with `let`")),
        None => Ok(()),
    }
}

/// The character an escape sequence `\c` stands for in a Nickel string.
fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = tmp.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let library = ["jardin/std.ncl".to_string()].into_iter().collect();
        let root = Root::new(tmp.path(), library);
        (tmp, root)
    }

    fn closure_of(root: &Root, tmp: &Path, path: &str) -> Result<Vec<String>, Diagnostic> {
        let p = tmp.join(path);
        let text = root.read(&p)?;
        Ok(root
            .closure(&p, text)?
            .iter()
            .map(|f| root.display(&f.path))
            .collect())
    }

    #[test]
    fn imports_resolve_inside_the_root_transitively() {
        let (tmp, root) = root_with(&[
            (
                "tenants/a.ncl",
                r#"{ x = import "../lib/x.ncl", s = import "../lib/s.txt", j = import "jardin/std.ncl" }"#,
            ),
            (
                "lib/x.ncl",
                r#"import "y.ncl" & { t = import "notes" as 'Text }"#,
            ),
            ("lib/y.ncl", r#"{ cycle = import "x.ncl" }"#),
            ("lib/notes", "hello"),
            ("lib/s.txt", "import \"/etc/passwd\" is only text here"),
        ]);
        let files = closure_of(&root, tmp.path(), "tenants/a.ncl").unwrap();
        assert_eq!(
            files,
            [
                "tenants/a.ncl",
                "lib/x.ncl",
                "lib/s.txt",
                "lib/y.ncl",
                "lib/notes"
            ]
        );
    }

    #[test]
    fn every_way_out_of_the_root_is_refused_at_the_import() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.ncl"), "\"TOKEN\"").unwrap();
        for (import, code, says) in [
            (
                r#"import "/proc/self/environ" as 'Text"#,
                "J0009",
                "absolute",
            ),
            (
                r#"import "../../../../etc/passwd" as 'Text"#,
                "J0009",
                "leaves",
            ),
            (
                r#"import "jardin/../../../etc/hostname" as 'Text"#,
                "J0009",
                "leaves",
            ),
            (r#"import "link.ncl""#, "J0009", "symbolic link"),
            (
                r#"import "%inmem_src%:/__jardin__/jardin/std.ncl""#,
                "J0009",
                "internal",
            ),
            (r#"import somepackage"#, "J0009", "package"),
            (r#"import "\x2fetc/passwd" as 'Text"#, "J0009", "absolute"),
            (r#"import "missing.ncl""#, "J0004", "cannot find"),
        ] {
            let text = format!("{{\n  x = {import},\n}}\n");
            let (tmp, root) = root_with(&[("tenants/a.ncl", &text)]);
            std::os::unix::fs::symlink(
                outside.path().join("secret.ncl"),
                tmp.path().join("tenants/link.ncl"),
            )
            .unwrap();
            let d = closure_of(&root, tmp.path(), "tenants/a.ncl").expect_err(import);
            assert_eq!(d.code.id(), code, "{import}: {d:?}");
            assert!(d.message.contains(says), "{import}: {}", d.message);
            assert_eq!(
                d.location().as_deref(),
                Some("tenants/a.ncl:2:7"),
                "{import}"
            );
            assert!(!format!("{d:?}").contains("TOKEN"));
        }
    }

    /// A lone carriage return (the lexer asserts there is none in debug
    /// builds) neither panics nor hides an import.
    #[test]
    fn a_lone_carriage_return_is_left_to_the_interpreter() {
        let text = "{ a = \"x\\ry\", b = import \"/etc/passwd\" as 'Text }".replace("\\r", "\r");
        let (tmp, root) = root_with(&[("a.ncl", &text)]);
        let d = closure_of(&root, tmp.path(), "a.ncl").unwrap_err();
        assert_eq!(d.code, code::IMPORT_OUTSIDE_ROOT);
        assert_eq!(without_lone_cr("a\r\nb\rc"), "a\r\nb c");
    }

    #[test]
    fn gits_own_files_are_never_read() {
        let (tmp, root) = root_with(&[
            (
                ".git/config",
                "url = https://gitlab-ci-token:TOKEN@example.org/x.git",
            ),
            (
                "tenants/a.ncl",
                "{ x = import \"../.git/config\" as 'Text }",
            ),
        ]);
        let d = closure_of(&root, tmp.path(), "tenants/a.ncl").unwrap_err();
        assert_eq!(d.code, code::IMPORT_OUTSIDE_ROOT);
        assert!(d.message.contains("git's own files"), "{}", d.message);
        assert!(!format!("{d:?}").contains("TOKEN"));
    }

    #[test]
    fn a_top_level_file_linked_outside_is_refused_and_not_read() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.ncl"), "\"TOKEN\"").unwrap();
        let (tmp, root) = root_with(&[]);
        std::fs::create_dir_all(tmp.path().join("tenants")).unwrap();
        let link = tmp.path().join("tenants/a.ncl");
        std::os::unix::fs::symlink(outside.path().join("x.ncl"), &link).unwrap();
        let d = root.read(&link).unwrap_err();
        assert_eq!(d.code, code::IMPORT_OUTSIDE_ROOT);
        assert!(!format!("{d:?}").contains("TOKEN"));
        // A link inside the root is fine.
        std::fs::write(tmp.path().join("real.ncl"), "{}").unwrap();
        std::os::unix::fs::symlink(
            tmp.path().join("real.ncl"),
            tmp.path().join("tenants/b.ncl"),
        )
        .unwrap();
        assert_eq!(root.read(&tmp.path().join("tenants/b.ncl")).unwrap(), "{}");
    }

    #[test]
    fn deep_nesting_and_huge_files_are_refused_before_parsing() {
        let deep = format!("{{ x = {}1{} }}", "[".repeat(1500), "]".repeat(1500));
        let (tmp, root) = root_with(&[("a.ncl", &deep)]);
        let d = closure_of(&root, tmp.path(), "a.ncl").unwrap_err();
        assert_eq!(d.code, code::INPUT_TOO_LARGE);
        assert_eq!(d.location().as_deref(), Some("a.ncl:1:70"));
        let interpolated = format!("{}\"", "\"%{".repeat(100));
        let (tmp, root) = root_with(&[("a.ncl", &interpolated)]);
        assert_eq!(
            closure_of(&root, tmp.path(), "a.ncl").unwrap_err().code,
            code::INPUT_TOO_LARGE
        );
        let chain = format!("{{ x = {}1 }}", "1 + ".repeat(MAX_DEPTH + 10));
        let (tmp, root) = root_with(&[("a.ncl", &chain)]);
        let d = closure_of(&root, tmp.path(), "a.ncl").unwrap_err();
        assert_eq!(d.code, code::INPUT_TOO_LARGE);
        assert!(d.message.contains("expressions nest"), "{}", d.message);
        let long_but_flat = format!("[{}]", "1, ".repeat(10 * MAX_DEPTH));
        let (tmp, root) = root_with(&[("a.ncl", &long_but_flat)]);
        assert!(closure_of(&root, tmp.path(), "a.ncl").is_ok());
        let huge = format!("{{ x = \"{}\" }}", "a".repeat(MAX_FILE_BYTES as usize));
        let (tmp, root) = root_with(&[("a.ncl", &huge)]);
        assert_eq!(
            closure_of(&root, tmp.path(), "a.ncl").unwrap_err().code,
            code::INPUT_TOO_LARGE
        );
    }
}
