//! The diff engine: desired state + live state → a [`Plan`] of typed changes, ordered by
//! dependency, with ownership, protection, renames, replaces, and the plan-time rules (6, 9)
//! as risks (decided by `rules/`, worded here). Pure: no I/O, nothing of HTTP or YAML.

mod acknowledge;
mod diff;
mod fields;
mod order;
mod risks;
pub mod scope;
mod sensitive;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::model::{Kind, Rename, State};
use crate::rules::Violation;

pub use acknowledge::{
    entry_for, Acknowledged, Acknowledgement, ACKNOWLEDGEABLE, STALE_ACKNOWLEDGEMENT,
};
pub use diff::{diff, diff_with};
pub use fields::field_changes;
pub use order::{cascade_parents, delete_rank, parse_target, rank};
pub use scope::{OutOfScope, TokenScope};
pub use sensitive::{covers, dotted, SensitiveFields, Sensitivity, MASK};

/// What a change does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The resource does not exist live; it will be created.
    Create,
    /// The resource exists (maybe under its previous key); some fields change in place.
    Update,
    /// The old resource is deleted and a new one created, because a field that cannot change
    /// in place (a user's e-mail, a workspace's tenant) changed. `reason` names that field.
    Replace,
    /// The resource is deleted.
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
}

/// One field that changes: `path` is dot-separated inside the spec (`limits.users`), or one
/// of the pseudo-fields `key` (rename), `email` (replace), `protected`, `managed` (adoption).
/// `before` is `None` when the field is added, `after` is `None` when it is removed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Why a change is what it is. Display only: apply never reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Replace forced by a changed e-mail (`previously:` on a user).
    Email,
    /// Replace forced by a workspace moving to another tenant.
    Tenant,
    /// Delete: tenantctl managed it and the configuration no longer mentions it.
    Removed,
    /// Delete: never managed by tenantctl, deleted because of `--prune`.
    Pruned,
    /// Delete: the parent `kind/key` is deleted, and this resource goes with it.
    Cascade { kind: Kind, key: String },
    /// Delete: the old key of a rename whose new key already exists live.
    Renamed { to: String },
}

impl Reason {
    /// The stable code of the JSON plan.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Email => "email",
            Reason::Tenant => "tenant",
            Reason::Removed => "removed",
            Reason::Pruned => "pruned",
            Reason::Cascade { .. } => "cascade",
            Reason::Renamed { .. } => "renamed",
        }
    }

    /// A sentence for humans.
    pub fn describe(&self) -> String {
        match self {
            Reason::Email => "the e-mail changed: a different e-mail is a different user".into(),
            Reason::Tenant => "the workspace moves to another tenant".into(),
            Reason::Removed => "no longer in the configuration".into(),
            Reason::Pruned => "not managed by tenantctl; deleted because of --prune".into(),
            Reason::Cascade { kind, key } => {
                format!("goes with its {kind} `{key}`, which is deleted")
            }
            Reason::Renamed { to } => format!("renamed to `{to}`, which already exists"),
        }
    }
}

/// One write that apply sends, in the plan so that apply never re-diffs.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub verb: Verb,
    pub kind: Kind,
    pub key: String,
    /// The full desired spec, for `put` and `adopt`.
    pub spec: Option<Arc<Value>>,
    /// The live version this step expects (0: the resource must not exist).
    pub if_version: i64,
    /// The protection flag, for `put`.
    pub protected: Option<bool>,
    /// For `put`: the spec's fields whose value came from `${env:…}`, so that the platform
    /// keeps them out of its audit log (empty: none).
    pub sensitive: Vec<SensitiveField>,
}

/// A field of a desired spec whose value is sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensitiveField {
    /// JSON pointer into the spec: `/contact/phone`.
    pub pointer: String,
    /// The value as written: `${env:ACME_PHONE}`.
    pub source: String,
}

/// What a [`Write`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Create or overwrite, and mark managed.
    Put,
    /// Mark an unchanged live resource managed.
    Adopt,
    /// Delete (children go with it on the platform).
    Delete,
}

/// A resource carried along with a renamed parent, unchanged: shown compactly under the
/// parent's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub kind: Kind,
    pub from: String,
    pub to: String,
}

/// One changed resource.
///
/// Contract: `before` is the live spec (`None` for a create), `after` the desired spec
/// (`None` for a delete). `key` is the identity after apply (the deleted key for a delete);
/// `previous_key` is the live key when it differs (rename, replace). `fields` lists only what
/// changes. `writes` are what apply sends for this change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: Kind,
    pub key: String,
    pub action: Action,
    pub previous_key: Option<String>,
    pub before: Option<Value>,
    /// Shared with the create's write ([`Write::spec`]): one copy of each created spec.
    pub after: Option<Arc<Value>>,
    pub fields: Vec<FieldChange>,
    pub reason: Option<Reason>,
    /// Unchanged children carried along by a rename (tenant or workspace).
    pub moved: Vec<Moved>,
    pub writes: Vec<Write>,
}

/// A finding that needs a human's attention before apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    /// `limit_below_usage` (refused by apply unless acknowledged), `self_lockout` (rule 6,
    /// always refused), `too_many_deletes` (refused unless acknowledged), `protected_replace`
    /// (a replace would delete a protected resource; always refused), `not_permitted` (the
    /// token may not change the resource; always refused).
    pub code: String,
    pub kind: Kind,
    pub key: String,
    pub message: String,
    /// Approved in the configuration or by a flag: shown as such, and applied.
    pub acknowledged: Option<Acknowledged>,
}

/// Risk codes.
pub const LIMIT_BELOW_USAGE: &str = "limit_below_usage";
pub const SELF_LOCKOUT: &str = "self_lockout";
pub const TOO_MANY_DELETES: &str = "too_many_deletes";
pub const PROTECTED_REPLACE: &str = "protected_replace";
/// A change of a resource the token may read but not change (a tenant-scoped token).
pub const NOT_PERMITTED: &str = "not_permitted";

impl Risk {
    /// Whether no acknowledgement can approve this risk.
    pub fn always_refused(&self) -> bool {
        !ACKNOWLEDGEABLE.contains(&self.code.as_str())
    }
}

/// A warning: from the rules on the desired state, or a resource kept because it is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: String,
    pub kind: Kind,
    pub key: String,
    pub message: String,
}

impl Warning {
    /// The plan's form of a rule's warning on the desired state.
    pub fn from_violation(v: Violation) -> Warning {
        Warning {
            code: v.code.to_string(),
            kind: v.kind,
            key: v.key,
            message: v.message,
        }
    }

    /// The warnings among the rules' findings on a desired state.
    pub fn of_rules(violations: Vec<Violation>) -> Vec<Warning> {
        violations
            .into_iter()
            .filter(|v| v.severity == Severity::Warning)
            .map(Warning::from_violation)
            .collect()
    }
}

/// How many changes of each action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.create + self.update + self.replace + self.delete
    }
}

/// Who runs the apply, for rule 6.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The user the token acts as, if any.
    pub user: Option<String>,
}

/// What a plan is made from on the configuration's side: the desired state, the renames the
/// configuration declares (`previously:`), and the rules' warnings on that state when they
/// are known already (validate computed them; otherwise [`diff`] checks the rules itself).
/// Built by the pipeline from the loaded configuration, so the plan knows nothing of YAML.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanInput {
    pub state: State,
    pub renames: Vec<Rename>,
    pub warnings: Option<Vec<Warning>>,
    /// The configuration's `acknowledge:` entries.
    pub acknowledgements: Vec<Acknowledgement>,
    /// The fields whose value came from `${env:…}`, by resource.
    pub sensitive: SensitiveFields,
}

impl PlanInput {
    /// A desired state without renames or known warnings.
    pub fn new(state: State) -> PlanInput {
        PlanInput {
            state,
            ..PlanInput::default()
        }
    }
}

/// What shapes a plan (resolved from flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Also delete live resources that tenantctl never managed.
    pub prune: bool,
    /// A plan may delete at most this percentage of a kind's live resources.
    pub max_delete_percent: u8,
    /// Restrict the plan to these resources, their dependencies and their children.
    pub targets: Vec<(Kind, String)>,
    /// Acknowledge every `limit_below_usage` risk (`--allow-limit-below-usage`).
    pub allow_limit_below_usage: bool,
    pub identity: Identity,
    /// What the token reaches, for a tenant-scoped token (None: everything).
    pub scope: Option<TokenScope>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            prune: false,
            max_delete_percent: 25,
            targets: Vec::new(),
            allow_limit_below_usage: false,
            identity: Identity::default(),
            scope: None,
        }
    }
}

/// The outcome of a diff: what apply will do, and what to tell the reviewer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The live state's revision the plan was made from (apply's precondition).
    pub revision: i64,
    /// Changes in apply order: creates and updates by dependency, deletes in reverse.
    pub changes: Vec<Change>,
    pub risks: Vec<Risk>,
    pub warnings: Vec<Warning>,
    /// Live resources tenantctl does not manage and leaves alone, by kind.
    pub unmanaged: BTreeMap<Kind, usize>,
    /// Which fields of the changed resources hold secrets, masked by every rendering.
    pub sensitive: Sensitivity,
    /// For a plan made with a tenant-scoped token: what it leaves alone because the token
    /// cannot see or change it.
    pub out_of_scope: Option<OutOfScope>,
    /// The `--target`s (`KIND/KEY`) of a partial plan; empty: the whole configuration.
    pub targets: Vec<String>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
            }
        }
        s
    }

    /// Made with `--target`: only part of the configuration was compared.
    pub fn is_partial(&self) -> bool {
        !self.targets.is_empty()
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Every step of the plan in apply order: puts and adopts by [`rank`], then deletes by
    /// [`delete_rank`]. Each element is (rank, write); writes of one phase and rank are
    /// independent of each other.
    pub fn writes(&self) -> Vec<(u8, &Write)> {
        let mut writes: Vec<(u8, &Write)> = Vec::new();
        let mut deletes: Vec<(u8, &Write)> = Vec::new();
        for c in &self.changes {
            for step in &c.writes {
                match step.verb {
                    Verb::Delete => deletes.push((delete_rank(step.kind), step)),
                    _ => writes.push((rank(step.kind), step)),
                }
            }
        }
        writes.sort_by_key(|(r, _)| *r);
        deletes.sort_by_key(|(r, _)| *r);
        writes.extend(deletes);
        writes
    }
}
