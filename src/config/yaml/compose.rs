//! YAML text → JSON value, in one pass over the parser's events (`granit_parser`, the event
//! parser serde-saphyr is built on). Scalars, keys and tags follow the YAML 1.2 core schema
//! ([`super::scalar`]), so `yes` and `no` stay strings; anchors, aliases and `<<` merge keys
//! are expanded within budgets; nesting, documents, duplicate keys and the indentation of
//! values continued over several lines are checked. Each error carries its byte offset.
//!
//! Composing directly (rather than through serde-saphyr's deserializer) is three times
//! faster on a 16 MB file: see `benches/validate.rs`. The suite of the YAML project
//! (`tests/it/yaml_suite.rs`) checks the result against every case it holds.

use std::collections::HashMap;
use std::ops::Range;

use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle};

use super::scalar::{collection_tag, key_of, scalar, KeyProblem};

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes that aliases may expand to, in total (a "billion laughs" guard).
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Why a text is not a configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposeError {
    /// The YAML syntax is broken (the parser's message, or a value continued on a line that
    /// is not indented further than the mapping or list holding it).
    Syntax { message: String, at: Range<usize> },
    /// Tabs used for indentation.
    Tab { message: String, at: Range<usize> },
    /// A mapping holds the same key twice (compared as the JSON keys they become).
    DuplicateKey {
        key: String,
        first: Range<usize>,
        second: Range<usize>,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep { at: Range<usize> },
    /// Aliases expand to more than [`MAX_ALIAS_NODES`] nodes.
    AliasBudget { at: Range<usize> },
    /// More than one document in the text.
    MultipleDocuments { at: Range<usize> },
    /// A mapping or sequence used as a key.
    ComplexKey { at: Range<usize> },
    /// A null key (`~`, `null`, or nothing before the `:`): JSON has no such key.
    NullKey { at: Range<usize> },
    /// A scalar that JSON cannot hold or its tag forbids (`.nan`, `!!int abc`), or a tag
    /// outside the core schema on any node (`!custom`, `!!binary`, `!!set`).
    BadScalar { message: String, at: Range<usize> },
    /// A `<<` merge key whose value is not a mapping or a list of mappings.
    BadMerge { at: Range<usize> },
}

enum Frame {
    Map {
        map: Map<String, Value>,
        /// The key read (its JSON key, its place, whether it is `<<`) until its value is.
        key: Option<(String, Range<usize>, bool)>,
        merges: Vec<Value>,
        anchor: usize,
        nodes: usize,
        start: Range<usize>,
        /// Where each key was first written; kept only by the pass that places duplicates.
        places: Option<HashMap<String, Range<usize>>>,
    },
    Seq {
        items: Vec<Value>,
        anchor: usize,
        nodes: usize,
    },
}

fn range(span: &Span) -> Range<usize> {
    let s = span.start.byte_offset().unwrap_or(span.start.index());
    let e = span.end.byte_offset().unwrap_or(span.end.index());
    s..e.max(s)
}

/// Composes the single document of `text`; `Value::Null` when there is none.
pub fn compose(text: &str) -> Result<Value, Vec<ComposeError>> {
    match compose_pass(text, false) {
        // Rare: a second pass keeps every key's place, to show both places of each duplicate.
        Err(Stop::Duplicates) => compose_pass(text, true),
        other => other,
    }
    .map_err(|stop| match stop {
        Stop::Errors(errors) => errors,
        // Only a pass without places stops so (see `check_key`).
        Stop::Duplicates => Vec::new(),
    })
}

/// How a pass ends without a value.
enum Stop {
    /// A key is written twice, and the pass did not keep the places to say where.
    Duplicates,
    /// The first error, or every duplicate key with both of its places.
    Errors(Vec<ComposeError>),
}

fn fatal(e: ComposeError) -> Stop {
    Stop::Errors(vec![e])
}

/// One pass over the events. With `places`, duplicate keys are collected with both of their
/// places; without, the first one stops the pass.
fn compose_pass(text: &str, places: bool) -> Result<Value, Stop> {
    let mut stack: Vec<Frame> = Vec::new();
    // The column of each open block collection, `None` for a flow collection.
    let mut columns: Vec<Option<usize>> = Vec::new();
    // The outermost open flow collection inside a block collection: its start, its column.
    let mut flow: Option<(usize, usize)> = None;
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut alias_nodes = 0usize;
    let mut root: Option<Value> = None;
    let mut documents = 0usize;
    let mut duplicates = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                let at = m.byte_offset().unwrap_or(m.index());
                let at = at..at;
                let message = e.info().to_string();
                let lower = message.to_lowercase();
                return Err(fatal(if lower.contains("tab") {
                    ComposeError::Tab { message, at }
                } else if lower.contains("recursion") || lower.contains("nest") {
                    ComposeError::TooDeep { at }
                } else {
                    ComposeError::Syntax { message, at }
                }));
            }
        };
        let r = range(&span);
        // A node (value and its size in nodes) completed by this event, if any.
        let done: Option<(Value, usize, usize)> = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(fatal(ComposeError::MultipleDocuments { at: r }));
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let merge = style == ScalarStyle::Plain && tag.is_none() && value == "<<";
                let v = scalar(&value, style, tag.as_deref()).map_err(|message| {
                    let at = span.tag_start.map_or(r.clone(), |t| {
                        t.byte_offset().unwrap_or(t.index())..r.end.max(r.start)
                    });
                    fatal(ComposeError::BadScalar { message, at })
                })?;
                // Block scalars have their own indentation, which the parser checks.
                let quoted = matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted);
                if quoted && span.start.line() != span.end.line() && flow.is_none() {
                    if let Some(Some(column)) = columns.last() {
                        continuation(text, r.clone(), *column, false)?;
                    }
                }
                if anchor != 0 {
                    anchors.insert(anchor, (v.clone(), 1));
                }
                if let Some(Frame::Map {
                    key: slot @ None,
                    map,
                    places,
                    ..
                }) = stack.last_mut()
                {
                    let key = key_at(v, &r)?;
                    check_key(map, places, &key, &r, !merge, &mut duplicates)?;
                    *slot = Some((key, r, merge));
                    continue;
                }
                Some((v, 1, 0))
            }
            Event::Alias(id) => {
                let Some((v, size)) = anchors.get(&id) else {
                    return Err(fatal(ComposeError::Syntax {
                        message: "alias to an unknown anchor".into(),
                        at: r,
                    }));
                };
                alias_nodes += size;
                if alias_nodes > MAX_ALIAS_NODES {
                    return Err(fatal(ComposeError::AliasBudget { at: r }));
                }
                if let Some(Frame::Map {
                    key: slot @ None,
                    map,
                    places,
                    ..
                }) = stack.last_mut()
                {
                    let key = key_at(v.clone(), &r)?;
                    check_key(map, places, &key, &r, true, &mut duplicates)?;
                    *slot = Some((key, r, false));
                    continue;
                }
                Some((v.clone(), *size, 0))
            }
            Event::UnresolvedAlias(_) => {
                return Err(fatal(ComposeError::Syntax {
                    message: "alias to an unknown anchor".into(),
                    at: r,
                }))
            }
            Event::MappingStart(style, anchor, ref tag)
            | Event::SequenceStart(style, anchor, ref tag) => {
                let mapping = matches!(event, Event::MappingStart(..));
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    return Err(fatal(ComposeError::ComplexKey { at: r }));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(fatal(ComposeError::TooDeep { at: r }));
                }
                collection_tag(tag.as_deref(), mapping).map_err(|message| {
                    let at = span
                        .tag_start
                        .map_or(r.start, |t| t.byte_offset().unwrap_or(t.index()));
                    fatal(ComposeError::BadScalar {
                        message,
                        at: at..at,
                    })
                })?;
                if style == StructureStyle::Flow {
                    if let (None, Some(Some(column))) = (flow, columns.last()) {
                        flow = Some((r.start, *column));
                    }
                    columns.push(None);
                } else {
                    columns.push(Some(span.start.col()));
                }
                stack.push(if mapping {
                    Frame::Map {
                        map: Map::new(),
                        key: None,
                        merges: Vec::new(),
                        anchor,
                        nodes: 1,
                        start: r,
                        places: places.then(HashMap::new),
                    }
                } else {
                    Frame::Seq {
                        items: Vec::new(),
                        anchor,
                        nodes: 1,
                    }
                });
                None
            }
            Event::MappingEnd | Event::SequenceEnd => {
                columns.pop();
                if let Some((start, column)) = flow {
                    if !columns.contains(&None) {
                        flow = None;
                        continuation(text, start..r.end, column, true)?;
                    }
                }
                match stack.pop() {
                    Some(Frame::Map {
                        map,
                        merges,
                        anchor,
                        nodes,
                        start,
                        ..
                    }) => Some((merged(map, merges, start)?, nodes, anchor)),
                    Some(Frame::Seq {
                        items,
                        anchor,
                        nodes,
                    }) => Some((Value::Array(items), nodes, anchor)),
                    None => None,
                }
            }
            _ => None,
        };
        let Some((value, size, anchor)) = done else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, (value.clone(), size));
        }
        match stack.last_mut() {
            Some(Frame::Map {
                map,
                key,
                merges,
                nodes,
                ..
            }) => {
                *nodes += size;
                if let Some((k, _, merge)) = key.take() {
                    if merge {
                        merges.push(value);
                    } else {
                        map.insert(k, value);
                    }
                }
            }
            Some(Frame::Seq { items, nodes, .. }) => {
                *nodes += size;
                items.push(value);
            }
            None => root = Some(value),
        }
    }
    if !duplicates.is_empty() {
        return Err(Stop::Errors(duplicates));
    }
    Ok(root.unwrap_or(Value::Null))
}

/// The JSON key of a key node at `r`.
fn key_at(v: Value, r: &Range<usize>) -> Result<String, Stop> {
    key_of(v).map_err(|p| {
        fatal(match p {
            KeyProblem::Null => ComposeError::NullKey { at: r.clone() },
            KeyProblem::Complex => ComposeError::ComplexKey { at: r.clone() },
        })
    })
}

/// Checks a key read at `r` against the keys of `map` (unless it is a `<<` merge key:
/// `compare` is false) and keeps its place when places are kept. A key written again is
/// recorded with both places when they are kept (then this never returns
/// `Stop::Duplicates`), or ends a pass that does not keep them.
fn check_key(
    map: &Map<String, Value>,
    places: &mut Option<HashMap<String, Range<usize>>>,
    key: &str,
    r: &Range<usize>,
    compare: bool,
    found: &mut Vec<ComposeError>,
) -> Result<(), Stop> {
    let again = compare && map.contains_key(key);
    match places {
        None if again => Err(Stop::Duplicates),
        None => Ok(()),
        Some(places) if again => {
            found.push(ComposeError::DuplicateKey {
                key: key.to_string(),
                first: places.get(key).unwrap_or(r).clone(),
                second: r.clone(),
            });
            Ok(())
        }
        Some(places) => {
            places.entry(key.to_string()).or_insert_with(|| r.clone());
            Ok(())
        }
    }
}

/// A mapping with its `<<` merges applied: keys written in the mapping win, then the
/// merged mappings in order.
fn merged(
    mut map: Map<String, Value>,
    merges: Vec<Value>,
    start: Range<usize>,
) -> Result<Value, Stop> {
    for m in merges {
        let sources = match m {
            Value::Object(o) => vec![o],
            Value::Array(items) if items.iter().all(Value::is_object) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(o) => Some(o),
                    _ => None,
                })
                .collect(),
            _ => return Err(fatal(ComposeError::BadMerge { at: start })),
        };
        for source in sources {
            for (k, v) in source {
                map.entry(k).or_insert(v);
            }
        }
    }
    Ok(Value::Object(map))
}

/// YAML's indentation rule for a value written over several lines inside a block mapping or
/// list at `column`: each line it continues on is indented further than the collection
/// (tabs are not indentation). Blank lines are exempt; in a flow collection (`flow`), so
/// are comment lines and a line that starts with the closing `]` or `}`, a common style.
fn continuation(text: &str, r: Range<usize>, column: usize, flow: bool) -> Result<(), Stop> {
    let b = text.as_bytes();
    let mut i = r.start;
    while let Some(nl) = b[i..r.end.min(b.len())].iter().position(|&c| c == b'\n') {
        let start = i + nl + 1;
        let end = b[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |e| start + e);
        let spaces = b[start..end].iter().take_while(|&&c| c == b' ').count();
        let first = b[start..end]
            .iter()
            .position(|&c| !matches!(c, b' ' | b'\t' | b'\r'));
        let exempt = match first {
            None => true,
            Some(f) => flow && matches!(b[start + f], b'#' | b']' | b'}'),
        };
        if !exempt && spaces <= column && start < r.end {
            let at = start + spaces;
            return Err(fatal(ComposeError::Syntax {
                message: format!(
                    "this line continues a value and must be indented more than {column} spaces"
                ),
                at: at..at,
            }));
        }
        i = start;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = compose(
            "base: &b { plan: p, status: active }\nx:\n  <<: *b\n  status: suspended\nlist: [*b]\n",
        )
        .unwrap();
        assert_eq!(v["x"], json!({"status": "suspended", "plan": "p"}));
        assert_eq!(v["list"][0]["plan"], "p");
        let v = compose("k: &k name\n*k : 1\n").unwrap();
        assert_eq!(v["name"], 1);
        // An anchor on a key names the key's value.
        let v = compose("&a a: b\nc: *a\n&n 12: x\nd: *n\n").unwrap();
        assert_eq!(v, json!({"a": "b", "c": "a", "12": "x", "d": 12}));
        // A key written twice through an alias: both places.
        let e = compose("k: &k name\nname: 1\n*k : 2\n").unwrap_err();
        assert_eq!(
            e,
            vec![ComposeError::DuplicateKey {
                key: "name".into(),
                first: 11..15,
                second: 19..21
            }]
        );
    }

    #[test]
    fn keys_are_compared_as_json_keys() {
        let e = compose("1: a\n0x1: b\n'1': c\n").unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0],
            ComposeError::DuplicateKey {
                key: "1".into(),
                first: 0..1,
                second: 5..8
            }
        );
        assert!(matches!(&e[1], ComposeError::DuplicateKey { first, .. } if *first == (0..1)));
        for text in [
            ": a\n",
            "~: a\n",
            "null: a\n",
            "{: a}\n",
            "? \n: a\n",
            "!!null : a\n",
        ] {
            assert!(
                matches!(compose(text).unwrap_err()[0], ComposeError::NullKey { .. }),
                "{text:?}"
            );
        }
        assert_eq!(
            compose("'~': a\n!!str : b\n").unwrap(),
            json!({"~": "a", "": "b"})
        );
    }

    #[test]
    fn continued_values_are_indented_further_than_their_collection() {
        assert_eq!(
            compose("a: \"x\n  y\"\nb: [1,\n  2\n]\nc:\n  - 'p\n\n    q'\n").unwrap(),
            json!({"a": "x y", "b": [1, 2], "c": ["p\nq"]})
        );
        for (text, at) in [
            ("a: \"x\ny\"\n", 6),
            ("a: [1,\n2]\n", 7),
            ("a: \"x\n\ty\"\n", 6),
            ("l:\n  - 'p\n  q'\n", 12),
            ("- a: {b: 1,\n  c: 2}\n", 14),
        ] {
            match &compose(text).unwrap_err()[0] {
                ComposeError::Syntax { at: r, .. } => assert_eq!(r.start, at, "{text:?}"),
                e => panic!("{text:?}: {e:?}"),
            }
        }
    }

    #[test]
    fn duplicate_keys_are_reported_at_both_places() {
        let e = compose("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            e,
            vec![ComposeError::DuplicateKey {
                key: "a".into(),
                first: 0..1,
                second: 10..11
            }]
        );
    }

    #[test]
    fn limits() {
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(
            compose(&deep).unwrap_err()[0],
            ComposeError::TooDeep { .. }
        ));
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n";
        assert!(matches!(
            compose(bomb).unwrap_err()[0],
            ComposeError::AliasBudget { .. }
        ));
        assert!(matches!(
            compose("a: 1\n---\nb: 2\n").unwrap_err()[0],
            ComposeError::MultipleDocuments { .. }
        ));
        assert!(matches!(
            compose("? [a]\n: 1\n").unwrap_err()[0],
            ComposeError::ComplexKey { .. }
        ));
        assert!(matches!(
            compose("a: .nan\n").unwrap_err()[0],
            ComposeError::BadScalar { .. }
        ));
        assert!(matches!(
            compose("a: !custom x\n").unwrap_err()[0],
            ComposeError::BadScalar { .. }
        ));
        assert_eq!(compose("# nothing\n").unwrap(), Value::Null);
    }
}
