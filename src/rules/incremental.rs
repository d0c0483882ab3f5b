//! The rule check kept up to date write by write: the server holds the [`Violations`] of its
//! state, and after a write rechecks only the resources whose violations the write may have
//! changed — those it touched and those whose checks read them — with the same per-resource
//! checks as [`super::check`]. A differential test holds the two to the same answer.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::model::keys::{self, Grantee};
use crate::model::{Kind, MembersIndex, State};

use super::{check_resource, Violation};

/// One resource a write changed, and whether it existed before and after the write.
#[derive(Debug, Clone, Copy)]
pub struct Touched<'a> {
    pub kind: Kind,
    pub key: &'a str,
    pub existed: bool,
    pub exists: bool,
}

/// The violations of a state, by the resource they are located at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Violations {
    by_resource: BTreeMap<(Kind, String), Vec<Violation>>,
}

/// The resources a write may have changed the violations of, and their violations after it.
#[derive(Debug, Clone, Default)]
pub struct Recheck {
    resources: Vec<(Kind, String)>,
    after: Vec<Vec<Violation>>,
}

impl Recheck {
    /// The violations of the rechecked resources after the write.
    pub fn after(&self) -> impl Iterator<Item = &Violation> {
        self.after.iter().flatten()
    }

    /// How many resources were rechecked.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
}

impl Violations {
    /// The violations of the whole of `state` ([`super::check`]), by resource.
    pub fn of(state: &State) -> Violations {
        let mut by_resource: BTreeMap<(Kind, String), Vec<Violation>> = BTreeMap::new();
        for v in super::check(state) {
            by_resource
                .entry((v.kind, v.key.clone()))
                .or_default()
                .push(v);
        }
        Violations { by_resource }
    }

    /// Every violation, sorted as [`super::check`] sorts them.
    pub fn all(&self) -> Vec<Violation> {
        self.by_resource.values().flatten().cloned().collect()
    }

    /// The violations of the resources `recheck` covers, as they were before the write.
    pub fn before(&self, recheck: &Recheck) -> Vec<Violation> {
        recheck
            .resources
            .iter()
            .filter_map(|r| self.by_resource.get(r))
            .flatten()
            .cloned()
            .collect()
    }

    /// Rechecks, in `state` after a write (with its members `index`), every resource whose
    /// violations the `changes` may have changed.
    pub fn recheck(&self, state: &State, index: &MembersIndex, changes: &[Touched]) -> Recheck {
        let resources: Vec<(Kind, String)> = if changes.len().saturating_mul(2) >= state.len() {
            self.everything(state, changes)
        } else {
            self.affected(state, index, changes).into_iter().collect()
        };
        let after = resources
            .iter()
            .map(|(kind, key)| check_resource(state, index, *kind, key))
            .collect();
        Recheck { resources, after }
    }

    /// Takes the rechecked violations as the state's.
    pub fn commit(&mut self, recheck: Recheck) {
        for (r, vs) in recheck.resources.into_iter().zip(recheck.after) {
            if vs.is_empty() {
                self.by_resource.remove(&r);
            } else {
                self.by_resource.insert(r, vs);
            }
        }
    }

    /// Every resource of `state`, those `changes` removed and those with a violation before,
    /// sorted as [`Violations::affected`] sorts them: a write that touches half the state or
    /// more (an apply from empty) is rechecked whole, cheaper than working out how far each
    /// change reaches (hundreds of thousands of set inserts, most of them repeated).
    fn everything(&self, state: &State, changes: &[Touched]) -> Vec<(Kind, String)> {
        let mut out: Vec<(Kind, String)> = Vec::with_capacity(state.len() + changes.len());
        for kind in Kind::ALL {
            out.extend(state.keys(*kind).map(|k| (*kind, k.to_string())));
        }
        out.extend(
            changes
                .iter()
                .filter(|c| !c.exists)
                .map(|c| (c.kind, c.key.to_string())),
        );
        out.extend(self.by_resource.keys().cloned());
        // Mostly sorted already (kinds in order, keys in order): the sort merges the tail.
        out.sort();
        out.dedup();
        out
    }

    /// The resources whose checks read what `changes` changed. Each rule of `check.rs` reads
    /// its own resource and:
    ///
    /// - a tenant: its billing plan, its members (their roles) and its workspaces (counted);
    /// - a workspace, tenant model, membership: whether its tenant exists; a membership also
    ///   its user, its role (and whether the role sees every workspace) and its tenant's
    ///   workspaces; a tenant model or user model its model; a user model its user;
    /// - a grant: its workspace, its role grantee, its user grantee's membership;
    /// - the help of an `unknown_*` reference: every key of the kind it names (a plan, model,
    ///   role or tenant), or the tenant's workspaces or members.
    fn affected(
        &self,
        state: &State,
        index: &MembersIndex,
        changes: &[Touched],
    ) -> BTreeSet<(Kind, String)> {
        let mut out: BTreeSet<(Kind, String)> = BTreeSet::new();
        let mut codes: HashSet<&'static str> = HashSet::new();
        let add_range = |out: &mut BTreeSet<(Kind, String)>, kind: Kind, prefix: &str| {
            out.extend(state.keys_in(kind, prefix).map(|k| (kind, k.to_string())));
        };
        let add_members = |out: &mut BTreeSet<(Kind, String)>, tenant: &str| {
            out.extend(
                index
                    .membership_keys(tenant)
                    .into_iter()
                    .map(|k| (Kind::Membership, k)),
            );
        };
        for c in changes {
            out.insert((c.kind, c.key.to_string()));
            let appeared_or_gone = c.existed != c.exists;
            match c.kind {
                Kind::Plan => {
                    out.extend(
                        state
                            .tenants
                            .iter()
                            .filter(|(_, t)| t.spec.plan == c.key)
                            .map(|(k, _)| (Kind::Tenant, k.clone())),
                    );
                    if appeared_or_gone {
                        codes.insert("unknown_plan");
                    }
                }
                Kind::Model if appeared_or_gone => {
                    let of_model = |k: &str| keys::split2(k).is_some_and(|(_, m)| m == c.key);
                    for kind in [Kind::TenantModel, Kind::UserModel] {
                        out.extend(
                            state
                                .keys(kind)
                                .filter(|k| of_model(k))
                                .map(|k| (kind, k.to_string())),
                        );
                    }
                    codes.insert("unknown_model");
                }
                Kind::Role => {
                    out.extend(
                        state
                            .memberships
                            .iter()
                            .filter(|(_, m)| m.spec.role == c.key)
                            .map(|(k, _)| (Kind::Membership, k.clone())),
                    );
                    if appeared_or_gone {
                        out.extend(
                            state
                                .grants
                                .keys()
                                .filter(|k| {
                                    keys::split_grant(k).is_some_and(
                                        |(_, _, g)| matches!(g, Grantee::Role(r) if r == c.key),
                                    )
                                })
                                .map(|k| (Kind::Grant, k.clone())),
                        );
                        codes.insert("unknown_role");
                    }
                }
                Kind::Tenant if appeared_or_gone => {
                    let prefix = format!("{}/", c.key);
                    for kind in [Kind::Workspace, Kind::TenantModel, Kind::Grant] {
                        add_range(&mut out, kind, &prefix);
                    }
                    add_members(&mut out, c.key);
                    codes.insert("unknown_tenant");
                }
                Kind::Workspace if appeared_or_gone => {
                    if let Some(t) = keys::tenant_of(Kind::Workspace, c.key) {
                        out.insert((Kind::Tenant, t.to_string()));
                        add_range(&mut out, Kind::Grant, &format!("{t}/"));
                        add_members(&mut out, t);
                    }
                }
                Kind::User if appeared_or_gone => {
                    let prefix = format!("{}/", c.key);
                    add_range(&mut out, Kind::Membership, &prefix);
                    add_range(&mut out, Kind::UserModel, &prefix);
                }
                Kind::Membership => {
                    if let Some((_, t)) = keys::split2(c.key) {
                        out.insert((Kind::Tenant, t.to_string()));
                        if appeared_or_gone {
                            add_range(&mut out, Kind::Grant, &format!("{t}/"));
                        }
                    }
                }
                _ => {}
            }
        }
        if !codes.is_empty() {
            for (r, vs) in &self.by_resource {
                if vs.iter().any(|v| codes.contains(v.code)) {
                    out.insert(r.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "incremental_tests.rs"]
mod tests;
