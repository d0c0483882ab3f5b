//! A fast path for the YAML that configurations are made of: block mappings and sequences,
//! one-line flow collections, plain and one-line quoted scalars, comments. It builds the same
//! JSON value as [`super::compose::compose`] in one pass over the bytes, without the event
//! machinery of a full YAML parser, and gives up (`None`) on anything else — anchors, tags,
//! block scalars, multi-line scalars or flows, several documents, tabs, unusual characters,
//! duplicate keys, any error — so that the full parser composes it and reports the errors.
//!
//! The invariant, checked by the differential tests below and the fuzz target: when this
//! returns `Some(v)`, `compose` returns `Ok(v)`.

use serde_json::{Map, Value};

use super::compose::{plain_scalar, MAX_DEPTH};

/// Composes `text` when it stays within the fast subset; `None` otherwise.
pub fn parse(text: &str) -> Option<Value> {
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
    };
    p.document().ok()
}

/// Characters the fast path leaves to the full parser: control characters (tabs and carriage
/// returns included), C1 controls, byte-order marks, non-characters and Unicode line breaks.
fn plain_text(text: &str) -> bool {
    let b = text.as_bytes();
    if b.iter().any(|&c| (c < 0x20 && c != b'\n') || c == 0x7f) {
        return false;
    }
    if b.is_ascii() {
        return true;
    }
    !text.chars().any(|c| {
        matches!(
            c,
            '\u{80}'..='\u{9f}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
        )
    })
}

/// Gives up: the full parser takes over.
#[derive(Debug)]
struct Bail;

type R<T> = Result<T, Bail>;

/// After an entry of a flow collection: the index of the next entry, or the index past the
/// closing bracket.
enum Next {
    Item(usize),
    Closed(usize),
}

/// A line with content: its indentation, the first content byte and the end of the line.
#[derive(Debug, Clone, Copy)]
struct Line {
    indent: usize,
    start: usize,
    end: usize,
}

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
    /// Start of the next physical line to read.
    pos: usize,
    /// The rest of a line after `- `, read as a line of its own (a compact mapping).
    virt: Option<Line>,
    depth: usize,
    /// Whether a line with content (or `---`) was read.
    started: bool,
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

impl<'a> Parser<'a> {
    fn document(&mut self) -> R<Value> {
        let Some(l) = self.peek()? else {
            return Ok(Value::Null);
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
    fn block(&mut self, l: Line) -> R<Value> {
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
    fn nested(&mut self, indent: usize, same_level_seq: bool) -> R<Value> {
        match self.peek()? {
            Some(l) if l.indent > indent => self.block(l),
            Some(l) if same_level_seq && l.indent == indent && self.is_dash(l) => {
                self.enter()?;
                let v = self.seq(indent)?;
                self.depth -= 1;
                Ok(v)
            }
            _ => Ok(Value::Null),
        }
    }

    /// After a value written on its line: a more indented line would continue it.
    fn no_continuation(&mut self, indent: usize) -> R<()> {
        match self.peek()? {
            Some(next) if next.indent > indent => Err(Bail),
            _ => Ok(()),
        }
    }

    fn map(&mut self, n: usize) -> R<Value> {
        let mut map = Map::new();
        while let Some(l) = self.peek()? {
            if l.indent < n {
                break;
            }
            if l.indent > n || self.is_dash(l) {
                return Err(Bail);
            }
            let (key, after) = self.block_key(l)?;
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
            if map.contains_key(&key) {
                return Err(Bail);
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    fn seq(&mut self, n: usize) -> R<Value> {
        let mut items = Vec::new();
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
            items.push(item);
        }
        Ok(Value::Array(items))
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
    fn block_key(&self, l: Line) -> R<(String, usize)> {
        let b = self.b;
        let i = l.start;
        if b[i] == b'\'' || b[i] == b'"' {
            let (key, j) = self.quoted(i, l.end)?;
            let j = self.skip_spaces(j, l.end);
            if j < l.end && b[j] == b':' && (j + 1 == l.end || b[j + 1] == b' ') {
                return Ok((key, j + 1));
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
        Ok((key.to_string(), colon + 1))
    }

    /// A value written after `key: ` or `- `, up to the end of its line.
    fn inline(&mut self, i: usize, end: usize) -> R<Value> {
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
                    Ok(Value::String(s))
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
                plain_scalar(s).map_err(|_| Bail)
            }
        }
    }

    /// A quoted scalar on one line: its value and the index after the closing quote.
    fn quoted(&self, i: usize, end: usize) -> R<(String, usize)> {
        let b = self.b;
        let quote = b[i];
        let mut out = String::new();
        let mut j = i + 1;
        let mut run = j;
        while j < end {
            let c = b[j];
            if c == quote {
                out.push_str(&self.text[run..j]);
                if quote == b'\'' && j + 1 < end && b[j + 1] == b'\'' {
                    out.push('\'');
                    j += 2;
                    run = j;
                    continue;
                }
                return Ok((out, j + 1));
            }
            if quote == b'"' && c == b'\\' {
                out.push_str(&self.text[run..j]);
                let e = *b.get(j + 1).filter(|_| j + 1 < end).ok_or(Bail)?;
                j += 2;
                match e {
                    b'\\' => out.push('\\'),
                    b'"' => out.push('"'),
                    b'/' => out.push('/'),
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'r' => out.push('\r'),
                    b'0' => out.push('\0'),
                    b'u' => {
                        let hex = self
                            .text
                            .get(j..j + 4)
                            .filter(|_| j + 4 <= end)
                            .ok_or(Bail)?;
                        if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                            return Err(Bail);
                        }
                        let code = u32::from_str_radix(hex, 16).map_err(|_| Bail)?;
                        out.push(char::from_u32(code).ok_or(Bail)?);
                        j += 4;
                    }
                    _ => return Err(Bail),
                }
                run = j;
                continue;
            }
            j += 1;
        }
        Err(Bail)
    }

    /// A one-line flow collection starting at `i` (`[` or `{`) and the index after it.
    fn flow(&mut self, i: usize, end: usize) -> R<(Value, usize)> {
        self.enter()?;
        let b = self.b;
        let open = b[i];
        let mut i = self.skip_spaces(i + 1, end);
        let v = if open == b'[' {
            let mut items = Vec::new();
            if i < end && b[i] == b']' {
                i += 1;
            } else {
                loop {
                    let (v, j) = self.flow_node(i, end, false)?;
                    items.push(v);
                    match self.flow_next(j, end, b']')? {
                        Next::Item(k) => i = k,
                        Next::Closed(k) => {
                            i = k;
                            break;
                        }
                    }
                }
            }
            Value::Array(items)
        } else {
            let mut map = Map::new();
            if i < end && b[i] == b'}' {
                i += 1;
            } else {
                loop {
                    let key = match b.get(i).filter(|_| i < end) {
                        Some(b'\'' | b'"') => {
                            let (k, j) = self.quoted(i, end)?;
                            i = self.skip_spaces(j, end);
                            k
                        }
                        Some(_) => {
                            let (k, j) = self.flow_plain(i, end, true)?;
                            if k == "<<" {
                                return Err(Bail);
                            }
                            i = j;
                            k.to_string()
                        }
                        None => return Err(Bail),
                    };
                    if !(i + 1 < end && b[i] == b':' && b[i + 1] == b' ') {
                        return Err(Bail);
                    }
                    i = self.skip_spaces(i + 1, end);
                    if i >= end || matches!(b[i], b',' | b'}') {
                        return Err(Bail);
                    }
                    let (v, j) = self.flow_node(i, end, false)?;
                    if map.contains_key(&key) {
                        return Err(Bail);
                    }
                    map.insert(key, v);
                    match self.flow_next(j, end, b'}')? {
                        Next::Item(k) => i = k,
                        Next::Closed(k) => {
                            i = k;
                            break;
                        }
                    }
                }
            }
            Value::Object(map)
        };
        self.depth -= 1;
        Ok((v, i))
    }

    /// What follows an entry of a flow collection closed by `close`: a comma and the next
    /// entry (a trailing comma is left to the full parser), or the closing bracket.
    fn flow_next(&self, j: usize, end: usize, close: u8) -> R<Next> {
        let b = self.b;
        let i = self.skip_spaces(j, end);
        match b.get(i).filter(|_| i < end) {
            Some(b',') => {
                let k = self.skip_spaces(i + 1, end);
                if k >= end || b[k] == close {
                    return Err(Bail);
                }
                Ok(Next::Item(k))
            }
            Some(&c) if c == close => Ok(Next::Closed(i + 1)),
            _ => Err(Bail),
        }
    }

    /// A node inside a flow collection.
    fn flow_node(&mut self, i: usize, end: usize, key: bool) -> R<(Value, usize)> {
        let b = self.b;
        if i >= end {
            return Err(Bail);
        }
        match b[i] {
            b'[' | b'{' => self.flow(i, end),
            b'\'' | b'"' => {
                let (s, j) = self.quoted(i, end)?;
                Ok((Value::String(s), j))
            }
            _ => {
                let (s, j) = self.flow_plain(i, end, key)?;
                Ok((plain_scalar(s).map_err(|_| Bail)?, j))
            }
        }
    }

    /// A plain scalar inside a flow collection and the index after it (spaces trimmed).
    /// Stops at `,`, brackets and braces; a `:` is accepted only after a key, a `#` never.
    fn flow_plain(&self, i: usize, end: usize, key: bool) -> R<(&'a str, usize)> {
        let b = self.b;
        let dash_alone = b[i] == b'-'
            && (i + 1 == end || matches!(b[i + 1], b' ' | b',' | b'[' | b']' | b'{' | b'}'));
        if indicator(b[i]) || dash_alone {
            return Err(Bail);
        }
        let mut j = i;
        while j < end && !matches!(b[j], b',' | b'[' | b']' | b'{' | b'}' | b':' | b'#') {
            j += 1;
        }
        if j < end && (b[j] == b'#' || (b[j] == b':' && !key) || b[j] == b'[' || b[j] == b'{') {
            return Err(Bail);
        }
        let s = self.text[i..j].trim_end_matches(' ');
        if s.is_empty() {
            return Err(Bail);
        }
        Ok((s, i + s.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same(text: &str) {
        let full = super::super::compose::compose(text);
        match parse(text) {
            Some(v) if full.as_ref().ok() != Some(&v) => {
                let _ = std::fs::write(std::env::temp_dir().join("fast-differs.yaml"), text);
                assert_eq!(
                    full.as_ref().ok(),
                    Some(&v),
                    "fast path differs on {text:?}: {full:?}"
                )
            }
            _ => {}
        }
    }

    #[test]
    fn composes_the_usual_shapes() {
        let text = "# comment\nplans:\n  p:\n    limits: { users: 10, records: 2 }\n    tags: [a, 'b c', \"d\\\"e\"]\n\n  q: ~\nlist:\n- a\n- b: 1\n  c: [x, {y: z}]\n-\n  - 1\n- - 2\nend: 'it''s' # done\n";
        let fast = parse(text);
        assert_eq!(fast, None, "`- - 2` is left to the full parser");
        let text = "# comment\nplans:\n  p:\n    limits: { users: 10, records: 2 }\n    tags: [a, 'b c', \"d\\\"e\"]\n\n  q: ~\nlist:\n- a\n- b: 1\n  c: [x, {y: z}]\n-\n  - 1\nend: 'it''s' # done\nyes: no\n";
        let v = parse(text).expect("in the fast subset");
        assert_eq!(
            v,
            json!({
                "plans": { "p": { "limits": { "users": 10, "records": 2 }, "tags": ["a", "b c", "d\"e"] }, "q": null },
                "list": ["a", { "b": 1, "c": ["x", { "y": "z" }] }, [1]],
                "end": "it's",
                "yes": "no"
            })
        );
        same(text);
    }

    #[test]
    fn leaves_the_rest_to_the_full_parser() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "a: long\n  continued\n",
            "a: 'open\n  quote'\n",
            "a: [1,\n  2]\n",
            "a: 1\n---\nb: 2\n",
            "a: 1\na: 2\n",
            "a:\tb\n",
            "a: 1\r\n",
            "<<: {a: 1}\n",
            "a: b: c\n",
            "a: .nan\n",
            "? a\n: b\n",
            "a: [b, ]\n",
            "a: {b}\n",
            "a: {b: http://x}\n",
            "- a\nb: 1\n",
            "a:\n  - 1\n b: 2\n",
            "\u{feff}a: 1\n",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn empty_and_document_start() {
        assert_eq!(parse("# only a comment\n"), Some(Value::Null));
        assert_eq!(parse("---\na: 1\n"), Some(json!({ "a": 1 })));
        same("---\na: 1\n");
        same("# only a comment\n");
    }

    /// Every example of the repository, and random edits of them: when the fast path
    /// answers, it answers what the full parser does.
    #[test]
    fn agrees_with_the_full_parser() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut texts = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
                    // One example is deliberately not UTF-8.
                    if let Ok(t) = std::fs::read_to_string(&p) {
                        texts.push(t);
                    }
                }
            }
        }
        assert!(texts.len() > 20, "examples found: {}", texts.len());
        let mut answered = 0;
        for t in &texts {
            same(t);
            answered += usize::from(parse(t).is_some());
        }
        assert!(
            answered * 2 > texts.len(),
            "the fast path takes most examples: {answered}/{}",
            texts.len()
        );
        // Mutations that matter to YAML: indicators, spaces, quotes, line breaks.
        let alphabet: &[&str] = &[
            " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "'", "\"", "[", "]", "{", "}", ",",
            "&a", "*a", "!", "|", ">", "?", "\\", "~", "0", "1.5", "true", "null", "<<", "---",
            "x", "é", "\\u00e9", "''",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut mutated, mut fast) = (0, 0);
        // `TENANTCTL_FAST_ROUNDS=20000` for a longer search.
        let rounds: usize = std::env::var("TENANTCTL_FAST_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(300);
        for t in &texts {
            let t: String = t.chars().take(2000).collect();
            for _ in 0..rounds {
                let mut m = t.clone();
                for _ in 0..1 + next() % 3 {
                    let mut at = (next() as usize) % (m.len() + 1);
                    while !m.is_char_boundary(at) {
                        at -= 1;
                    }
                    match next() % 3 {
                        0 => m.insert_str(at, alphabet[next() as usize % alphabet.len()]),
                        1 => {
                            let mut to = (at + 1 + next() as usize % 4).min(m.len());
                            while !m.is_char_boundary(to) {
                                to += 1;
                            }
                            m.replace_range(at..to, "");
                        }
                        _ => {
                            let mut to = (at + 1 + next() as usize % 4).min(m.len());
                            while !m.is_char_boundary(to) {
                                to += 1;
                            }
                            let s = alphabet[next() as usize % alphabet.len()];
                            m.replace_range(at..to, s);
                        }
                    }
                }
                same(&m);
                mutated += 1;
                fast += usize::from(parse(&m).is_some());
            }
        }
        eprintln!("fast path took {fast} of {mutated} mutated texts");
        assert!(
            fast * 5 > mutated,
            "the mutations exercise the fast path: {fast}/{mutated}"
        );
    }
}
