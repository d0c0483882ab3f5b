//! The write path and the in-memory state. The whole [`State`] lives in memory (loaded at
//! start, reloaded when another process moved the database's revision); a write takes the
//! lock, grows the revision in the database (the cross-process write lock), applies its
//! operations to the state with an undo log, checks the access matrix and the platform's
//! rules, persists what it touched in the same transaction, and undoes everything on any
//! failure: all or nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::json;
use tokio::sync::RwLock;

use crate::model::{keys, AnySpec, Kind, Meta, State};
use crate::rules::{self, Violation};

use super::authz::{self, Principal};
use super::error::ApiError;
use super::store::{AuditOp, AuditSubject, Db, NewAudit, ResourceRow};

/// What an operation does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Create or replace. `managed`/`protected` None keeps the current flag (or the default
    /// on create: managed, unprotected).
    Put {
        spec: AnySpec,
        protected: Option<bool>,
        managed: Option<bool>,
    },
    Delete,
    /// Mark as managed without changing the spec.
    Adopt,
}

/// One operation of a write.
#[derive(Debug, Clone)]
pub struct Op {
    pub kind: Kind,
    pub key: String,
    /// The version the resource must have (0: must not exist).
    pub if_version: Option<i64>,
    pub action: Action,
}

/// A write: operations applied in one transaction.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub principal: Principal,
    pub ops: Vec<Op>,
    pub expected_revision: Option<i64>,
    pub allow_limit_below_usage: bool,
    pub change_set: Option<String>,
    pub commit: Option<String>,
    /// An invitation to mark accepted in the same transaction.
    pub accept_invitation: Option<String>,
}

impl WriteRequest {
    pub fn new(principal: Principal, ops: Vec<Op>) -> WriteRequest {
        WriteRequest {
            principal,
            ops,
            expected_revision: None,
            allow_limit_below_usage: false,
            change_set: None,
            commit: None,
            accept_invitation: None,
        }
    }
}

/// The outcome of a write.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub revision: i64,
    pub applied: usize,
    /// For each operation: whether it created its resource, and the resource afterwards.
    pub results: Vec<(bool, Option<(Meta, AnySpec)>)>,
}

struct Inner {
    state: State,
    /// The rule violations of `state` (computed lazily, kept per revision).
    violations: Option<Arc<Vec<Violation>>>,
}

/// The platform's state and its write path.
pub struct Engine {
    pub db: Db,
    inner: RwLock<Inner>,
    /// The serialized full state, by revision (what makes GET /state fast).
    state_json: Mutex<Option<(i64, Bytes)>>,
}

/// The audit form of a resource.
pub fn resource_json(meta: &Meta, spec: &AnySpec) -> serde_json::Value {
    json!({ "version": meta.version, "managed": meta.managed, "protected": meta.protected, "spec": spec.to_value() })
}

/// Checks the shape of a key (the identity formats are the rules' business).
pub fn check_key(kind: Kind, key: &str) -> Result<(), ApiError> {
    let part_ok = |p: &str| {
        !p.is_empty() && !p.contains('/') && p.len() <= 320 && !p.chars().any(char::is_control)
    };
    let ok = match kind {
        Kind::Plan | Kind::Model | Kind::Role | Kind::Tenant | Kind::User => part_ok(key),
        Kind::Workspace | Kind::TenantModel | Kind::Membership | Kind::UserModel => {
            keys::split2(key).is_some_and(|(a, b)| part_ok(a) && part_ok(b))
        }
        Kind::Grant => keys::split_grant(key).is_some_and(|(t, w, g)| {
            part_ok(t)
                && part_ok(w)
                && match &g {
                    keys::Grantee::Role(r) => part_ok(r),
                    keys::Grantee::User(u) => part_ok(u),
                    keys::Grantee::Tenant => true,
                }
        }),
    };
    if ok {
        Ok(())
    } else {
        let shape = match kind {
            Kind::Workspace => "TENANT/WORKSPACE",
            Kind::TenantModel => "TENANT/MODEL",
            Kind::Membership => "EMAIL/TENANT",
            Kind::UserModel => "EMAIL/MODEL",
            Kind::Grant => "TENANT/WORKSPACE/role:NAME|user:EMAIL|tenant",
            _ => "one identity without `/`",
        };
        Err(ApiError::BadRequest {
            code: "invalid_key",
            message: format!("`{key}` is not a valid {kind} key: expected {shape}"),
            details: json!({ "kind": kind, "key": key }),
        })
    }
}

/// A resource's bookkeeping and spec.
type Resource = (Meta, AnySpec);

/// Changes made by a write, so it can be undone and persisted.
#[derive(Default)]
struct Log {
    undo: Vec<(Kind, String, Option<Resource>)>,
    /// The state of each touched resource before the write.
    first: HashMap<(Kind, String), Option<Resource>>,
    touched: BTreeSet<(Kind, String)>,
    audit: Vec<NewAudit>,
}

impl Log {
    fn set(
        &mut self,
        state: &mut State,
        kind: Kind,
        key: &str,
        new: Option<(Meta, AnySpec)>,
        op: AuditOp,
    ) {
        let after_json = new.as_ref().map(|(m, s)| resource_json(m, s).to_string());
        let prev = match new {
            Some((meta, spec)) => state.insert(key.to_string(), meta, spec),
            None => state.remove(kind, key),
        };
        self.audit.push(NewAudit {
            op,
            subject: AuditSubject::Resource(kind),
            key: key.to_string(),
            tenant: keys::tenant_of(kind, key).map(str::to_string),
            before: prev.as_ref().map(|(m, s)| resource_json(m, s).to_string()),
            after: after_json,
        });
        self.first
            .entry((kind, key.to_string()))
            .or_insert_with(|| prev.clone());
        self.touched.insert((kind, key.to_string()));
        self.undo.push((kind, key.to_string(), prev));
    }

    fn undo(self, state: &mut State) {
        for (kind, key, prev) in self.undo.into_iter().rev() {
            match prev {
                Some((meta, spec)) => {
                    state.insert(key, meta, spec);
                }
                None => {
                    state.remove(kind, &key);
                }
            }
        }
    }

    fn existed_before(&self, state: &State, kind: Kind, key: &str) -> bool {
        match self.first.get(&(kind, key.to_string())) {
            Some(prev) => prev.is_some(),
            None => state.contains(kind, key),
        }
    }

    fn spec_before(&self, state: &State, kind: Kind, key: &str) -> Option<AnySpec> {
        match self.first.get(&(kind, key.to_string())) {
            Some(prev) => prev.as_ref().map(|(_, s)| s.clone()),
            None => state.get(kind, key).map(|(_, s)| s),
        }
    }
}

/// Deletes `kind/key` and everything that depends on it.
fn delete_cascade(state: &mut State, log: &mut Log, kind: Kind, key: &str) {
    let mut children: Vec<(Kind, String)> = Vec::new();
    let grants_to = |state: &State, tenant: &str, email: &str| -> Vec<(Kind, String)> {
        let suffix = format!("/user:{email}");
        state
            .keys_in(Kind::Grant, &format!("{tenant}/"))
            .filter(|k| k.ends_with(&suffix))
            .map(|k| (Kind::Grant, k.to_string()))
            .collect()
    };
    match kind {
        Kind::Tenant => {
            let prefix = format!("{key}/");
            for k in [Kind::Grant, Kind::TenantModel, Kind::Workspace] {
                children.extend(state.keys_in(k, &prefix).map(|c| (k, c.to_string())));
            }
            children.extend(
                state
                    .memberships
                    .keys()
                    .filter(|m| keys::tenant_of(Kind::Membership, m) == Some(key))
                    .map(|m| (Kind::Membership, m.clone())),
            );
        }
        Kind::User => {
            let prefix = format!("{key}/");
            let memberships: Vec<String> = state
                .keys_in(Kind::Membership, &prefix)
                .map(str::to_string)
                .collect();
            for m in &memberships {
                if let Some((_, t)) = keys::split2(m) {
                    children.extend(grants_to(state, t, key));
                }
            }
            children.extend(memberships.into_iter().map(|m| (Kind::Membership, m)));
            children.extend(
                state
                    .keys_in(Kind::UserModel, &prefix)
                    .map(|c| (Kind::UserModel, c.to_string())),
            );
        }
        Kind::Workspace => {
            children.extend(
                state
                    .keys_in(Kind::Grant, &format!("{key}/"))
                    .map(|c| (Kind::Grant, c.to_string())),
            );
            if let Some((t, w)) = keys::split2(key) {
                let updates: Vec<(String, Meta, AnySpec)> = state
                    .memberships
                    .iter()
                    .filter(|(k, m)| {
                        keys::tenant_of(Kind::Membership, k) == Some(t)
                            && m.spec.workspaces.iter().any(|x| x == w)
                    })
                    .map(|(k, m)| {
                        let mut spec = m.spec.clone();
                        spec.workspaces.retain(|x| x != w);
                        let mut meta = m.meta();
                        meta.version += 1;
                        (k.clone(), meta, AnySpec::Membership(spec))
                    })
                    .collect();
                for (k, meta, spec) in updates {
                    log.set(
                        state,
                        Kind::Membership,
                        &k,
                        Some((meta, spec)),
                        AuditOp::CascadeUpdate,
                    );
                }
            }
        }
        Kind::Membership => {
            if let Some((u, t)) = keys::split2(key) {
                children.extend(grants_to(state, t, u));
            }
        }
        Kind::Plan
        | Kind::Model
        | Kind::Role
        | Kind::TenantModel
        | Kind::Grant
        | Kind::UserModel => {}
    }
    for (k, c) in children {
        if state.contains(k, &c) {
            log.set(state, k, &c, None, AuditOp::CascadeDelete);
        }
    }
    log.set(state, kind, key, None, AuditOp::Delete);
}

/// Whether every identity in `kind/key` has the form rule 5 requires (keys, e-mails). A
/// resource whose identity is malformed can never exist, so no precondition applies to it.
fn identity_problem(kind: Kind, key: &str) -> Option<Violation> {
    use crate::rules::{is_valid_email, is_valid_key};
    let email = |s: &str| {
        is_valid_email(s).then_some(()).ok_or((
            "invalid_email",
            format!("`{s}` is not a valid e-mail address"),
        ))
    };
    let slug = |s: &str| {
        is_valid_key(s)
            .then_some(())
            .ok_or(("invalid_key", format!("`{s}` is not a valid key")))
    };
    let check = || -> Result<(), (&'static str, String)> {
        match kind {
            Kind::Plan | Kind::Model | Kind::Role | Kind::Tenant => slug(key),
            Kind::User => email(key),
            Kind::Workspace | Kind::TenantModel => {
                keys::split2(key).map_or(Ok(()), |(a, b)| slug(a).and(slug(b)))
            }
            Kind::Membership | Kind::UserModel => {
                keys::split2(key).map_or(Ok(()), |(a, b)| email(a).and(slug(b)))
            }
            Kind::Grant => keys::split_grant(key).map_or(Ok(()), |(t, w, g)| {
                slug(t).and(slug(w)).and(match &g {
                    keys::Grantee::Role(r) => slug(r),
                    keys::Grantee::User(u) => email(u),
                    keys::Grantee::Tenant => Ok(()),
                })
            }),
        }
    };
    check().err().map(|(code, message)| Violation {
        code,
        severity: crate::rules::Severity::Error,
        kind,
        key: key.to_string(),
        field: None,
        message,
        help: Some("keys are lower-case letters, digits and `-` (at most 63); users are keyed by a lower-case e-mail".into()),
    })
}

fn apply_op(
    state: &mut State,
    principal: &Principal,
    op: &Op,
    log: &mut Log,
    created_users: &mut HashSet<String>,
) -> Result<(bool, Option<(Meta, AnySpec)>), ApiError> {
    check_key(op.kind, &op.key)?;
    let (kind, key) = (op.kind, op.key.as_str());
    if let Some(v) = identity_problem(kind, key) {
        return Err(match op.action {
            Action::Put { .. } => ApiError::Rules {
                message: format!("the write breaks 1 rule(s) of the platform: {}", v.message),
                violations: vec![v],
            },
            Action::Delete | Action::Adopt => ApiError::NotFound {
                message: format!("{kind} `{key}` does not exist"),
                details: json!({ "kind": kind, "key": key }),
            },
        });
    }
    let before = state.get(kind, key);
    let hidden = |principal: &Principal, state: &State| {
        principal.read_access(state, kind, key) == authz::Access::Hidden
    };
    if let Some(expected) = op.if_version {
        let actual = before.as_ref().map_or(0, |(m, _)| m.version);
        if expected != actual && !(before.is_some() && hidden(principal, state)) {
            let message = if expected == 0 {
                format!("{kind} `{key}` already exists (version {actual})")
            } else if actual == 0 {
                format!("{kind} `{key}` does not exist (expected version {expected})")
            } else {
                format!("{kind} `{key}` is at version {actual}, not {expected}")
            };
            return Err(ApiError::StaleVersion {
                message,
                details: json!({ "kind": kind, "key": key, "expected": expected, "actual": actual }),
            });
        }
    }
    let not_found = || ApiError::NotFound {
        message: format!("{kind} `{key}` does not exist"),
        details: json!({ "kind": kind, "key": key }),
    };
    match &op.action {
        Action::Put {
            spec,
            protected,
            managed,
        } => {
            if spec.kind() != kind {
                return Err(ApiError::bad_request(
                    "invalid_spec",
                    format!("the spec is not a {kind} spec"),
                ));
            }
            principal.check_write(
                state,
                kind,
                key,
                before.as_ref().map(|(_, s)| s),
                Some(spec),
                created_users,
            )?;
            let meta = match &before {
                Some((m, _)) => Meta {
                    version: m.version + 1,
                    managed: managed.unwrap_or(m.managed),
                    protected: protected.unwrap_or(m.protected),
                },
                None => Meta {
                    version: 1,
                    managed: managed.unwrap_or(true),
                    protected: protected.unwrap_or(false),
                },
            };
            log.set(state, kind, key, Some((meta, spec.clone())), AuditOp::Put);
            Ok((before.is_none(), Some((meta, spec.clone()))))
        }
        Action::Adopt => {
            let Some((meta, spec)) = before else {
                return Err(not_found());
            };
            if hidden(principal, state) {
                return Err(not_found());
            }
            principal.check_write(state, kind, key, Some(&spec), Some(&spec), created_users)?;
            let meta = Meta {
                managed: true,
                ..meta
            };
            log.set(state, kind, key, Some((meta, spec.clone())), AuditOp::Adopt);
            Ok((false, Some((meta, spec))))
        }
        Action::Delete => {
            let Some((_, spec)) = before else {
                return Err(not_found());
            };
            principal.check_write(state, kind, key, Some(&spec), None, created_users)?;
            delete_cascade(state, log, kind, key);
            Ok((false, None))
        }
    }
}

impl Engine {
    /// Loads the state from `db`.
    pub async fn load(db: Db) -> Result<Engine, ApiError> {
        let state = db.load_state().await?;
        Ok(Engine {
            db,
            inner: RwLock::new(Inner {
                state,
                violations: None,
            }),
            state_json: Mutex::new(None),
        })
    }

    /// Reloads the state if another process wrote to the database since we last looked.
    async fn sync(&self) -> Result<(), ApiError> {
        let rev = self.db.revision().await?;
        if rev == self.inner.read().await.state.revision {
            return Ok(());
        }
        let mut inner = self.inner.write().await;
        if inner.state.revision != rev {
            let state = self.db.load_state().await?;
            inner.state = state;
            inner.violations = None;
        }
        Ok(())
    }

    /// Runs `f` on the current state.
    pub async fn read<T>(&self, f: impl FnOnce(&State) -> T) -> Result<T, ApiError> {
        self.sync().await?;
        let inner = self.inner.read().await;
        Ok(f(&inner.state))
    }

    /// The serialized state visible to `principal` (cached per revision for system tokens).
    pub async fn state_json(&self, principal: &Principal) -> Result<Bytes, ApiError> {
        principal.require_admin()?;
        self.sync().await?;
        let inner = self.inner.read().await;
        if !principal.is_system() {
            let filtered = principal.filter_state(&inner.state)?;
            return serde_json::to_vec(&filtered)
                .map(Bytes::from)
                .map_err(|e| ApiError::Internal(e.to_string()));
        }
        let rev = inner.state.revision;
        if let Ok(cache) = self.state_json.lock() {
            if let Some((r, bytes)) = cache.as_ref() {
                if *r == rev {
                    return Ok(bytes.clone());
                }
            }
        }
        let bytes = Bytes::from(
            serde_json::to_vec(&inner.state).map_err(|e| ApiError::Internal(e.to_string()))?,
        );
        if let Ok(mut cache) = self.state_json.lock() {
            *cache = Some((rev, bytes.clone()));
        }
        Ok(bytes)
    }

    /// Runs a write to completion even if the caller goes away (a dropped request must not
    /// leave the in-memory state half-applied).
    pub async fn write(self: &Arc<Self>, req: WriteRequest) -> Result<WriteOutcome, ApiError> {
        let engine = Arc::clone(self);
        match tokio::spawn(async move { engine.write_inner(req).await }).await {
            Ok(r) => r,
            Err(e) => Err(ApiError::Internal(format!("write task failed: {e}"))),
        }
    }

    async fn write_inner(&self, req: WriteRequest) -> Result<WriteOutcome, ApiError> {
        let mut guard = self.inner.write().await;
        let inner = &mut *guard;
        let mut tx = self.db.begin().await?;
        let new_rev = tx.bump_revision().await?;
        let prev_rev = new_rev - 1;
        if inner.state.revision != prev_rev {
            inner.state = tx.load_state().await?;
            inner.state.revision = prev_rev;
            inner.violations = None;
        }
        if let Some(expected) = req.expected_revision {
            if expected != prev_rev {
                tx.rollback().await?;
                return Err(ApiError::Conflict {
                    code: "stale_revision",
                    message: format!(
                        "the state is at revision {prev_rev}, not {expected}: plan again"
                    ),
                    details: json!({ "expected": expected, "actual": prev_rev }),
                });
            }
        }
        let before_violations = match &inner.violations {
            Some(v) => Arc::clone(v),
            None => {
                let v = Arc::new(rules::check(&inner.state));
                inner.violations = Some(Arc::clone(&v));
                v
            }
        };
        let state = &mut inner.state;
        let mut log = Log::default();
        let t_apply = std::time::Instant::now();
        let result = Self::apply_all(state, &req, &mut log, &before_violations);
        let apply_ms = t_apply.elapsed().as_millis() as u64;
        let (results, after_violations) = match result {
            Ok(r) => r,
            Err(e) => {
                log.undo(state);
                tx.rollback().await?;
                return Err(e);
            }
        };
        let t_persist = std::time::Instant::now();
        let persisted = Self::persist(&mut tx, state, &log, new_rev, &req).await;
        let persisted = match persisted {
            Ok(()) => tx.commit().await.map_err(ApiError::from),
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        };
        if let Err(e) = persisted {
            log.undo(state);
            return Err(e);
        }
        state.revision = new_rev;
        inner.violations = Some(Arc::new(after_violations));
        let applied = req.ops.len();
        let persist_ms = t_persist.elapsed().as_millis() as u64;
        tracing::info!(
            revision = new_rev,
            operations = applied,
            changes = log.touched.len(),
            token = %req.principal.token_id,
            apply_ms,
            persist_ms,
            "write applied"
        );
        Ok(WriteOutcome {
            revision: new_rev,
            applied,
            results,
        })
    }

    #[allow(clippy::type_complexity)]
    fn apply_all(
        state: &mut State,
        req: &WriteRequest,
        log: &mut Log,
        before_violations: &[Violation],
    ) -> Result<(Vec<(bool, Option<(Meta, AnySpec)>)>, Vec<Violation>), ApiError> {
        let mut created_users = HashSet::new();
        let mut results = Vec::with_capacity(req.ops.len());
        for (i, op) in req.ops.iter().enumerate() {
            let r = apply_op(state, &req.principal, op, log, &mut created_users).map_err(|e| {
                if req.ops.len() > 1 {
                    e.at_operation(i)
                } else {
                    e
                }
            })?;
            results.push(r);
        }
        req.principal.check_created_users(state, &created_users)?;
        // Rule 6, on the net effect of the write.
        let firsts: Vec<(Kind, &str, Option<AnySpec>, Option<AnySpec>)> = log
            .touched
            .iter()
            .filter(|(k, _)| matches!(k, Kind::User | Kind::Membership))
            .map(|(k, key)| {
                (
                    *k,
                    key.as_str(),
                    log.first
                        .get(&(*k, key.clone()))
                        .cloned()
                        .flatten()
                        .map(|(_, s)| s),
                    state.get(*k, key).map(|(_, s)| s),
                )
            })
            .collect();
        let changes: Vec<(Kind, &str, Option<&AnySpec>, Option<&AnySpec>)> = firsts
            .iter()
            .map(|(k, key, b, a)| (*k, *key, b.as_ref(), a.as_ref()))
            .collect();
        let mut refused = authz::self_protection(&req.principal, &changes);
        let after = rules::check(state);
        // A tenant already over a limit (an accepted rule-9 risk) may not grow further.
        for v in &after {
            if v.code == "limit_exceeded"
                && v.kind == Kind::Tenant
                && Self::usage_grew(state, log, &v.key)
            {
                let known = before_violations.iter().any(|b| {
                    b.code == v.code && b.kind == v.kind && b.key == v.key && b.field == v.field
                });
                if known {
                    refused.push(v.clone());
                }
            }
        }
        let new = rules::new_errors(before_violations, after.clone());
        for v in new {
            let exempt = match v.code {
                // A tenant created by this write has no members yet.
                "no_org_admin" => {
                    v.kind == Kind::Tenant && !log.existed_before(state, Kind::Tenant, &v.key)
                }
                "limit_exceeded" => {
                    req.allow_limit_below_usage
                        && v.kind == Kind::Tenant
                        && Self::limit_lowered(state, log, &v.key)
                }
                _ => false,
            };
            if !exempt {
                refused.push(v);
            }
        }
        if !refused.is_empty() {
            let n = refused.len();
            let first = refused[0].message.clone();
            return Err(ApiError::Rules {
                message: format!("the write breaks {n} rule(s) of the platform: {first}"),
                violations: refused,
            });
        }
        Ok((results, after))
    }

    /// Whether tenant `t`'s effective limits went down in this write while its usage did not
    /// grow (rule 9: the risk a client accepts with `allow_limit_below_usage`).
    fn limit_lowered(state: &State, log: &Log, t: &str) -> bool {
        let effective = |tenant: Option<AnySpec>,
                         plan_of: &dyn Fn(&str) -> Option<AnySpec>|
         -> Option<crate::model::Limits> {
            let Some(AnySpec::Tenant(ts)) = tenant else {
                return None;
            };
            let plan = match plan_of(&ts.plan) {
                Some(AnySpec::Plan(p)) => p.limits,
                _ => Default::default(),
            };
            Some(ts.limits.over(&plan))
        };
        let before = effective(log.spec_before(state, Kind::Tenant, t), &|p| {
            log.spec_before(state, Kind::Plan, p)
        });
        let after = effective(state.get(Kind::Tenant, t).map(|(_, s)| s), &|p| {
            state.get(Kind::Plan, p).map(|(_, s)| s)
        });
        let (Some(b), Some(a)) = (before, after) else {
            return false;
        };
        let lower = |b: Option<u32>, a: Option<u32>| match (b, a) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(b), Some(a)) => a < b,
        };
        let lowered = lower(b.users, a.users) || lower(b.workspaces, a.workspaces);
        lowered && !Self::usage_grew(state, log, t)
    }

    /// Whether this write added members or workspaces to tenant `t`.
    fn usage_grew(state: &State, log: &Log, t: &str) -> bool {
        log.touched.iter().any(|(k, key)| {
            matches!(k, Kind::Membership | Kind::Workspace)
                && keys::tenant_of(*k, key) == Some(t)
                && state.contains(*k, key)
                && !log.existed_before(state, *k, key)
        })
    }

    async fn persist(
        tx: &mut super::store::Tx,
        state: &State,
        log: &Log,
        revision: i64,
        req: &WriteRequest,
    ) -> Result<(), ApiError> {
        let mut upserts: Vec<ResourceRow<'_>> = Vec::new();
        let mut deletes: HashMap<Kind, Vec<&str>> = HashMap::new();
        for (kind, key) in &log.touched {
            match state.get(*kind, key) {
                Some((meta, spec)) => upserts.push(ResourceRow {
                    kind: *kind,
                    key,
                    meta,
                    body: spec.to_value().to_string(),
                }),
                None => deletes.entry(*kind).or_default().push(key),
            }
        }
        // Delete children first, upsert parents first: no ordering constraint exists in the
        // schema, but keep the natural order for readers of the log.
        for kind in Kind::ALL.iter().rev() {
            if let Some(keys) = deletes.get(kind) {
                tx.delete(*kind, keys).await?;
            }
        }
        tx.upsert(&upserts).await?;
        tx.insert_audit(
            revision,
            &req.principal.token_id,
            &log.audit,
            req.change_set.as_deref(),
            req.commit.as_deref(),
        )
        .await?;
        if let Some(id) = &req.accept_invitation {
            if !tx.accept_invitation(id).await? {
                return Err(ApiError::Conflict {
                    code: "invitation_not_pending",
                    message: format!("invitation `{id}` is no longer pending"),
                    details: json!({ "id": id }),
                });
            }
        }
        Ok(())
    }
}
