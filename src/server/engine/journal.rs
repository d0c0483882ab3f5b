//! What a write changed, as it changes it: every change to the in-memory state goes through
//! [`Journal::set`], which records how to undo it, the resource as it was before the write,
//! the set of touched resources (what is persisted) and the audit entry.

use std::collections::{BTreeSet, HashMap};

use crate::model::{keys, AnySpec, Kind, Meta, State};
use crate::rules::Touched;
use crate::server::store::{AuditOp, AuditSubject, NewAudit};

use super::snapshot::Snapshot;
use super::Mutation;

/// The audit form of a resource: `{"version":…,"managed":…,"protected":…,"spec":…}`.
#[derive(serde::Serialize)]
struct AuditForm<'a> {
    version: i64,
    managed: bool,
    protected: bool,
    spec: &'a AnySpec,
}

/// The audit form of a resource as JSON text, written straight from the spec (no JSON
/// value tree in between: an apply from empty writes hundreds of thousands of them).
fn resource_json(meta: &Meta, spec: &AnySpec) -> String {
    let form = AuditForm {
        version: meta.version,
        managed: meta.managed,
        protected: meta.protected,
        spec,
    };
    // Serialising our own types to a string does not fail.
    serde_json::to_string(&form).unwrap_or_default()
}

/// A resource's bookkeeping and spec.
type Resource = (Meta, AnySpec);

/// The changes made by a write, so it can be undone and persisted.
#[derive(Default)]
pub(super) struct Journal {
    undo: Vec<(Kind, String, Option<Resource>)>,
    /// The state of each touched resource before the write, by kind (`Kind as usize`): a
    /// lookup by `&str`, without a key built for it.
    first: [HashMap<String, Option<Resource>>; Kind::ALL.len()],
    pub(super) touched: BTreeSet<(Kind, String)>,
    pub(super) audit: Vec<NewAudit>,
}

impl Journal {
    /// An empty journal with room for `mutations` (an apply from empty journals hundreds of
    /// thousands of resources: growing as it goes rehashes and copies them again and again).
    pub(super) fn for_mutations(mutations: &[Mutation]) -> Journal {
        let mut journal = Journal::default();
        let mut per_kind = [0usize; Kind::ALL.len()];
        for m in mutations {
            per_kind[m.kind as usize] += 1;
        }
        for (first, n) in journal.first.iter_mut().zip(per_kind) {
            first.reserve(n);
        }
        journal.undo.reserve(mutations.len());
        journal.audit.reserve(mutations.len());
        journal
    }

    /// Sets `kind/key` to `new` (None: removes it) in `snap`, recording `op`.
    pub(super) fn set(
        &mut self,
        snap: &mut Snapshot,
        kind: Kind,
        key: &str,
        new: Option<(Meta, AnySpec)>,
        op: AuditOp,
    ) {
        let after_json = new.as_ref().map(|(m, s)| resource_json(m, s));
        let prev = snap.set(kind, key, new);
        self.audit.push(NewAudit {
            op,
            subject: AuditSubject::Resource(kind),
            key: key.to_string(),
            tenant: keys::tenant_of(kind, key).map(str::to_string),
            before: prev.as_ref().map(|(m, s)| resource_json(m, s)),
            after: after_json,
        });
        self.first[kind as usize]
            .entry(key.to_string())
            .or_insert_with(|| prev.clone());
        self.touched.insert((kind, key.to_string()));
        self.undo.push((kind, key.to_string(), prev));
    }

    /// Puts back every resource as it was before the write.
    pub(super) fn undo(self, snap: &mut Snapshot) {
        for (kind, key, prev) in self.undo.into_iter().rev() {
            snap.set(kind, &key, prev);
        }
    }

    /// Each touched resource, whether it existed before the write and exists after it.
    pub(super) fn changes<'a>(&'a self, state: &State) -> Vec<Touched<'a>> {
        self.touched
            .iter()
            .map(|(kind, key)| self.change(state, *kind, key))
            .collect()
    }

    /// [`Journal::changes`] of the resources of one kind only.
    pub(super) fn changes_of<'a>(
        &'a self,
        state: &'a State,
        kind: Kind,
    ) -> impl Iterator<Item = Touched<'a>> + 'a {
        (self.touched.iter())
            .filter(move |(k, _)| *k == kind)
            .map(move |(k, key)| self.change(state, *k, key))
    }

    fn change<'a>(&self, state: &State, kind: Kind, key: &'a str) -> Touched<'a> {
        Touched {
            kind,
            key,
            existed: self.existed_before(state, kind, key),
            exists: state.contains(kind, key),
        }
    }

    /// Whether `kind/key` existed before the write.
    pub(super) fn existed_before(&self, state: &State, kind: Kind, key: &str) -> bool {
        match self.first[kind as usize].get(key) {
            Some(prev) => prev.is_some(),
            None => state.contains(kind, key),
        }
    }

    /// The spec of `kind/key` before the write.
    pub(super) fn spec_before(&self, state: &State, kind: Kind, key: &str) -> Option<AnySpec> {
        match self.first[kind as usize].get(key) {
            Some(prev) => prev.as_ref().map(|(_, s)| s.clone()),
            None => state.get(kind, key).map(|(_, s)| s),
        }
    }

    /// The spec before and after the write of each touched resource of `kinds`: the net
    /// effect of the write, whatever steps it took.
    pub(super) fn net_changes(
        &self,
        state: &State,
        kinds: &[Kind],
    ) -> Vec<(Kind, String, Option<AnySpec>, Option<AnySpec>)> {
        self.touched
            .iter()
            .filter(|(k, _)| kinds.contains(k))
            .map(|(k, key)| {
                (
                    *k,
                    key.clone(),
                    self.first[*k as usize]
                        .get(key)
                        .cloned()
                        .flatten()
                        .map(|(_, s)| s),
                    state.get(*k, key).map(|(_, s)| s),
                )
            })
            .collect()
    }
}
