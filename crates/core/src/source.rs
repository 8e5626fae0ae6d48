//! Source spans and the source map: from a value path in the evaluated
//! config (`apps.cloud.host`) back to the user's file and byte range.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A source file a diagnostic points into, with its text so that it can be
/// rendered without reading the disk again.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path as the user knows it: relative to the config root when inside it.
    pub name: String,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A byte range in a source file.
#[derive(Clone, Debug)]
pub struct Span {
    pub file: SourceFile,
    pub range: Range<usize>,
}

/// Value path → span, for the values the user wrote literally.
///
/// Lookups fall back to the closest ancestor that has a span, so a value
/// filled in by a stdlib default points at the record that received it.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    spans: BTreeMap<String, Span>,
    /// The whole file: the fallback of last resort.
    pub file: Option<SourceFile>,
}

impl SourceMap {
    pub fn new(file: Option<SourceFile>) -> Self {
        SourceMap {
            spans: BTreeMap::new(),
            file,
        }
    }

    pub fn insert(&mut self, path: String, span: Span) {
        self.spans.insert(path, span);
    }

    /// The span of `path`, or of its closest ancestor, or of the whole file.
    pub fn get(&self, path: &str) -> Option<Span> {
        let mut p = path;
        loop {
            if let Some(s) = self.spans.get(p) {
                return Some(s.clone());
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
        self.spans.get("").cloned().or_else(|| {
            self.file.as_ref().map(|f| Span {
                file: f.clone(),
                range: 0..f.text.len().min(1),
            })
        })
    }

    /// The spans under `prefix` (`clusters.potager.shared`), as paths
    /// relative to it: the map of a value the user wrote inside another
    /// file, such as a cluster's shared services in `jardin.ncl`.
    pub fn rebased(&self, prefix: &str) -> SourceMap {
        let mut out = SourceMap::new(self.file.clone());
        for (path, span) in &self.spans {
            if path == prefix {
                out.spans.insert(String::new(), span.clone());
            } else if let Some(rest) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                out.spans.insert(rest.to_string(), span.clone());
            }
        }
        out
    }

    /// The span of exactly `path`, without falling back.
    pub fn exact(&self, path: &str) -> Option<&Span> {
        self.spans.get(path)
    }

    /// A serializable form for the evaluation cache (file texts are not stored:
    /// they are read again from disk when a cached entry is loaded).
    pub fn to_stored(&self) -> StoredSourceMap {
        let mut files: Vec<String> = Vec::new();
        let mut spans = Vec::with_capacity(self.spans.len());
        for (path, span) in &self.spans {
            let idx = match files.iter().position(|f| *f == span.file.name) {
                Some(i) => i,
                None => {
                    files.push(span.file.name.clone());
                    files.len() - 1
                }
            };
            spans.push((path.clone(), idx, span.range.start, span.range.end));
        }
        StoredSourceMap { files, spans }
    }

    /// Rebuilds a source map; `text_of` gives the text of a file by name.
    pub fn from_stored(
        stored: &StoredSourceMap,
        file: Option<SourceFile>,
        text_of: impl Fn(&str) -> Option<SourceFile>,
    ) -> Self {
        let files: Vec<Option<SourceFile>> = stored.files.iter().map(|n| text_of(n)).collect();
        let mut map = SourceMap::new(file);
        for (path, idx, start, end) in &stored.spans {
            if let Some(Some(f)) = files.get(*idx) {
                if *end <= f.text.len() {
                    map.insert(
                        path.clone(),
                        Span {
                            file: f.clone(),
                            range: *start..*end,
                        },
                    );
                }
            }
        }
        map
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredSourceMap {
    files: Vec<String>,
    spans: Vec<(String, usize, usize, usize)>,
}

impl StoredSourceMap {
    /// (path, file index, start, end), by path.
    pub fn spans(&self) -> &[(String, usize, usize, usize)] {
        &self.spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_ancestors() {
        let f = SourceFile::new("t.ncl", "{ apps = { cloud = { app = \"x\" } } }");
        let mut m = SourceMap::new(Some(f.clone()));
        m.insert(
            "apps.cloud".into(),
            Span {
                file: f.clone(),
                range: 17..31,
            },
        );
        assert_eq!(m.get("apps.cloud.size").unwrap().range, 17..31);
        assert_eq!(m.get("zones").unwrap().range, 0..1);
    }
}
