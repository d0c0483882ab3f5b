//! The YAML 1.2 core schema: how a scalar and its tag become a JSON value, which tags a
//! mapping or a sequence may carry, and how a mapping key becomes a JSON object key. The
//! full composition, the fast path and the span index all call these, so a scalar, and a
//! key, is the same to the three of them.
//!
//! Keys follow one rule: a key is resolved exactly as a value would be (same schema, same
//! tags), then written as a JSON object key, which is a string. A string stays as it is; a
//! number or a boolean becomes its JSON text (`1` and `0x1` are both `"1"`, `1.50` is
//! `"1.5"`, `true` is `"true"`); a null key (`~`, `null` or nothing before the `:`) is
//! refused, as JSON has no such key and it is nearly always a mistake. Two keys are the
//! same key when they become the same string, so `1:` and `0x1:`, or `1:` and `"1":`, are
//! reported as a key written twice.

use serde_json::{Number, Value};
use serde_saphyr::granit_parser::{ScalarStyle, Tag};

/// Why a node cannot be a JSON object key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// `~`, `null`, `!!null` or an empty key.
    Null,
    /// A mapping or a sequence.
    Complex,
}

/// The JSON object key a composed key node becomes (see the module documentation).
pub fn key_of(value: Value) -> Result<String, KeyProblem> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(KeyProblem::Null),
        Value::Array(_) | Value::Object(_) => Err(KeyProblem::Complex),
    }
}

/// The key an untagged plain scalar becomes; `None` when it cannot be a key (a null, or a
/// scalar the core schema refuses, such as `.nan`).
pub(crate) fn plain_key(text: &str) -> Option<String> {
    key_of(plain_scalar(text).ok()?).ok()
}

/// Resolves an untagged plain scalar by the YAML 1.2 core schema.
pub(crate) fn plain_scalar(text: &str) -> Result<Value, String> {
    scalar(text, ScalarStyle::Plain, None)
}

/// The name of a tag as written (`!!int`, `!local`, `!<tag:example.com,2000:x>`).
fn written(tag: &Tag) -> String {
    format!("{}{}", tag.original_handle(), tag.suffix())
}

/// Whether `tag` is the non-specific tag `!`, which only says "not resolved by content".
fn non_specific(tag: &Tag) -> bool {
    tag.handle().is_empty() && tag.suffix() == "!"
}

/// Checks the tag of a mapping (`mapping`) or a sequence: none, `!`, or `!!map` / `!!seq`.
pub fn collection_tag(tag: Option<&Tag>, mapping: bool) -> Result<(), String> {
    let Some(tag) = tag else { return Ok(()) };
    if non_specific(tag) {
        return Ok(());
    }
    match (tag.core_suffix(), mapping) {
        (Some("map"), true) | (Some("seq"), false) => Ok(()),
        (Some(_), true) => Err(format!(
            "the tag `{}` cannot be used on a mapping",
            written(tag)
        )),
        (Some(_), false) => Err(format!(
            "the tag `{}` cannot be used on a list",
            written(tag)
        )),
        (None, _) => Err(format!("unknown tag `{}`", written(tag))),
    }
}

/// Resolves a scalar by the YAML 1.2 core schema, or by its tag: a core tag (`!!str`,
/// `!!int`, …) or the non-specific `!`, which makes it a string. Other tags are refused.
pub fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if non_specific(tag) {
            return Ok(Value::String(text.to_string()));
        }
        let Some(suffix) = tag.core_suffix() else {
            return Err(format!("unknown tag `{}`", written(tag)));
        };
        return match suffix {
            "str" => Ok(Value::String(text.to_string())),
            "null" if is_null(text) => Ok(Value::Null),
            "null" => Err(format!("`{text}` is not null")),
            "bool" => bool_of(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("`{text}` is not a boolean")),
            "int" => int_of(text).ok_or_else(|| format!("`{text}` is not an integer")),
            "float" => float_of(text)
                .or_else(|| int_of(text))
                .ok_or_else(|| format!("`{text}` is not a number"))
                .and_then(finite),
            _ => Err(format!(
                "the tag `{}` cannot be used on a scalar",
                written(tag)
            )),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    if is_null(text) {
        return Ok(Value::Null);
    }
    if let Some(b) = bool_of(text) {
        return Ok(Value::Bool(b));
    }
    // A number starts with a digit, a sign or a dot; most scalars, names, are not tried.
    if matches!(
        text.as_bytes().first(),
        Some(b'0'..=b'9' | b'-' | b'+' | b'.')
    ) {
        if let Some(n) = int_of(text) {
            return Ok(n);
        }
        if let Some(f) = float_of(text) {
            return finite(f);
        }
    }
    Ok(Value::String(text.to_string()))
}

fn finite(v: Value) -> Result<Value, String> {
    if v.is_null() {
        Err("infinite and NaN numbers are not allowed".into())
    } else {
        Ok(v)
    }
}

fn is_null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

fn bool_of(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn int_of(s: &str) -> Option<Value> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = digits.strip_prefix("0o") {
        (8, o)
    } else {
        (10, digits)
    };
    if digits.is_empty()
        || !digits.chars().all(|c| c.is_digit(radix))
        || (radix != 10 && s.starts_with(['-', '+']))
    {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = i64::try_from(magnitude)
            .ok()
            .map(|m| -m)
            .or((magnitude == 1u128 << 63).then_some(i64::MIN))?;
        Some(Value::Number(v.into()))
    } else if let Ok(v) = u64::try_from(magnitude) {
        Some(Value::Number(v.into()))
    } else {
        Number::from_f64(magnitude as f64).map(Value::Number)
    }
}

/// A float of the core schema; `Value::Null` for infinities and NaN (refused by the caller).
fn float_of(s: &str) -> Option<Value> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Some(Value::Null);
        }
        _ => {}
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| d.chars().all(|c| c.is_ascii_digit());
    let ok_mantissa = digits(int)
        && frac.is_none_or(digits)
        && !(int.is_empty() && frac.is_none_or(str::is_empty));
    let ok_exponent = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !ok_mantissa || !ok_exponent {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    Some(Number::from_f64(f).map_or(Value::Null, Value::Number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::compose::compose;
    use serde_json::json;

    #[test]
    fn core_schema_scalars() {
        let v = compose("a: yes\nb: true\nc: 12\nd: -3\ne: 1.5\nf: ~\ng: '12'\nh: 0x1f\ni: 1e3\nj: no\nk: .5\nl: 1_000\nm: 007\n").unwrap();
        assert_eq!(
            v,
            json!({"a": "yes", "b": true, "c": 12, "d": -3, "e": 1.5, "f": null, "g": "12", "h": 31, "i": 1000.0, "j": "no", "k": 0.5, "l": "1_000", "m": 7})
        );
    }

    #[test]
    fn keys_are_the_json_text_of_their_value() {
        let v = compose("1: a\n0x10: b\n1.50: c\ntrue: d\nyes: e\n!!str 2: f\n'3': g\n").unwrap();
        assert_eq!(
            v,
            json!({"1": "a", "16": "b", "1.5": "c", "true": "d", "yes": "e", "2": "f", "3": "g"})
        );
        assert_eq!(plain_key("tenant-1").as_deref(), Some("tenant-1"));
        assert_eq!(plain_key("-1").as_deref(), Some("-1"));
        assert_eq!(plain_key("+.5").as_deref(), Some("0.5"));
        assert_eq!(plain_key("~"), None);
        assert_eq!(plain_key("Null"), None);
        assert_eq!(plain_key(".nan"), None);
        assert_eq!(plain_key("False").as_deref(), Some("false"));
    }

    #[test]
    fn tags_are_the_same_on_keys_and_values() {
        assert_eq!(
            compose("a: ! 12\n! 12: b\n").unwrap(),
            json!({"a": "12", "12": "b"})
        );
        assert_eq!(compose("a: !!int '12'\n").unwrap(), json!({"a": 12}));
        assert_eq!(compose("!!map {a: 1}\n").unwrap(), json!({"a": 1}));
        assert_eq!(compose("! [1]\n").unwrap(), json!([1]));
        for text in [
            "a: !foo b\n",
            "!foo a: b\n",
            "a: !!binary aGk=\n",
            "a: !!set {b: }\n",
            "!!seq {a: 1}\n",
            "a: !!map b\n",
            "a: !!null x\n",
            "!foo {a: 1}\n",
        ] {
            assert!(compose(text).is_err(), "{text:?}");
        }
    }
}
