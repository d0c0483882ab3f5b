//! The rules that need no platform (1–5, 8) over one [`State`]: references resolve (1), an
//! `org_admin` per tenant (2), limits (3), ignored workspace lists (4), valid identities (5),
//! the workspaces assigned at invitation (8).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::catalog;
use crate::model::keys::{self, Grantee};
use crate::model::{
    Entry, GrantSpec, Kind, MembersIndex, MembershipSpec, RoleSpec, State, TenantSpec,
};

use super::names::{
    invalid_email_message, invalid_key_message, is_valid_email, is_valid_key, suggestion,
    INVALID_KEY_HELP, INVALID_USER_HELP,
};
use super::{
    limits, members_by_tenant, role_exists, role_sees_all_workspaces, Severity, Violation,
    MAX_INVITATION_WORKSPACES, ORG_ADMIN,
};

struct Checker<'a> {
    state: &'a State,
    members: Members<'a>,
    out: Vec<Violation>,
    /// The user of the last membership checked and whether it exists: memberships come
    /// sorted by user, so a whole-state check looks each user up once.
    last_user: Option<(&'a str, bool)>,
}

impl<'a> Checker<'a> {
    fn new(state: &'a State, members: Members<'a>) -> Self {
        Checker {
            state,
            members,
            out: Vec::new(),
            last_user: None,
        }
    }

    /// Every violation of every resource of `kind`, walking its map once (no lookup of
    /// each resource by its key).
    fn all(&mut self, kind: Kind) {
        let state = self.state;
        match kind {
            Kind::Plan
            | Kind::Model
            | Kind::Workspace
            | Kind::TenantModel
            | Kind::User
            | Kind::UserModel => {
                for key in state.keys(kind) {
                    self.present(kind, key);
                }
            }
            Kind::Role => (state.roles.iter()).for_each(|(k, r)| self.role(k, r)),
            Kind::Tenant => (state.tenants.iter()).for_each(|(k, t)| self.tenant(k, t)),
            Kind::Grant => (state.grants.iter()).for_each(|(k, g)| self.grant(k, g)),
            Kind::Membership => (state.memberships.iter()).for_each(|(k, m)| self.membership(k, m)),
        }
    }

    /// Whether the user `u` exists.
    fn user_exists(&mut self, u: &'a str) -> bool {
        match self.last_user {
            Some((last, known)) if last == u => known,
            _ => {
                let known = self.state.users.contains_key(u);
                self.last_user = Some((u, known));
                known
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        code: &'static str,
        severity: Severity,
        kind: Kind,
        key: &str,
        field: Option<String>,
        message: String,
        help: Option<String>,
    ) {
        self.out.push(Violation {
            code,
            severity,
            kind,
            key: key.to_string(),
            field,
            message,
            help,
        });
    }

    fn err(
        &mut self,
        code: &'static str,
        kind: Kind,
        key: &str,
        field: Option<String>,
        message: String,
        help: Option<String>,
    ) {
        self.push(code, Severity::Error, kind, key, field, message, help);
    }

    fn warn(
        &mut self,
        code: &'static str,
        kind: Kind,
        key: &str,
        field: Option<String>,
        message: String,
        help: Option<String>,
    ) {
        self.push(code, Severity::Warning, kind, key, field, message, help);
    }

    fn unknown_role(&mut self, kind: Kind, key: &str, field: Option<String>, role: &str) {
        let builtins = catalog::BUILTIN_ROLES.iter().map(|r| r.name);
        let customs = self.state.roles.keys().map(String::as_str);
        let help = suggestion(role, builtins.chain(customs))
            .or_else(|| Some("declare it under `roles:` or use a built-in role: org_admin, billing_admin, user_admin, member".into()));
        self.err(
            "unknown_role",
            kind,
            key,
            field,
            format!("role `{role}` does not exist"),
            help,
        );
    }

    fn unknown_workspace(
        &mut self,
        kind: Kind,
        key: &str,
        field: Option<String>,
        tenant: &str,
        ws: &str,
    ) {
        let prefix = format!("{tenant}/");
        let candidates: Vec<&str> = self
            .state
            .keys_in(Kind::Workspace, &prefix)
            .map(|k| &k[prefix.len()..])
            .collect();
        let help = suggestion(ws, candidates.iter().copied())
            .or_else(|| Some(format!("declare it under `tenants.{tenant}.workspaces`")));
        self.err(
            "unknown_workspace",
            kind,
            key,
            field,
            format!("workspace `{ws}` does not exist in tenant `{tenant}`"),
            help,
        );
    }

    fn unknown_model(&mut self, kind: Kind, key: &str, model: &str) {
        let help = suggestion(model, self.state.models.keys().map(String::as_str))
            .or_else(|| Some("declare it under `models:`".into()));
        self.err(
            "unknown_model",
            kind,
            key,
            None,
            format!("model `{model}` does not exist"),
            help,
        );
    }

    fn unknown_tenant(&mut self, kind: Kind, key: &str, tenant: &str) {
        let help = suggestion(tenant, self.state.tenants.keys().map(String::as_str))
            .or_else(|| Some("declare it under `tenants:`".into()));
        self.err(
            "unknown_tenant",
            kind,
            key,
            None,
            format!("tenant `{tenant}` does not exist"),
            help,
        );
    }

    fn bad_key(&mut self, kind: Kind, key: &str, shown: &str) {
        let message = invalid_key_message(kind, shown);
        self.err(
            "invalid_key",
            kind,
            key,
            None,
            message,
            Some(INVALID_KEY_HELP.into()),
        );
    }

    /// Every violation located at `kind/key` (nothing if it does not exist), in the order
    /// the full check pushes them.
    fn resource(&mut self, kind: Kind, key: &'a str) {
        let state = self.state;
        match kind {
            Kind::Role => {
                if let Some(r) = state.roles.get(key) {
                    self.role(key, r);
                }
            }
            Kind::Tenant => {
                if let Some(t) = state.tenants.get(key) {
                    self.tenant(key, t);
                }
            }
            Kind::Grant => {
                if let Some(g) = state.grants.get(key) {
                    self.grant(key, g);
                }
            }
            Kind::Membership => {
                if let Some(m) = state.memberships.get(key) {
                    self.membership(key, m);
                }
            }
            _ if state.contains(kind, key) => self.present(kind, key),
            _ => {}
        }
    }

    /// The violations of `kind/key`, which exists, for the kinds whose check needs only
    /// the key.
    fn present(&mut self, kind: Kind, key: &'a str) {
        match kind {
            Kind::Plan | Kind::Model => {
                if !is_valid_key(key) {
                    self.bad_key(kind, key, key);
                }
            }
            Kind::Workspace => self.workspace(key),
            Kind::TenantModel => self.tenant_model(key),
            Kind::User => {
                if !is_valid_email(key) {
                    self.err(
                        "invalid_email",
                        Kind::User,
                        key,
                        None,
                        invalid_email_message(key),
                        Some(INVALID_USER_HELP.into()),
                    );
                }
            }
            Kind::UserModel => self.user_model(key),
            Kind::Role | Kind::Tenant | Kind::Grant | Kind::Membership => {}
        }
    }

    fn role(&mut self, key: &str, role: &Entry<RoleSpec>) {
        if !is_valid_key(key) {
            self.bad_key(Kind::Role, key, key);
        }
        if catalog::builtin_role(key).is_some() {
            self.out.push(Violation { code: "reserved_role", severity: Severity::Error, kind: Kind::Role, key: key.to_string(), field: None,
                message: format!("`{key}` is a built-in role and cannot be declared"),
                help: Some("built-in roles (org_admin, billing_admin, user_admin, member) exist on every platform; choose another name".into()) });
        }
        for (i, p) in role.spec.permissions.iter().enumerate() {
            if catalog::permission(p).is_none() {
                let help =
                    suggestion(p, catalog::PERMISSIONS.iter().map(|p| p.name)).or_else(|| {
                        Some(
                            "see `tenantctl schema` or ARCHITECTURE.md for the permission catalog"
                                .into(),
                        )
                    });
                self.out.push(Violation {
                    code: "unknown_permission",
                    severity: Severity::Error,
                    kind: Kind::Role,
                    key: key.to_string(),
                    field: Some(format!("permissions/{i}")),
                    message: format!("permission `{p}` is not in the platform's catalog"),
                    help,
                });
            }
        }
    }

    fn tenant(&mut self, key: &str, t: &Entry<TenantSpec>) {
        let state = self.state;
        if !is_valid_key(key) {
            self.bad_key(Kind::Tenant, key, key);
        }
        if let Some(e) = t.spec.contact.email.as_ref().filter(|e| !is_valid_email(e)) {
            self.err(
                "invalid_email",
                Kind::Tenant,
                key,
                Some("contact/email".into()),
                invalid_email_message(e),
                None,
            );
        }
        let billing_plan = state.plans.get(&t.spec.plan);
        if billing_plan.is_none() {
            let help = suggestion(&t.spec.plan, state.plans.keys().map(String::as_str))
                .or_else(|| Some("declare it under `plans:`".into()));
            self.err(
                "unknown_plan",
                Kind::Tenant,
                key,
                Some("plan".into()),
                format!("plan `{}` does not exist", t.spec.plan),
                help,
            );
        }
        let limits = limits::effective(&t.spec, billing_plan.map(|p| &p.spec));
        let ms = self.members.of(state, key);
        let admins = ms.iter().filter(|(_, r)| *r == ORG_ADMIN).count();
        let n_members = ms.len();
        if admins == 0 {
            self.err("no_org_admin", Kind::Tenant, key, None, format!("tenant `{key}` has no `org_admin` member"),
                Some("every tenant needs at least one organisation admin; give a member `role: org_admin`".into()));
        } else if admins == 1 {
            self.warn("single_org_admin", Kind::Tenant, key, None, format!("tenant `{key}` has a single `org_admin`"),
                Some("two organisation admins are recommended, so the tenant is never left without one".into()));
        }
        if let Some(max) = limits.users {
            if n_members > max as usize {
                let field = if t.spec.limits.users.is_some() {
                    "limits/users"
                } else {
                    "plan"
                };
                self.err("limit_exceeded", Kind::Tenant, key, Some(field.into()),
                    format!("tenant `{key}` has {n_members} members but its limit is {max} users"),
                    Some("raise `limits.users` on the tenant, move it to a larger plan, or remove members".into()));
            }
        }
        if let Some(max) = limits.workspaces {
            let n = state.keys_in(Kind::Workspace, &format!("{key}/")).count();
            if n > max as usize {
                let field = if t.spec.limits.workspaces.is_some() {
                    "limits/workspaces"
                } else {
                    "plan"
                };
                self.err("limit_exceeded", Kind::Tenant, key, Some(field.into()),
                    format!("tenant `{key}` has {n} workspaces but its limit is {max}"),
                    Some("raise `limits.workspaces` on the tenant, move it to a larger plan, or remove workspaces".into()));
            }
        }
    }

    fn workspace(&mut self, key: &str) {
        let state = self.state;
        match keys::split2(key) {
            Some((_, w)) if is_valid_key(w) => {}
            _ => {
                let ws = keys::split2(key).map_or(key, |(_, w)| w);
                self.bad_key(Kind::Workspace, key, ws);
            }
        }
        if let Some((t, _)) = keys::split2(key) {
            if !state.tenants.contains_key(t) {
                self.unknown_tenant(Kind::Workspace, key, t);
            }
        }
    }

    fn tenant_model(&mut self, key: &str) {
        let state = self.state;
        if let Some((t, m)) = keys::split2(key) {
            if !state.tenants.contains_key(t) {
                self.unknown_tenant(Kind::TenantModel, key, t);
            }
            if !state.models.contains_key(m) {
                self.unknown_model(Kind::TenantModel, key, m);
            }
        }
    }

    fn grant(&mut self, key: &str, g: &Entry<GrantSpec>) {
        let state = self.state;
        let Some((t, w, grantee)) = keys::split_grant(key) else {
            self.err(
                "invalid_key",
                Kind::Grant,
                key,
                None,
                format!("`{key}` is not a valid grant key"),
                None,
            );
            return;
        };
        if !state.workspaces.contains_key(&keys::join(&[t, w])) {
            self.unknown_workspace(Kind::Grant, key, Some("workspace".into()), t, w);
        }
        match &grantee {
            Grantee::Role(r) if !role_exists(state, r) => {
                self.unknown_role(Kind::Grant, key, Some("to/role".into()), r)
            }
            Grantee::User(u) if !state.memberships.contains_key(&keys::join(&[u, t])) => {
                let mut members: Vec<&str> =
                    self.members.of(state, t).iter().map(|(u, _)| *u).collect();
                members.sort_unstable();
                let help = suggestion(u, members.iter().copied()).or_else(|| {
                    Some(format!(
                        "only members of `{t}` can be granted permissions on its workspaces"
                    ))
                });
                self.err(
                    "unknown_user",
                    Kind::Grant,
                    key,
                    Some("to/user".into()),
                    format!("user `{u}` is not a member of tenant `{t}`"),
                    help,
                );
            }
            _ => {}
        }
        if g.spec.actions.is_empty() {
            self.warn(
                "empty_grant",
                Kind::Grant,
                key,
                Some("actions".into()),
                "this grant gives no action".into(),
                Some(
                    "list at least one of read, update, delete, create, or remove the grant".into(),
                ),
            );
        }
    }

    fn membership(&mut self, key: &'a str, m: &Entry<MembershipSpec>) {
        let state = self.state;
        let Some((u, t)) = keys::split2(key) else {
            return;
        };
        if !self.user_exists(u) {
            self.err(
                "unknown_user",
                Kind::Membership,
                key,
                None,
                format!("user `{u}` does not exist"),
                None,
            );
        }
        let tenant_exists = state.tenants.contains_key(t);
        if !tenant_exists {
            self.unknown_tenant(Kind::Membership, key, t);
        }
        let role = m.spec.role.as_str();
        if !role_exists(state, role) {
            self.unknown_role(Kind::Membership, key, Some("role".into()), role);
        } else if role_sees_all_workspaces(state, role) && !m.spec.workspaces.is_empty() {
            self.warn(
                "workspaces_ignored",
                Kind::Membership,
                key,
                Some("workspaces".into()),
                format!("role `{role}` sees every workspace of `{t}`; this list is ignored"),
                Some("remove the `workspaces:` list".into()),
            );
        }
        if tenant_exists {
            for (i, w) in m.spec.workspaces.iter().enumerate() {
                if !state.workspaces.contains_key(&keys::join(&[t, w])) {
                    self.unknown_workspace(
                        Kind::Membership,
                        key,
                        Some(format!("workspaces/{i}")),
                        t,
                        w,
                    );
                }
            }
        }
        if m.spec.workspaces.len() > MAX_INVITATION_WORKSPACES {
            self.warn(
                "invitation_workspaces",
                Kind::Membership,
                key,
                Some("workspaces".into()),
                format!(
                    "{} workspaces: at most {MAX_INVITATION_WORKSPACES} are assigned at invitation",
                    m.spec.workspaces.len()
                ),
                Some("the rest are assigned after the invitation, in a second step".into()),
            );
        }
    }

    fn user_model(&mut self, key: &'a str) {
        let state = self.state;
        let Some((u, m)) = keys::split2(key) else {
            return;
        };
        if !self.user_exists(u) {
            self.err(
                "unknown_user",
                Kind::UserModel,
                key,
                None,
                format!("user `{u}` does not exist"),
                None,
            );
        }
        if !state.models.contains_key(m) {
            self.unknown_model(Kind::UserModel, key, m);
        }
    }
}

/// Where the checks find a tenant's members and their roles.
pub(super) enum Members<'a> {
    /// Counted once from the state, for a check of the whole state.
    Counted(&'a HashMap<&'a str, Vec<(&'a str, &'a str)>>),
    /// Looked up in an index kept beside the state, for a check of a few resources.
    Indexed(&'a MembersIndex),
}

impl<'a> Members<'a> {
    fn of(&self, state: &'a State, tenant: &str) -> Cow<'_, [(&'a str, &'a str)]> {
        match self {
            Members::Counted(m) => Cow::Borrowed(m.get(tenant).map_or(&[][..], Vec::as_slice)),
            Members::Indexed(index) => Cow::Owned(index.members_with_roles(state, tenant)),
        }
    }
}

fn sort(out: &mut [Violation]) {
    out.sort_by(|a, b| (a.kind, &a.key, &a.field, a.code).cmp(&(b.kind, &b.key, &b.field, b.code)));
}

/// Every violation of the rules that need no platform (1–5, 8) in `state`, sorted by kind
/// and key: the violations of each resource, one resource after the other.
pub fn check(state: &State) -> Vec<Violation> {
    let members = members_by_tenant(state);
    let run = |kinds: &[Kind]| {
        let mut c = Checker::new(state, Members::Counted(&members));
        for &kind in kinds {
            c.all(kind);
        }
        c.out
    };
    let mut out = if state.memberships.len() >= PARALLEL_FROM {
        // The memberships, the most numerous resources, on a second thread. Each resource's
        // violations are found by one thread and the sort is stable, so the result is the
        // same as one pass.
        let others: Vec<Kind> = (Kind::ALL.iter().copied())
            .filter(|k| *k != Kind::Membership)
            .collect();
        std::thread::scope(|scope| {
            let memberships = scope.spawn(|| run(&[Kind::Membership]));
            let mut out = run(&others);
            // A panic on the other thread is this one's.
            out.extend(
                memberships
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
            out
        })
    } else {
        run(Kind::ALL)
    };
    sort(&mut out);
    out
}

/// From this many memberships, [`check`] checks them on a thread of their own.
const PARALLEL_FROM: usize = 5_000;

/// The violations located at `kind/key` in `state` (none if it does not exist), sorted as
/// [`check`] sorts them: what `check` finds for that resource, found without walking the
/// whole state (a tenant's members come from `index`).
pub fn check_resource(
    state: &State,
    index: &MembersIndex,
    kind: Kind,
    key: &str,
) -> Vec<Violation> {
    let mut c = Checker::new(state, Members::Indexed(index));
    c.resource(kind, key);
    let mut out = c.out;
    sort(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, MembershipSpec, TenantSpec, UserSpec, WorkspaceSpec};

    /// A check of a state large enough for two threads finds what a check of each resource
    /// finds, in the same order: users with bad e-mails, memberships of unknown users,
    /// tenants, roles and workspaces, tenants without an `org_admin`.
    #[test]
    fn a_large_state_is_checked_as_each_resource_is() {
        let mut state = State::default();
        for t in 0..10 {
            let tenant = format!("t{t}");
            (state.tenants).insert(tenant.clone(), Entry::new(TenantSpec::default()));
            (state.workspaces).insert(format!("{tenant}/w"), Entry::new(WorkspaceSpec::default()));
        }
        for i in 0..PARALLEL_FROM + 500 {
            let user = if i % 100 == 7 {
                format!("U{i}")
            } else {
                format!("u{i}@x.io")
            };
            if i % 60 != 3 {
                state
                    .users
                    .insert(user.clone(), Entry::new(UserSpec::default()));
            }
            let tenant = if i % 50 == 1 {
                "nope".to_string()
            } else {
                format!("t{}", i % 9)
            };
            let role = match i % 70 {
                0 => "org_admin",
                5 => "ghost",
                _ => "member",
            };
            let workspaces = match i % 40 {
                2 => vec!["w".to_string()],
                9 => vec!["x".to_string()],
                _ => Vec::new(),
            };
            let spec = MembershipSpec {
                role: role.into(),
                workspaces,
            };
            state
                .memberships
                .insert(keys::join(&[&user, &tenant]), Entry::new(spec));
        }
        let index = MembersIndex::build(&state);
        let mut each = Vec::new();
        for &kind in Kind::ALL {
            for key in state.keys(kind) {
                each.extend(check_resource(&state, &index, kind, key));
            }
        }
        sort(&mut each);
        let all = check(&state);
        assert!(all.len() > 200, "{}", all.len());
        assert_eq!(all, each);
    }
}
