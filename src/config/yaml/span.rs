//! From JSON pointers back to YAML: a source file with its line index, and one walk over the
//! YAML parser's events that finds the byte spans of the pointers a diagnostic needs. A key's
//! pointer segment is the JSON key composition gives it ([`super::scalar::key_of`]).
//!
//! The index is built lazily, only for files that have diagnostics: a valid configuration
//! never pays for it.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, StructureStyle, Tag};

use super::scalar::{key_of, scalar};

/// One configuration file as read: its path and its text, shared by every diagnostic in it.
pub struct SourceFile {
    pub path: PathBuf,
    /// An `Arc<String>`, not an `Arc<str>`: the text read is kept as is, not copied.
    pub text: Arc<String>,
    line_starts: OnceLock<Vec<usize>>,
}

impl std::fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceFile")
            .field("path", &self.path)
            .field("len", &self.text.len())
            .finish()
    }
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: Arc::new(text.into()),
            line_starts: OnceLock::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut v = vec![0];
            v.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            v
        })
    }

    /// The 0-based line holding byte `offset`.
    pub fn line_index(&self, offset: usize) -> usize {
        let starts = self.line_starts();
        starts.partition_point(|s| *s <= offset).saturating_sub(1)
    }

    /// Byte range of 0-based line `line`, without its line break.
    pub fn line_range(&self, line: usize) -> Range<usize> {
        let starts = self.line_starts();
        let start = starts.get(line).copied().unwrap_or(self.text.len());
        let mut end = starts.get(line + 1).map_or(self.text.len(), |s| s - 1);
        if end > start && self.text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        start..end.max(start)
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_char(offset.min(self.text.len()));
        let line = self.line_index(offset);
        let start = self.line_starts()[line];
        (line + 1, self.text[start..offset].chars().count() + 1)
    }

    /// The largest char boundary at or below `offset`.
    pub fn floor_char(&self, mut offset: usize) -> usize {
        offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// Clamps a span to the text, to char boundaries, and to the first line it touches.
    pub fn first_line_of(&self, span: Range<usize>) -> Range<usize> {
        let start = self.floor_char(span.start);
        let line = self.line_range(self.line_index(start));
        let end = self.floor_char(span.end.min(line.end).max(start));
        start..end
    }
}

impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        // miette's own implementation scans from the start of the text for every label; on a
        // 20 MB file with thousands of diagnostics that is quadratic. Cut a window of whole
        // lines around the span and let miette work on that.
        let offset = span.offset().min(self.text.len());
        let end = (offset + span.len()).min(self.text.len());
        let first = self.line_index(offset).saturating_sub(before);
        let last = self.line_index(end.saturating_sub(1).max(offset)) + after + 1;
        let w0 = self.line_range(first).start;
        let w1 = self
            .line_starts()
            .get(last)
            .copied()
            .unwrap_or(self.text.len());
        let window = &self.text.as_bytes()[w0..w1];
        let local = miette::SourceSpan::from((offset - w0, end - offset));
        let inner = <[u8] as miette::SourceCode>::read_span(window, &local, before, after)?;
        let data: &'a [u8] = &self.text.as_bytes()
            [w0 + inner.span().offset()..w0 + inner.span().offset() + inner.span().len()];
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.path.display().to_string(),
            data,
            miette::SourceSpan::from((w0 + inner.span().offset(), inner.span().len())),
            first + inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// Where a node is in its file: the span of its key (for a mapping entry) and of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpan {
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
}

/// Escapes a pointer segment (RFC 6901).
pub fn escape(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains(['~', '/']) {
        segment.replace('~', "~0").replace('/', "~1").into()
    } else {
        segment.into()
    }
}

/// Unescapes a pointer segment (RFC 6901).
pub fn unescape(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~").into()
    } else {
        segment.into()
    }
}

enum Frame {
    Map {
        /// Length of the pointer of this mapping.
        len: usize,
        start: usize,
        flow: bool,
        /// The key read and its span, while its value is awaited.
        key: Option<(String, Range<usize>)>,
        /// Whether the mapping's own span is wanted when it ends.
        own_key: Option<Range<usize>>,
    },
    Seq {
        len: usize,
        start: usize,
        flow: bool,
        next: usize,
        own_key: Option<Range<usize>>,
    },
}

/// Result of [`index`].
#[derive(Debug, Default)]
pub struct Index {
    pub spans: HashMap<String, NodeSpan>,
}

fn range(span: &serde_saphyr::granit_parser::Span) -> Range<usize> {
    let s = span.start.byte_offset().unwrap_or(span.start.index());
    let e = span.end.byte_offset().unwrap_or(span.end.index());
    s..e.max(s)
}

/// Walks the YAML events of `text` once and returns the spans of the `wanted` pointers (of
/// the first document). Stops quietly at a syntax error: whatever was indexed before it is
/// returned.
pub fn index(text: &str, wanted: &HashSet<String>) -> Index {
    let mut out = Index::default();
    // The keys anchored scalars make, for aliases used as keys.
    let mut anchored: HashMap<usize, String> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut ptr = String::new();
    // Depth of a complex (non-scalar) mapping key being skipped.
    let mut skip = 0usize;
    let mut last_end = 0usize;
    let mut documents = 0usize;
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { break };
        let r = range(&span);
        if skip > 0 {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => skip += 1,
                Event::MappingEnd | Event::SequenceEnd => skip -= 1,
                _ => {}
            }
            continue;
        }
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    break;
                }
            }
            Event::Scalar(ref value, style, anchor, ref tag) if is_key_position(&stack) => {
                let key = key_text(value, style, tag.as_deref());
                if anchor != 0 {
                    anchored.insert(anchor, key.clone());
                }
                set_key(&mut stack, key, r.clone());
                last_end = r.end;
            }
            Event::Alias(id) if is_key_position(&stack) => {
                let key = anchored.get(&id).cloned().unwrap_or_default();
                set_key(&mut stack, key, r.clone());
                last_end = r.end;
            }
            Event::UnresolvedAlias(_) if is_key_position(&stack) => {
                set_key(&mut stack, String::new(), r.clone());
                last_end = r.end;
            }
            Event::MappingStart(..) | Event::SequenceStart(..) if is_key_position(&stack) => {
                // A mapping or sequence used as a key: not JSON, reported by the deserializer.
                skip = 1;
                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                    *key = Some((String::new(), r.clone()));
                }
            }
            Event::Scalar(..) | Event::Alias(_) | Event::UnresolvedAlias(_) => {
                if let Event::Scalar(ref value, style, anchor @ 1.., ref tag) = event {
                    anchored.insert(anchor, key_text(value, style, tag.as_deref()));
                }
                let (len, key) = enter(&mut stack, &mut ptr);
                if wanted.contains(ptr.as_str()) {
                    out.spans.insert(
                        ptr.clone(),
                        NodeSpan {
                            key,
                            value: r.clone(),
                        },
                    );
                }
                ptr.truncate(len);
                last_end = r.end;
            }
            Event::MappingStart(style, ..) => {
                let (len, key) = enter(&mut stack, &mut ptr);
                stack.push(Frame::Map {
                    len,
                    start: r.start,
                    flow: style == StructureStyle::Flow,
                    key: None,
                    own_key: key,
                });
            }
            Event::SequenceStart(style, ..) => {
                let (len, key) = enter(&mut stack, &mut ptr);
                stack.push(Frame::Seq {
                    len,
                    start: r.start,
                    flow: style == StructureStyle::Flow,
                    next: 0,
                    own_key: key,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(frame) = stack.pop() else { break };
                let (len, start, flow, key) = match frame {
                    Frame::Map {
                        len,
                        start,
                        flow,
                        own_key,
                        ..
                    } => (len, start, flow, own_key),
                    Frame::Seq {
                        len,
                        start,
                        flow,
                        own_key,
                        ..
                    } => (len, start, flow, own_key),
                };
                let end = if flow { r.end } else { last_end };
                last_end = end.max(last_end);
                if wanted.contains(ptr.as_str()) {
                    out.spans.insert(
                        ptr.clone(),
                        NodeSpan {
                            key,
                            value: start..end.max(start),
                        },
                    );
                }
                ptr.truncate(len);
            }
            _ => {}
        }
    }
    out
}

fn is_key_position(stack: &[Frame]) -> bool {
    matches!(stack.last(), Some(Frame::Map { key: None, .. }))
}

/// The pointer segment of a scalar key: its JSON key, or its text when it has none (the
/// file does not compose then, and no pointer names it).
fn key_text(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> String {
    scalar(value, style, tag)
        .ok()
        .and_then(|v| key_of(v).ok())
        .unwrap_or_else(|| value.to_string())
}

fn set_key(stack: &mut [Frame], key_text: String, r: Range<usize>) {
    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
        *key = Some((key_text, r));
    }
}

/// Appends the segment of the node about to start to `ptr`; returns the previous length and
/// the span of the node's key, if it is a mapping value.
fn enter(stack: &mut [Frame], ptr: &mut String) -> (usize, Option<Range<usize>>) {
    let len = ptr.len();
    match stack.last_mut() {
        Some(Frame::Map { key, .. }) => {
            let (k, r) = key.take().unwrap_or_default();
            ptr.push('/');
            ptr.push_str(&escape(&k));
            (len, Some(r))
        }
        Some(Frame::Seq { next, .. }) => {
            use std::fmt::Write;
            let _ = write!(ptr, "/{next}");
            *next += 1;
            (len, None)
        }
        None => (len, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str, ptrs: &[&str]) -> HashMap<String, (Option<String>, String)> {
        let wanted: HashSet<String> = ptrs.iter().map(|s| s.to_string()).collect();
        index(text, &wanted)
            .spans
            .into_iter()
            .map(|(p, s)| {
                (
                    p,
                    (
                        s.key.map(|k| text[k].to_string()),
                        text[s.value].to_string(),
                    ),
                )
            })
            .collect()
    }

    #[test]
    fn finds_keys_values_and_items() {
        let text = "tenants:\n  acme:\n    plan: essentail\n    grants:\n      - { workspace: paris, to: { role: x } }\n";
        let s = spans(
            text,
            &[
                "/tenants/acme/plan",
                "/tenants/acme",
                "/tenants/acme/grants/0/to/role",
                "/tenants/acme/grants/0",
            ],
        );
        assert_eq!(
            s["/tenants/acme/plan"],
            (Some("plan".into()), "essentail".into())
        );
        assert_eq!(s["/tenants/acme"].0.as_deref(), Some("acme"));
        assert_eq!(
            s["/tenants/acme/grants/0/to/role"],
            (Some("role".into()), "x".into())
        );
        assert_eq!(
            s["/tenants/acme/grants/0"].1,
            "{ workspace: paris, to: { role: x } }"
        );
    }

    #[test]
    fn escapes_slashes_and_tildes_in_keys() {
        let text = "a/b~c: 1\n";
        let s = spans(text, &["/a~1b~0c"]);
        assert_eq!(s["/a~1b~0c"].1, "1");
    }

    #[test]
    fn keys_are_named_as_composition_names_them() {
        let text = "0x10: a\n!!str 2: b\nk: &k name\n*k : c\n";
        let s = spans(text, &["/16", "/2", "/name"]);
        assert_eq!(s["/16"], (Some("0x10".into()), "a".into()));
        assert_eq!(s["/2"].1, "b");
        assert_eq!(s["/name"], (Some("*k".into()), "c".into()));
    }

    #[test]
    fn line_and_column_count_characters() {
        let f = SourceFile::new("x.yaml", "a: é\nbb: ü\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(6), (2, 1));
        assert_eq!(f.line_col(10), (2, 5));
    }
}
