//! What a principal may read, kind by kind. Inside its tenant:
//!
//! | kind | read with |
//! |---|---|
//! | plans, models, roles (the catalog), its tenant | `organization.read` |
//! | a workspace | `project.read` there (the role sees it, or a `read` grant on it); its name only with `project.list_names` |
//! | a workspace in a list (and in the state) | `project.list` there; its name only with `project.list_names` (the "**" of 002) |
//! | tenant models, user models | `models.assign` or `users.assign_workspaces`: who assigns access sees the tenant's model grants (a user's own: always) |
//! | grants | `users.assign_workspaces` |
//! | memberships, users (members of the tenant) | `users.read` (one's own: always) |
//!
//! Anything of another tenant, and users who are not members of the tenant, are hidden.

use crate::model::{keys, AnySpec, Kind, State, WorkspaceSpec};

use super::{Actor, ApiError, Principal, Visibility};

/// What a principal sees of a resource it sees by name only: the workspace's key and
/// display name, nothing else.
pub fn redact(spec: &AnySpec) -> AnySpec {
    match spec {
        AnySpec::Workspace(w) => AnySpec::Workspace(WorkspaceSpec {
            display_name: w.display_name.clone(),
            description: None,
        }),
        other => other.clone(),
    }
}

/// The permissions that show a tenant's model grants (to the tenant and to its members).
const MODEL_GRANTS: &[&str] = &["models.assign", "users.assign_workspaces"];

pub fn sees_model_grants(s: &crate::rules::access::Standing) -> bool {
    MODEL_GRANTS.iter().any(|p| s.holds(p))
}

impl Actor<'_> {
    /// Whether it may read `kind/key` in `state`: visible, by name, forbidden or hidden.
    pub fn visibility(&self, state: &State, kind: Kind, key: &str) -> Visibility {
        let Actor::Tenant(s) = self else {
            return Visibility::Visible;
        };
        let t = s.tenant;
        let may = |ok: bool| {
            if ok {
                Visibility::Visible
            } else {
                Visibility::Forbidden
            }
        };
        let member_of_t = |user: &str| state.memberships.contains_key(&keys::join(&[user, t]));
        let is_me = |user: &str| s.user == Some(user);
        match kind {
            Kind::Plan | Kind::Model | Kind::Role => may(s.holds("organization.read")),
            Kind::Tenant if key == t => may(s.holds("organization.read")),
            Kind::Tenant => Visibility::Hidden,
            Kind::Workspace | Kind::TenantModel | Kind::Grant | Kind::Membership
                if keys::tenant_of(kind, key) != Some(t) =>
            {
                Visibility::Hidden
            }
            Kind::Workspace => {
                let w = keys::split2(key).map_or(key, |(_, w)| w);
                if s.may(state, "project.read", Some(w)) {
                    Visibility::Visible
                } else if s.holds("project.list_names") {
                    Visibility::Names
                } else {
                    Visibility::Forbidden
                }
            }
            Kind::TenantModel => may(sees_model_grants(s)),
            Kind::Grant => may(s.holds("users.assign_workspaces")),
            Kind::Membership => {
                may(s.holds("users.read") || keys::split2(key).is_some_and(|(u, _)| is_me(u)))
            }
            Kind::User if !member_of_t(key) => Visibility::Hidden,
            Kind::User => may(s.holds("users.read") || is_me(key)),
            Kind::UserModel => match keys::split2(key) {
                Some((u, _)) if member_of_t(u) => may(sees_model_grants(s) || is_me(u)),
                _ => Visibility::Hidden,
            },
        }
    }

    /// What it sees of `kind/key` in a list (and in the state): a workspace is listed in
    /// full with `project.list` there, by name with `project.list_names`; anything else as
    /// [`Actor::visibility`] says.
    pub fn list_visibility(&self, state: &State, kind: Kind, key: &str) -> Visibility {
        match (self, kind) {
            (Actor::Tenant(s), Kind::Workspace) if keys::tenant_of(kind, key) == Some(s.tenant) => {
                let w = keys::split2(key).map_or(key, |(_, w)| w);
                if s.may(state, "project.list", Some(w)) {
                    Visibility::Visible
                } else if s.holds("project.list_names") {
                    Visibility::Names
                } else {
                    Visibility::Forbidden
                }
            }
            _ => self.visibility(state, kind, key),
        }
    }

    /// Ok when it may list resources of `kind` at all (each one is then filtered by
    /// [`Actor::list_visibility`]); a 403 otherwise.
    pub fn require_list(&self, state: &State, kind: Kind) -> Result<(), ApiError> {
        let Actor::Tenant(s) = self else {
            return Ok(());
        };
        let needs: &[&str] = match kind {
            Kind::Plan | Kind::Model | Kind::Role | Kind::Tenant => &["organization.read"],
            Kind::Workspace => &["project.list", "project.list_names"],
            Kind::TenantModel | Kind::UserModel => MODEL_GRANTS,
            Kind::Grant => &["users.assign_workspaces"],
            Kind::Membership | Kind::User => &["users.read"],
        };
        if needs.iter().any(|p| s.holds(p)) {
            return Ok(());
        }
        self.require(state, needs[0])
    }
}

impl Principal {
    /// The part of `state` this principal may read (the whole state for the system):
    /// reading the state at all needs `organization.read`.
    pub fn filter_state(&self, state: &State) -> Result<State, ApiError> {
        let actor = self.actor(state)?;
        actor.require(state, "organization.read")?;
        if matches!(actor, Actor::System) {
            return Ok(state.clone());
        }
        let mut out = State {
            revision: state.revision,
            ..State::default()
        };
        for &kind in Kind::ALL {
            for key in state.keys(kind) {
                let shown = match actor.list_visibility(state, kind, key) {
                    Visibility::Visible => state.get(kind, key),
                    Visibility::Names => state.get(kind, key).map(|(m, s)| (m, redact(&s))),
                    Visibility::Forbidden | Visibility::Hidden => None,
                };
                if let Some((meta, spec)) = shown {
                    out.insert(key.to_string(), meta, spec);
                }
            }
        }
        Ok(out)
    }
}
