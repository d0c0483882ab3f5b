//! The members of each tenant, kept beside a [`State`]: membership keys start with the user
//! (`email/tenant`), so a tenant's memberships are no key-prefix range. The server keeps this
//! index up to date with every write, so that the rules, the cascades and a tenant token's
//! view find a tenant's members without a walk over every membership.

use std::collections::{BTreeSet, HashMap};

use super::keys;
use super::State;

/// Tenant → the e-mails of its members, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembersIndex {
    by_tenant: HashMap<String, BTreeSet<String>>,
}

impl MembersIndex {
    /// The index of `state`'s memberships.
    pub fn build(state: &State) -> MembersIndex {
        let mut out = MembersIndex::default();
        for key in state.memberships.keys() {
            out.insert(key);
        }
        out
    }

    /// Records the membership `email/tenant`.
    pub fn insert(&mut self, membership: &str) {
        if let Some((u, t)) = keys::split2(membership) {
            self.by_tenant
                .entry(t.to_string())
                .or_default()
                .insert(u.to_string());
        }
    }

    /// Forgets the membership `email/tenant`.
    pub fn remove(&mut self, membership: &str) {
        if let Some((u, t)) = keys::split2(membership) {
            if let Some(set) = self.by_tenant.get_mut(t) {
                set.remove(u);
                if set.is_empty() {
                    self.by_tenant.remove(t);
                }
            }
        }
    }

    /// The e-mails of the members of `tenant`, sorted.
    pub fn members<'a>(&'a self, tenant: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.by_tenant
            .get(tenant)
            .into_iter()
            .flat_map(|s| s.iter().map(String::as_str))
    }

    /// How many members `tenant` has.
    pub fn count(&self, tenant: &str) -> usize {
        self.by_tenant.get(tenant).map_or(0, BTreeSet::len)
    }

    /// The membership keys of `tenant` (`email/tenant`).
    pub fn membership_keys(&self, tenant: &str) -> Vec<String> {
        self.members(tenant)
            .map(|u| keys::join(&[u, tenant]))
            .collect()
    }

    /// Members and their role in `tenant`, as [`crate::rules::members_by_tenant`] lists them
    /// (sorted by e-mail).
    pub fn members_with_roles<'a>(
        &'a self,
        state: &'a State,
        tenant: &str,
    ) -> Vec<(&'a str, &'a str)> {
        self.members(tenant)
            .filter_map(|u| {
                state
                    .memberships
                    .get(&keys::join(&[u, tenant]))
                    .map(|m| (u, m.spec.role.as_str()))
            })
            .collect()
    }
}
