//! The shape of a key, checked before anything else: [`check_key`] answers 400 for a key
//! that cannot name a resource of its kind (a wrong number of parts, a `/` in a part), and
//! [`identity_problem`] finds the identities rule 5 refuses (keys, e-mails), so a resource
//! whose identity is malformed is never created and never looked for.

use serde_json::json;

use crate::model::{keys, Kind};
use crate::rules::Violation;

use crate::server::error::ApiError;

/// Checks the shape of a key (the identity formats are the rules' business).
pub fn check_key(kind: Kind, key: &str) -> Result<(), ApiError> {
    let part_ok = |p: &str| {
        !p.is_empty() && !p.contains('/') && p.len() <= 320 && !p.chars().any(char::is_control)
    };
    let ok = match kind {
        Kind::Plan | Kind::Model | Kind::Role | Kind::Tenant | Kind::User => part_ok(key),
        Kind::Workspace | Kind::TenantModel | Kind::Membership | Kind::UserModel => {
            keys::split2(key).is_some_and(|(a, b)| part_ok(a) && part_ok(b))
        }
        Kind::Grant => keys::split_grant(key).is_some_and(|(t, w, g)| {
            part_ok(t)
                && part_ok(w)
                && match &g {
                    keys::Grantee::Role(r) => part_ok(r),
                    keys::Grantee::User(u) => part_ok(u),
                    keys::Grantee::Tenant => true,
                }
        }),
    };
    if ok {
        Ok(())
    } else {
        let shape = match kind {
            Kind::Workspace => "TENANT/WORKSPACE",
            Kind::TenantModel => "TENANT/MODEL",
            Kind::Membership => "EMAIL/TENANT",
            Kind::UserModel => "EMAIL/MODEL",
            Kind::Grant => "TENANT/WORKSPACE/role:NAME|user:EMAIL|tenant",
            _ => "one identity without `/`",
        };
        Err(ApiError::BadRequest {
            code: "invalid_key",
            message: format!("`{key}` is not a valid {kind} key: expected {shape}"),
            details: json!({ "kind": kind, "key": key }),
        })
    }
}

/// Whether every identity in `kind/key` has the form rule 5 requires (keys, e-mails). A
/// resource whose identity is malformed can never exist, so no precondition applies to it.
pub(super) fn identity_problem(kind: Kind, key: &str) -> Option<Violation> {
    use crate::rules::{is_valid_email, is_valid_key};
    let email = |s: &str| {
        is_valid_email(s).then_some(()).ok_or((
            "invalid_email",
            format!("`{s}` is not a valid e-mail address"),
        ))
    };
    let slug = |s: &str| {
        is_valid_key(s)
            .then_some(())
            .ok_or(("invalid_key", format!("`{s}` is not a valid key")))
    };
    let check = || -> Result<(), (&'static str, String)> {
        match kind {
            Kind::Plan | Kind::Model | Kind::Role | Kind::Tenant => slug(key),
            Kind::User => email(key),
            Kind::Workspace | Kind::TenantModel => {
                keys::split2(key).map_or(Ok(()), |(a, b)| slug(a).and(slug(b)))
            }
            Kind::Membership | Kind::UserModel => {
                keys::split2(key).map_or(Ok(()), |(a, b)| email(a).and(slug(b)))
            }
            Kind::Grant => keys::split_grant(key).map_or(Ok(()), |(t, w, g)| {
                slug(t).and(slug(w)).and(match &g {
                    keys::Grantee::Role(r) => slug(r),
                    keys::Grantee::User(u) => email(u),
                    keys::Grantee::Tenant => Ok(()),
                })
            }),
        }
    };
    check().err().map(|(code, message)| Violation {
        code,
        severity: crate::diagnostic::Severity::Error,
        kind,
        key: key.to_string(),
        field: None,
        message,
        help: Some("keys are lower-case letters, digits and `-` (at most 63); users are keyed by a lower-case e-mail".into()),
    })
}
