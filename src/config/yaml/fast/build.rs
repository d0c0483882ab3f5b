//! What the fast path builds: a JSON value ([`ValueBuild`]), or a tape of tokens in
//! document order ([`TapeBuild`]) that typed values are deserialised from without a value
//! tree in between. The parser is the same for both, so both read the same YAML the same way.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashSet, FxHasher};
use serde_json::{Map, Value};

use super::{Bail, R};
use crate::config::yaml::scalar::plain_scalar;

/// One node of a tape, in document order. A collection's token says how many entries it
/// has and where its last token ends; a mapping's entries are a [`Tok::Key`] and the value's
/// tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    Map {
        len: u32,
        end: u32,
    },
    Seq {
        len: u32,
        end: u32,
    },
    Key(Cow<'a, str>),
    Str(Cow<'a, str>),
    /// A non-negative integer (`serde_json`'s `PosInt`).
    U64(u64),
    /// A negative integer.
    I64(i64),
    F64(f64),
    Bool(bool),
    Null,
}

/// The parser's output: how nodes, mappings and sequences are made.
pub(super) trait Build<'a> {
    type Node;
    type Map;
    type Seq;
    fn null(&mut self) -> Self::Node;
    /// A quoted scalar: always a string.
    fn string(&mut self, s: String) -> Self::Node;
    /// A plain scalar, resolved by the YAML 1.2 core schema.
    fn plain(&mut self, s: &'a str) -> R<Self::Node>;
    fn map(&mut self) -> Self::Map;
    /// The next key of `map`, before its value is parsed. A key written twice gives up.
    fn key(&mut self, map: &mut Self::Map, key: Cow<'a, str>) -> R<()>;
    fn value(&mut self, map: &mut Self::Map, value: Self::Node) -> R<()>;
    fn end_map(&mut self, map: Self::Map) -> Self::Node;
    fn seq(&mut self) -> Self::Seq;
    fn item(&mut self, seq: &mut Self::Seq, item: Self::Node);
    fn end_seq(&mut self, seq: Self::Seq) -> Self::Node;
}

/// Whether a plain scalar is the string it spells: it cannot be a null or a boolean, and
/// does not start as a number does (the only scalars the core schema resolves otherwise).
pub(super) fn plain_is_text(s: &str) -> bool {
    !matches!(
        s.as_bytes().first(),
        None | Some(b'0'..=b'9' | b'-' | b'+' | b'.')
    ) && !matches!(
        s,
        "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    )
}

/// Builds the JSON value, as the full parser does.
pub(super) struct ValueBuild;

impl<'a> Build<'a> for ValueBuild {
    type Node = Value;
    /// The mapping and the key whose value is being parsed.
    type Map = (Map<String, Value>, Option<String>);
    type Seq = Vec<Value>;

    fn null(&mut self) -> Value {
        Value::Null
    }

    fn string(&mut self, s: String) -> Value {
        Value::String(s)
    }

    fn plain(&mut self, s: &'a str) -> R<Value> {
        plain_scalar(s).map_err(|_| Bail)
    }

    fn map(&mut self) -> Self::Map {
        (Map::new(), None)
    }

    fn key(&mut self, map: &mut Self::Map, key: Cow<'a, str>) -> R<()> {
        map.1 = Some(key.into_owned());
        Ok(())
    }

    /// Inserts the pending key, hashing it once; a key written twice is the full parser's to
    /// report.
    fn value(&mut self, map: &mut Self::Map, value: Value) -> R<()> {
        let key = map.1.take().ok_or(Bail)?;
        match map.0.entry(key) {
            serde_json::map::Entry::Vacant(slot) => {
                slot.insert(value);
                Ok(())
            }
            serde_json::map::Entry::Occupied(_) => Err(Bail),
        }
    }

    fn end_map(&mut self, map: Self::Map) -> Value {
        Value::Object(map.0)
    }

    fn seq(&mut self) -> Vec<Value> {
        Vec::new()
    }

    fn item(&mut self, seq: &mut Vec<Value>, item: Value) {
        seq.push(item);
    }

    fn end_seq(&mut self, seq: Vec<Value>) -> Value {
        Value::Array(seq)
    }
}

/// Writes the tape.
pub(super) struct TapeBuild<'a> {
    toks: Vec<Tok<'a>>,
}

/// A mapping being written: its token, and the hashes of its keys so far (a set past a few
/// keys). Two keys with one hash give up, a repeated key or not: the full path decides.
pub(super) struct OpenMap {
    at: usize,
    small: Vec<u64>,
    large: Option<FxHashSet<u64>>,
}

/// A sequence being written: its token and its length so far.
pub(super) struct OpenSeq {
    at: usize,
    len: u32,
}

impl<'a> TapeBuild<'a> {
    pub(super) fn with_capacity(n: usize) -> Self {
        TapeBuild {
            toks: Vec::with_capacity(n),
        }
    }

    pub(super) fn into_tokens(self) -> Vec<Tok<'a>> {
        self.toks
    }

    /// The index past the last token (a file is at most 32 MiB: far below `u32::MAX`).
    fn end(&self) -> u32 {
        u32::try_from(self.toks.len()).unwrap_or(u32::MAX)
    }
}

impl<'a> Build<'a> for &mut TapeBuild<'a> {
    type Node = ();
    type Map = OpenMap;
    type Seq = OpenSeq;

    fn null(&mut self) {
        self.toks.push(Tok::Null);
    }

    fn string(&mut self, s: String) {
        self.toks.push(Tok::Str(Cow::Owned(s)));
    }

    fn plain(&mut self, s: &'a str) -> R<()> {
        if plain_is_text(s) {
            self.toks.push(Tok::Str(Cow::Borrowed(s)));
            return Ok(());
        }
        let tok = match plain_scalar(s).map_err(|_| Bail)? {
            Value::Null => Tok::Null,
            Value::Bool(b) => Tok::Bool(b),
            Value::String(s) => Tok::Str(Cow::Owned(s)),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Tok::U64(u),
                (None, Some(i), _) => Tok::I64(i),
                (None, None, Some(f)) => Tok::F64(f),
                (None, None, None) => return Err(Bail),
            },
            Value::Array(_) | Value::Object(_) => return Err(Bail),
        };
        self.toks.push(tok);
        Ok(())
    }

    fn map(&mut self) -> OpenMap {
        self.toks.push(Tok::Map { len: 0, end: 0 });
        OpenMap {
            at: self.toks.len() - 1,
            small: Vec::new(),
            large: None,
        }
    }

    fn key(&mut self, map: &mut OpenMap, key: Cow<'a, str>) -> R<()> {
        let mut h = FxHasher::default();
        key.hash(&mut h);
        let h = h.finish();
        let new = match &mut map.large {
            Some(set) => set.insert(h),
            None if map.small.len() < 16 => {
                let new = !map.small.contains(&h);
                map.small.push(h);
                new
            }
            None => {
                let mut set: FxHashSet<u64> = map.small.drain(..).collect();
                let new = set.insert(h);
                map.large = Some(set);
                new
            }
        };
        if !new {
            return Err(Bail);
        }
        self.toks.push(Tok::Key(key));
        Ok(())
    }

    fn value(&mut self, _map: &mut OpenMap, _value: ()) -> R<()> {
        Ok(())
    }

    fn end_map(&mut self, map: OpenMap) {
        let len = map.large.as_ref().map_or(map.small.len(), FxHashSet::len);
        let end = self.end();
        self.toks[map.at] = Tok::Map {
            len: u32::try_from(len).unwrap_or(u32::MAX),
            end,
        };
    }

    fn seq(&mut self) -> OpenSeq {
        self.toks.push(Tok::Seq { len: 0, end: 0 });
        OpenSeq {
            at: self.toks.len() - 1,
            len: 0,
        }
    }

    fn item(&mut self, seq: &mut OpenSeq, _item: ()) {
        seq.len = seq.len.saturating_add(1);
    }

    fn end_seq(&mut self, seq: OpenSeq) {
        let end = self.end();
        self.toks[seq.at] = Tok::Seq { len: seq.len, end };
    }
}
