//! The batch request of a plan as a borrowed view: the same JSON as [`api::BatchRequest`]
//! (field names, order, omitted fields), serialised straight from the plan's writes instead
//! of a copy of every spec (290,000 specs at `large`). The test below checks it byte for
//! byte against the owned wire type.

use serde::Serialize;

use crate::api;
use crate::client::BatchBody;
use crate::model::Kind;
use crate::plan::{Plan, Verb, Write};

/// [`api::BatchRequest`], borrowing the plan.
#[derive(Debug, Serialize)]
pub struct BatchView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<i64>,
    pub allow_limit_below_usage: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    pub operations: Vec<OperationView<'a>>,
}

/// [`api::Operation`], borrowing a [`Write`].
#[derive(Debug, Serialize)]
pub struct OperationView<'a> {
    pub op: api::OpKind,
    pub kind: Kind,
    pub key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<Vec<SensitiveView<'a>>>,
}

/// [`api::SensitiveField`], borrowed.
#[derive(Debug, Serialize)]
pub struct SensitiveView<'a> {
    pub pointer: &'a str,
    pub source: &'a str,
}

impl BatchBody for BatchView<'_> {
    fn guarded(&self) -> bool {
        self.expected_revision.is_some()
    }
}

impl<'a> OperationView<'a> {
    fn of(op: &'a Write) -> Self {
        let put = op.verb == Verb::Put;
        OperationView {
            op: match op.verb {
                Verb::Put => api::OpKind::Put,
                Verb::Adopt => api::OpKind::Adopt,
                Verb::Delete => api::OpKind::Delete,
            },
            kind: op.kind,
            key: &op.key,
            spec: op.spec.as_ref().filter(|_| put),
            if_version: Some(op.if_version),
            protected: op.protected,
            // Always sent with a put, so the platform forgets fields no longer sensitive.
            sensitive: put.then(|| {
                (op.sensitive.iter())
                    .map(|f| SensitiveView {
                        pointer: &f.pointer,
                        source: &f.source,
                    })
                    .collect()
            }),
        }
    }
}

/// The batch request of a plan, in the order [`Plan::writes`] gives.
pub fn batch_request(plan: &Plan, allow_limit_below_usage: bool) -> BatchView<'_> {
    BatchView {
        expected_revision: Some(plan.revision),
        allow_limit_below_usage,
        dry_run: false,
        operations: (plan.writes().into_iter())
            .map(|(_, op)| OperationView::of(op))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::SensitiveField;

    /// The owned wire type, built the way apply built it before the view.
    fn owned(op: &Write) -> api::Operation {
        api::Operation {
            op: match op.verb {
                Verb::Put => api::OpKind::Put,
                Verb::Adopt => api::OpKind::Adopt,
                Verb::Delete => api::OpKind::Delete,
            },
            kind: op.kind,
            key: op.key.clone(),
            spec: if op.verb == Verb::Put {
                op.spec.clone()
            } else {
                None
            },
            if_version: Some(op.if_version),
            protected: op.protected,
            sensitive: (op.verb == Verb::Put).then(|| {
                (op.sensitive.iter())
                    .map(|f| api::SensitiveField {
                        pointer: f.pointer.clone(),
                        source: f.source.clone(),
                    })
                    .collect()
            }),
        }
    }

    fn write(verb: Verb, kind: Kind, key: &str) -> Write {
        Write {
            verb,
            kind,
            key: key.into(),
            spec: None,
            if_version: 0,
            protected: None,
            sensitive: Vec::new(),
        }
    }

    #[test]
    fn the_view_serialises_as_the_owned_request() {
        let spec = serde_json::json!({
            "display_name": "Acme \"SAS\" é\n", "plan": "essential",
            "contact": {"email": "a@acme.example", "phone": "+33 1"},
            "limits": {"users": 10}, "list": [1, 2.5, null, true]
        });
        let writes = [
            Write {
                spec: Some(spec.clone()),
                protected: Some(true),
                if_version: 3,
                sensitive: vec![SensitiveField {
                    pointer: "/contact/phone".into(),
                    source: "${env:ACME_PHONE}".into(),
                }],
                ..write(Verb::Put, Kind::Tenant, "acme")
            },
            Write {
                spec: Some(serde_json::json!({})),
                protected: Some(false),
                ..write(Verb::Put, Kind::Workspace, "acme/paris")
            },
            Write {
                spec: Some(spec),
                if_version: 7,
                ..write(Verb::Adopt, Kind::Plan, "essential")
            },
            Write {
                if_version: 9,
                ..write(Verb::Delete, Kind::Membership, "a@acme.example/acme")
            },
        ];
        for (revision, allow, dry_run) in [(Some(4), false, false), (None, true, true)] {
            let old = api::BatchRequest {
                expected_revision: revision,
                allow_limit_below_usage: allow,
                dry_run,
                operations: writes.iter().map(owned).collect(),
            };
            let view = BatchView {
                expected_revision: revision,
                allow_limit_below_usage: allow,
                dry_run,
                operations: writes.iter().map(OperationView::of).collect(),
            };
            let (old, new) = (serde_json::to_vec(&old), serde_json::to_vec(&view));
            assert_eq!(
                String::from_utf8(old.expect("owned")).expect("utf-8"),
                String::from_utf8(new.expect("view")).expect("utf-8")
            );
        }
    }
}
