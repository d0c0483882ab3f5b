//! The fast path's one-line quoted scalars and flow collections (`[a, b]`, `{k: v}`).

use std::borrow::Cow;

use super::{indicator, plain_key_cow, Bail, Build, Parser, R};

/// After an entry of a flow collection: the index of the next entry, or the index past the
/// closing bracket.
enum Next {
    Item(usize),
    Closed(usize),
}

impl<'a, B: Build<'a>> Parser<'a, B> {
    /// A quoted scalar on one line: its value and the index after the closing quote.
    pub(super) fn quoted(&self, i: usize, end: usize) -> R<(String, usize)> {
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
    pub(super) fn flow(&mut self, i: usize, end: usize) -> R<(B::Node, usize)> {
        self.enter()?;
        let b = self.b;
        let open = b[i];
        let mut i = self.skip_spaces(i + 1, end);
        let v = if open == b'[' {
            let mut items = self.out.seq();
            if i < end && b[i] == b']' {
                i += 1;
            } else {
                loop {
                    let (v, j) = self.flow_node(i, end, false)?;
                    self.out.item(&mut items, v);
                    match self.flow_next(j, end, b']')? {
                        Next::Item(k) => i = k,
                        Next::Closed(k) => {
                            i = k;
                            break;
                        }
                    }
                }
            }
            self.out.end_seq(items)
        } else {
            let mut map = self.out.map();
            if i < end && b[i] == b'}' {
                i += 1;
            } else {
                loop {
                    let key = match b.get(i).filter(|_| i < end) {
                        Some(b'\'' | b'"') => {
                            let (k, j) = self.quoted(i, end)?;
                            i = self.skip_spaces(j, end);
                            Cow::Owned(k)
                        }
                        Some(_) => {
                            let (k, j) = self.flow_plain(i, end, true)?;
                            if k == "<<" {
                                return Err(Bail);
                            }
                            i = j;
                            plain_key_cow(k).ok_or(Bail)?
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
                    self.out.key(&mut map, key)?;
                    let (v, j) = self.flow_node(i, end, false)?;
                    self.out.value(&mut map, v)?;
                    match self.flow_next(j, end, b'}')? {
                        Next::Item(k) => i = k,
                        Next::Closed(k) => {
                            i = k;
                            break;
                        }
                    }
                }
            }
            self.out.end_map(map)
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
    fn flow_node(&mut self, i: usize, end: usize, key: bool) -> R<(B::Node, usize)> {
        let b = self.b;
        if i >= end {
            return Err(Bail);
        }
        match b[i] {
            b'[' | b'{' => self.flow(i, end),
            b'\'' | b'"' => {
                let (s, j) = self.quoted(i, end)?;
                Ok((self.out.string(s), j))
            }
            _ => {
                let (s, j) = self.flow_plain(i, end, key)?;
                Ok((self.out.plain(s)?, j))
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
