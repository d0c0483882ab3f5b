//! What a token reaches, kind by kind (PRODUCT.md §2 rule 10): the coarse half of the access
//! matrix, published in `GET /whoami` so that a plan made with a tenant-scoped token covers
//! what the token can see and change. `authz` decides each read and write from this table,
//! then adds the fine limits (a `user_admin` changes `member`s only, …) the `note` words.
//! This is the token's scope; what a *user* may do is the access decision of `rules/`.

use crate::api::{KindAccess, Reach};
use crate::model::{keys, Kind, State};

use super::authz::{Principal, Role, Scope};

/// The kind's reach for a token of `scope` with `role` (read, write), and a note: the limits
/// of the writes when the token may make some, who may make them when it may not.
pub fn reach(scope: &Scope, role: Role, kind: Kind) -> (Reach, Reach, Option<&'static str>) {
    use Reach::{All, None as No, Tenant};
    if *scope == Scope::System {
        return (All, All, None);
    }
    match (role, kind) {
        (Role::Member, _) => (No, No, Some("an administrator token of the tenant, or a system token")),
        (_, Kind::Plan | Kind::Model | Kind::Role) => {
            (All, No, Some("system tokens only (the platform catalog)"))
        }
        (Role::BillingAdmin, Kind::TenantModel) => (No, No, Some("system tokens only")),
        (_, Kind::TenantModel) => (Tenant, No, Some("system tokens only")),
        (Role::OrgAdmin, Kind::Tenant) => (
            Tenant,
            Tenant,
            Some("its own tenant, except its plan, limits and status; no create or delete"),
        ),
        (Role::OrgAdmin, Kind::User) => (
            Tenant,
            Tenant,
            Some("users who are members of this tenant only, and new users who become members"),
        ),
        (Role::OrgAdmin, Kind::UserModel) => (
            Tenant,
            Tenant,
            Some("of users who are members of this tenant only"),
        ),
        (Role::OrgAdmin, Kind::Workspace | Kind::Grant | Kind::Membership) => (Tenant, Tenant, None),
        (Role::UserAdmin, Kind::Membership) => (
            Tenant,
            Tenant,
            Some("memberships with role `member` only: add, change workspaces, remove; never promote or demote"),
        ),
        (Role::UserAdmin, Kind::User) => (
            Tenant,
            Tenant,
            Some("new users who become `member`s; delete users whose only membership is a `member` one here"),
        ),
        (Role::UserAdmin, _) => (
            Tenant,
            No,
            Some("an `org_admin` token of the tenant, or a system token"),
        ),
        (Role::BillingAdmin, Kind::Tenant) => (Tenant, Tenant, Some("its plan only (billing)")),
        (Role::BillingAdmin, Kind::User | Kind::Membership) => (
            Tenant,
            No,
            Some("an `org_admin` or `user_admin` token of the tenant, or a system token"),
        ),
        (Role::BillingAdmin, _) => (
            No,
            No,
            Some("an `org_admin` token of the tenant, or a system token"),
        ),
    }
}

/// The whole table, as `GET /whoami` publishes it.
pub fn table(p: &Principal) -> Vec<KindAccess> {
    Kind::ALL
        .iter()
        .map(|&kind| {
            let (read, write, note) = reach(&p.scope, p.role, kind);
            KindAccess {
                kind,
                read,
                write,
                note: note.map(str::to_string),
            }
        })
        .collect()
}

/// Whether `kind/key` of `state` belongs to tenant `t` ([`keys::belongs_to_tenant`]).
pub fn in_tenant(state: &State, kind: Kind, key: &str, t: &str) -> bool {
    keys::belongs_to_tenant(kind, key, t, |u| {
        state.memberships.contains_key(&keys::join(&[u, t]))
    })
}
