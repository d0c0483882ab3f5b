//! The reviewed plan is what is applied (issue 10, items 1 and 5): a guarded change approved
//! by an `acknowledge:` entry in the configuration goes through `plan --out` / `apply --plan`
//! with no flag; the same change without it is refused at apply; a flag given at plan time is
//! recorded in the saved plan; an approval that matches nothing is a warning; a saved plan
//! edited after review is refused. The real binary against a real server.

use crate::common::Ctx;

const BASE: &str = r#"plans:
  team:
    display_name: Team
    limits: { users: 10 }
tenants:
  acme:
    display_name: Acme
    plan: team
users:
  alice@acme.example:
    first_name: Alice
    memberships: { acme: { role: org_admin } }
  bob@acme.example:
    first_name: Bob
    memberships: { acme: { role: org_admin } }
  carol@acme.example:
    first_name: Carol
    memberships: { acme: { role: member } }
  dave@acme.example:
    first_name: Dave
    memberships: { acme: { role: member } }
  erin@acme.example:
    first_name: Erin
    memberships: { acme: { role: member } }
"#;

/// Carol leaves and the seats go down to 4: below the 5 live members until the apply.
fn lowered() -> String {
    BASE.replace("    plan: team\n", "    plan: team\n    limits: { users: 4 }\n")
        .replace(
            "  carol@acme.example:\n    first_name: Carol\n    memberships: { acme: { role: member } }\n",
            "",
        )
}

const ACK: &str = "acknowledge:\n  - { code: limit_below_usage, kind: tenant, key: acme, reason: four seats from December }\n";

async fn platform() -> Ctx {
    let ctx = Ctx::sqlite().await;
    let base = ctx.path("base.yaml");
    std::fs::write(&base, BASE).expect("write");
    let r = ctx.tenantctl(["apply", "--auto-approve", &base]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    ctx
}

fn users_limit(live: &tenantctl::model::State) -> Option<u32> {
    live.tenants["acme"].spec.limits.users
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_lowered_limit_applies_from_the_saved_plan_with_no_flag() {
    let ctx = platform().await;
    let config = ctx.path("acked.yaml");
    std::fs::write(&config, format!("{}{ACK}", lowered())).expect("write");
    let saved = ctx.path("acked.plan");
    let r = ctx.tenantctl(["plan", &config, "--out", &saved]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Acknowledged risks (applied):"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("acknowledged in the configuration: “four seats from December”"),
        "{}",
        r.stdout
    );
    let r = ctx
        .tenantctl(["apply", "--plan", &saved, "--auto-approve"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let live = ctx.live().await;
    assert_eq!(users_limit(&live), Some(4));
    assert!(!live.users.contains_key("carol@acme.example"));
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_plan_without_the_acknowledgement_is_refused() {
    let ctx = platform().await;
    let config = ctx.path("lowered.yaml");
    std::fs::write(&config, lowered()).expect("write");
    let saved = ctx.path("lowered.plan");
    let r = ctx.tenantctl(["plan", &config, "--out", &saved]).await;
    assert_eq!(r.code, 1, "plan says apply would refuse it: {}", r.stderr);
    assert!(
        r.stderr
            .contains("acknowledge: [{code: limit_below_usage, kind: tenant, key: acme}]"),
        "{}",
        r.stderr
    );
    let revision = ctx.live().await.revision;
    let r = ctx
        .tenantctl(["apply", "--plan", &saved, "--auto-approve"])
        .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr_flat()
            .contains("apply refuses this plan; nothing was applied"),
        "{}",
        r.stderr
    );
    let r = ctx.tenantctl(["apply", &config, "--auto-approve"]).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let live = ctx.live().await;
    assert_eq!(live.revision, revision, "nothing was written");
    assert_eq!(users_limit(&live), None);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_given_at_plan_time_is_recorded_in_the_saved_plan() {
    let ctx = platform().await;
    let config = ctx.path("lowered.yaml");
    std::fs::write(&config, lowered()).expect("write");
    let saved = ctx.path("flagged.plan");
    let r = ctx
        .tenantctl([
            "plan",
            &config,
            "--out",
            &saved,
            "--allow-limit-below-usage",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("acknowledged by --allow-limit-below-usage"),
        "{}",
        r.stdout
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("read")).expect("json");
    assert_eq!(file["options"]["allow_limit_below_usage"], true);
    let r = ctx.tenantctl(["show", &saved]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("limits below usage allowed: yes"),
        "{}",
        r.stderr
    );
    let r = ctx
        .tenantctl(["apply", "--plan", &saved, "--auto-approve"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(users_limit(&ctx.live().await), Some(4));
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_that_matches_nothing_is_a_warning() {
    let ctx = platform().await;
    let config = ctx.path("stale.yaml");
    std::fs::write(&config, format!("{BASE}{ACK}")).expect("write");
    let r = ctx.tenantctl(["plan", &config]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "`acknowledge: limit_below_usage tenant acme` matches no risk of this plan; remove it"
        ),
        "{}",
        r.stdout
    );
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_saved_plan_is_refused() {
    let ctx = platform().await;
    let config = ctx.path("frank.yaml");
    std::fs::write(
        &config,
        format!("{BASE}  frank@acme.example:\n    first_name: Frank\n    memberships: {{ acme: {{ role: member }} }}\n"),
    )
    .expect("write");
    let saved = ctx.path("frank.plan");
    let r = ctx.tenantctl(["plan", &config, "--out", &saved]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Reviewed as a member; made an org admin by hand afterwards.
    let text = std::fs::read_to_string(&saved).expect("read");
    assert!(text.contains("\"role\": \"member\""));
    let edited = text.replacen("\"role\": \"member\"", "\"role\": \"org_admin\"", 1);
    std::fs::write(&saved, edited).expect("write");
    let revision = ctx.live().await.revision;
    for args in [
        vec!["apply", "--plan", &saved, "--auto-approve"],
        vec!["show", &saved],
    ] {
        let r = ctx.tenantctl(args.iter().copied()).await;
        assert_eq!(r.code, 1, "{}", r.stdout);
        assert!(
            r.stderr_flat()
                .contains("was changed after it was saved: its content does not match its digest; nothing was applied"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(ctx.live().await.revision, revision, "nothing was written");
    ctx.shutdown().await;
}
