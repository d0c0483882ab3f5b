//! A plan made with a tenant-scoped token covers what that token can see and change (the
//! platform publishes its reach kind by kind, [`TokenScope`]). Resources of the
//! configuration the token cannot see are neither created nor deleted: [`narrow`] leaves
//! them out of the desired state and counts them. Live resources of a kind the token may
//! not change are left alone when the configuration drops them, and a create or update of
//! one is a `not_permitted` risk, refused before any write ([`restrict`]). What the token
//! may change in part (a `user_admin` changes `member`s only) the platform checks on each
//! write.

use std::collections::BTreeMap;

use super::{Action, Change, PlanInput, Risk, Warning, NOT_PERMITTED};
use crate::model::{keys, Kind, State};
use crate::rules;

/// How far a token reaches into one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    All,
    /// The token's tenant: the tenant, its children, its members and their user models.
    Tenant,
    None,
}

/// What a token may read and change of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindScope {
    pub read: Reach,
    pub write: Reach,
    /// The limits of the writes, or who may make them when the token may not.
    pub note: Option<String>,
}

/// What a tenant-scoped token reaches, as the platform describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScope {
    /// The token's tenant.
    pub tenant: String,
    /// The token's own role, for messages (none for a token acting with its user's access).
    pub role: Option<String>,
    /// The user the token acts as, if any.
    pub user: Option<String>,
    /// By kind; a kind not listed is read and written whole.
    pub kinds: BTreeMap<Kind, KindScope>,
}

impl TokenScope {
    /// "`user_admin` token of tenant `lumen`", "token of tenant `lumen` acting as
    /// `ada@lumen.example`".
    pub fn describe(&self) -> String {
        let role = self
            .role
            .as_deref()
            .map_or(String::new(), |r| format!("`{r}` "));
        let user = self
            .user
            .as_deref()
            .map_or(String::new(), |u| format!(" acting as `{u}`"));
        format!("{role}token of tenant `{}`{user}", self.tenant)
    }

    fn reach(&self, kind: Kind) -> (Reach, Reach) {
        self.kinds
            .get(&kind)
            .map_or((Reach::All, Reach::All), |k| (k.read, k.write))
    }
}

/// What a scoped plan leaves alone, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutOfScope {
    /// Who the plan was made as: "`user_admin` token of tenant `lumen`".
    pub token: String,
    /// Resources of the configuration the token cannot read: neither created nor deleted.
    pub not_visible: BTreeMap<Kind, usize>,
    /// Live resources the token reads but may not change, which the configuration leaves
    /// out (or mentions without managing): not deleted, not adopted.
    pub read_only: BTreeMap<Kind, usize>,
}

impl OutOfScope {
    pub fn is_empty(&self) -> bool {
        self.not_visible.is_empty() && self.read_only.is_empty()
    }
}

/// Whether `kind/key` of the configuration would belong to tenant `t` on the platform
/// ([`keys::belongs_to_tenant`]), its members being those of the live state (which holds
/// only what the token reads) and of the configuration.
fn belongs(desired: &State, live: &State, t: &str, kind: Kind, key: &str) -> bool {
    keys::belongs_to_tenant(kind, key, t, |u| {
        let m = keys::join(&[u, t]);
        live.contains(Kind::User, u)
            || desired.contains(Kind::Membership, &m)
            || live.contains(Kind::Membership, &m)
    })
}

/// The configuration narrowed to what the token can see, and what was left out, by kind.
/// The rules' warnings are those of the whole configuration (computed here if unknown).
pub(super) fn narrow(
    desired: &PlanInput,
    live: &State,
    scope: &TokenScope,
) -> (PlanInput, BTreeMap<Kind, usize>) {
    let visible = |kind: Kind, key: &str| match scope.reach(kind).0 {
        Reach::All => true,
        Reach::None => false,
        Reach::Tenant => belongs(&desired.state, live, &scope.tenant, kind, key),
    };
    let mut state = State {
        revision: desired.state.revision,
        ..State::default()
    };
    let mut hidden: BTreeMap<Kind, usize> = BTreeMap::new();
    for &kind in Kind::ALL {
        for key in desired.state.keys(kind) {
            if !visible(kind, key) {
                *hidden.entry(kind).or_default() += 1;
            } else if let Some((meta, spec)) = desired.state.get(kind, key) {
                state.insert(key.to_string(), meta, spec);
            }
        }
    }
    let renames = desired
        .renames
        .iter()
        .filter(|r| visible(r.kind, &r.to))
        .cloned()
        .collect();
    let warnings = desired
        .warnings
        .clone()
        .unwrap_or_else(|| Warning::of_rules(rules::check(&desired.state)));
    let input = PlanInput {
        state,
        renames,
        warnings: Some(warnings),
        acknowledgements: desired.acknowledgements.clone(),
        sensitive: desired.sensitive.clone(),
    };
    (input, hidden)
}

/// Whether an update only adopts its resource (`managed: false → true`).
fn only_adopts(c: &Change) -> bool {
    c.action == Action::Update && c.fields.iter().all(|f| f.path == "managed")
}

/// Leaves alone the deletes and adoptions of kinds the token may not change (counted in
/// `read_only`), and returns a `not_permitted` risk for every other change of such a kind.
pub(super) fn restrict(
    changes: &mut Vec<Change>,
    scope: &TokenScope,
    read_only: &mut BTreeMap<Kind, usize>,
) -> Vec<Risk> {
    let mut risks = Vec::new();
    changes.retain(|c| {
        if scope.reach(c.kind).1 != Reach::None {
            return true;
        }
        if c.action == Action::Delete || only_adopts(c) {
            *read_only.entry(c.kind).or_default() += 1;
            return false;
        }
        let what = match c.action {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Replace => "replaced",
            Action::Delete => "deleted",
        };
        let who = scope
            .kinds
            .get(&c.kind)
            .and_then(|k| k.note.as_deref())
            .unwrap_or("a system token");
        risks.push(Risk {
            code: NOT_PERMITTED.to_string(),
            kind: c.kind,
            key: c.key.clone(),
            message: format!(
                "{} `{}` would be {what}, but this {} may not change {} (who may: {who})",
                c.kind,
                c.key,
                scope.describe(),
                noun(c.kind, 2)
            ),
            acknowledged: None,
        });
        true
    });
    risks
}

/// `n` resources of `kind`, in words: "1 grant", "2 tenant model grants".
pub fn count(kind: Kind, n: usize) -> String {
    format!("{n} {}", noun(kind, n))
}

/// The name of `kind` in prose, plural unless `n` is 1.
pub fn noun(kind: Kind, n: usize) -> String {
    let one = match kind {
        Kind::TenantModel => "tenant model grant",
        Kind::UserModel => "user model grant",
        other => other.as_str(),
    };
    if n == 1 {
        one.to_string()
    } else {
        format!("{one}s")
    }
}
