//! The rules that make the OpenAPI document read well to client generators, and the
//! passes that enforce those the generator can: rustdoc links become plain text, component
//! schemas nothing references are dropped. [`problems`] lists what breaks the others
//! (de-duplicated schema names, untyped `true` schemas, operation ids of another case,
//! operations without a description, undeclared tags, dangling references); a test runs
//! it on the document, so a new endpoint that breaks a rule fails the suite.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

const REF_PREFIX: &str = "#/components/schemas/";

/// `text` with its rustdoc links made plain: ``[`State`]`` → `` `State` ``,
/// `[Route]` → `Route`, `[text](url)` → `text`. Code spans are left as they are.
pub fn strip_rustdoc_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['`', '[']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix('`') {
            // A code span: copied as it is, up to its closing backtick.
            let end = after.find('`').map_or(after.len(), |j| j + 1);
            out.push('`');
            out.push_str(&after[..end]);
            rest = &after[end..];
            continue;
        }
        match link_at(rest) {
            Some((shown, len)) => {
                out.push_str(shown);
                rest = &rest[len..];
            }
            None => {
                out.push('[');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The rustdoc or markdown link starting `s` (which starts with `[`): the text it shows and
/// its length.
fn link_at(s: &str) -> Option<(&str, usize)> {
    let close = s.find(']')?;
    let inner = &s[1..close];
    if inner.is_empty() || inner.contains('[') {
        return None;
    }
    let after = &s[close + 1..];
    if after.starts_with('(') {
        let end = after.find(')')?;
        return Some((inner, close + 1 + end + 1));
    }
    let code = inner.len() > 2
        && inner.starts_with('`')
        && inner.ends_with('`')
        && !inner[1..inner.len() - 1].contains('`');
    let path = inner.starts_with(|c: char| c.is_ascii_alphabetic())
        && inner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && (inner.contains("::") || inner.starts_with(|c: char| c.is_ascii_uppercase()));
    (code || path).then_some((inner, close + 1))
}

fn walk_mut(v: &mut Value, f: &mut impl FnMut(&str, &mut Value)) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                f(k, x);
                walk_mut(x, f);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk_mut(x, f)),
        _ => {}
    }
}

fn walk(v: &Value, at: &str, f: &mut impl FnMut(&str, &str, &Value)) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                f(k, &here, x);
                walk(x, &here, f);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, &format!("{at}/{i}"), f);
            }
        }
        _ => {}
    }
}

/// Rewrites every `description` and `summary` of `doc` without rustdoc links.
pub fn plain_descriptions(doc: &mut Value) {
    walk_mut(doc, &mut |key, v| {
        if let (true, Value::String(s)) = (key == "description" || key == "summary", &*v) {
            let plain = strip_rustdoc_links(s);
            if plain != *s {
                *v = Value::String(plain);
            }
        }
    });
}

/// The component names `v` references.
fn refs(v: &Value, into: &mut BTreeSet<String>) {
    walk(v, "", &mut |k, _, x| {
        if let (true, Some(r)) = (k == "$ref", x.as_str()) {
            if let Some(name) = r.strip_prefix(REF_PREFIX) {
                into.insert(name.to_string());
            }
        }
    });
}

/// Drops the component schemas that no operation reaches (directly or through others):
/// the generic wire types the document replaces with one schema per kind.
pub fn prune_unreferenced(schemas: &mut Value, paths: &Value) {
    let Some(all) = schemas.as_object_mut() else {
        return;
    };
    let mut reached = BTreeSet::new();
    refs(paths, &mut reached);
    let mut todo: Vec<String> = reached.iter().cloned().collect();
    while let Some(name) = todo.pop() {
        let mut more = BTreeSet::new();
        if let Some(s) = all.get(&name) {
            refs(s, &mut more);
        }
        for m in more {
            if reached.insert(m.clone()) {
                todo.push(m);
            }
        }
    }
    all.retain(|name, _| reached.contains(name));
}

/// A schema name a generator can use as a type name: PascalCase, not schemars'
/// de-duplicated `Entry2`.
fn bad_schema_name(name: &str) -> Option<&'static str> {
    if !name.starts_with(|c: char| c.is_ascii_uppercase())
        || !name.chars().all(|c| c.is_ascii_alphanumeric())
    {
        Some("is not PascalCase")
    } else if name.ends_with(|c: char| c.is_ascii_digit()) {
        Some("ends with a number, as schemars de-duplicates two types of one name: give one a `#[schemars(rename = …)]` that says what it is")
    } else {
        None
    }
}

/// Whether `id` is lower camelCase (`listTenantModels`), the one case of operation ids.
fn camel_case(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The keys under which a value is a schema (not a map of schemas, not a keyword).
const SCHEMA_KEYS: &[&str] = &["schema", "items", "not", "contains", "propertyNames"];
/// The keys under which every value is a schema.
const SCHEMA_LISTS: &[&str] = &[
    "properties",
    "allOf",
    "anyOf",
    "oneOf",
    "prefixItems",
    "$defs",
];

/// What in `doc` breaks a rule, one line each (empty: none).
pub fn problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let empty = Map::new();
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for name in schemas.keys() {
        if let Some(why) = bad_schema_name(name) {
            out.push(format!("schema `{name}` {why}"));
        }
    }
    let declared: BTreeSet<&str> = doc["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|t| {
                    t["description"]
                        .as_str()
                        .is_some_and(|d| !d.trim().is_empty())
                })
                .filter_map(|t| t["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut used = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap_or(&empty) {
        for (method, op) in item.as_object().unwrap_or(&empty) {
            let at = format!("{} {path}", method.to_uppercase());
            match op["operationId"].as_str() {
                None => out.push(format!("{at}: no operationId")),
                Some(id) if !camel_case(id) => out.push(format!(
                    "{at}: operationId `{id}` is not camelCase like the others (`listTenantModels`)"
                )),
                Some(id) if !ids.insert(id.to_string()) => {
                    out.push(format!("{at}: operationId `{id}` used twice"))
                }
                Some(_) => {}
            }
            for key in ["summary", "description"] {
                if op[key].as_str().is_none_or(|s| s.trim().is_empty()) {
                    out.push(format!("{at}: no {key}"));
                }
            }
            match op["tags"].as_array().map(Vec::as_slice) {
                Some([]) | None => out.push(format!("{at}: no tag")),
                Some(tags) => {
                    for t in tags.iter().filter_map(Value::as_str) {
                        used.insert(t.to_string());
                        if !declared.contains(t) {
                            out.push(format!("{at}: tag `{t}` is not declared at the top level with a description (add it to `TAGS` in src/server/openapi.rs)"));
                        }
                    }
                }
            }
        }
    }
    for t in declared.iter().filter(|t| !used.contains(**t)) {
        out.push(format!("tag `{t}` is declared but no operation uses it"));
    }
    walk(doc, "", &mut |key, at, v| {
        if key == "description" || key == "summary" {
            if let Some(s) = v.as_str().filter(|s| strip_rustdoc_links(s) != **s) {
                out.push(format!("{at}: rustdoc link syntax in `{s}`"));
            }
        }
        if key == "$ref" {
            if let Some(name) = v.as_str().and_then(|r| r.strip_prefix(REF_PREFIX)) {
                if !schemas.contains_key(name) {
                    out.push(format!("{at}: reference to the undefined schema `{name}`"));
                }
            }
        }
        let untyped = |x: &Value| x == &Value::Bool(true);
        if SCHEMA_KEYS.contains(&key) && untyped(v) {
            out.push(format!(
                "{at}: the schema `true` (any value): give it a type"
            ));
        }
        if SCHEMA_LISTS.contains(&key) {
            let members: Vec<(String, &Value)> = match v {
                Value::Object(m) => m.iter().map(|(k, x)| (k.clone(), x)).collect(),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (i.to_string(), x))
                    .collect(),
                _ => Vec::new(),
            };
            for (k, _) in members.into_iter().filter(|(_, x)| untyped(x)) {
                out.push(format!(
                    "{at}/{k}: the schema `true` (any value): give it a type"
                ));
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The committed document follows every rule.
    #[test]
    fn the_document_follows_the_rules() {
        let doc = crate::server::openapi::document();
        assert_eq!(problems(&doc), Vec::<String>::new());
        let ops: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert!(ops > 40, "{ops} operations");
    }

    /// A document that follows the rules, to break one rule at a time.
    fn good() -> Value {
        json!({
            "tags": [{ "name": "tenant", "description": "Tenants." }],
            "paths": { "/tenants/{tenant}": { "get": {
                "operationId": "getTenant", "tags": ["tenant"], "summary": "Read one tenant",
                "description": "The tenant.",
                "responses": { "200": { "description": "It", "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/TenantResource" } } } } }
            } } },
            "components": { "schemas": {
                "TenantResource": { "type": "object", "description": "One tenant.",
                    "properties": { "spec": { "$ref": "#/components/schemas/TenantSpec" } } },
                "TenantSpec": { "type": "object" }
            } }
        })
    }

    fn broken(f: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut doc = good();
        f(&mut doc);
        problems(&doc)
    }

    #[test]
    fn each_rule_catches_its_mistake() {
        assert_eq!(problems(&good()), Vec::<String>::new());
        let op = "/paths/~1tenants~1{tenant}/get";
        type Break = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(&str, Break)> = vec![
            (
                "schema `Entry2` ends with a number",
                Box::new(|d: &mut Value| {
                    d["components"]["schemas"]["Entry2"] = json!({ "type": "object" });
                }),
            ),
            (
                "schema `tenant_page` is not PascalCase",
                Box::new(|d: &mut Value| {
                    d["components"]["schemas"]["tenant_page"] = json!({ "type": "object" });
                }),
            ),
            (
                "rustdoc link syntax in `One [`State`].`",
                Box::new(|d: &mut Value| {
                    d["components"]["schemas"]["TenantResource"]["description"] =
                        json!("One [`State`].");
                }),
            ),
            (
                "rustdoc link syntax in `See [the guide](https://x.example).`",
                Box::new(move |d: &mut Value| {
                    *d.pointer_mut(&format!("{op}/description")).unwrap() =
                        json!("See [the guide](https://x.example).");
                }),
            ),
            (
                "tag `users` is not declared",
                Box::new(move |d: &mut Value| {
                    *d.pointer_mut(&format!("{op}/tags")).unwrap() = json!(["users"]);
                }),
            ),
            (
                "GET /tenants/{tenant}: no description",
                Box::new(move |d: &mut Value| {
                    d.pointer_mut(op)
                        .unwrap()
                        .as_object_mut()
                        .unwrap()
                        .remove("description");
                }),
            ),
            (
                "operationId `get_tenant` is not camelCase",
                Box::new(move |d: &mut Value| {
                    *d.pointer_mut(&format!("{op}/operationId")).unwrap() = json!("get_tenant");
                }),
            ),
            (
                "/properties/spec: the schema `true`",
                Box::new(|d: &mut Value| {
                    d["components"]["schemas"]["TenantResource"]["properties"]["spec"] =
                        json!(true);
                }),
            ),
            (
                "reference to the undefined schema `TenantSpec`",
                Box::new(|d: &mut Value| {
                    d["components"]["schemas"]
                        .as_object_mut()
                        .unwrap()
                        .remove("TenantSpec");
                }),
            ),
        ];
        for (want, f) in cases {
            let got = broken(f);
            assert!(
                got.iter().any(|p| p.contains(want)),
                "want `{want}`, got {got:?}"
            );
        }
    }

    #[test]
    fn rustdoc_links_become_plain_text() {
        for (text, plain) in [
            ("One resource in a [`State`].", "One resource in a `State`."),
            ("See [`Route`]s and [Routes].", "See `Route`s and Routes."),
            ("A [link](https://x.example) here", "A link here"),
            (
                "Uses [`crate::api::PREFIX`](crate::api::PREFIX).",
                "Uses `crate::api::PREFIX`.",
            ),
            (
                "Keys match `[a-z0-9][a-z0-9-]*`; `[]`: none",
                "Keys match `[a-z0-9][a-z0-9-]*`; `[]`: none",
            ),
            (
                "A list [1, 2] and [a-z] stay",
                "A list [1, 2] and [a-z] stay",
            ),
        ] {
            assert_eq!(strip_rustdoc_links(text), plain, "{text}");
        }
    }

    #[test]
    fn unreferenced_components_are_dropped() {
        let mut schemas = json!({
            "A": { "properties": { "b": { "$ref": "#/components/schemas/B" } } },
            "B": { "type": "string" },
            "Unused": { "type": "object" }
        });
        prune_unreferenced(
            &mut schemas,
            &json!({ "/a": { "$ref": "#/components/schemas/A" } }),
        );
        let names: Vec<&String> = schemas.as_object().unwrap().keys().collect();
        assert_eq!(names, ["A", "B"]);
    }
}
