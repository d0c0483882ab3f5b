//! The `acknowledge:` entries of a configuration in the diff: approvals, stale entries, the
//! delete guard per kind.

use super::*;

#[test]
fn acknowledge_entries_approve_their_risk_and_stale_ones_warn() {
    let lowered = BASE.replace(
        "plan: essential\n",
        "plan: essential\n    limits: { users: 2 }\n",
    );
    let acks = "acknowledge:\n  - { code: limit_below_usage, kind: tenant, key: acme, reason: contract ends }\n  - { code: too_many_deletes, kind: user }\n";
    let p = plan(
        &format!("{lowered}{acks}"),
        &live(BASE),
        &PlanOptions::default(),
    );
    assert_eq!(p.risks.len(), 1, "{:?}", p.risks);
    assert_eq!(
        p.risks[0].acknowledged,
        Some(Acknowledged::Configuration {
            reason: Some("contract ends".into())
        })
    );
    assert!(p.blocking_risks().is_empty());
    assert!(p.allows_limit_below_usage());
    // The `too_many_deletes` entry approves nothing in this plan: a stale approval.
    let stale: Vec<(&str, Kind, &str)> = p
        .warnings
        .iter()
        .filter(|w| w.code == STALE_ACKNOWLEDGEMENT)
        .map(|w| (w.code.as_str(), w.kind, w.key.as_str()))
        .collect();
    assert_eq!(stale, [(STALE_ACKNOWLEDGEMENT, Kind::User, "*")]);
    // An entry for another tenant approves nothing: the risk is refused.
    let other = "acknowledge:\n  - { code: limit_below_usage, kind: tenant, key: globex }\n";
    let p = plan(
        &format!("{lowered}{other}"),
        &live(BASE),
        &PlanOptions::default(),
    );
    assert_eq!(p.blocking_risks().len(), 1);
    assert!(!p.allows_limit_below_usage());
}

#[test]
fn too_many_deletes_is_acknowledged_per_kind_and_says_how() {
    let d = BASE.replace(
        "  carol@acme.example:\n    memberships: { acme: { role: member, workspaces: [paris] } }\n",
        "",
    );
    let p = plan(&d, &live(BASE), &PlanOptions::default());
    assert!(
        p.risks[0]
            .message
            .contains("acknowledge them in the configuration (`acknowledge: [{code: too_many_deletes, kind: user}]`)"),
        "{}",
        p.risks[0].message
    );
    let acks = "acknowledge:\n  - { code: too_many_deletes, kind: user }\n";
    let p = plan(&format!("{d}{acks}"), &live(BASE), &PlanOptions::default());
    let blocking: Vec<Kind> = p.blocking_risks().iter().map(|r| r.kind).collect();
    assert_eq!(blocking, [Kind::Membership]);
    // At apply, a larger --max-delete-percent approves the rest; nothing is un-approved.
    let mut p = p;
    p.acknowledge_at_apply(&live(BASE), false, 40);
    assert!(p.blocking_risks().is_empty());
    assert_eq!(
        p.risks[1].acknowledged,
        Some(Acknowledged::Flag("--max-delete-percent 40".into()))
    );
}
