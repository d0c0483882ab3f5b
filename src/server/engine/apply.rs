//! Applying a write's mutations to the in-memory state, one by one: the precondition on
//! the version, the access matrix, the new bookkeeping, and the cascade of a delete. Every
//! change goes through the [`Journal`], so a refused write is undone whole.

use std::collections::HashSet;

use serde_json::json;

use crate::model::{keys, AnySpec, Kind, Meta, State};
use crate::rules::{Recheck, Violations};
use crate::server::authz::{self, Principal};
use crate::server::error::ApiError;
use crate::server::store::AuditOp;

use super::identity::{check_key, identity_problem};
use super::journal::Journal;
use super::snapshot::Snapshot;
use super::{refusals, Effect, Mutation, WriteRequest};

/// What a write of one mutation left: whether it created its resource, and the resource
/// afterwards (None: deleted).
pub type Applied = (bool, Option<(Meta, AnySpec)>);

/// Applies every mutation of `req` to `snap`, then checks the write as a whole (users it
/// created, the platform's rules, rechecked where the write reaches). Each spec is moved
/// out of its mutation into the state, not copied (the request is spent). Returns what a
/// write of one mutation left (nothing for more: a batch's response does not carry its
/// resources) and the recheck of the rules; on error the caller undoes the journal.
pub(super) fn apply_all(
    snap: &mut Snapshot,
    req: &mut WriteRequest,
    journal: &mut Journal,
    violations: &Violations,
) -> Result<(Vec<Applied>, Recheck), ApiError> {
    let mut created_users = HashSet::new();
    let single = req.mutations.len() == 1;
    let mut results = Vec::new();
    for (i, m) in req.mutations.iter_mut().enumerate() {
        let created = apply_one(snap, &req.principal, m, journal, &mut created_users)
            .map_err(|e| if single { e } else { e.at_operation(i) })?;
        if single {
            results.push((created, snap.state.get(m.kind, &m.key)));
        }
    }
    req.principal
        .check_created_users(&snap.state, &created_users)?;
    let recheck = refusals::check(snap, req, journal, violations)?;
    Ok((results, recheck))
}

/// Applies one mutation: checks its key, its precondition and the access matrix, then sets
/// the resource (or deletes it with what depends on it). Returns whether it created it.
fn apply_one(
    snap: &mut Snapshot,
    principal: &Principal,
    m: &mut Mutation,
    journal: &mut Journal,
    created_users: &mut HashSet<String>,
) -> Result<bool, ApiError> {
    check_key(m.kind, &m.key)?;
    let (kind, key) = (m.kind, m.key.as_str());
    if let Some(v) = identity_problem(kind, key) {
        return Err(match m.effect {
            Effect::Put { .. } => ApiError::Rules {
                message: format!("the write breaks 1 rule(s) of the platform: {}", v.message),
                violations: vec![v],
            },
            Effect::Delete | Effect::Adopt => ApiError::NotFound {
                message: format!("{kind} `{key}` does not exist"),
                details: json!({ "kind": kind, "key": key }),
            },
        });
    }
    let state = &snap.state;
    let before = state.get(kind, key);
    let hidden = |principal: &Principal, state: &State| {
        principal.visibility(state, kind, key) == authz::Visibility::Hidden
    };
    if let Some(expected) = m.if_version {
        let actual = before.as_ref().map_or(0, |(m, _)| m.version);
        if expected != actual && !(before.is_some() && hidden(principal, state)) {
            let message = if expected == 0 {
                format!("{kind} `{key}` already exists (version {actual})")
            } else if actual == 0 {
                format!("{kind} `{key}` does not exist (expected version {expected})")
            } else {
                format!("{kind} `{key}` is at version {actual}, not {expected}")
            };
            return Err(ApiError::StaleVersion {
                message,
                details: json!({ "kind": kind, "key": key, "expected": expected, "actual": actual }),
            });
        }
    }
    let not_found = || ApiError::NotFound {
        message: format!("{kind} `{key}` does not exist"),
        details: json!({ "kind": kind, "key": key }),
    };
    match &mut m.effect {
        Effect::Put {
            spec,
            protected,
            managed,
        } => {
            if spec.kind() != kind {
                return Err(ApiError::bad_request(
                    "invalid_spec",
                    format!("the spec is not a {kind} spec"),
                ));
            }
            principal.check_write(
                state,
                kind,
                key,
                before.as_ref().map(|(_, s)| s),
                Some(spec),
                created_users,
            )?;
            let meta = match &before {
                Some((m, _)) => Meta {
                    version: m.version + 1,
                    managed: managed.unwrap_or(m.managed),
                    protected: protected.unwrap_or(m.protected),
                },
                None => Meta {
                    version: 1,
                    managed: managed.unwrap_or(true),
                    protected: protected.unwrap_or(false),
                },
            };
            let spec = std::mem::replace(spec, AnySpec::Plan(Default::default()));
            journal.set(snap, kind, key, Some((meta, spec)), AuditOp::Put);
            Ok(before.is_none())
        }
        Effect::Adopt => {
            let Some((meta, spec)) = before else {
                return Err(not_found());
            };
            if hidden(principal, state) {
                return Err(not_found());
            }
            principal.check_write(state, kind, key, Some(&spec), Some(&spec), created_users)?;
            let meta = Meta {
                managed: true,
                ..meta
            };
            journal.set(snap, kind, key, Some((meta, spec)), AuditOp::Adopt);
            Ok(false)
        }
        Effect::Delete => {
            let Some((meta, spec)) = before else {
                return Err(not_found());
            };
            principal.check_write(state, kind, key, Some(&spec), None, created_users)?;
            if meta.protected {
                return Err(protected(kind, key, kind, key));
            }
            delete_cascade(snap, journal, kind, key)?;
            Ok(false)
        }
    }
}

/// 409 `resource_protected`: deleting `kind/key` would delete the protected `pk/pkey`
/// (itself or a child). Unprotecting is an update of its own, audited, first.
fn protected(kind: Kind, key: &str, pk: Kind, pkey: &str) -> ApiError {
    let message = if (kind, key) == (pk, pkey) {
        format!("{kind} `{key}` is protected (`protected: true`): unprotect it first with an update that sets `protected: false`, then delete it")
    } else {
        format!("deleting {kind} `{key}` would delete {pk} `{pkey}`, which is protected (`protected: true`): unprotect it first with an update that sets `protected: false`")
    };
    ApiError::Conflict {
        code: "resource_protected",
        message,
        details: json!({ "kind": kind, "key": key, "protected_kind": pk, "protected_key": pkey }),
    }
}

/// Deletes `kind/key` and everything that depends on it; refuses to delete a protected
/// child.
fn delete_cascade(
    snap: &mut Snapshot,
    journal: &mut Journal,
    kind: Kind,
    key: &str,
) -> Result<(), ApiError> {
    let state = &snap.state;
    let mut children: Vec<(Kind, String)> = Vec::new();
    let grants_to = |state: &State, tenant: &str, email: &str| -> Vec<(Kind, String)> {
        let suffix = format!("/user:{email}");
        state
            .keys_in(Kind::Grant, &format!("{tenant}/"))
            .filter(|k| k.ends_with(&suffix))
            .map(|k| (Kind::Grant, k.to_string()))
            .collect()
    };
    match kind {
        Kind::Tenant => {
            let prefix = format!("{key}/");
            for k in [Kind::Grant, Kind::TenantModel, Kind::Workspace] {
                children.extend(state.keys_in(k, &prefix).map(|c| (k, c.to_string())));
            }
            children.extend(
                snap.index
                    .membership_keys(key)
                    .into_iter()
                    .map(|m| (Kind::Membership, m)),
            );
        }
        Kind::User => {
            let prefix = format!("{key}/");
            let memberships: Vec<String> = state
                .keys_in(Kind::Membership, &prefix)
                .map(str::to_string)
                .collect();
            for m in &memberships {
                if let Some((_, t)) = keys::split2(m) {
                    children.extend(grants_to(state, t, key));
                }
            }
            children.extend(memberships.into_iter().map(|m| (Kind::Membership, m)));
            children.extend(
                state
                    .keys_in(Kind::UserModel, &prefix)
                    .map(|c| (Kind::UserModel, c.to_string())),
            );
        }
        Kind::Workspace => {
            children.extend(
                state
                    .keys_in(Kind::Grant, &format!("{key}/"))
                    .map(|c| (Kind::Grant, c.to_string())),
            );
            if let Some((t, w)) = keys::split2(key) {
                let updates: Vec<(String, Meta, AnySpec)> = snap
                    .index
                    .membership_keys(t)
                    .into_iter()
                    .filter_map(|k| state.memberships.get(&k).map(|m| (k, m)))
                    .filter(|(_, m)| m.spec.workspaces.iter().any(|x| x == w))
                    .map(|(k, m)| {
                        let mut spec = m.spec.clone();
                        spec.workspaces.retain(|x| x != w);
                        let mut meta = m.meta();
                        meta.version += 1;
                        (k, meta, AnySpec::Membership(spec))
                    })
                    .collect();
                for (k, meta, spec) in updates {
                    journal.set(
                        snap,
                        Kind::Membership,
                        &k,
                        Some((meta, spec)),
                        AuditOp::CascadeUpdate,
                    );
                }
            }
        }
        Kind::Membership => {
            if let Some((u, t)) = keys::split2(key) {
                children.extend(grants_to(state, t, u));
            }
        }
        Kind::Plan
        | Kind::Model
        | Kind::Role
        | Kind::TenantModel
        | Kind::Grant
        | Kind::UserModel => {}
    }
    if let Some((pk, pkey)) = children
        .iter()
        .find(|(k, c)| snap.state.meta(*k, c).is_some_and(|m| m.protected))
    {
        return Err(protected(kind, key, *pk, pkey));
    }
    for (k, c) in children {
        if snap.state.contains(k, &c) {
            journal.set(snap, k, &c, None, AuditOp::CascadeDelete);
        }
    }
    journal.set(snap, kind, key, None, AuditOp::Delete);
    Ok(())
}
