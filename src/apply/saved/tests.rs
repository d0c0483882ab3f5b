//! The saved plan file: round trips, digest, versions.

use super::*;
use serde_json::json;

/// Every variant the file carries survives a write and a read unchanged.
#[test]
fn a_plan_round_trips_through_the_file() {
    let step = |verb, key: &str| Write {
        verb,
        kind: Kind::Tenant,
        key: key.into(),
        spec: (verb != Verb::Delete).then(|| std::sync::Arc::new(json!({ "plan": "essential" }))),
        if_version: 3,
        protected: (verb == Verb::Put).then_some(true),
        sensitive: if verb == Verb::Put {
            vec![SensitiveField {
                pointer: "/contact/phone".into(),
                source: "${env:ACME_PHONE}".into(),
            }]
        } else {
            Vec::new()
        },
    };
    let change = |action, reason| Change {
        kind: Kind::Tenant,
        key: "acme".into(),
        action,
        previous_key: Some("acme-old".into()),
        before: Some(json!({ "plan": "free" })),
        after: None,
        fields: vec![FieldChange {
            path: "plan".into(),
            before: Some(json!("free")),
            after: None,
        }],
        reason,
        moved: vec![Moved {
            kind: Kind::Workspace,
            from: "acme-old/paris".into(),
            to: "acme/paris".into(),
        }],
        writes: vec![
            step(Verb::Put, "acme"),
            step(Verb::Adopt, "acme"),
            step(Verb::Delete, "acme-old"),
        ],
    };
    let reasons = [
        None,
        Some(Reason::Email),
        Some(Reason::Tenant),
        Some(Reason::Removed),
        Some(Reason::Pruned),
        Some(Reason::Cascade {
            kind: Kind::User,
            key: "bob@acme.example".into(),
        }),
        Some(Reason::Renamed { to: "acme".into() }),
    ];
    let actions = [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
    ];
    let plan = Plan {
        revision: 42,
        changes: (reasons.iter().cloned())
            .zip(actions.iter().cycle())
            .map(|(reason, action)| change(*action, reason))
            .collect(),
        risks: vec![
            Risk {
                code: crate::plan::SELF_LOCKOUT.into(),
                kind: Kind::Membership,
                key: "bob@acme.example/acme".into(),
                message: "cannot demote itself".into(),
                acknowledged: None,
            },
            Risk {
                code: crate::plan::LIMIT_BELOW_USAGE.into(),
                kind: Kind::Tenant,
                key: "acme".into(),
                message: "lowered".into(),
                acknowledged: Some(Acknowledged::Configuration {
                    reason: Some("ok".into()),
                }),
            },
            Risk {
                code: crate::plan::TOO_MANY_DELETES.into(),
                kind: Kind::User,
                key: "*".into(),
                message: "many".into(),
                acknowledged: Some(Acknowledged::Flag("--max-delete-percent 50".into())),
            },
        ],
        warnings: vec![Warning {
            code: "protected_kept".into(),
            kind: Kind::Workspace,
            key: "acme/lyon".into(),
            message: "kept".into(),
        }],
        unmanaged: BTreeMap::from([(Kind::User, 2)]),
        sensitive: Default::default(),
        out_of_scope: Some(crate::plan::OutOfScope {
            token: "`user_admin` token of tenant `acme`".into(),
            not_visible: BTreeMap::from([(Kind::Grant, 1)]),
            read_only: BTreeMap::from([(Kind::Plan, 2)]),
        }),
        targets: vec!["tenant/acme".into()],
    };
    let options = SavedOptions {
        prune: true,
        max_delete_percent: 30,
        targets: vec!["tenant/acme".into()],
        allow_limit_below_usage: true,
    };
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("plan.json");
    SavedPlan::new("http://platform.example", options.clone(), &plan)
        .write(&path)
        .expect("write");
    let read = SavedPlan::read(&path).expect("read");
    assert_eq!(read.format_version, SAVED_FORMAT_VERSION);
    assert_eq!(read.options, options);
    assert_eq!(read.into_plan(), plan);
}

/// A plan edited after it was saved is refused, whatever the edit; whitespace is not content.
#[test]
fn an_edited_plan_is_refused() {
    let plan = Plan {
        revision: 3,
        changes: Vec::new(),
        risks: vec![Risk {
            code: crate::plan::LIMIT_BELOW_USAGE.into(),
            kind: Kind::Tenant,
            key: "acme".into(),
            message: "lowered".into(),
            acknowledged: None,
        }],
        warnings: Vec::new(),
        unmanaged: BTreeMap::new(),
        sensitive: Default::default(),
        out_of_scope: None,
        targets: Vec::new(),
    };
    let options = SavedOptions {
        prune: false,
        max_delete_percent: 25,
        targets: Vec::new(),
        allow_limit_below_usage: false,
    };
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("plan.json");
    SavedPlan::new("http://platform.example", options, &plan)
        .write(&path)
        .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).expect("read");
    let reformatted: serde_json::Value = serde_json::from_str(&text).expect("json");
    std::fs::write(&path, serde_json::to_string(&reformatted).expect("json")).expect("write");
    assert!(SavedPlan::read(&path).is_ok(), "whitespace is not content");
    for (from, to) in [
        ("\"revision\": 3", "\"revision\": 4"),
        ("\"acknowledged\"", "\"acknowledged\""),
        (
            "\"allow_limit_below_usage\": false",
            "\"allow_limit_below_usage\": true",
        ),
    ] {
        let edited = text.replace(from, to);
        if edited == text {
            continue;
        }
        std::fs::write(&path, &edited).expect("write");
        let e = SavedPlan::read(&path).expect_err("an edited plan is refused");
        assert!(matches!(e, SavedPlanError::Tampered { .. }), "{from}: {e}");
    }
    // Approving the risk by hand is an edit like any other.
    let approved = text.replace(
        "\"message\": \"lowered\"",
        "\"message\": \"lowered\",\n        \"acknowledged\": { \"by\": \"flag\", \"flag\": \"x\" }",
    );
    assert_ne!(approved, text);
    std::fs::write(&path, &approved).expect("write");
    assert!(matches!(
        SavedPlan::read(&path),
        Err(SavedPlanError::Tampered { .. })
    ));
}
