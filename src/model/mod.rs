//! The platform's resource model, shared by every stage: the ten kinds, their specs (the
//! fields a user declares), composite keys, and [`State`], the flat keyed form that both the
//! desired state (from YAML) and the live state (from the platform) take so they can be diffed.

pub mod catalog;
mod index;
pub mod keys;
pub mod schema;
mod specs;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use index::MembersIndex;
pub use specs::*;

/// Defines [`Kind`], [`AnySpec`] and [`State`] from one table, so the ten kinds can never
/// drift apart between the enum, the state's maps and the dispatch code.
macro_rules! kinds {
    ($( $variant:ident, $field:ident, $spec:ty, $name:literal, $plural:literal; )*) => {
        /// A kind of resource. The declaration order is the dependency order: creates run
        /// in this order, deletes in reverse.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind { $( $variant, )* }

        impl Kind {
            /// Every kind, in dependency order.
            pub const ALL: &'static [Kind] = &[ $( Kind::$variant, )* ];

            /// The name used in plans, the API and `--target` (`tenant_model`).
            pub fn as_str(self) -> &'static str {
                match self { $( Kind::$variant => $name, )* }
            }

            /// The plural used in the state document and URLs (`tenant_models`).
            pub fn plural(self) -> &'static str {
                match self { $( Kind::$variant => $plural, )* }
            }

            /// Parses `as_str` or `plural` forms.
            pub fn parse(s: &str) -> Option<Kind> {
                match s { $( $name | $plural => Some(Kind::$variant), )* _ => None }
            }
        }

        /// The spec of a resource of any kind.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum AnySpec { $( $variant($spec), )* }

        impl AnySpec {
            pub fn kind(&self) -> Kind {
                match self { $( AnySpec::$variant(_) => Kind::$variant, )* }
            }

            /// Parses a JSON spec of the given kind (unknown fields are rejected).
            pub fn from_value(kind: Kind, value: serde_json::Value) -> Result<AnySpec, serde_json::Error> {
                Ok(match kind { $( Kind::$variant => AnySpec::$variant(serde_json::from_value(value)?), )* })
            }

            /// The spec as a JSON object, for field-level diffs and the wire.
            pub fn to_value(&self) -> serde_json::Value {
                match self { $( AnySpec::$variant(s) => serde_json::to_value(s).unwrap_or_default(), )* }
            }

            /// The JSON Schema of the spec of `kind`.
            pub fn schema(kind: Kind, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                match kind { $( Kind::$variant => generator.subschema_for::<$spec>(), )* }
            }
        }

        /// Resources of every kind, keyed by identity. The same type carries the desired
        /// state (versions 0) and the live state (with versions, ownership and a revision).
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct State {
            /// Grows on every write to the platform; 0 for a desired state.
            #[serde(default)]
            pub revision: i64,
            $(
                #[doc = concat!("Resources of kind `", $name, "`, by key.")]
                #[serde(default, deserialize_with = "sorted_map")]
                pub $field: BTreeMap<String, Entry<$spec>>,
            )*
            /// Each tenant's usage of its four limits, as the platform counts it: in a live
            /// state only (registers and records are the platform's data, not resources, so
            /// this is where the plan learns how many there are).
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub usage: BTreeMap<String, LimitUsage>,
        }

        impl State {
            /// Number of resources of `kind`.
            pub fn count(&self, kind: Kind) -> usize {
                match kind { $( Kind::$variant => self.$field.len(), )* }
            }

            /// Total number of resources.
            pub fn len(&self) -> usize {
                0 $( + self.$field.len() )*
            }

            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The resource `kind/key`, as meta and spec.
            pub fn get(&self, kind: Kind, key: &str) -> Option<(Meta, AnySpec)> {
                match kind { $( Kind::$variant => self.$field.get(key).map(|e| (e.meta(), AnySpec::$variant(e.spec.clone()))), )* }
            }

            /// The spec of `kind/key` as a JSON object ([`AnySpec::to_value`]), serialised from
            /// the state without a copy of the spec.
            pub fn spec_value(&self, kind: Kind, key: &str) -> Option<serde_json::Value> {
                match kind { $( Kind::$variant => self.$field.get(key).map(|e| serde_json::to_value(&e.spec).unwrap_or_default()), )* }
            }

            /// The meta of `kind/key` without cloning its spec.
            pub fn meta(&self, kind: Kind, key: &str) -> Option<Meta> {
                match kind { $( Kind::$variant => self.$field.get(key).map(Entry::meta), )* }
            }

            pub fn contains(&self, kind: Kind, key: &str) -> bool {
                match kind { $( Kind::$variant => self.$field.contains_key(key), )* }
            }

            /// Inserts or replaces a resource; returns the previous one.
            pub fn insert(&mut self, key: String, meta: Meta, spec: AnySpec) -> Option<(Meta, AnySpec)> {
                match spec {
                    $( AnySpec::$variant(spec) => self.$field
                        .insert(key, Entry { version: meta.version, managed: meta.managed, protected: meta.protected, spec })
                        .map(|e| (e.meta(), AnySpec::$variant(e.spec))), )*
                }
            }

            /// Removes a resource; returns it.
            pub fn remove(&mut self, kind: Kind, key: &str) -> Option<(Meta, AnySpec)> {
                match kind { $( Kind::$variant => self.$field.remove(key).map(|e| (e.meta(), AnySpec::$variant(e.spec))), )* }
            }

            /// Keys of `kind` in `self` that `other` does not hold as they are here: absent
            /// there, with another spec or protection, or not managed there. One walk over
            /// both sorted maps, not a lookup per key.
            pub fn changed_keys<'a>(&'a self, other: &State, kind: Kind) -> Vec<&'a str> {
                match kind { $( Kind::$variant => walk_both(&self.$field, &other.$field, |a, b| {
                    b.is_some_and(|b| a.spec == b.spec && a.protected == b.protected && b.managed)
                }), )* }
            }

            /// Keys of `kind` in `self` that `other` does not hold; one walk over both maps.
            pub fn missing_keys<'a>(&'a self, other: &State, kind: Kind) -> Vec<&'a str> {
                match kind { $( Kind::$variant => walk_both(&self.$field, &other.$field, |_, b| b.is_some()), )* }
            }

            /// Keys of `kind` whose resource is protected.
            pub fn protected_keys(&self, kind: Kind) -> Vec<&str> {
                match kind { $( Kind::$variant => self.$field.iter().filter(|(_, e)| e.protected).map(|(k, _)| k.as_str()).collect(), )* }
            }

            /// Keys of `kind`, sorted.
            pub fn keys(&self, kind: Kind) -> Box<dyn Iterator<Item = &str> + '_> {
                match kind { $( Kind::$variant => Box::new(self.$field.keys().map(String::as_str)), )* }
            }

            /// Keys of `kind` in `[lo, hi)`, sorted: the children of a parent by key prefix.
            pub fn keys_in<'a>(&'a self, kind: Kind, prefix: &'a str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
                match kind { $( Kind::$variant => Box::new(
                    self.$field.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
                        .map(|(k, _)| k.as_str())
                        .take_while(move |k| k.starts_with(prefix))), )* }
            }

            /// Sorts and deduplicates set-like lists (role permissions, grant actions,
            /// membership workspaces), so their written order never shows as a change.
            pub fn normalize(&mut self) {
                for r in self.roles.values_mut() {
                    r.spec.permissions.sort();
                    r.spec.permissions.dedup();
                }
                for g in self.grants.values_mut() {
                    g.spec.actions.sort();
                    g.spec.actions.dedup();
                }
                for m in self.memberships.values_mut() {
                    m.spec.workspaces.sort();
                    m.spec.workspaces.dedup();
                }
            }

            /// Sets the ownership flag of every resource (used for desired states).
            pub fn mark_all_managed(&mut self, managed: bool) {
                $( for e in self.$field.values_mut() { e.managed = managed; } )*
            }
        }
    };
}

/// Reads a map of a [`State`] as serde reads a `BTreeMap` (a key written twice keeps its
/// last value), but builds the tree at once from the entries, which the wire and the
/// database give in key order: inserting 300,000 keys one by one compares each down the
/// tree, a fifth of the time of reading a large state.
fn sorted_map<'de, D, V>(de: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Entries<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Entries<V> {
        type Value = Vec<(String, V)>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    // `from_iter` sorts stably (linear on sorted input) and keeps the last of equal keys.
    Ok(de
        .deserialize_map(Entries(std::marker::PhantomData))?
        .into_iter()
        .collect())
}

/// The keys of `a` for which `keep` is false, given the entry of `b` under the same key:
/// one merge of the two sorted maps.
fn walk_both<'a, S>(
    a: &'a BTreeMap<String, Entry<S>>,
    b: &BTreeMap<String, Entry<S>>,
    keep: impl Fn(&Entry<S>, Option<&Entry<S>>) -> bool,
) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut other = b.iter().peekable();
    for (k, x) in a {
        while other.next_if(|(o, _)| o.as_str() < k.as_str()).is_some() {}
        let y = other.peek().filter(|(o, _)| *o == k).map(|(_, y)| *y);
        if !keep(x, y) {
            out.push(k.as_str());
        }
    }
    out
}

kinds! {
    Plan, plans, PlanSpec, "plan", "plans";
    Model, models, ModelSpec, "model", "models";
    Role, roles, RoleSpec, "role", "roles";
    Tenant, tenants, TenantSpec, "tenant", "tenants";
    Workspace, workspaces, WorkspaceSpec, "workspace", "workspaces";
    TenantModel, tenant_models, TenantModelSpec, "tenant_model", "tenant_models";
    Grant, grants, GrantSpec, "grant", "grants";
    User, users, UserSpec, "user", "users";
    Membership, memberships, MembershipSpec, "membership", "memberships";
    UserModel, user_models, UserModelSpec, "user_model", "user_models";
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant's usage of its four limits (`limits` of its plan and its own overrides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitUsage {
    /// Members of the tenant.
    pub users: u64,
    /// Workspaces of the tenant.
    pub workspaces: u64,
    /// Registers in the tenant's workspaces.
    pub registries: u64,
    /// Records in the tenant's registers.
    pub records: u64,
}

/// The platform's bookkeeping of one resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Grows on every write of this resource; the `If-Match` precondition.
    pub version: i64,
    /// tenantctl created it or a YAML file mentioned it at an apply.
    pub managed: bool,
    /// Never deleted by a plan.
    pub protected: bool,
}

/// One resource in a [`State`]. Its schema is named after its spec (`PlanSpecEntry`), one
/// per kind, so generated clients get a type per kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "{S}Entry")]
pub struct Entry<S> {
    /// Grows on every write of this resource (0 in a desired state).
    #[serde(default)]
    pub version: i64,
    /// tenantctl created this resource or a YAML file mentioned it at an apply.
    #[serde(default)]
    pub managed: bool,
    /// A protected resource is never deleted by a plan.
    #[serde(default)]
    pub protected: bool,
    /// The declared fields.
    pub spec: S,
}

impl<S> Entry<S> {
    pub fn new(spec: S) -> Self {
        Entry {
            version: 0,
            managed: false,
            protected: false,
            spec,
        }
    }

    pub fn meta(&self) -> Meta {
        Meta {
            version: self.version,
            managed: self.managed,
            protected: self.protected,
        }
    }
}

/// A rename declared with `previously:`: the resource the live state holds as `kind/from` is
/// `kind/to` in the configuration (a tenant or workspace renamed, a user's e-mail changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub kind: Kind,
    /// The key the live state still has.
    pub from: String,
    /// The key the configuration declares.
    pub to: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state read from JSON holds what a map insert per entry would: keys in any order,
    /// the last of a key written twice, and the errors of a map that is not one.
    #[test]
    fn state_maps_read_as_inserted() {
        let json = r#"{"revision": 3, "plans": {"b": {"spec": {}}, "a": {"spec": {}},
            "b": {"version": 2, "spec": {}}}}"#;
        let s: State = serde_json::from_str(json).unwrap();
        assert_eq!(s.plans.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.plans["b"].version, 2);
        assert!(s.users.is_empty());
        for bad in [
            r#"{"plans": null}"#,
            r#"{"plans": []}"#,
            r#"{"plans": {"a": 1}}"#,
        ] {
            assert!(serde_json::from_str::<State>(bad).is_err(), "{bad}");
        }
    }
}
