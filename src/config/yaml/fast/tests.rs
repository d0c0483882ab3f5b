//! The fast path against the full parser: the shapes it composes, what it leaves alone,
//! and a differential test over the examples and edits of them.

use super::*;
use serde_json::json;

/// The JSON value a tape spells, and the index after it.
fn value_of(toks: &[Tok<'_>], at: usize) -> (Value, usize) {
    match &toks[at] {
        Tok::Map { len, end } => {
            let mut map = serde_json::Map::new();
            let mut i = at + 1;
            for _ in 0..*len {
                let Tok::Key(k) = &toks[i] else {
                    panic!("a key expected at {i}: {:?}", toks[i])
                };
                let (v, next) = value_of(toks, i + 1);
                assert!(map.insert(k.to_string(), v).is_none(), "key {k} twice");
                i = next;
            }
            assert_eq!(i, *end as usize);
            (Value::Object(map), i)
        }
        Tok::Seq { len, end } => {
            let mut items = Vec::new();
            let mut i = at + 1;
            for _ in 0..*len {
                let (v, next) = value_of(toks, i);
                items.push(v);
                i = next;
            }
            assert_eq!(i, *end as usize);
            (Value::Array(items), i)
        }
        Tok::Key(s) => panic!("a key where a value is expected: {s}"),
        Tok::Str(s) => (Value::String(s.to_string()), at + 1),
        Tok::U64(u) => (json!(u), at + 1),
        Tok::I64(i) => (json!(i), at + 1),
        Tok::F64(f) => (json!(f), at + 1),
        Tok::Bool(b) => (json!(b), at + 1),
        Tok::Null => (Value::Null, at + 1),
    }
}

fn same(text: &str) {
    // The tape is the same parse: it spells the value, and gives up only where the value
    // does (or on a repeated key hash, never seen here).
    let value = parse(text);
    match tape(text) {
        Some(toks) => {
            let (v, end) = value_of(&toks, 0);
            assert_eq!(end, toks.len());
            assert_eq!(Some(v), value, "the tape differs on {text:?}");
        }
        None => assert_eq!(value, None, "the tape gave up on {text:?}"),
    }
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
        assert_eq!(tape(text), None, "{text:?}");
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
        " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "'", "\"", "[", "]", "{", "}", ",", "&a",
        "*a", "!", "|", ">", "?", "\\", "~", "0", "1.5", "true", "null", "<<", "---", "x", "é",
        "\\u00e9", "''",
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
