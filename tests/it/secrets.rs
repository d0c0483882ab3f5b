//! Values from `${env:…}` through the whole loop (issue 10, item 2): validate, plan in three
//! formats, comment files, the saved plan, `show`, apply from a saved plan and from YAML,
//! `explain`, an error that quotes a value, and `export`, with the real binary against a real
//! server. No secret appears in any output nor in the platform's audit log; the saved plan
//! keeps them (it must apply them) and is private; a changed secret still shows as changed;
//! `export` writes the placeholders back.

use crate::common::context::Run;
use crate::common::Ctx;

const PHONE_1: &str = "+33 1 70 36 99 01";
const PHONE_2: &str = "+33 1 70 36 99 02";
const ACCOUNT: &str = "acct-4451-secret";
const SECRETS: [&str; 3] = [PHONE_1, PHONE_2, ACCOUNT];

const CONFIG: &str = r#"plans:
  team:
    display_name: Team
tenants:
  acme:
    display_name: Acme
    plan: team
    description: "Account ${env:ACME_ACCOUNT} at HQ"
    contact:
      name: Alice Martin
      phone: ${env:ACME_PHONE}
users:
  alice@acme.example:
    first_name: Alice
    memberships: { acme: { role: org_admin } }
"#;

/// Fails naming the secret and where it was seen.
fn no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows the secret `{s}`:\n{text}");
    }
}

/// Runs tenantctl with the variables set; asserts no secret in its output.
async fn run(ctx: &Ctx, phone: &str, args: &[&str]) -> Run {
    let r = ctx
        .tenantctl(args.iter().copied())
        .env("ACME_PHONE", phone)
        .env("ACME_ACCOUNT", ACCOUNT)
        .await;
    no_secret(&format!("`tenantctl {}`", args.join(" ")), &r.stdout);
    no_secret(
        &format!("`tenantctl {}` (stderr)", args.join(" ")),
        &r.stderr,
    );
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_values_appear_in_no_output_and_no_audit_entry() {
    let ctx = Ctx::sqlite().await;
    let config = ctx.path("platform.yaml");
    std::fs::write(&config, CONFIG).expect("write");
    let saved = ctx.path("first.plan");
    let comments = ctx.path("comments");

    let r = run(&ctx, PHONE_1, &["validate", &config]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    for format in ["human", "markdown", "json"] {
        let r = run(&ctx, PHONE_1, &["plan", &config, "--format", format]).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("(sensitive)"), "{format}: {}", r.stdout);
    }
    let r = run(
        &ctx,
        PHONE_1,
        &["plan", &config, "--out", &saved, "--comment-dir", &comments],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let comment = std::fs::read_to_string(ctx.dir().join("comments/plan-1.md")).expect("comment");
    no_secret("the comment file", &comment);
    assert!(comment.contains("contact.phone: (sensitive)"), "{comment}");

    // The saved plan holds the values (apply sends them) and is readable by its owner only.
    let file = std::fs::read_to_string(&saved).expect("plan file");
    assert!(file.contains(PHONE_1) && file.contains(ACCOUNT));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    for format in ["human", "markdown", "json"] {
        let r = run(&ctx, PHONE_1, &["show", &saved, "--format", format]).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("(sensitive)"), "{format}: {}", r.stdout);
    }
    let r = run(
        &ctx,
        PHONE_1,
        &["apply", "--plan", &saved, "--auto-approve"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let live = ctx.live().await;
    let acme = &live.tenants["acme"].spec;
    assert_eq!(
        acme.contact.phone.as_deref(),
        Some(PHONE_1),
        "the platform has the value"
    );
    assert_eq!(
        acme.description.as_deref(),
        Some(format!("Account {ACCOUNT} at HQ").as_str())
    );

    // Applied as planned: the platform knows where each value came from, so nothing is left
    // to relist.
    let r = run(&ctx, PHONE_1, &["plan", &config]).await;
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);

    // A changed secret shows that it changed, not what to.
    let r = run(&ctx, PHONE_2, &["plan", &config, "--format", "json"]).await;
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let fields = &plan["changes"][0]["fields"];
    assert_eq!(
        fields,
        &serde_json::json!([{ "path": "contact.phone", "before": "(sensitive)", "after": "(sensitive)", "sensitive": true }]),
        "{}",
        r.stdout
    );
    let r = run(&ctx, PHONE_2, &["apply", &config, "--auto-approve"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("contact.phone: (sensitive) → (sensitive)"),
        "{}",
        r.stdout
    );
    let r = run(
        &ctx,
        PHONE_2,
        &[
            "explain",
            "user",
            "alice@acme.example",
            "--permission",
            "project.create",
            "--path",
            &config,
        ],
    )
    .await;
    assert!(
        r.stdout.contains("alice@acme.example"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );

    // An error that quotes a value: the plan's name from the environment.
    let bad = ctx.path("bad.yaml");
    std::fs::write(
        &bad,
        CONFIG.replace("    plan: team\n", "    plan: ${env:ACME_PHONE}\n"),
    )
    .expect("write");
    let r = run(&ctx, PHONE_2, &["validate", &bad]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = run(&ctx, PHONE_2, &["plan", &bad]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);

    // export writes the placeholders back.
    let r = run(&ctx, PHONE_2, &["export"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("${env:ACME_PHONE}"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Account ${env:ACME_ACCOUNT} at HQ"),
        "{}",
        r.stdout
    );
    // … and the export plans to no change where the variables are set.
    let exported = ctx.path("exported.yaml");
    std::fs::write(&exported, &r.stdout).expect("write");
    let r = run(&ctx, PHONE_2, &["plan", &exported]).await;
    assert!(
        r.stdout.contains("No changes."),
        "{}\n{}",
        r.stdout,
        r.stderr
    );

    // The audit log has markers, not values.
    let audit = ctx.server().get("/api/v1/audit?limit=1000").await;
    let text = audit.body.to_string();
    assert!(text.contains("(sensitive)"), "{text}");
    no_secret("the audit log", &text);
    ctx.shutdown().await;
}

/// A value that moves to `${env:…}` without changing is planned as an update of the
/// pseudo-field `sensitive`, so that the platform learns it; and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_moving_to_env_is_relisted() {
    let ctx = Ctx::sqlite().await;
    let clear = ctx.path("clear.yaml");
    std::fs::write(
        &clear,
        CONFIG.replace("${env:ACME_PHONE}", &format!("\"{PHONE_1}\"")),
    )
    .expect("write");
    let config = ctx.path("platform.yaml");
    std::fs::write(&config, CONFIG).expect("write");
    // Written in clear, the phone is no secret: shown, and not checked for.
    let r = ctx
        .tenantctl(["apply", &clear, "--auto-approve"])
        .env("ACME_ACCOUNT", ACCOUNT)
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&ctx, PHONE_1, &["plan", &config]).await;
    assert!(
        r.stdout.contains(
            r#"~ sensitive: {"/description":"Account ${env:ACME_ACCOUNT} at HQ"} → {"/contact/phone":"${env:ACME_PHONE}","/description":"Account ${env:ACME_ACCOUNT} at HQ"}"#
        ),
        "{}",
        r.stdout
    );
    let r = run(&ctx, PHONE_1, &["apply", &config, "--auto-approve"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fields = ctx.server().get("/api/v1/sensitive-fields").await;
    let pointers: Vec<&str> = fields.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|f| f["pointer"].as_str())
        .collect();
    assert_eq!(pointers, ["/contact/phone", "/description"]);
    let r = run(&ctx, PHONE_1, &["plan", &config]).await;
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    // Back in clear: the platform is told the phone is no longer sensitive.
    let r = ctx
        .tenantctl(["plan", &clear, "--format", "json"])
        .env("ACME_ACCOUNT", ACCOUNT)
        .await;
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(
        plan["changes"][0]["fields"][0]["path"], "sensitive",
        "{}",
        r.stdout
    );
    ctx.shutdown().await;
}
