//! A fast path for the YAML that configurations are made of: block mappings and sequences,
//! one-line flow collections, plain and one-line quoted scalars, comments. It builds the same
//! JSON value as [`super::compose::compose`] in one pass over the bytes, without the event
//! machinery of a full YAML parser, and gives up (`None`) on anything else — anchors, tags,
//! block scalars, multi-line scalars or flows, several documents, tabs, unusual characters,
//! duplicate keys, any error — so that the full parser composes it and reports the errors.
//!
//! The invariant, checked by the differential tests below and the fuzz target: when this
//! returns `Some(v)`, `compose` returns `Ok(v)`.

use std::borrow::Cow;

use serde_json::Value;

use super::compose::MAX_DEPTH;
use super::scalar::plain_key;

mod build;
pub mod de;
mod flow;
#[cfg(test)]
mod tests;

pub use build::Tok;
use build::{Build, TapeBuild, ValueBuild};

/// Composes `text` when it stays within the fast subset; `None` otherwise.
pub fn parse(text: &str) -> Option<Value> {
    run(text, ValueBuild)
}

/// The same parse as [`parse`], written as a tape of tokens in document order instead of a
/// JSON value: no map is built and plain strings borrow from `text`. [`de`] deserialises
/// typed values straight from it. `None` where [`parse`] gives up, and also on a key that
/// may repeat one of its mapping (the full path decides).
pub fn tape(text: &str) -> Option<Vec<Tok<'_>>> {
    // About one token per ten bytes of configuration; capacity never written costs no page.
    let mut out = TapeBuild::with_capacity(text.len() / 4);
    run(text, &mut out)?;
    Some(out.into_tokens())
}

fn run<'a, B: Build<'a>>(text: &'a str, out: B) -> Option<B::Node> {
    if !plain_text(text) {
        return None;
    }
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        pos: 0,
        virt: None,
        depth: 0,
        started: false,
        out,
    };
    p.document().ok()
}

/// Characters the fast path leaves to the full parser: control characters (tabs and carriage
/// returns included), C1 controls, byte-order marks, non-characters and Unicode line breaks.
fn plain_text(text: &str) -> bool {
    // One pass without early exit inside a chunk, so that it vectorises: a control
    // character or DEL refuses the text, a non-ASCII byte asks for the slower look below.
    let mut non_ascii = false;
    for chunk in text.as_bytes().chunks(4096) {
        let (bad, high) = chunk.iter().fold((false, false), |(bad, high), &c| {
            (
                bad | ((c < 0x20 && c != b'\n') || c == 0x7f),
                high | (c >= 0x80),
            )
        });
        if bad {
            return false;
        }
        non_ascii |= high;
    }
    !non_ascii
        || !text.chars().any(|c| {
            matches!(
                c,
                '\u{80}'
                    ..='\u{9f}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
            )
        })
}

/// Gives up: the full parser takes over.
#[derive(Debug)]
struct Bail;

type R<T> = Result<T, Bail>;

/// A line with content: its indentation, the first content byte and the end of the line.
#[derive(Debug, Clone, Copy)]
struct Line {
    indent: usize,
    start: usize,
    end: usize,
}

struct Parser<'a, B> {
    text: &'a str,
    b: &'a [u8],
    /// Start of the next physical line to read.
    pos: usize,
    /// The rest of a line after `- `, read as a line of its own (a compact mapping).
    virt: Option<Line>,
    depth: usize,
    /// Whether a line with content (or `---`) was read.
    started: bool,
    /// What the nodes are built into.
    out: B,
}

/// Whether `c` may not start a plain scalar (or starts something the fast path leaves alone).
fn indicator(c: u8) -> bool {
    matches!(
        c,
        b'[' | b']'
            | b'{'
            | b'}'
            | b','
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'%'
            | b'@'
            | b'`'
            | b'#'
            | b'?'
            | b':'
            | b'\''
            | b'"'
    )
}

impl<'a, B: Build<'a>> Parser<'a, B> {
    fn document(&mut self) -> R<B::Node> {
        let Some(l) = self.peek()? else {
            return Ok(self.out.null());
        };
        let v = self.block(l)?;
        match self.peek()? {
            None => Ok(v),
            Some(_) => Err(Bail),
        }
    }

    /// The next line with content, skipping blank and comment lines; not consumed.
    fn peek(&mut self) -> R<Option<Line>> {
        if let Some(l) = self.virt {
            return Ok(Some(l));
        }
        let b = self.b;
        loop {
            if self.pos >= b.len() {
                return Ok(None);
            }
            let end = b[self.pos..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |i| self.pos + i);
            let mut i = self.pos;
            while i < end && b[i] == b' ' {
                i += 1;
            }
            if i == end || b[i] == b'#' {
                self.pos = end + 1;
                continue;
            }
            let indent = i - self.pos;
            if indent == 0 && matches!(b[i], b'-' | b'.' | b'%') {
                let marker = &b[i..end];
                if marker.starts_with(b"---") || marker.starts_with(b"...") || b[i] == b'%' {
                    // One `---` before any content opens the document; anything else (a second
                    // document, an end marker, a directive) is the full parser's.
                    let rest = self.skip_spaces(i + 3, end);
                    if marker.starts_with(b"---") && !self.started && rest == end {
                        self.started = true;
                        self.pos = end + 1;
                        continue;
                    }
                    return Err(Bail);
                }
            }
            self.started = true;
            return Ok(Some(Line {
                indent,
                start: i,
                end,
            }));
        }
    }

    fn advance(&mut self, l: Line) {
        self.virt = None;
        self.pos = l.end + 1;
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth + 2 >= MAX_DEPTH {
            return Err(Bail);
        }
        Ok(())
    }

    fn skip_spaces(&self, mut i: usize, end: usize) -> usize {
        while i < end && self.b[i] == b' ' {
            i += 1;
        }
        i
    }

    /// Whether only spaces and a comment follow `i` on its line.
    fn rest_is_empty(&self, i: usize, end: usize) -> bool {
        let j = self.skip_spaces(i, end);
        j == end || (self.b[j] == b'#' && j > i)
    }

    fn is_dash(&self, l: Line) -> bool {
        self.b[l.start] == b'-' && (l.start + 1 == l.end || self.b[l.start + 1] == b' ')
    }

    /// A block node starting at `l`: a sequence or a mapping.
    fn block(&mut self, l: Line) -> R<B::Node> {
        self.enter()?;
        let v = if self.is_dash(l) {
            self.seq(l.indent)?
        } else {
            self.map(l.indent)?
        };
        self.depth -= 1;
        Ok(v)
    }

    /// The value of a key or a `-` with nothing after it on its line.
    fn nested(&mut self, indent: usize, same_level_seq: bool) -> R<B::Node> {
        match self.peek()? {
            Some(l) if l.indent > indent => self.block(l),
            Some(l) if same_level_seq && l.indent == indent && self.is_dash(l) => {
                self.enter()?;
                let v = self.seq(indent)?;
                self.depth -= 1;
                Ok(v)
            }
            _ => Ok(self.out.null()),
        }
    }

    /// After a value written on its line: a more indented line would continue it.
    fn no_continuation(&mut self, indent: usize) -> R<()> {
        match self.peek()? {
            Some(next) if next.indent > indent => Err(Bail),
            _ => Ok(()),
        }
    }

    fn map(&mut self, n: usize) -> R<B::Node> {
        let mut map = self.out.map();
        while let Some(l) = self.peek()? {
            if l.indent < n {
                break;
            }
            if l.indent > n || self.is_dash(l) {
                return Err(Bail);
            }
            let (key, after) = self.block_key(l)?;
            self.out.key(&mut map, key)?;
            let rest = self.skip_spaces(after, l.end);
            let value = if rest == l.end || self.b[rest] == b'#' {
                self.advance(l);
                self.nested(n, true)?
            } else {
                let v = self.inline(rest, l.end)?;
                self.advance(l);
                self.no_continuation(n)?;
                v
            };
            self.out.value(&mut map, value)?;
        }
        Ok(self.out.end_map(map))
    }

    fn seq(&mut self, n: usize) -> R<B::Node> {
        let mut items = self.out.seq();
        while let Some(l) = self.peek()? {
            if l.indent < n || (l.indent == n && !self.is_dash(l)) {
                break;
            }
            if l.indent > n {
                return Err(Bail);
            }
            let i = self.skip_spaces(l.start + 1, l.end);
            let b = self.b;
            let item = if i == l.end || b[i] == b'#' {
                self.advance(l);
                self.nested(n, false)?
            } else if b[i] == b'-' && (i + 1 == l.end || b[i + 1] == b' ') {
                return Err(Bail);
            } else if self.looks_like_key(i, l.end) {
                let column = l.indent + (i - l.start);
                let v = Line {
                    indent: column,
                    start: i,
                    end: l.end,
                };
                self.virt = Some(v);
                self.enter()?;
                let m = self.map(column)?;
                self.depth -= 1;
                m
            } else {
                let v = self.inline(i, l.end)?;
                self.advance(l);
                self.no_continuation(n)?;
                v
            };
            self.out.item(&mut items, item);
        }
        Ok(self.out.end_seq(items))
    }

    /// Whether the text at `i` is `key:` or `key: value`.
    fn looks_like_key(&self, i: usize, end: usize) -> bool {
        let b = self.b;
        match b[i] {
            b'\'' | b'"' => match self.quoted(i, end) {
                Ok((_, j)) => {
                    let j = self.skip_spaces(j, end);
                    j < end && b[j] == b':' && (j + 1 == end || b[j + 1] == b' ')
                }
                Err(_) => false,
            },
            b'[' | b'{' => false,
            _ => self.plain_key_end(i, end).is_some(),
        }
    }

    /// The colon ending a plain key that starts at `i`, if there is one before a comment.
    fn plain_key_end(&self, i: usize, end: usize) -> Option<usize> {
        let b = self.b;
        let mut j = i;
        while j < end {
            match b[j] {
                b':' if j + 1 == end || b[j + 1] == b' ' => return Some(j),
                b'#' if j > i && b[j - 1] == b' ' => return None,
                _ => j += 1,
            }
        }
        None
    }

    /// A key of a block mapping and the index after its `:`.
    fn block_key(&self, l: Line) -> R<(Cow<'a, str>, usize)> {
        let b = self.b;
        let i = l.start;
        if b[i] == b'\'' || b[i] == b'"' {
            let (key, j) = self.quoted(i, l.end)?;
            let j = self.skip_spaces(j, l.end);
            if j < l.end && b[j] == b':' && (j + 1 == l.end || b[j + 1] == b' ') {
                return Ok((Cow::Owned(key), j + 1));
            }
            return Err(Bail);
        }
        if indicator(b[i]) || (b[i] == b'-' && (i + 1 == l.end || b[i + 1] == b' ')) {
            return Err(Bail);
        }
        let colon = self.plain_key_end(i, l.end).ok_or(Bail)?;
        let key = self.text[i..colon].trim_end_matches(' ');
        // Implicit keys are limited to 1024 characters; `<<` is a merge key.
        if key.is_empty() || key.len() > 1000 || key == "<<" {
            return Err(Bail);
        }
        // A key is the JSON text of its value (`0x1` is `"1"`); a null key is refused.
        Ok((plain_key_cow(key).ok_or(Bail)?, colon + 1))
    }

    /// A value written after `key: ` or `- `, up to the end of its line.
    fn inline(&mut self, i: usize, end: usize) -> R<B::Node> {
        let b = self.b;
        match b[i] {
            b'[' | b'{' => {
                let (v, j) = self.flow(i, end)?;
                if self.rest_is_empty(j, end) {
                    Ok(v)
                } else {
                    Err(Bail)
                }
            }
            b'\'' | b'"' => {
                let (s, j) = self.quoted(i, end)?;
                if self.rest_is_empty(j, end) {
                    Ok(self.out.string(s))
                } else {
                    Err(Bail)
                }
            }
            c if indicator(c) => Err(Bail),
            b'-' if i + 1 == end || b[i + 1] == b' ' => Err(Bail),
            _ => {
                let mut j = i;
                while j < end {
                    match b[j] {
                        b'#' if b[j - 1] == b' ' => break,
                        b':' if j + 1 == end || b[j + 1] == b' ' => return Err(Bail),
                        _ => j += 1,
                    }
                }
                let s = self.text[i..j].trim_end_matches(' ');
                self.out.plain(s)
            }
        }
    }
}

/// [`plain_key`], borrowing the text when it is the key: a plain scalar that cannot be a
/// null, a boolean or a number is the string it spells.
fn plain_key_cow(text: &str) -> Option<Cow<'_, str>> {
    if build::plain_is_text(text) {
        Some(Cow::Borrowed(text))
    } else {
        plain_key(text).map(Cow::Owned)
    }
}
