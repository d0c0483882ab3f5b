//! Where each `${env:…}` value went: from its place in a file (`/tenants/acme/contact/phone`)
//! to a field of a resource of the desired state (tenant `acme`, `/contact/phone`), so that the
//! plan masks it, apply tells the platform it is sensitive, and `export` writes the `${env:…}`
//! text back. A value that is part of an identity or a hint (`previously:`, a grant's
//! workspace or grantee, an `acknowledge:` entry) cannot be masked: it is an error at its node.

use serde_json::Value;

use super::env::Substitution;
use super::yaml::span::unescape;
use super::Desired;
use crate::diagnostic::{FileId, Place, Problem, Target};
use crate::model::{keys, Kind};

/// Records each substitution in `desired.sensitive` (by resource, pointer into its spec) and
/// its variables' values in `desired.secrets`; reports the ones outside a resource's fields.
pub fn record(desired: &mut Desired, substitutions: Vec<(FileId, Substitution)>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (file, s) in substitutions {
        desired.secrets.extend(s.secrets.iter().cloned());
        let Some((kind, key, pointer)) = field_of(desired, &s.pointer, &s.value) else {
            problems.push(
                Problem::error(
                    "env_not_allowed",
                    Place::Pointer(file, s.pointer.clone(), Target::Value),
                    "`${env:…}` is for the values of a resource's fields, not for identities or hints",
                )
                .label("not a field value")
                .help("write this value in the YAML; keep secrets in fields such as contacts, descriptions and prompts"),
            );
            continue;
        };
        let list = desired.sensitive.entry((kind, key)).or_default();
        list.retain(|(p, _)| *p != pointer);
        list.push((pointer, s.source));
        list.sort();
    }
    desired.secrets.sort();
    desired.secrets.dedup();
    problems
}

/// The resource field a pointer of the document names: (kind, key, pointer into the spec).
/// A list item of a sorted list (role permissions, membership workspaces, grant actions) is
/// found by its value in the resource's list as normalised.
fn field_of(d: &Desired, pointer: &str, value: &str) -> Option<(Kind, String, String)> {
    let seg: Vec<String> = (pointer.split('/').skip(1))
        .map(|p| unescape(p).into_owned())
        .collect();
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    let (kind, key, rest): (Kind, String, &[&str]) = match s.as_slice() {
        ["plans", k, rest @ ..] => (Kind::Plan, k.to_string(), rest),
        ["models", k, rest @ ..] => (Kind::Model, k.to_string(), rest),
        ["roles", k, rest @ ..] => (Kind::Role, k.to_string(), rest),
        ["tenants", t, "workspaces", w, rest @ ..] => (Kind::Workspace, keys::join(&[t, w]), rest),
        ["tenants", t, "models", m, rest @ ..] => (Kind::TenantModel, keys::join(&[t, m]), rest),
        ["tenants", t, "grants", i, rest @ ..] if rest.first() == Some(&"actions") => {
            let i: usize = i.parse().ok()?;
            (Kind::Grant, d.origins.grant_at(t, i)?.to_string(), rest)
        }
        ["tenants", _, "grants", ..] => return None,
        ["tenants", t, rest @ ..] => (Kind::Tenant, t.to_string(), rest),
        ["users", e, "memberships", t, rest @ ..] => {
            (Kind::Membership, keys::join(&[&e.to_lowercase(), t]), rest)
        }
        ["users", e, "models", m] => (
            Kind::UserModel,
            keys::join(&[&e.to_lowercase(), m]),
            &["access"][..],
        ),
        ["users", e, rest @ ..] => (Kind::User, e.to_lowercase(), rest),
        _ => return None,
    };
    if rest.is_empty() || matches!(rest.first(), Some(&"previously" | &"protected")) {
        return None;
    }
    let spec = d.state.get(kind, &key)?.1.to_value();
    let mut parts: Vec<String> = rest.iter().map(|p| p.to_string()).collect();
    // A list item: its index in the normalised list, by value.
    if let [parent @ .., last] = rest {
        if last.parse::<usize>().is_ok() {
            let mut list: Vec<&str> = walk(&spec, parent)?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            // Role permissions and membership workspaces are sorted when the state is
            // normalised (after this); grant actions are sorted already.
            if matches!(kind, Kind::Role | Kind::Membership) {
                list.sort_unstable();
                list.dedup();
            }
            let at = list.iter().position(|v| *v == value)?;
            if let Some(l) = parts.last_mut() {
                *l = at.to_string();
            }
        }
    }
    let is_item = rest.last().is_some_and(|l| l.parse::<usize>().is_ok());
    if !is_item {
        walk(&spec, &parts.iter().map(String::as_str).collect::<Vec<_>>())?.as_str()?;
    }
    Some((
        kind,
        key,
        parts
            .iter()
            .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
            .collect(),
    ))
}

fn walk<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.get(*p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}
