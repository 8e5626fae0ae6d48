//! Diagnostics: data first, rendered second.
//!
//! Every phase reports problems as [`Diagnostic`] values that know nothing of
//! Nickel. They render for people through `miette` and for CI as JSON.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::code::Code;
use crate::source::{SourceFile, Span};

/// How bad a diagnostic is. Errors stop the build; warnings are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A labelled span in a source file.
#[derive(Clone, Debug)]
pub struct Label {
    pub file: SourceFile,
    pub span: Range<usize>,
    pub(crate) message: String,
    pub(crate) primary: bool,
}

/// One problem found in the user's configuration or output.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Stable code, e.g. `J0101`; documented in docs/DIAGNOSTICS.md.
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn with_label(
        mut self,
        file: SourceFile,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let primary = self.labels.is_empty();
        self.labels.push(Label {
            file,
            span,
            message: message.into(),
            primary,
        });
        self
    }

    pub fn with_span(self, span: Option<&Span>, message: impl Into<String>) -> Self {
        match span {
            Some(s) => self.with_label(s.file.clone(), s.range.clone(), message),
            None => self,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub(crate) fn primary(&self) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or(self.labels.first())
    }

    /// Where the diagnostic points, as `file:line:column`.
    pub fn location(&self) -> Option<String> {
        self.primary().map(|l| {
            let (line, col) = l.file.line_col(l.span.start);
            format!("{}:{line}:{col}", l.file.name)
        })
    }

    /// Sort key: by file, then position, then code, so output is stable.
    fn sort_key(&self) -> (String, usize, &'static str, String) {
        let (file, start) = self
            .primary()
            .map_or((String::new(), 0), |l| (l.file.name.clone(), l.span.start));
        (file, start, self.code.id(), self.message.clone())
    }
}

/// Sorts diagnostics into their stable order (file, position, code).
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_cached_key(|d| d.sort_key());
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// The labels of one file, as miette renders a snippet of a single source.
struct FileLabels<'a> {
    file: &'a SourceFile,
    labels: Vec<&'a Label>,
}

impl Diagnostic {
    fn grouped(&self) -> Vec<FileLabels<'_>> {
        let mut groups: Vec<FileLabels<'_>> = Vec::new();
        for label in &self.labels {
            match groups.iter_mut().find(|g| g.file.name == label.file.name) {
                Some(g) => g.labels.push(label),
                None => groups.push(FileLabels {
                    file: &label.file,
                    labels: vec![label],
                }),
            }
        }
        groups
    }
}

/// A view of a diagnostic for miette: the first file's labels are shown on
/// the main snippet, other files' as related diagnostics.
struct MietteView<'a> {
    diag: &'a Diagnostic,
    group: Option<FileLabels<'a>>,
    related: Vec<MietteRelated<'a>>,
    source: Option<miette::NamedSource<String>>,
}

struct MietteRelated<'a> {
    group: FileLabels<'a>,
    source: miette::NamedSource<String>,
}

impl fmt::Debug for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}
impl fmt::Display for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}
impl std::error::Error for MietteView<'_> {}

impl fmt::Debug for MietteRelated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.group.file.name)
    }
}
impl fmt::Display for MietteRelated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "see also {}", self.group.file.name)
    }
}
impl std::error::Error for MietteRelated<'_> {}

fn miette_labels<'a>(
    group: &'a FileLabels<'a>,
) -> Box<dyn Iterator<Item = miette::LabeledSpan> + 'a> {
    Box::new(group.labels.iter().map(|l| {
        let len = l.span.end.saturating_sub(l.span.start);
        let text = (!l.message.is_empty()).then(|| l.message.clone());
        if l.primary {
            miette::LabeledSpan::new_primary_with_span(text, (l.span.start, len))
        } else {
            miette::LabeledSpan::new_with_span(text, (l.span.start, len))
        }
    }))
}

fn named_source(file: &SourceFile) -> miette::NamedSource<String> {
    miette::NamedSource::new(file.name.clone(), file.text.to_string()).with_language("nickel")
}

impl miette::Diagnostic for MietteView<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diag.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        let mut parts: Vec<String> = self
            .diag
            .notes
            .iter()
            .map(|n| format!("note: {n}"))
            .collect();
        if let Some(h) = &self.diag.help {
            parts.push(h.clone());
        }
        (!parts.is_empty()).then(|| Box::new(parts.join("\n")) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.group.as_ref().map(miette_labels)
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

impl miette::Diagnostic for MietteRelated<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(miette_labels(&self.group))
    }
}

/// Renders diagnostics for a terminal or a golden file.
pub struct Renderer {
    handler: miette::GraphicalReportHandler,
}

impl Renderer {
    pub fn new(color: bool) -> Self {
        let theme = if color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false)
            .with_context_lines(1);
        Renderer { handler }
    }

    pub fn render(&self, diag: &Diagnostic) -> String {
        let mut groups = diag.grouped().into_iter();
        let group = groups.next();
        let source = group.as_ref().map(|g| named_source(g.file));
        let related = groups
            .map(|g| MietteRelated {
                source: named_source(g.file),
                group: g,
            })
            .collect();
        let view = MietteView {
            diag,
            group,
            related,
            source,
        };
        let mut out = String::new();
        if self.handler.render_report(&mut out, &view).is_err() {
            out = format!("{}: {}\n", diag.code, diag.message);
        }
        out
    }
}

/// The JSON form of a diagnostic (`--error-format json`).
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub(crate) code: &'a str,
    pub(crate) severity: Severity,
    pub(crate) message: &'a str,
    pub(crate) file: Option<&'a str>,
    pub(crate) line: Option<usize>,
    pub(crate) column: Option<usize>,
    pub(crate) labels: Vec<JsonLabel<'a>>,
    pub(crate) help: Option<&'a str>,
    pub(crate) notes: &'a [String],
}

#[derive(Serialize)]
pub(crate) struct JsonLabel<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) end_line: usize,
    pub(crate) end_column: usize,
    pub(crate) message: &'a str,
    pub(crate) primary: bool,
}

impl Diagnostic {
    pub fn to_json(&self) -> JsonDiagnostic<'_> {
        let labels: Vec<JsonLabel<'_>> = self
            .labels
            .iter()
            .map(|l| {
                let (line, column) = l.file.line_col(l.span.start);
                let (end_line, end_column) = l.file.line_col(l.span.end);
                JsonLabel {
                    file: &l.file.name,
                    line,
                    column,
                    end_line,
                    end_column,
                    message: &l.message,
                    primary: l.primary,
                }
            })
            .collect();
        let primary = labels.iter().find(|l| l.primary);
        JsonDiagnostic {
            code: self.code.id(),
            severity: self.severity,
            message: &self.message,
            file: primary.map(|l| l.file),
            line: primary.map(|l| l.line),
            column: primary.map(|l| l.column),
            help: self.help.as_deref(),
            notes: &self.notes,
            labels,
        }
    }
}

/// Suggests the closest candidate to a misspelt name (`did you mean …?`).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| {
            *d > 0 && *d <= (c.chars().count().max(name.chars().count()) / 3).max(1) + 1
        })
        .min()
        .map(|(_, c)| c)
}

/// A hint naming the closest candidate, or listing the valid ones.
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> String {
    match did_you_mean(name, candidates.clone()) {
        Some(c) => format!("did you mean \"{c}\"?"),
        None => {
            let all: Vec<String> = candidates.into_iter().map(|c| format!("\"{c}\"")).collect();
            if all.is_empty() {
                "none is defined".to_string()
            } else {
                format!("expected one of {}", all.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let apps = ["nextcloud", "hedgedoc", "jitsi"];
        assert_eq!(did_you_mean("nextclod", apps), Some("nextcloud"));
        assert_eq!(did_you_mean("hedgdoc", apps), Some("hedgedoc"));
        assert_eq!(did_you_mean("wordpress", apps), None);
        assert_eq!(
            hint("wordpress", apps),
            "expected one of \"nextcloud\", \"hedgedoc\", \"jitsi\""
        );
    }

    #[test]
    fn line_and_column_are_one_based() {
        let f = SourceFile::new("t.ncl", "{\n  a = 1,\n}\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(4), (2, 3));
    }
}
