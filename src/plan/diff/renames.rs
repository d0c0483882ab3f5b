//! Renames and replaces: `previously:` resolved into maps from desired keys to live keys
//! (a tenant or workspace renamed in place, a workspace moved to another tenant, a user's
//! e-mail changed), the keys a resource has before and after apply, and the one `replace`
//! per e-mail change with everything that hangs from the user.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{field, put, retire, spec_value, Differ, Res};
use crate::model::keys::{self, Grantee};
use crate::model::{AnySpec, Kind, Meta, State};
use crate::plan::{field_changes, risks, Action, Change, Reason};

impl Differ<'_> {
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
    pub(super) fn live_key(&self, kind: Kind, key: &str) -> String {
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
    pub(super) fn rename_root(&self, kind: Kind, key: &str) -> Option<Res> {
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

    pub(super) fn resolve_renames(&mut self) {
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
        self.risks
            .extend(risks::protected_replace(self.live, kind, old, new));
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
    pub(super) fn user_replaces(&mut self) {
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
                if self.live.contains(*kind, key) {
                    ops.extend(retire(self.live, *kind, key));
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
                after: Some(Arc::new(after)),
                reason: Some(Reason::Email),
                moved: Vec::new(),
                writes: ops,
            });
        }
    }

    /// Whether a desired resource is folded into a user replace.
    pub(super) fn folded_into_replace(&self, kind: Kind, key: &str) -> bool {
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

    pub(super) fn workspace_move(&mut self, key: &str, from: &str, dmeta: Meta, dspec: &AnySpec) {
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
            after: Some(Arc::new(spec_value(dspec))),
            fields,
            reason: Some(Reason::Tenant),
            moved: Vec::new(),
            writes: std::iter::once(put(Kind::Workspace, key, dspec, 0, dmeta.protected))
                .chain(retire(self.live, Kind::Workspace, from))
                .collect(),
        });
    }

    /// The desired key a live resource under a renamed parent moves to, and its root.
    pub(super) fn carried_to(&self, kind: Kind, lkey: &str) -> Option<(String, Res)> {
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
}
