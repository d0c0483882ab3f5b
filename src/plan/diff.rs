//! [`diff`]: the one function that turns the desired and the live state into a [`Plan`].
//!
//! Renames (`previously:`) are resolved first into key maps from desired keys to live keys
//! ([`renames`]); then every desired resource is matched with its live counterpart (create,
//! update, move), every unmatched live resource is decided (delete, cascade, keep,
//! unmanaged) — the matching, here; the changes are narrowed to the targets and put in apply
//! order ([`super::order`]); and finally the plan-time rules (6, 9, the delete guard) add
//! risks ([`super::risks`]).

mod renames;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::order::{self, by_rank, Res};
use super::{acknowledge, sensitive};
use super::{
    field_changes, risks, scope, Action, Change, FieldChange, Moved, OutOfScope, Plan, PlanInput,
    PlanOptions, Reason, Risk, SensitiveFields, Sensitivity, Verb, Warning, Write,
};
use crate::model::keys;
use crate::model::{AnySpec, Kind, Meta, Rename, State};
use crate::rules;

/// Diffs `desired` against `live`. Pure and total: any pair of states gives a plan.
pub fn diff(desired: &PlanInput, live: &State, opts: &PlanOptions) -> Plan {
    diff_with(desired, live, &SensitiveFields::new(), opts)
}

/// [`diff`], knowing which live fields the platform recorded as sensitive.
pub fn diff_with(
    desired: &PlanInput,
    live: &State,
    live_sensitive: &SensitiveFields,
    opts: &PlanOptions,
) -> Plan {
    // A tenant-scoped token: the configuration narrowed to what it can see.
    let (narrowed, not_visible) = match &opts.scope {
        Some(s) => {
            let (input, hidden) = scope::narrow(desired, live, s);
            (Some(input), hidden)
        }
        None => (None, BTreeMap::new()),
    };
    let desired = narrowed.as_ref().unwrap_or(desired);
    let mut d = Differ::new(desired, live, opts);
    d.resolve_renames();
    d.user_replaces();
    d.desired_pass();
    d.live_pass();
    d.relist_sensitive(&desired.sensitive, live_sensitive);
    let mut changes = d.changes;
    sensitive::fill_writes(&mut changes, &desired.sensitive);
    if !opts.targets.is_empty() {
        changes = order::filter_targets(changes, &opts.targets, desired, live);
    }
    order::drop_cascaded_deletes(&mut changes);
    order::sort_changes(&mut changes);
    let mut risks = d.risks;
    let out_of_scope = opts.scope.as_ref().map(|s| {
        let mut out = OutOfScope {
            token: s.describe(),
            not_visible,
            ..OutOfScope::default()
        };
        risks.extend(scope::restrict(&mut changes, s, &mut out.read_only));
        out
    });
    let mut plan = Plan {
        revision: live.revision,
        changes,
        risks,
        warnings: d.warnings,
        unmanaged: d.unmanaged,
        sensitive: Default::default(),
        out_of_scope,
        targets: (opts.targets.iter())
            .map(|(kind, key)| format!("{kind}/{key}"))
            .collect(),
    };
    plan.sensitive = Sensitivity::of_changes(&plan.changes, &desired.sensitive, live_sensitive);
    plan.risks
        .extend(risks::delete_guard(&plan, live, opts.max_delete_percent));
    plan.risks
        .extend(risks::self_lockout(&plan, &desired.state, live, opts));
    plan.risks
        .extend(risks::limits_below_usage(&plan, &desired.state, live));
    acknowledge::acknowledge(&mut plan, &desired.acknowledgements, opts);
    let mut warnings = match &desired.warnings {
        Some(w) => w.clone(),
        None => Warning::of_rules(rules::check(&desired.state)),
    };
    warnings.append(&mut plan.warnings);
    plan.warnings = warnings;
    plan
}

impl Differ<'_> {
    /// An update of each resource whose spec is unchanged but whose sensitive fields are
    /// listed differently on the platform (a value that came to, or left, `${env:…}`): the
    /// put tells the platform, shown as the pseudo-field `sensitive`.
    fn relist_sensitive(&mut self, desired: &SensitiveFields, live: &SensitiveFields) {
        if desired.is_empty() && live.is_empty() {
            return;
        }
        let changed: HashSet<(Kind, &str)> = (self.changes.iter())
            .map(|c| (c.kind, c.key.as_str()))
            .collect();
        let mut more = Vec::new();
        for (kind, key) in sensitive::relisted(desired, live) {
            if changed.contains(&(*kind, key.as_str())) {
                continue;
            }
            let (Some((dmeta, dspec)), Some((lmeta, lspec))) =
                (self.desired.get(*kind, key), self.live.get(*kind, key))
            else {
                continue;
            };
            let k = (*kind, key.clone());
            more.push(Change {
                kind: *kind,
                key: key.clone(),
                action: Action::Update,
                previous_key: None,
                before: Some(spec_value(&lspec)),
                after: Some(spec_value(&dspec)),
                fields: vec![FieldChange {
                    path: "sensitive".into(),
                    before: Some(sensitive::listed(live.get(&k))),
                    after: Some(sensitive::listed(desired.get(&k))),
                }],
                reason: None,
                moved: Vec::new(),
                writes: vec![put(*kind, key, &dspec, lmeta.version, dmeta.protected)],
            });
        }
        self.changes.extend(more);
    }
}

struct Differ<'a> {
    desired: &'a State,
    live: &'a State,
    renames: &'a [Rename],
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

fn put(kind: Kind, key: &str, spec: &AnySpec, if_version: i64, protected: bool) -> Write {
    put_value(kind, key, spec_value(spec), if_version, protected)
}

/// [`put`] of a spec already serialised.
fn put_value(kind: Kind, key: &str, spec: Value, if_version: i64, protected: bool) -> Write {
    Write {
        verb: Verb::Put,
        kind,
        key: key.to_string(),
        spec: Some(spec),
        if_version,
        protected: Some(protected),
        sensitive: Vec::new(),
    }
}

fn delete(kind: Kind, key: &str, if_version: i64) -> Write {
    Write {
        verb: Verb::Delete,
        kind,
        key: key.to_string(),
        spec: None,
        if_version,
        protected: None,
        sensitive: Vec::new(),
    }
}

/// The writes that delete the live `kind/key` as a rename or replace retires it: a
/// protected resource is unprotected first (an update of its own, audited), as the
/// platform refuses to delete a protected resource.
fn retire(live: &State, kind: Kind, key: &str) -> Vec<Write> {
    match live.get(kind, key) {
        Some((meta, spec)) if meta.protected => vec![
            put(kind, key, &spec, meta.version, false),
            delete(kind, key, meta.version + 1),
        ],
        Some((meta, _)) => vec![delete(kind, key, meta.version)],
        None => Vec::new(),
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

impl<'a> Differ<'a> {
    fn new(desired: &'a PlanInput, live: &'a State, opts: &'a PlanOptions) -> Self {
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
            let Some(dmeta) = self.desired.meta(kind, key) else {
                continue;
            };
            let moved_from = (kind == Kind::Workspace)
                .then(|| self.ws_moves.get(key).cloned())
                .flatten();
            let lk = self.live_key(kind, key);
            if moved_from.is_none() && !self.live.contains(kind, &lk) {
                // A grant or membership the user replace already created is skipped above;
                // anything else absent live is created (its spec serialised once, from the
                // state: a plan from empty creates every resource).
                let after = self.desired.spec_value(kind, key).unwrap_or_default();
                self.changes.push(Change {
                    kind,
                    key: key.to_string(),
                    action: Action::Create,
                    previous_key: None,
                    before: None,
                    after: Some(after.clone()),
                    fields: Vec::new(),
                    reason: None,
                    moved: Vec::new(),
                    writes: vec![put_value(kind, key, after, 0, dmeta.protected)],
                });
                continue;
            }
            let Some((dmeta, dspec)) = self.desired.get(kind, key) else {
                continue;
            };
            if let Some(from) = moved_from {
                self.workspace_move(key, &from, dmeta, &dspec);
                continue;
            }
            let Some((lmeta, lspec)) = self.live.get(kind, &lk) else {
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
                let mut ops = vec![put(kind, key, &dspec, 0, dmeta.protected)];
                ops.extend(retire(self.live, kind, &lk));
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
                        root.writes.extend(ops);
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
                    writes: ops,
                });
                continue;
            }
            if fields.is_empty() {
                continue;
            }
            let op = if same_spec && lmeta.protected == dmeta.protected {
                Write {
                    verb: Verb::Adopt,
                    kind,
                    key: key.to_string(),
                    spec: Some(spec_value(&dspec)),
                    if_version: lmeta.version,
                    protected: None,
                    sensitive: Vec::new(),
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
                writes: vec![op],
            });
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
            writes: vec![delete(kind, key, meta.version)],
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
                        root.writes.push(put(kind, &to, &spec, 0, meta.protected));
                        root.writes.extend(retire(live, kind, key));
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
