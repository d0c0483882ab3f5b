//! Flattening a [`Document`] into the model's [`State`]: tenants' children and users'
//! memberships become resources keyed `tenant/child` and `email/tenant`. Tenants and users
//! flatten independently, so a large document does the two on two threads, and each map of
//! the state is built at once from its entries rather than by one insertion per key.

use std::collections::{BTreeMap, HashMap};

use super::{esc, Desired, Document, Origins, TenantDecl, UserDecl};
use crate::model::keys;
use crate::model::{
    Contact, Entry, GrantSpec, Kind, MembershipSpec, Rename, State, TenantModelSpec, TenantSpec,
    UserModelSpec, UserSpec, WorkspaceSpec,
};

/// From this many tenants and users, the two are flattened on two threads.
const PARALLEL_FROM: usize = 2_000;

/// A map of the state from its entries in insertion order: a key given twice keeps its last
/// value, as inserting them one by one would.
fn map_of<S>(entries: Vec<(String, Entry<S>)>) -> BTreeMap<String, Entry<S>> {
    entries.into_iter().collect()
}

/// What the tenants of a document flatten into.
#[derive(Default)]
struct Tenants {
    tenants: Vec<(String, Entry<TenantSpec>)>,
    workspaces: Vec<(String, Entry<WorkspaceSpec>)>,
    models: Vec<(String, Entry<TenantModelSpec>)>,
    grants: Vec<(String, Entry<GrantSpec>)>,
    renames: Vec<Rename>,
    /// Grant key → its index in its tenant's `grants:`.
    grant_at: HashMap<String, usize>,
    duplicate_grants: Vec<(String, String)>,
}

/// What the users of a document flatten into.
#[derive(Default)]
struct Users {
    users: Vec<(String, Entry<UserSpec>)>,
    memberships: Vec<(String, Entry<MembershipSpec>)>,
    models: Vec<(String, Entry<UserModelSpec>)>,
    renames: Vec<Rename>,
    /// E-mail as compared → as written, when the two differ.
    written: HashMap<String, String>,
}

impl Document {
    /// Flattens the document into the model's state, moving every value.
    pub fn into_desired(self) -> Desired {
        let Document {
            plans,
            models,
            roles,
            tenants,
            users,
            acknowledge,
        } = self;
        let (t, u) = if tenants.len() + users.len() >= PARALLEL_FROM {
            std::thread::scope(|scope| {
                let t = scope.spawn(move || flatten_tenants(tenants));
                let u = flatten_users(users);
                // A panic on the other thread is this one's.
                let t = t.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                (t, u)
            })
        } else {
            (flatten_tenants(tenants), flatten_users(users))
        };
        let mut state = State {
            plans: (plans.into_iter())
                .map(|(k, s)| (k, managed(false, s)))
                .collect(),
            models: (models.into_iter())
                .map(|(k, s)| (k, managed(false, s)))
                .collect(),
            roles: (roles.into_iter())
                .map(|(k, s)| (k, managed(false, s)))
                .collect(),
            ..State::default()
        };
        state.tenants = map_of(t.tenants);
        state.workspaces = map_of(t.workspaces);
        state.tenant_models = map_of(t.models);
        state.grants = map_of(t.grants);
        state.users = map_of(u.users);
        state.memberships = map_of(u.memberships);
        state.user_models = map_of(u.models);
        let mut renames = t.renames;
        renames.extend(u.renames);
        Desired {
            state,
            renames,
            origins: Origins {
                users: u.written,
                grants: t.grant_at,
            },
            duplicate_grants: t.duplicate_grants,
            acknowledgements: (acknowledge.iter())
                .map(crate::config::AcknowledgeDecl::to_acknowledgement)
                .collect(),
            ..Desired::default()
        }
    }
}

fn flatten_tenants(tenants: BTreeMap<String, TenantDecl>) -> Tenants {
    let mut out = Tenants {
        tenants: Vec::with_capacity(tenants.len()),
        ..Tenants::default()
    };
    for (tk, t) in tenants {
        if let Some(old) = t.previously {
            out.renames.push(Rename {
                kind: Kind::Tenant,
                from: old,
                to: tk.clone(),
            });
        }
        for (wk, w) in t.workspaces {
            let key = keys::join(&[&tk, &wk]);
            if let Some(old) = w.previously {
                // `previously: other-tenant/old` names a workspace of another tenant.
                let from = if old.contains('/') {
                    old
                } else {
                    keys::join(&[&tk, &old])
                };
                out.renames.push(Rename {
                    kind: Kind::Workspace,
                    from,
                    to: key.clone(),
                });
            }
            let spec = WorkspaceSpec {
                display_name: w.display_name,
                description: w.description,
            };
            out.workspaces.push((key, managed(w.protected, spec)));
        }
        for (mk, m) in t.models {
            (out.models).push((keys::join(&[&tk, &mk]), managed(false, m)));
        }
        for (i, g) in t.grants.into_iter().enumerate() {
            let key = keys::grant(&tk, &g.workspace, &g.grantee());
            if let Some(first) = out.grant_at.get(&key) {
                out.duplicate_grants.push((
                    format!("/tenants/{}/grants/{first}", esc(&tk)),
                    format!("/tenants/{}/grants/{i}", esc(&tk)),
                ));
                continue;
            }
            let mut actions = g.actions;
            actions.sort();
            actions.dedup();
            out.grant_at.insert(key.clone(), i);
            (out.grants).push((key, managed(false, GrantSpec { actions })));
        }
        let spec = TenantSpec {
            display_name: t.display_name,
            description: t.description,
            contact: Contact {
                email: t.contact.email.map(|e| e.to_lowercase()),
                ..t.contact
            },
            plan: t.plan,
            limits: t.limits,
            status: t.status,
        };
        out.tenants.push((tk, managed(t.protected, spec)));
    }
    out
}

fn flatten_users(users: BTreeMap<String, UserDecl>) -> Users {
    let mut out = Users {
        users: Vec::with_capacity(users.len()),
        ..Users::default()
    };
    for (raw, u) in users {
        let email = raw.to_lowercase();
        if let Some(old) = u.previously {
            out.renames.push(Rename {
                kind: Kind::User,
                from: old.to_lowercase(),
                to: email.clone(),
            });
        }
        for (tk, m) in u.memberships {
            (out.memberships).push((keys::join(&[&email, &tk]), managed(false, m)));
        }
        for (mk, a) in u.models {
            out.models.push((
                keys::join(&[&email, &mk]),
                managed(false, UserModelSpec { access: a }),
            ));
        }
        let spec = UserSpec {
            first_name: u.first_name,
            last_name: u.last_name,
            language: u.language,
            date_format: u.date_format,
            status: u.status,
            system_role: u.system_role,
        };
        if email != raw {
            out.written.insert(email.clone(), raw);
        }
        out.users.push((email, managed(u.protected, spec)));
    }
    out
}

/// A resource of a desired state: managed, at version 0.
fn managed<S>(protected: bool, spec: S) -> Entry<S> {
    Entry {
        version: 0,
        managed: true,
        protected,
        spec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GrantDecl;

    /// A document of `n` tenants, each with a workspace, a grant written twice and a user
    /// (written in upper case every tenth) who is a member.
    fn document(n: usize) -> Document {
        let mut doc = Document::default();
        for i in 0..n {
            let tk = format!("t{i}");
            let mut t = TenantDecl {
                plan: "p".into(),
                ..TenantDecl::default()
            };
            t.workspaces.insert("w".into(), Default::default());
            let grant = GrantDecl {
                workspace: "w".into(),
                to: super::super::GrantTo::Tenant(true),
                actions: vec![crate::model::GrantAction::Read],
            };
            t.grants = vec![grant.clone(), grant];
            doc.tenants.insert(tk.clone(), t);
            let email = if i % 10 == 0 {
                format!("U{i}@X.io")
            } else {
                format!("u{i}@x.io")
            };
            let mut u = UserDecl::default();
            u.memberships.insert(tk, Default::default());
            doc.users.insert(email, u);
        }
        doc
    }

    /// The two-thread path (a large document) flattens as the one-thread path does.
    #[test]
    fn a_large_document_flattens_as_a_small_one() {
        for n in [10, PARALLEL_FROM] {
            let d = document(n).into_desired();
            assert_eq!(d.state.tenants.len(), n);
            assert_eq!(d.state.workspaces.len(), n);
            assert_eq!(d.state.grants.len(), n, "the repeated grant is kept once");
            assert_eq!(d.duplicate_grants.len(), n);
            assert_eq!(d.state.users.len(), n);
            assert_eq!(d.state.memberships.len(), n);
            assert!(d.state.memberships.contains_key("u0@x.io/t0"));
            assert_eq!(
                d.origin(Kind::User, "u0@x.io").as_deref(),
                Some("/users/U0@X.io")
            );
            assert_eq!(
                d.origin(Kind::Grant, "t1/w/tenant").as_deref(),
                Some("/tenants/t1/grants/0")
            );
            let (first, second) = &d.duplicate_grants[0];
            assert_eq!(
                (first.as_str(), second.as_str()),
                ("/tenants/t0/grants/0", "/tenants/t0/grants/1")
            );
        }
    }

    /// Two e-mails that differ in case are one user: the last written wins, as a map insert
    /// would have it.
    #[test]
    fn the_last_of_two_equal_keys_wins() {
        let mut doc = Document::default();
        for (raw, first) in [("A@x.io", "upper"), ("a@x.io", "lower")] {
            let u = UserDecl {
                first_name: Some(first.into()),
                ..UserDecl::default()
            };
            doc.users.insert(raw.into(), u);
        }
        let d = doc.into_desired();
        assert_eq!(d.state.users.len(), 1);
        assert_eq!(
            d.state.users["a@x.io"].spec.first_name.as_deref(),
            Some("lower")
        );
    }
}
