//! [`diff`]: the one function that turns the desired and the live state into a [`Plan`].
//!
//! Renames (`previously:`) are resolved first into key maps from desired keys to live keys;
//! then every desired resource is matched with its live counterpart (create, update, move),
//! every unmatched live resource is decided (delete, cascade, keep, unmanaged), and finally
//! the plan-time rules (6, 9, the delete guard) add risks.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::{
    cascade_parents, delete_rank, field_changes, rank, Action, Change, FieldChange, Moved, Op,
    OpKind, Plan, PlanOptions, Reason, Risk, Warning, LIMIT_BELOW_USAGE, PROTECTED_REPLACE,
    SELF_LOCKOUT, TOO_MANY_DELETES,
};
use crate::config::Desired;
use crate::diagnostic::Severity;
use crate::model::keys::{self, Grantee};
use crate::model::{AnySpec, Kind, Meta, State};
use crate::rules::{self, SelfLockout};

type Res = (Kind, String);

/// Diffs `desired` against `live`. Pure and total: any pair of states gives a plan.
pub fn diff(desired: &Desired, live: &State, opts: &PlanOptions) -> Plan {
    let mut d = Differ::new(desired, live, opts);
    d.resolve_renames();
    d.user_replaces();
    d.desired_pass();
    d.live_pass();
    let mut changes = d.changes;
    if !opts.targets.is_empty() {
        changes = filter_targets(changes, &opts.targets, desired, live);
    }
    drop_cascaded_deletes(&mut changes);
    sort_changes(&mut changes);
    let mut plan = Plan {
        revision: live.revision,
        changes,
        risks: d.risks,
        warnings: d.warnings,
        unmanaged: d.unmanaged,
    };
    plan.risks
        .extend(delete_guard(&plan, live, opts.max_delete_percent));
    plan.risks
        .extend(self_lockout(&plan, &desired.state, live, opts));
    plan.risks
        .extend(limits_below_usage(&plan, &desired.state, live));
    let checked = match &desired.warnings {
        Some(w) => w.clone(),
        None => rules::check(&desired.state),
    };
    let mut warnings: Vec<Warning> = checked
        .into_iter()
        .filter(|v| v.severity == Severity::Warning)
        .map(|v| Warning {
            code: v.code.to_string(),
            kind: v.kind,
            key: v.key,
            message: v.message,
        })
        .collect();
    warnings.append(&mut plan.warnings);
    plan.warnings = warnings;
    plan
}

struct Differ<'a> {
    desired: &'a State,
    live: &'a State,
    renames: &'a [crate::config::Rename],
    opts: &'a PlanOptions,
    /// Desired tenant key → live tenant key, for renames not yet applied.
    tenant_map: HashMap<String, String>,
    /// Desired workspace key → live workspace key, for same-tenant renames not yet applied.
    ws_map: HashMap<String, String>,
    /// Desired workspace key → live workspace key of another tenant (replace).
    ws_moves: HashMap<String, String>,
    /// New e-mail → old e-mail, for e-mail changes not yet applied (replace).
    user_map: HashMap<String, String>,
    /// Live keys of rename sources whose new key also exists live: (kind, old) → new.
    stale_sources: HashMap<Res, String>,
    /// Live resources accounted for by the desired pass.
    matched: HashSet<Res>,
    /// Live resources this plan deletes, replaces away or moves to a new key.
    doomed: HashSet<Res>,
    /// Live resources that move to a new key with a rename (a subset of `doomed`).
    moved_live: HashSet<Res>,
    /// Index in `changes` of each rename root, by its desired key.
    roots: HashMap<Res, usize>,
    changes: Vec<Change>,
    warnings: Vec<Warning>,
    /// Replaces of protected resources (a replace deletes the old one).
    risks: Vec<Risk>,
    unmanaged: BTreeMap<Kind, usize>,
}

fn spec_value(spec: &AnySpec) -> Value {
    spec.to_value()
}

fn put(kind: Kind, key: &str, spec: &AnySpec, if_version: i64, protected: bool) -> Op {
    Op {
        op: OpKind::Put,
        kind,
        key: key.to_string(),
        spec: Some(spec_value(spec)),
        if_version,
        protected: Some(protected),
    }
}

fn delete(kind: Kind, key: &str, if_version: i64) -> Op {
    Op {
        op: OpKind::Delete,
        kind,
        key: key.to_string(),
        spec: None,
        if_version,
        protected: None,
    }
}

fn field(path: &str, before: impl Into<Value>, after: impl Into<Value>) -> FieldChange {
    FieldChange {
        path: path.to_string(),
        before: Some(before.into()),
        after: Some(after.into()),
    }
}

/// Every resource of a state as (kind, key), by dependency rank then key.
fn all_keys(state: &State) -> Vec<(Kind, &str)> {
    by_rank(|k| state.keys(k).collect())
}

/// Keys gathered kind by kind, parents' kinds first.
fn by_rank<'a>(mut keys: impl FnMut(Kind) -> Vec<&'a str>) -> Vec<(Kind, &'a str)> {
    let mut kinds: Vec<Kind> = Kind::ALL.to_vec();
    kinds.sort_by_key(|k| rank(*k));
    kinds
        .into_iter()
        .flat_map(|k| keys(k).into_iter().map(move |key| (k, key)))
        .collect()
}

impl<'a> Differ<'a> {
    fn new(desired: &'a Desired, live: &'a State, opts: &'a PlanOptions) -> Self {
        Differ {
            desired: &desired.state,
            live,
            renames: &desired.renames,
            opts,
            tenant_map: HashMap::new(),
            ws_map: HashMap::new(),
            ws_moves: HashMap::new(),
            user_map: HashMap::new(),
            stale_sources: HashMap::new(),
            matched: HashSet::new(),
            doomed: HashSet::new(),
            moved_live: HashSet::new(),
            roots: HashMap::new(),
            changes: Vec::new(),
            warnings: Vec::new(),
            risks: Vec::new(),
            unmanaged: BTreeMap::new(),
        }
    }

    fn live_tenant<'k>(&'k self, t: &'k str) -> &'k str {
        self.tenant_map.get(t).map(String::as_str).unwrap_or(t)
    }

    fn live_ws(&self, t: &str, w: &str) -> String {
        let k = keys::join(&[t, w]);
        match self.ws_map.get(&k) {
            Some(l) => l.clone(),
            None => keys::join(&[self.live_tenant(t), w]),
        }
    }

    /// The live key a desired resource has before apply (differs under a rename).
    fn live_key(&self, kind: Kind, key: &str) -> String {
        match kind {
            Kind::Tenant => self.live_tenant(key).to_string(),
            Kind::Workspace => match keys::split2(key) {
                Some((t, w)) => self.live_ws(t, w),
                None => key.to_string(),
            },
            Kind::TenantModel => match keys::split2(key) {
                Some((t, m)) => keys::join(&[self.live_tenant(t), m]),
                None => key.to_string(),
            },
            Kind::Grant => match keys::split_grant(key) {
                Some((t, w, g)) => format!("{}/{g}", self.live_ws(t, w)),
                None => key.to_string(),
            },
            Kind::Membership => match keys::split2(key) {
                Some((u, t)) => keys::join(&[u, self.live_tenant(t)]),
                None => key.to_string(),
            },
            Kind::Plan | Kind::Model | Kind::Role | Kind::User | Kind::UserModel => key.to_string(),
        }
    }

    /// The rename root (kind, desired key) a desired resource moves with, if any.
    fn rename_root(&self, kind: Kind, key: &str) -> Option<Res> {
        let tenant = keys::tenant_of(kind, key)?;
        let ws = match kind {
            Kind::Grant => keys::split_grant(key).map(|(t, w, _)| keys::join(&[t, w])),
            _ => None,
        };
        if let Some(ws) = ws.filter(|w| self.ws_map.contains_key(w)) {
            return Some((Kind::Workspace, ws));
        }
        self.tenant_map
            .contains_key(tenant)
            .then(|| (Kind::Tenant, tenant.to_string()))
    }

    fn resolve_renames(&mut self) {
        for r in self.renames.iter().filter(|r| r.kind == Kind::Tenant) {
            if !self.desired.contains(Kind::Tenant, &r.to)
                || self.desired.contains(Kind::Tenant, &r.from)
            {
                continue;
            }
            match (
                self.live.contains(Kind::Tenant, &r.from),
                self.live.contains(Kind::Tenant, &r.to),
            ) {
                (true, false) => {
                    self.tenant_map.insert(r.to.clone(), r.from.clone());
                }
                (true, true) => {
                    self.stale_sources
                        .insert((Kind::Tenant, r.from.clone()), r.to.clone());
                }
                _ => {}
            }
        }
        for r in self.renames.iter().filter(|r| r.kind == Kind::Workspace) {
            let (Some((tt, tw)), Some((ft, fw))) = (keys::split2(&r.to), keys::split2(&r.from))
            else {
                continue;
            };
            if !self.desired.contains(Kind::Workspace, &r.to)
                || self.desired.contains(Kind::Workspace, &r.from)
            {
                continue;
            }
            let live_from = keys::join(&[self.live_tenant(ft), fw]);
            let live_to = keys::join(&[self.live_tenant(tt), tw]);
            match (
                self.live.contains(Kind::Workspace, &live_from),
                self.live.contains(Kind::Workspace, &live_to),
            ) {
                (true, false) if ft == tt => {
                    self.ws_map.insert(r.to.clone(), live_from);
                }
                (true, false) => {
                    self.ws_moves.insert(r.to.clone(), live_from);
                }
                (true, true) => {
                    self.stale_sources
                        .insert((Kind::Workspace, live_from), r.to.clone());
                }
                _ => {}
            }
        }
        for r in self.renames.iter().filter(|r| r.kind == Kind::User) {
            if !self.desired.contains(Kind::User, &r.to)
                || self.desired.contains(Kind::User, &r.from)
            {
                continue;
            }
            match (
                self.live.contains(Kind::User, &r.from),
                self.live.contains(Kind::User, &r.to),
            ) {
                (true, false) => {
                    self.user_map.insert(r.to.clone(), r.from.clone());
                }
                (true, true) => {
                    self.stale_sources
                        .insert((Kind::User, r.from.clone()), r.to.clone());
                }
                _ => {}
            }
        }
    }

    /// A replace deletes the old resource: refused when it is protected.
    fn protected_replace(&mut self, kind: Kind, old: &str, new: &str) {
        if self.live.meta(kind, old).is_some_and(|m| m.protected) {
            self.risks.push(Risk {
                code: PROTECTED_REPLACE.into(),
                kind,
                key: old.to_string(),
                message: format!(
                    "{kind} `{old}` is protected, and replacing it by `{new}` deletes it; apply `protected: false` on it first, or drop `previously:`"
                ),
            });
        }
    }

    /// A user with everything hanging from it, as one JSON object for a replace's fields.
    fn user_aggregate(state: &State, email: &str) -> (Value, Vec<(Kind, String)>) {
        let mut obj = Map::new();
        let mut children = Vec::new();
        obj.insert("email".into(), json!(email));
        if let Some((_, spec)) = state.get(Kind::User, email) {
            if let Value::Object(m) = spec_value(&spec) {
                obj.extend(m);
            }
        }
        let prefix = format!("{email}/");
        let mut memberships = Map::new();
        for k in state.keys_in(Kind::Membership, &prefix) {
            if let Some((_, spec)) = state.get(Kind::Membership, k) {
                memberships.insert(k[prefix.len()..].to_string(), spec_value(&spec));
                children.push((Kind::Membership, k.to_string()));
            }
        }
        let mut models = Map::new();
        for k in state.keys_in(Kind::UserModel, &prefix) {
            if let Some(e) = state.user_models.get(k) {
                models.insert(k[prefix.len()..].to_string(), json!(e.spec.access));
                children.push((Kind::UserModel, k.to_string()));
            }
        }
        let mut grants = Map::new();
        for (k, e) in &state.grants {
            if let Some((t, w, Grantee::User(u))) = keys::split_grant(k) {
                if u == email {
                    grants.insert(keys::join(&[t, w]), json!(e.spec.actions));
                    children.push((Kind::Grant, k.clone()));
                }
            }
        }
        if !memberships.is_empty() {
            obj.insert("memberships".into(), Value::Object(memberships));
        }
        if !models.is_empty() {
            obj.insert("models".into(), Value::Object(models));
        }
        if !grants.is_empty() {
            obj.insert("grants".into(), Value::Object(grants));
        }
        (Value::Object(obj), children)
    }

    /// One `replace` per e-mail change: the old user and what hangs from it are deleted, the
    /// new user and its memberships, model grants and workspace grants created.
    fn user_replaces(&mut self) {
        let mut pairs: Vec<(String, String)> = self
            .user_map
            .iter()
            .map(|(n, o)| (n.clone(), o.clone()))
            .collect();
        pairs.sort();
        for (new, old) in pairs {
            self.protected_replace(Kind::User, &old, &new);
            let (after, new_children) = Self::user_aggregate(self.desired, &new);
            let (before, old_children) = Self::user_aggregate(self.live, &old);
            let mut ops = Vec::new();
            if let Some((meta, spec)) = self.desired.get(Kind::User, &new) {
                ops.push(put(Kind::User, &new, &spec, 0, meta.protected));
            }
            for (kind, key) in &new_children {
                if let Some((meta, spec)) = self.desired.get(*kind, key) {
                    // A child may already exist live under the new key (a grant to the
                    // new e-mail cannot, but stay exact): put over its live version.
                    let v = self.live.meta(*kind, key).map_or(0, |m| m.version);
                    ops.push(put(*kind, key, &spec, v, meta.protected));
                }
            }
            for (kind, key) in old_children
                .iter()
                .chain(std::iter::once(&(Kind::User, old.clone())))
            {
                if let Some(m) = self.live.meta(*kind, key) {
                    ops.push(delete(*kind, key, m.version));
                    self.matched.insert((*kind, key.clone()));
                    self.doomed.insert((*kind, key.clone()));
                }
            }
            for (kind, key) in &new_children {
                self.matched.insert((*kind, key.clone()));
            }
            self.changes.push(Change {
                kind: Kind::User,
                key: new.clone(),
                action: Action::Replace,
                previous_key: Some(old.clone()),
                fields: field_changes(&before, &after),
                before: Some(before),
                after: Some(after),
                reason: Some(Reason::Email),
                moved: Vec::new(),
                ops,
            });
        }
    }

    /// Whether a desired resource is folded into a user replace.
    fn folded_into_replace(&self, kind: Kind, key: &str) -> bool {
        match kind {
            Kind::User => self.user_map.contains_key(key),
            Kind::Membership | Kind::UserModel => {
                keys::split2(key).is_some_and(|(u, _)| self.user_map.contains_key(u))
            }
            Kind::Grant => {
                matches!(keys::split_grant(key), Some((_, _, Grantee::User(u))) if self.user_map.contains_key(&u))
            }
            _ => false,
        }
    }

    /// No rename, move or e-mail change is pending: every desired resource has its live
    /// counterpart under the same key, so `matched` is exactly the desired keys found live.
    fn no_renames(&self) -> bool {
        self.tenant_map.is_empty()
            && self.ws_map.is_empty()
            && self.ws_moves.is_empty()
            && self.user_map.is_empty()
    }

    /// Whether the desired pass matched the live resource `kind/key`.
    fn is_matched(&self, no_renames: bool, kind: Kind, key: &str) -> bool {
        if no_renames {
            self.desired.contains(kind, key)
        } else {
            self.matched.contains(&(kind, key.to_string()))
        }
    }

    fn desired_pass(&mut self) {
        // The common case of a large configuration: without renames, only the resources
        // that differ from their live counterpart are looked at (one merge of sorted maps).
        let no_renames = self.no_renames();
        let keys = if no_renames {
            let (desired, live) = (self.desired, self.live);
            by_rank(|k| desired.changed_keys(live, k))
        } else {
            all_keys(self.desired)
        };
        for (kind, key) in keys {
            if self.folded_into_replace(kind, key) {
                continue;
            }
            let Some((dmeta, dspec)) = self.desired.get(kind, key) else {
                continue;
            };
            if kind == Kind::Workspace {
                if let Some(from) = self.ws_moves.get(key).cloned() {
                    self.workspace_move(key, &from, dmeta, &dspec);
                    continue;
                }
            }
            let lk = self.live_key(kind, key);
            let Some((lmeta, lspec)) = self.live.get(kind, &lk) else {
                // A grant or membership the user replace already created is skipped above;
                // anything else absent live is created.
                self.changes.push(Change {
                    kind,
                    key: key.to_string(),
                    action: Action::Create,
                    previous_key: None,
                    before: None,
                    after: Some(spec_value(&dspec)),
                    fields: Vec::new(),
                    reason: None,
                    moved: Vec::new(),
                    ops: vec![put(kind, key, &dspec, 0, dmeta.protected)],
                });
                continue;
            };
            if !no_renames {
                self.matched.insert((kind, lk.clone()));
            }
            let same_spec = lspec == dspec;
            let mut fields = Vec::new();
            if lk != key {
                fields.push(field("key", lk.as_str(), key));
            }
            if !same_spec {
                fields.extend(field_changes(&spec_value(&lspec), &spec_value(&dspec)));
            }
            if lmeta.protected != dmeta.protected {
                fields.push(field("protected", lmeta.protected, dmeta.protected));
            }
            if !lmeta.managed {
                fields.push(field("managed", false, true));
            }
            if lk != key {
                self.doomed.insert((kind, lk.clone()));
                self.moved_live.insert((kind, lk.clone()));
                let ops = vec![
                    put(kind, key, &dspec, 0, dmeta.protected),
                    delete(kind, &lk, lmeta.version),
                ];
                let is_root = match kind {
                    Kind::Tenant => self.tenant_map.contains_key(key),
                    Kind::Workspace => self.ws_map.contains_key(key),
                    _ => false,
                };
                // An unchanged child travels with its renamed parent, shown under it.
                if !is_root && fields.len() == 1 {
                    if let Some(i) = self
                        .rename_root(kind, key)
                        .and_then(|r| self.roots.get(&r).copied())
                    {
                        let root = &mut self.changes[i];
                        root.moved.push(Moved {
                            kind,
                            from: lk,
                            to: key.to_string(),
                        });
                        root.ops.extend(ops);
                        continue;
                    }
                }
                if is_root {
                    self.roots
                        .insert((kind, key.to_string()), self.changes.len());
                }
                self.changes.push(Change {
                    kind,
                    key: key.to_string(),
                    action: Action::Update,
                    previous_key: Some(lk),
                    before: Some(spec_value(&lspec)),
                    after: Some(spec_value(&dspec)),
                    fields,
                    reason: None,
                    moved: Vec::new(),
                    ops,
                });
                continue;
            }
            if fields.is_empty() {
                continue;
            }
            let op = if same_spec && lmeta.protected == dmeta.protected {
                Op {
                    op: OpKind::Adopt,
                    kind,
                    key: key.to_string(),
                    spec: Some(spec_value(&dspec)),
                    if_version: lmeta.version,
                    protected: None,
                }
            } else {
                put(kind, key, &dspec, lmeta.version, dmeta.protected)
            };
            self.changes.push(Change {
                kind,
                key: key.to_string(),
                action: Action::Update,
                previous_key: None,
                before: Some(spec_value(&lspec)),
                after: Some(spec_value(&dspec)),
                fields,
                reason: None,
                moved: Vec::new(),
                ops: vec![op],
            });
        }
    }

    fn workspace_move(&mut self, key: &str, from: &str, dmeta: Meta, dspec: &AnySpec) {
        let Some((lmeta, lspec)) = self.live.get(Kind::Workspace, from) else {
            return;
        };
        self.matched.insert((Kind::Workspace, from.to_string()));
        self.doomed.insert((Kind::Workspace, from.to_string()));
        if lmeta.protected {
            self.protected_replace(Kind::Workspace, from, key);
        }
        let mut fields = vec![field("key", from, key)];
        if let (Some((ft, _)), Some((tt, _))) = (keys::split2(from), keys::split2(key)) {
            fields.push(field("tenant", ft, tt));
        }
        fields.extend(field_changes(&spec_value(&lspec), &spec_value(dspec)));
        if lmeta.protected != dmeta.protected {
            fields.push(field("protected", lmeta.protected, dmeta.protected));
        }
        self.changes.push(Change {
            kind: Kind::Workspace,
            key: key.to_string(),
            action: Action::Replace,
            previous_key: Some(from.to_string()),
            before: Some(spec_value(&lspec)),
            after: Some(spec_value(dspec)),
            fields,
            reason: Some(Reason::Tenant),
            moved: Vec::new(),
            ops: vec![
                put(Kind::Workspace, key, dspec, 0, dmeta.protected),
                delete(Kind::Workspace, from, lmeta.version),
            ],
        });
    }

    /// The desired key a live resource under a renamed parent moves to, and its root.
    fn carried_to(&self, kind: Kind, lkey: &str) -> Option<(String, Res)> {
        // Inverse maps: live → desired.
        let inv_t = |t: &str| {
            self.tenant_map
                .iter()
                .find(|(_, l)| l.as_str() == t)
                .map(|(d, _)| d.clone())
        };
        let inv_w = |w: &str| {
            self.ws_map
                .iter()
                .find(|(_, l)| l.as_str() == w)
                .map(|(d, _)| d.clone())
        };
        match kind {
            Kind::Workspace | Kind::TenantModel => {
                let (t, rest) = keys::split2(lkey)?;
                let nt = inv_t(t)?;
                Some((keys::join(&[&nt, rest]), (Kind::Tenant, nt)))
            }
            Kind::Membership => {
                let (u, t) = keys::split2(lkey)?;
                let nt = inv_t(t)?;
                Some((keys::join(&[u, &nt]), (Kind::Tenant, nt)))
            }
            Kind::Grant => {
                let (t, w, g) = keys::split_grant(lkey)?;
                let lw = keys::join(&[t, w]);
                if let Some(nw) = inv_w(&lw) {
                    return Some((format!("{nw}/{g}"), (Kind::Workspace, nw)));
                }
                let nt = inv_t(t)?;
                Some((keys::grant(&nt, w, &g), (Kind::Tenant, nt)))
            }
            _ => None,
        }
    }

    fn delete_change(&mut self, kind: Kind, key: &str, meta: Meta, spec: &AnySpec, reason: Reason) {
        self.doomed.insert((kind, key.to_string()));
        self.changes.push(Change {
            kind,
            key: key.to_string(),
            action: Action::Delete,
            previous_key: None,
            before: Some(spec_value(spec)),
            after: None,
            fields: Vec::new(),
            reason: Some(reason),
            moved: Vec::new(),
            ops: vec![delete(kind, key, meta.version)],
        });
    }

    fn live_pass(&mut self) {
        // Live resources with a protected descendant: deleting them would cascade to it.
        let mut protected_below: HashMap<Res, Res> = HashMap::new();
        let live = self.live;
        for (kind, key) in by_rank(|k| live.protected_keys(k)) {
            let mut stack = keys::parents(kind, key);
            while let Some(p) = stack.pop() {
                stack.extend(keys::parents(p.0, &p.1));
                protected_below.entry(p).or_insert((kind, key.to_string()));
            }
        }
        // Protected resources kept although the configuration left them out: their
        // subtree is kept with them.
        let mut kept: HashSet<Res> = HashSet::new();
        let no_renames = self.no_renames();
        // Without renames, the live resources the configuration lacks: one merge of sorted maps.
        let candidates = if no_renames {
            let desired = self.desired;
            by_rank(|k| live.missing_keys(desired, k))
        } else {
            all_keys(self.live)
        };
        for (kind, key) in candidates {
            if self.is_matched(no_renames, kind, key) {
                continue;
            }
            let res = (kind, key.to_string());
            let Some((meta, spec)) = self.live.get(kind, key) else {
                continue;
            };
            let parents = keys::parents(kind, key);
            let doomed_parents: Vec<&Res> = parents
                .iter()
                .filter(|p| self.doomed.contains(*p))
                .collect();
            let doomed_parent = doomed_parents
                .iter()
                .find(|p| !self.moved_live.contains(**p))
                .map(|p| (*p).clone());
            // Every doomed parent moves (a rename): carry this resource along, or delete it
            // explicitly when it is managed and the configuration dropped it.
            if doomed_parent.is_none() && !doomed_parents.is_empty() {
                if let Some((to, root)) = self.carried_to(kind, key) {
                    if meta.managed {
                        self.delete_change(kind, key, meta, &spec, Reason::Removed);
                    } else if let Some(i) = self.roots.get(&root).copied() {
                        let root = &mut self.changes[i];
                        root.moved.push(Moved {
                            kind,
                            from: key.to_string(),
                            to: to.clone(),
                        });
                        root.ops.push(put(kind, &to, &spec, 0, meta.protected));
                        root.ops.push(delete(kind, key, meta.version));
                        self.doomed.insert(res.clone());
                        self.moved_live.insert(res);
                    }
                    continue;
                }
            }
            let reason = if let Some(to) = self.stale_sources.get(&res) {
                Some(Reason::Renamed { to: to.clone() })
            } else if doomed_parent.is_some() && meta.managed {
                Some(Reason::Removed)
            } else if let Some(p) = doomed_parent {
                Some(Reason::Cascade {
                    kind: p.0,
                    key: p.1,
                })
            } else if parents.iter().any(|p| kept.contains(p)) {
                kept.insert(res);
                continue;
            } else if meta.managed {
                Some(Reason::Removed)
            } else if self.opts.prune {
                Some(Reason::Pruned)
            } else {
                *self.unmanaged.entry(kind).or_default() += 1;
                None
            };
            let Some(reason) = reason else { continue };
            if meta.protected {
                kept.insert(res);
                self.warnings.push(Warning {
                    code: "protected_kept".into(),
                    kind,
                    key: key.to_string(),
                    message: format!(
                        "{kind} `{key}` is protected: kept although {}",
                        reason.describe()
                    ),
                });
                continue;
            }
            if let Some((pk, pkey)) = protected_below.get(&res) {
                kept.insert(res);
                self.warnings.push(Warning {
                    code: "protected_kept".into(),
                    kind,
                    key: key.to_string(),
                    message: format!("{kind} `{key}` is kept although {}: deleting it would delete the protected {pk} `{pkey}`", reason.describe()),
                });
                continue;
            }
            self.delete_change(kind, key, meta, &spec, reason);
        }
    }
}

/// Drops the delete ops the platform performs by itself: a resource whose parent is deleted
/// in the same plan goes with it (the change stays, to show it). Deleting children one by
/// one would, in resource-by-resource mode, pass through states the platform refuses (a
/// tenant without its `org_admin`).
fn drop_cascaded_deletes(changes: &mut [Change]) {
    let deleted: HashSet<Res> = changes
        .iter()
        .flat_map(|c| c.ops.iter())
        .filter(|o| o.op == OpKind::Delete)
        .map(|o| (o.kind, o.key.clone()))
        .collect();
    for c in changes.iter_mut() {
        c.ops.retain(|o| {
            o.op != OpKind::Delete
                || !cascade_parents(o.kind, &o.key)
                    .iter()
                    .any(|p| deleted.contains(p))
        });
    }
}

/// Creates, updates and replaces by increasing rank, then deletes by decreasing rank.
fn sort_changes(changes: &mut [Change]) {
    changes.sort_by(|a, b| {
        let ka = (
            a.action == Action::Delete,
            if a.action == Action::Delete {
                delete_rank(a.kind)
            } else {
                rank(a.kind)
            },
        );
        let kb = (
            b.action == Action::Delete,
            if b.action == Action::Delete {
                delete_rank(b.kind)
            } else {
                rank(b.kind)
            },
        );
        ka.cmp(&kb)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.key.cmp(&b.key))
    });
}

/// What a resource depends on: its parents by key, and what its spec refers to (a tenant's
/// plan, a membership's custom role and workspaces, a grant's role).
fn dependencies(kind: Kind, key: &str, state: &State) -> Vec<Res> {
    let mut out = keys::parents(kind, key);
    match kind {
        Kind::Tenant => {
            if let Some(t) = state.tenants.get(key) {
                out.push((Kind::Plan, t.spec.plan.clone()));
            }
        }
        Kind::Membership => {
            if let (Some(m), Some((_, t))) = (state.memberships.get(key), keys::split2(key)) {
                if state.roles.contains_key(&m.spec.role) {
                    out.push((Kind::Role, m.spec.role.clone()));
                }
                out.extend(
                    m.spec
                        .workspaces
                        .iter()
                        .map(|w| (Kind::Workspace, keys::join(&[t, w]))),
                );
            }
        }
        _ => {}
    }
    out
}

/// Every dependency of a resource, transitively.
fn ancestors(kind: Kind, key: &str, state: &State) -> Vec<Res> {
    let mut out: Vec<Res> = Vec::new();
    let mut stack = dependencies(kind, key, state);
    while let Some(p) = stack.pop() {
        if !out.contains(&p) {
            stack.extend(dependencies(p.0, &p.1, state));
            out.push(p);
        }
    }
    out
}

/// Keeps the changes of the targets, of their children, and of everything these depend on.
fn filter_targets(
    changes: Vec<Change>,
    targets: &[Res],
    desired: &Desired,
    live: &State,
) -> Vec<Change> {
    let target_set: HashSet<&Res> = targets.iter().collect();
    let below = |kind: Kind, key: &str| {
        let mut stack = keys::parents(kind, key);
        while let Some(p) = stack.pop() {
            if target_set.contains(&p) {
                return true;
            }
            stack.extend(keys::parents(p.0, &p.1));
        }
        false
    };
    // The targets and their children (by key, under both the new and the previous key).
    let mut selected: HashSet<Res> = targets.iter().cloned().collect();
    for c in &changes {
        for key in std::iter::once(&c.key).chain(c.previous_key.as_ref()) {
            if below(c.kind, key) {
                selected.insert((c.kind, c.key.clone()));
            }
        }
    }
    // Everything they depend on.
    let mut needed: HashSet<Res> = selected.clone();
    for (k, key) in &selected {
        needed.extend(ancestors(*k, key, &desired.state));
        needed.extend(ancestors(*k, key, live));
    }
    changes
        .into_iter()
        .filter(|c| {
            needed.contains(&(c.kind, c.key.clone()))
                || c.previous_key
                    .as_ref()
                    .is_some_and(|p| needed.contains(&(c.kind, p.clone())))
        })
        .collect()
}

/// The delete guard: no plan deletes more than `max_percent` of a kind's live resources.
pub(crate) fn delete_guard(plan: &Plan, live: &State, max_percent: u8) -> Vec<Risk> {
    let mut by_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        *by_kind.entry(c.kind).or_default() += 1;
    }
    by_kind
        .into_iter()
        .filter_map(|(kind, n)| {
            let total = live.count(kind);
            (n * 100 > usize::from(max_percent) * total).then(|| Risk {
                code: TOO_MANY_DELETES.into(),
                kind,
                key: "*".into(),
                message: format!(
                    "the plan deletes {n} of {total} live {} ({} %), more than the {max_percent} % allowed; check the deletes, then pass --max-delete-percent {}",
                    kind.plural(),
                    n * 100 / total.max(1),
                    (n * 100).div_ceil(total.max(1)).min(100),
                ),
            })
        })
        .collect()
}

/// Rule 6: the identity running the apply cannot remove, block or demote itself. What locks
/// it out is [`rules::self_lockout`]'s decision, the same the server refuses.
fn self_lockout(plan: &Plan, desired: &State, live: &State, opts: &PlanOptions) -> Vec<Risk> {
    let Some(me) = opts.identity.user.as_deref() else {
        return Vec::new();
    };
    let me = me.to_lowercase();
    let mut out = Vec::new();
    for c in &plan.changes {
        let live_key = c.previous_key.as_deref().unwrap_or(&c.key);
        let gone = match (c.kind, c.action) {
            (Kind::User, Action::Delete | Action::Replace) | (Kind::Membership, Action::Delete) => {
                true
            }
            (Kind::User | Kind::Membership, Action::Update) => false,
            _ => continue,
        };
        let before = live.get(c.kind, live_key).map(|(_, s)| s);
        let after = if gone {
            None
        } else {
            desired.get(c.kind, &c.key).map(|(_, s)| s)
        };
        for lockout in rules::self_lockout(&me, c.kind, live_key, before.as_ref(), after.as_ref()) {
            let what = match lockout {
                SelfLockout::DeleteUser => "delete itself".to_string(),
                SelfLockout::BlockUser => "block itself".into(),
                SelfLockout::DropSystemRole => "remove its own system role".into(),
                SelfLockout::RemoveMembership => "remove its own membership".into(),
                SelfLockout::Demote { from, to } => {
                    format!("demote itself from `{from}` to `{to}`")
                }
            };
            out.push(Risk {
                code: SELF_LOCKOUT.into(),
                kind: c.kind,
                key: if gone { live_key } else { &c.key }.to_string(),
                message: format!("the identity running the apply (`{me}`) cannot {what} (rule 6); run the apply with another identity"),
            });
        }
    }
    out
}

/// Rule 9: a tenant limit lowered below the tenant's live usage ([`rules::limits::below_usage`]).
fn limits_below_usage(plan: &Plan, desired: &State, live: &State) -> Vec<Risk> {
    // The live key of each desired tenant (a renamed tenant is compared with its old self).
    let live_key: HashMap<&str, &str> = plan
        .changes
        .iter()
        .filter(|c| c.kind == Kind::Tenant)
        .filter_map(|c| Some((c.key.as_str(), c.previous_key.as_deref()?)))
        .collect();
    rules::limits::below_usage(desired, live, &live_key)
        .into_iter()
        .map(|b| Risk {
            code: LIMIT_BELOW_USAGE.into(),
            kind: Kind::Tenant,
            key: b.tenant.to_string(),
            message: format!(
                "the {} limit of tenant `{}` goes from {} to {}, below its {} live {}; apply refuses it without --allow-limit-below-usage",
                b.limit,
                b.tenant,
                b.was.map_or("unlimited".to_string(), |w| w.to_string()),
                b.to,
                b.usage,
                b.unit,
            ),
        })
        .collect()
}
