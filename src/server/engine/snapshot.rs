//! One copy of the platform's state as readers see it: the [`State`], the members of each
//! tenant ([`MembersIndex`]) and, once a full state has been asked for, each resource
//! serialised on its own, so that `GET /state` after a write re-serialises only what the
//! write changed. A committed snapshot is immutable; the engine keeps two and writes into
//! the one readers no longer see (see `mod.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::sync::OnceLock;

use bytes::Bytes;
use serde::Serialize;

use crate::model::{keys, AnySpec, Entry, Kind, LimitUsage, MembersIndex, Meta, State};
use crate::server::authz::{self, Actor, Principal, Visibility};
use crate::server::error::ApiError;

/// A resource as a write left it: its bookkeeping and spec, or None when deleted.
pub type Value = Option<(Meta, AnySpec)>;

/// One committed change of one resource, ready to be applied to the other copy.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: Kind,
    pub key: String,
    pub value: Value,
    /// Its `"key":{…}` member of the state document, when the copy it was made on had them.
    pub json: Option<Bytes>,
}

/// The state as of one revision, with what makes reading it cheap.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub state: State,
    pub index: MembersIndex,
    json: OnceLock<Fragments>,
    /// Members and workspaces of every tenant ([`Snapshot::counted`]), counted once for
    /// this snapshot when the whole usage is first read, forgotten by a write of a tenant,
    /// workspace or membership.
    counts: OnceLock<BTreeMap<String, (u64, u64)>>,
}

/// Every resource serialised as its member of the state document (`"key":{…}`), by kind,
/// and the same members joined by commas in blocks of consecutive keys: the whole document
/// is a chain of those blocks. A write only marks the blocks it touched (their joined text
/// emptied); the first reader of the document after it joins them again, outside the
/// writer's lock.
#[derive(Debug, Clone, Default)]
struct Fragments {
    by_kind: Vec<BTreeMap<String, Bytes>>,
    /// Each kind's blocks, by the first key of their range (`""` for the first): a block
    /// holds the members of the keys from its own up to the next block's, joined when first
    /// read.
    blocks: Vec<BTreeMap<String, OnceLock<Bytes>>>,
    /// Blocks whose members changed since they were last cut: (kind index, start).
    stale: BTreeSet<(usize, String)>,
}

fn internal(e: serde_json::Error) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// `"key":{"version":…,"managed":…,"protected":…,"spec":…}`, as serde writes `State`.
fn fragment<S: Serialize>(key: &str, entry: &Entry<S>) -> Result<Bytes, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    serde_json::to_writer(&mut out, key)?;
    out.push(b':');
    serde_json::to_writer(&mut out, entry)?;
    Ok(Bytes::from(out))
}

/// `$body` on the entry `$e` of `$kind/$key` in `$state` (borrowed, whatever its spec's
/// type), or None when there is none.
macro_rules! on_entry {
    ($state:expr, $kind:expr, $key:expr, $e:ident => $body:expr) => {{
        let (state, key) = ($state, $key);
        match $kind {
            Kind::Plan => state.plans.get(key).map(|$e| $body),
            Kind::Model => state.models.get(key).map(|$e| $body),
            Kind::Role => state.roles.get(key).map(|$e| $body),
            Kind::Tenant => state.tenants.get(key).map(|$e| $body),
            Kind::Workspace => state.workspaces.get(key).map(|$e| $body),
            Kind::TenantModel => state.tenant_models.get(key).map(|$e| $body),
            Kind::Grant => state.grants.get(key).map(|$e| $body),
            Kind::User => state.users.get(key).map(|$e| $body),
            Kind::Membership => state.memberships.get(key).map(|$e| $body),
            Kind::UserModel => state.user_models.get(key).map(|$e| $body),
        }
    }};
}

/// The fragment of `kind/key` in `state`.
fn fragment_of(state: &State, kind: Kind, key: &str) -> Result<Option<Bytes>, serde_json::Error> {
    on_entry!(state, kind, key, e => fragment(key, e)).transpose()
}

/// The bookkeeping of `kind/key` in `state` and its spec as JSON text (as `resources.body`
/// stores it), serialised from the state without copying the spec.
pub fn body_of(
    state: &State,
    kind: Kind,
    key: &str,
) -> Result<Option<(Meta, String)>, serde_json::Error> {
    on_entry!(state, kind, key, e => serde_json::to_string(&e.spec).map(|b| (e.meta(), b)))
        .transpose()
}

/// A write touching this many resources or more forgets the serialised resources of both
/// copies instead of serialising what it touched inside the writer's lock: the next full
/// read serialises everything again, outside it (an apply from empty of `large` touches
/// 290,000 resources).
const REBUILD: usize = 10_000;

/// Members per block when blocks are cut (a block is cut again once it holds twice that).
const BLOCK: usize = 512;

/// Appends the members `fragments` to `out`, joined by commas.
fn push_joined<'a>(out: &mut Vec<u8>, fragments: impl Iterator<Item = &'a Bytes>) {
    for (i, f) in fragments.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(f);
    }
}

/// The members of `map` from key `start` (included) to `end` (excluded; None: to the last).
fn range<'a>(
    map: &'a BTreeMap<String, Bytes>,
    start: &str,
    end: Option<&str>,
) -> std::collections::btree_map::Range<'a, String, Bytes> {
    match end {
        Some(e) => map.range::<str, _>((Included(start), Excluded(e))),
        None => map.range::<str, _>((Included(start), Unbounded)),
    }
}

/// The members of `map` from `start` to `end` ([`range`]) joined by commas.
fn join(map: &BTreeMap<String, Bytes>, start: &str, end: Option<&str>) -> Bytes {
    let capacity = range(map, start, end).map(|(_, f)| f.len() + 1).sum();
    let mut out = Vec::with_capacity(capacity);
    push_joined(&mut out, range(map, start, end).map(|(_, f)| f));
    Bytes::from(out)
}

/// The first keys of the blocks of [`BLOCK`] members that `members` (consecutive, in key
/// order) are cut into, after the first block's own.
fn cuts<'a>(members: impl Iterator<Item = &'a String>) -> Vec<String> {
    members
        .enumerate()
        .filter(|(i, _)| *i > 0 && i % BLOCK == 0)
        .map(|(_, k)| k.clone())
        .collect()
}

impl Fragments {
    fn build(state: &State) -> Result<Fragments, serde_json::Error> {
        let mut out = Fragments {
            by_kind: vec![BTreeMap::new(); Kind::ALL.len()],
            blocks: vec![BTreeMap::new(); Kind::ALL.len()],
            stale: BTreeSet::new(),
        };
        for (i, &kind) in Kind::ALL.iter().enumerate() {
            for key in state.keys(kind) {
                if let Some(f) = fragment_of(state, kind, key)? {
                    out.by_kind[i].insert(key.to_string(), f);
                }
            }
            out.blocks[i].insert(String::new(), OnceLock::new());
            for start in cuts(out.by_kind[i].keys()) {
                out.blocks[i].insert(start, OnceLock::new());
            }
        }
        Ok(out)
    }

    fn set(&mut self, kind: Kind, key: &str, json: Option<Bytes>) {
        let i = kind_index(kind);
        let map = &mut self.by_kind[i];
        match json {
            Some(f) => drop(map.insert(key.to_string(), f)),
            None => drop(map.remove(key)),
        }
        if let Some((start, block)) = self.blocks[i]
            .range_mut::<str, _>((Unbounded, Included(key)))
            .next_back()
        {
            *block = OnceLock::new();
            self.stale.insert((i, start.clone()));
        }
    }

    /// Cuts again the blocks whose members changed and that grew past twice [`BLOCK`]
    /// (only their keys are counted: joining them waits for a reader).
    fn recut(&mut self) {
        for (i, start) in std::mem::take(&mut self.stale) {
            let blocks = &mut self.blocks[i];
            let end = blocks
                .range::<str, _>((Excluded(start.as_str()), Unbounded))
                .next()
                .map(|(k, _)| k.clone());
            let members = range(&self.by_kind[i], &start, end.as_deref());
            if members.clone().nth(2 * BLOCK).is_none() {
                continue;
            }
            for k in cuts(members.map(|(k, _)| k)) {
                blocks.insert(k, OnceLock::new());
            }
        }
    }

    /// Kind `i`'s blocks in key order, each joined (those a write emptied joined here).
    fn joined(&self, i: usize) -> impl Iterator<Item = &Bytes> + '_ {
        let blocks = &self.blocks[i];
        let mut starts = blocks.iter().peekable();
        std::iter::from_fn(move || {
            let (start, block) = starts.next()?;
            let end = starts.peek().map(|(k, _)| k.as_str());
            Some(block.get_or_init(|| join(&self.by_kind[i], start, end)))
        })
    }

    fn get(&self, kind: Kind, key: &str) -> Option<&Bytes> {
        self.by_kind[kind_index(kind)].get(key)
    }
}

fn kind_index(kind: Kind) -> usize {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Writes the state document from its members: `{"revision":N,"plans":{…},…}`.
struct Document {
    out: Vec<u8>,
}

impl Document {
    fn new(revision: i64, capacity: usize) -> Document {
        let mut out = Vec::with_capacity(capacity + 256);
        out.extend_from_slice(b"{\"revision\":");
        out.extend_from_slice(revision.to_string().as_bytes());
        Document { out }
    }

    fn kind<'a>(&mut self, kind: Kind, members: impl Iterator<Item = &'a Bytes>) {
        self.out.extend_from_slice(b",\"");
        self.out.extend_from_slice(kind.plural().as_bytes());
        self.out.extend_from_slice(b"\":{");
        push_joined(&mut self.out, members);
        self.out.push(b'}');
    }

    fn finish(mut self) -> Bytes {
        self.out.push(b'}');
        Bytes::from(self.out)
    }
}

impl Snapshot {
    pub fn new(state: State) -> Snapshot {
        let index = MembersIndex::build(&state);
        Snapshot {
            state,
            index,
            json: OnceLock::new(),
            counts: OnceLock::new(),
        }
    }

    /// Sets `kind/key` to `value` in the state and the index; returns what it was. The
    /// serialised form is brought up to date by [`Snapshot::set_json`] once the write commits.
    pub fn set(&mut self, kind: Kind, key: &str, value: Value) -> Value {
        let prev = match value {
            Some((meta, spec)) => self.state.insert(key.to_string(), meta, spec),
            None => self.state.remove(kind, key),
        };
        if matches!(kind, Kind::Tenant | Kind::Workspace | Kind::Membership) {
            self.counts = OnceLock::new();
        }
        if kind == Kind::Membership {
            if self.state.contains(kind, key) {
                self.index.insert(key);
            } else {
                self.index.remove(key);
            }
        }
        prev
    }

    /// The committed changes of `touched`, with their values in this snapshot, serialised
    /// when this snapshot keeps serialised resources (which it then brings up to date).
    pub fn commit_json(
        &mut self,
        touched: impl ExactSizeIterator<Item = (Kind, String)>,
    ) -> Vec<Change> {
        if touched.len() >= REBUILD {
            self.json = OnceLock::new();
        }
        let mut out = Vec::with_capacity(touched.len());
        for (kind, key) in touched {
            let value = self.state.get(kind, &key);
            let json = self.refresh(kind, &key, None);
            out.push(Change {
                kind,
                key,
                value,
                json,
            });
        }
        self.recut();
        out
    }

    /// Applies changes committed on the other copy.
    pub fn apply(&mut self, changes: &[Change]) {
        if changes.len() >= REBUILD {
            self.json = OnceLock::new();
        }
        for c in changes {
            self.set(c.kind, &c.key, c.value.clone());
            self.refresh(c.kind, &c.key, c.json.clone());
        }
        self.recut();
    }

    /// Cuts again the blocks of the document the last changes grew.
    fn recut(&mut self) {
        if let Some(f) = self.json.get_mut() {
            f.recut();
        }
    }

    /// Brings the serialised form of `kind/key` up to date (with `json` when the other copy
    /// made it); returns it. Serialising our own types does not fail; if it did, the
    /// serialised resources are dropped and built again at the next full read.
    fn refresh(&mut self, kind: Kind, key: &str, json: Option<Bytes>) -> Option<Bytes> {
        let state = &self.state;
        let f = self.json.get_mut()?;
        let json = match json {
            Some(j) => Ok(Some(j)),
            None => fragment_of(state, kind, key),
        };
        match json {
            Ok(j) => {
                f.set(kind, key, j.clone());
                j
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise {kind} `{key}`");
                self.json = OnceLock::new();
                None
            }
        }
    }

    fn fragments(&self) -> Result<&Fragments, ApiError> {
        if let Some(f) = self.json.get() {
            return Ok(f);
        }
        let built = Fragments::build(&self.state).map_err(internal)?;
        Ok(self.json.get_or_init(|| built))
    }

    /// The whole state document (what a system token reads), as a chain of the joined
    /// blocks of members: nothing of tens of megabytes is copied.
    pub fn document(&self) -> Result<StateDocument, ApiError> {
        let f = self.fragments()?;
        let mut chunks =
            Vec::with_capacity(f.blocks.iter().map(|b| 2 * b.len()).sum::<usize>() + 32);
        let mut glue = format!("{{\"revision\":{}", self.state.revision);
        for (i, &kind) in Kind::ALL.iter().enumerate() {
            glue.push_str(",\"");
            glue.push_str(kind.plural());
            glue.push_str("\":{");
            for block in f.joined(i).filter(|b| !b.is_empty()) {
                if glue.is_empty() {
                    chunks.push(Bytes::from_static(b","));
                } else {
                    chunks.push(Bytes::from(std::mem::take(&mut glue)));
                }
                chunks.push(block.clone());
            }
            glue.push('}');
        }
        glue.push('}');
        chunks.push(Bytes::from(glue));
        Ok(StateDocument(chunks))
    }

    /// The state document as `principal` may read it: the same bytes as serialising
    /// [`Principal::filter_state`], built from the resources of its tenant only (a
    /// workspace it sees by name only is serialised redacted).
    pub fn document_for(&self, principal: &Principal) -> Result<StateDocument, ApiError> {
        let state = &self.state;
        let actor = principal.actor(state)?;
        let Actor::Tenant(standing) = actor else {
            return self.document();
        };
        let t = standing.tenant;
        actor.require(state, "organization.read")?;
        let f = self.fragments()?;
        let members: Vec<&str> = self.index.members(t).collect();
        let prefix = format!("{t}/");
        let mut doc = Document::new(state.revision, 64 * 1024);
        for &kind in Kind::ALL {
            let mut candidates: Vec<String> = match kind {
                Kind::Plan | Kind::Model | Kind::Role => {
                    state.keys(kind).map(str::to_string).collect()
                }
                Kind::Tenant => vec![t.to_string()],
                Kind::Workspace | Kind::TenantModel | Kind::Grant => {
                    state.keys_in(kind, &prefix).map(str::to_string).collect()
                }
                Kind::User => members.iter().map(|u| u.to_string()).collect(),
                Kind::Membership => members.iter().map(|u| keys::join(&[u, t])).collect(),
                Kind::UserModel => members
                    .iter()
                    .flat_map(|u| {
                        let p = format!("{u}/");
                        state
                            .keys_in(kind, &p)
                            .map(str::to_string)
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            };
            candidates.sort_unstable();
            let mut shown: Vec<Bytes> = Vec::new();
            for key in &candidates {
                match actor.list_visibility(state, kind, key) {
                    Visibility::Visible => shown.extend(f.get(kind, key).cloned()),
                    Visibility::Names => shown.extend(redacted(state, key).map_err(internal)?),
                    Visibility::Forbidden | Visibility::Hidden => {}
                }
            }
            doc.kind(kind, shown.iter());
        }
        Ok(StateDocument(vec![doc.finish()]))
    }
}

impl Snapshot {
    /// The members and the workspaces of tenant `t`.
    fn counted(&self, t: &str) -> (u64, u64) {
        let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        (
            n(self.index.count(t)),
            n(self
                .state
                .keys_in(Kind::Workspace, &format!("{t}/"))
                .count()),
        )
    }

    /// `{"acme":{"users":…,"workspaces":…,"registries":…,"records":…},…}`: the usage of the
    /// four limits by every tenant (or by `tenant` only), members and workspaces counted
    /// here, registers and records as the database counts them (`data`). Empty when there
    /// is no tenant.
    pub fn usage_json(
        &self,
        tenant: Option<&str>,
        data: &BTreeMap<String, crate::server::store::DataUsage>,
    ) -> Vec<u8> {
        let row = |t: &str, (users, workspaces): (u64, u64)| {
            let held = data.get(t).copied().unwrap_or_default();
            LimitUsage {
                users,
                workspaces,
                registries: held.registries,
                records: held.records,
            }
        };
        let usage: BTreeMap<&str, LimitUsage> = match tenant {
            Some(t) => self
                .state
                .tenants
                .get_key_value(t)
                .map(|(k, _)| (k.as_str(), row(k, self.counted(k))))
                .into_iter()
                .collect(),
            None => self
                .counts
                .get_or_init(|| {
                    self.state
                        .tenants
                        .keys()
                        .map(|t| (t.clone(), self.counted(t)))
                        .collect()
                })
                .iter()
                .map(|(t, &c)| (t.as_str(), row(t, c)))
                .collect(),
        };
        if usage.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(&usage).unwrap_or_default()
    }
}

/// The state document `doc` with its `usage` member (`usage` empty: as it is): the same
/// chunks (views of the same bytes, not copies: the document is tens of megabytes at
/// `large`), the last without its closing brace, then the usage.
pub fn with_usage(doc: &StateDocument, usage: &[u8]) -> StateDocument {
    let mut chunks = doc.0.clone();
    let Some(last) = chunks.pop() else {
        return StateDocument(chunks);
    };
    if usage.is_empty() || last.last() != Some(&b'}') {
        chunks.push(last);
        return StateDocument(chunks);
    }
    if last.len() > 1 {
        chunks.push(last.slice(..last.len() - 1));
    }
    let mut tail = Vec::with_capacity(usage.len() + 16);
    tail.extend_from_slice(b",\"usage\":");
    tail.extend_from_slice(usage);
    tail.push(b'}');
    chunks.push(Bytes::from(tail));
    StateDocument(chunks)
}

/// The state document as consecutive chunks of one JSON text.
#[derive(Debug, Clone, Default)]
pub struct StateDocument(pub Vec<Bytes>);

impl StateDocument {
    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.iter().map(Bytes::len).sum()
    }

    /// Whether it is empty (it never is when built by [`Snapshot::document`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole text in one buffer (a copy).
    #[cfg(test)]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for c in &self.0 {
            out.extend_from_slice(c);
        }
        out
    }
}

/// The fragment of workspace `key` as a principal that sees its name only reads it
/// ([`authz::redact`]).
fn redacted(state: &State, key: &str) -> Result<Option<Bytes>, serde_json::Error> {
    let Some(e) = state.workspaces.get(key) else {
        return Ok(None);
    };
    let AnySpec::Workspace(spec) = authz::redact(&AnySpec::Workspace(e.spec.clone())) else {
        return Ok(None);
    };
    let mut entry = e.clone();
    entry.spec = spec;
    fragment(key, &entry).map(Some)
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
