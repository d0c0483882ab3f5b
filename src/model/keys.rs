//! Composite keys of child resources: `tenant/workspace`, `email/tenant`,
//! `tenant/workspace/role:NAME`. Identities never contain `/`, so splitting is unambiguous.

use std::fmt;

/// Joins parts into a key.
pub fn join(parts: &[&str]) -> String {
    parts.join("/")
}

/// Splits a two-part key (`acme/paris`).
pub fn split2(key: &str) -> Option<(&str, &str)> {
    // Byte search: `/` is ASCII, so its index is a character boundary.
    let i = key.bytes().position(|c| c == b'/')?;
    let (a, b) = (&key[..i], &key[i + 1..]);
    (!b.as_bytes().contains(&b'/')).then_some((a, b))
}

/// The grantee of a granular grant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grantee {
    /// Members holding this role.
    Role(String),
    /// One user, by e-mail.
    User(String),
    /// Every member of the tenant.
    Tenant,
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Role(r) => write!(f, "role:{r}"),
            Grantee::User(u) => write!(f, "user:{u}"),
            Grantee::Tenant => f.write_str("tenant"),
        }
    }
}

impl Grantee {
    pub fn parse(s: &str) -> Option<Grantee> {
        match s.split_once(':') {
            Some(("role", r)) if !r.is_empty() => Some(Grantee::Role(r.to_string())),
            Some(("user", u)) if !u.is_empty() => Some(Grantee::User(u.to_string())),
            None if s == "tenant" => Some(Grantee::Tenant),
            _ => None,
        }
    }
}

/// The parts of a grant key: tenant, workspace, grantee.
pub fn split_grant(key: &str) -> Option<(&str, &str, Grantee)> {
    let mut it = key.splitn(3, '/');
    let (t, w, g) = (it.next()?, it.next()?, it.next()?);
    Some((t, w, Grantee::parse(g)?))
}

/// The key of a grant.
pub fn grant(tenant: &str, workspace: &str, grantee: &Grantee) -> String {
    format!("{tenant}/{workspace}/{grantee}")
}

/// The tenant a resource of `kind` with `key` belongs to, if it belongs to one.
pub fn tenant_of(kind: super::Kind, key: &str) -> Option<&str> {
    use super::Kind::*;
    match kind {
        Tenant => Some(key),
        Workspace | TenantModel | Grant => key.split('/').next(),
        Membership => split2(key).map(|(_, t)| t),
        Plan | Model | Role | User | UserModel => None,
    }
}

/// Whether `kind/key` belongs to tenant `t`: the tenant itself, its workspaces, tenant
/// models, grants and memberships, and the users `is_member` says are its members, with
/// their user models. Catalog resources (plans, models, roles) belong to every tenant. What
/// a tenant-scoped token reaches: the platform asks it of the live state, a scoped plan of
/// the configuration as it will be.
pub fn belongs_to_tenant(
    kind: super::Kind,
    key: &str,
    t: &str,
    is_member: impl Fn(&str) -> bool,
) -> bool {
    use super::Kind::*;
    match kind {
        Plan | Model | Role => true,
        User => is_member(key),
        UserModel => split2(key).is_some_and(|(u, _)| is_member(u)),
        _ => tenant_of(kind, key) == Some(t),
    }
}

/// The parent resource that must exist before `kind/key` can (kind, key).
pub fn parents(kind: super::Kind, key: &str) -> Vec<(super::Kind, String)> {
    use super::Kind::*;
    let mut out = Vec::new();
    match kind {
        Plan | Model | Role | Tenant | User => {}
        Workspace => {
            if let Some((t, _)) = split2(key) {
                out.push((Tenant, t.to_string()));
            }
        }
        TenantModel => {
            if let Some((t, m)) = split2(key) {
                out.push((Tenant, t.to_string()));
                out.push((Model, m.to_string()));
            }
        }
        Grant => {
            if let Some((t, w, g)) = split_grant(key) {
                out.push((Workspace, join(&[t, w])));
                match g {
                    Grantee::Role(r) => out.push((Role, r)),
                    Grantee::User(u) => out.push((Membership, join(&[&u, t]))),
                    Grantee::Tenant => {}
                }
            }
        }
        Membership => {
            if let Some((u, t)) = split2(key) {
                out.push((User, u.to_string()));
                out.push((Tenant, t.to_string()));
            }
        }
        UserModel => {
            if let Some((u, m)) = split2(key) {
                out.push((User, u.to_string()));
                out.push((Model, m.to_string()));
            }
        }
    }
    out
}
