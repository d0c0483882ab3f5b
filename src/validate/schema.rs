//! The JSON Schema check of each parsed file: the validator is compiled once from the schema
//! generated from the document types, and each of its errors becomes a [`Problem`] at the
//! error's instance path, with a message and a did-you-mean written for YAML authors.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::config::yaml::span::{escape, unescape};
use crate::diagnostic::{FileId, Place, Problem, Target};
use crate::rules::{
    did_you_mean, invalid_email_message, invalid_key_message, EMAIL_PATTERN, INVALID_KEY_HELP,
    INVALID_USER_HELP,
};

struct Compiled {
    schema: Value,
    validator: Option<jsonschema::Validator>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = crate::config::json_schema();
        let validator = jsonschema::options().build(&schema).ok();
        Compiled { schema, validator }
    })
}

/// Checks one file's document against the schema; returns whether it is valid.
pub fn check(id: FileId, value: &Value, out: &mut Vec<Problem>) -> bool {
    let c = compiled();
    let Some(validator) = &c.validator else {
        out.push(Problem::error(
            "internal",
            Place::Nowhere,
            "the JSON Schema of the configuration does not compile",
        ));
        return false;
    };
    if validator.is_valid(value) {
        return true;
    }
    for e in validator.iter_errors(value) {
        report(id, &e, c, out);
    }
    false
}

/// Turns one validation error into problems.
fn report(id: FileId, e: &jsonschema::ValidationError<'_>, c: &Compiled, out: &mut Vec<Problem>) {
    let ptr = e.instance_path().as_str().to_string();
    let node = schema_at(&c.schema, &ptr);
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let allowed = node.map(|n| properties(&c.schema, n)).unwrap_or_default();
            for key in unexpected {
                let help = did_you_mean(key, allowed.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| allowed_list(&allowed));
                out.push(
                    Problem::error(
                        "unknown_field",
                        Place::Pointer(id, format!("{ptr}/{}", escape(key)), Target::Key),
                        format!("unknown field `{key}`"),
                    )
                    .label("unknown field")
                    .help(help),
                );
            }
        }
        ValidationErrorKind::PropertyNames { error } => {
            // Rule 5's key formats, declared in the schema: reported as the rule words them.
            let name = match error.instance().as_ref() {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let map = ptr.rsplit('/').next().unwrap_or_default();
            let place = Place::Pointer(id, format!("{ptr}/{}", escape(&name)), Target::Key);
            out.push(if map == "users" {
                Problem::error("invalid_email", place, invalid_email_message(&name))
                    .label("not an e-mail address")
                    .help(INVALID_USER_HELP)
            } else {
                let noun = map.strip_suffix('s').unwrap_or(map);
                Problem::error("invalid_key", place, invalid_key_message(noun, &name))
                    .label("invalid key")
                    .help(INVALID_KEY_HELP)
            });
        }
        ValidationErrorKind::Pattern { pattern } if pattern == EMAIL_PATTERN => {
            let text = e.instance().as_str().unwrap_or_default();
            out.push(
                Problem::error(
                    "invalid_email",
                    Place::Pointer(id, ptr.clone(), Target::Value),
                    invalid_email_message(text),
                )
                .label("not an e-mail address"),
            );
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let what = node
                .and_then(|n| n.get("properties"))
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("description"))
                .and_then(Value::as_str);
            out.push(
                Problem::error(
                    "missing_field",
                    Place::Pointer(id, ptr.clone(), Target::Key),
                    format!("missing field `{name}`"),
                )
                .label(format!("`{name}` is required here"))
                .maybe_help(what.map(|w| format!("`{name}`: {}", first_sentence(w)))),
            );
        }
        ValidationErrorKind::Type { .. } => {
            let expected = node
                .map(|n| expected_type(&c.schema, n))
                .unwrap_or_else(|| "another type".into());
            let found = describe(e.instance());
            let mut p = Problem::error(
                "wrong_type",
                Place::Pointer(id, ptr.clone(), Target::Value),
                format!("expected {expected}, found {found}"),
            )
            .label(format!("expected {expected}"));
            if expected.contains("true") && matches!(e.instance().as_ref(), Value::String(_)) {
                p = p.help("write `true` or `false`: YAML 1.1 spellings such as `yes`, `no`, `on` and `off` are strings here");
            } else if let Some(d) = node
                .and_then(|n| n.get("description"))
                .and_then(Value::as_str)
            {
                p = p.help(first_sentence(d));
            }
            out.push(p);
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context }
            if best_branch(context, &ptr).is_some() =>
        {
            // The value has the shape of one alternative (`to: { role: 5 }`): report what is
            // wrong inside it rather than "no alternative matches".
            for inner in best_branch(context, &ptr).into_iter().flatten() {
                report(id, inner, c, out);
            }
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context }
            if all_wrong_type(context, &ptr) =>
        {
            let expected = node
                .map(|n| expected_type(&c.schema, n))
                .unwrap_or_else(|| "another type".into());
            out.push(
                Problem::error(
                    "wrong_type",
                    Place::Pointer(id, ptr.clone(), Target::Value),
                    format!("expected {expected}, found {}", describe(e.instance())),
                )
                .label(format!("expected {expected}"))
                .maybe_help(
                    node.and_then(|n| n.get("description"))
                        .and_then(Value::as_str)
                        .map(first_sentence),
                ),
            );
        }
        ValidationErrorKind::Enum { .. }
        | ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::AnyOf { .. }
        | ValidationErrorKind::Constant { .. } => {
            let choices = node.map(|n| choices(&c.schema, n)).unwrap_or_default();
            let found = e.instance();
            if !choices.is_empty() {
                let text = found
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| found.to_string());
                let help = did_you_mean(&text, choices.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("one of: {}", quoted(&choices)));
                out.push(
                    Problem::error(
                        "invalid_value",
                        Place::Pointer(id, ptr.clone(), Target::Value),
                        format!("`{text}` is not one of {}", quoted(&choices)),
                    )
                    .label("not allowed here")
                    .help(help),
                );
            } else if let Some(unknown) = unknown_keys(&c.schema, node, found) {
                // `to: { rol: x }`: no alternative fits because of a misspelt key.
                let allowed = node.map(|n| properties(&c.schema, n)).unwrap_or_default();
                for key in unknown {
                    let help = did_you_mean(&key, allowed.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| allowed_list(&allowed));
                    out.push(
                        Problem::error(
                            "unknown_field",
                            Place::Pointer(id, format!("{ptr}/{}", escape(&key)), Target::Key),
                            format!("unknown field `{key}`"),
                        )
                        .label("unknown field")
                        .help(help),
                    );
                }
            } else {
                let d = node
                    .and_then(|n| n.get("description"))
                    .and_then(Value::as_str)
                    .map(first_sentence);
                out.push(
                    Problem::error(
                        "invalid_value",
                        Place::Pointer(id, ptr.clone(), Target::Value),
                        format!("{} does not have an allowed form", describe(found)),
                    )
                    .label("not allowed here")
                    .maybe_help(d),
                );
            }
        }
        other => {
            let message = match other {
                ValidationErrorKind::Pattern { pattern } => {
                    format!(
                        "{} does not match the pattern `{pattern}`",
                        describe(e.instance())
                    )
                }
                ValidationErrorKind::Minimum { limit }
                | ValidationErrorKind::ExclusiveMinimum { limit } => {
                    format!("{} is below the minimum {limit}", describe(e.instance()))
                }
                ValidationErrorKind::Maximum { limit }
                | ValidationErrorKind::ExclusiveMaximum { limit } => {
                    format!("{} is above the maximum {limit}", describe(e.instance()))
                }
                _ => e.to_string(),
            };
            out.push(
                Problem::error(
                    "invalid_value",
                    Place::Pointer(id, ptr.clone(), Target::Value),
                    message,
                )
                .label("not allowed here")
                .maybe_help(
                    node.and_then(|n| n.get("description"))
                        .and_then(Value::as_str)
                        .map(first_sentence),
                ),
            );
        }
    }
}

fn first_sentence(s: &str) -> String {
    let s = s.split("\n\n").next().unwrap_or(s).replace('\n', " ");
    s.trim().to_string()
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn allowed_list(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "remove this field".into()
    } else {
        format!("fields allowed here: {}", quoted(allowed))
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) if s.chars().count() <= 40 => format!("the string `{s}`"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn type_name(t: &str) -> Option<&'static str> {
    Some(match t {
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "`true` or `false`",
        "object" => "a mapping",
        "array" => "a list",
        _ => return None,
    })
}

fn expected_type(root: &Value, node: &Value) -> String {
    let mut names: Vec<&'static str> = Vec::new();
    let mut add = |n: &Value| match n.get("type") {
        Some(Value::String(t)) => names.extend(type_name(t)),
        Some(Value::Array(ts)) => {
            names.extend(ts.iter().filter_map(Value::as_str).filter_map(type_name))
        }
        _ => {}
    };
    add(node);
    for alt in alternatives(root, node) {
        add(alt);
    }
    names.dedup();
    match names.len() {
        0 => "another type".into(),
        _ => names.join(" or "),
    }
}

fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| root.pointer(p))
        {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

fn alternatives<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| node.get(*k).and_then(Value::as_array))
        .flatten()
        .map(|a| resolve(root, a))
        .collect()
}

/// The schema of the node at `ptr` of an instance (following `$ref`, `anyOf` and `oneOf`).
fn schema_at<'a>(root: &'a Value, ptr: &str) -> Option<&'a Value> {
    let mut node = resolve(root, root);
    for seg in ptr.split('/').skip(1) {
        let seg = unescape(seg);
        node = child(root, node, &seg, 0)?;
    }
    Some(node)
}

fn child<'a>(root: &'a Value, node: &'a Value, seg: &str, depth: usize) -> Option<&'a Value> {
    if let Some(p) = node.get("properties").and_then(|p| p.get(seg)) {
        return Some(resolve(root, p));
    }
    if let Some(ap) = node.get("additionalProperties").filter(|v| v.is_object()) {
        return Some(resolve(root, ap));
    }
    if let (Some(items), true) = (
        node.get("items").filter(|v| v.is_object()),
        seg.parse::<usize>().is_ok(),
    ) {
        return Some(resolve(root, items));
    }
    if depth < 4 {
        for alt in alternatives(root, node) {
            if let Some(c) = child(root, alt, seg, depth + 1) {
                return Some(c);
            }
        }
    }
    None
}

/// The alternative of a `oneOf`/`anyOf` that failed only below the value itself (not for a
/// missing or unknown key), when there is exactly one.
fn best_branch<'e>(
    context: &'e [Vec<jsonschema::ValidationError<'static>>],
    at: &str,
) -> Option<&'e [jsonschema::ValidationError<'static>]> {
    let mut fits = context.iter().filter(|errors| {
        !errors.is_empty()
            && errors.iter().all(|e| {
                let at_the_value = e.instance_path().as_str() == at;
                match e.kind() {
                    ValidationErrorKind::Required { .. }
                    | ValidationErrorKind::AdditionalProperties { .. }
                    | ValidationErrorKind::Constant { .. }
                    | ValidationErrorKind::Enum { .. } => false,
                    ValidationErrorKind::Type { .. } => !at_the_value,
                    _ => true,
                }
            })
    });
    let first = fits.next()?;
    fits.next().is_none().then_some(first.as_slice())
}

/// Whether every alternative failed only because the value has another type.
fn all_wrong_type(context: &[Vec<jsonschema::ValidationError<'static>>], at: &str) -> bool {
    !context.is_empty()
        && context.iter().all(|errors| {
            errors.len() == 1
                && matches!(errors[0].kind(), ValidationErrorKind::Type { .. })
                && errors[0].instance_path().as_str() == at
        })
}

/// Keys of an object instance that no alternative of `node` declares, if any.
fn unknown_keys(root: &Value, node: Option<&Value>, instance: &Value) -> Option<Vec<String>> {
    let allowed = properties(root, node?);
    let obj = instance.as_object()?;
    if allowed.is_empty() {
        return None;
    }
    let unknown: Vec<String> = obj
        .keys()
        .filter(|k| !allowed.contains(k))
        .cloned()
        .collect();
    (!unknown.is_empty()).then_some(unknown)
}

fn properties(root: &Value, node: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |n: &Value| {
        if let Some(p) = n.get("properties").and_then(Value::as_object) {
            out.extend(p.keys().cloned());
        }
    };
    add(node);
    for alt in alternatives(root, node) {
        add(alt);
    }
    out.dedup();
    out
}

fn choices(root: &Value, node: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |n: &Value| {
        if let Some(c) = n.get("const").and_then(Value::as_str) {
            out.push(c.to_string());
        }
        if let Some(e) = n.get("enum").and_then(Value::as_array) {
            out.extend(e.iter().filter_map(Value::as_str).map(str::to_string));
        }
    };
    add(node);
    for alt in alternatives(root, node) {
        add(alt);
        for inner in alternatives(root, alt) {
            add(inner);
        }
    }
    out.dedup();
    out
}
