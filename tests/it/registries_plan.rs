//! Registers and records as the reconciler sees them, through the real binary and server:
//! `plan` flags a registers limit lowered below the registers a tenant holds (the usage in
//! `GET /state`), `apply` refuses it unless acknowledged, and an apply that would delete a
//! workspace holding registers is refused with the platform's words; `explain` decides as
//! the platform decides requests on records (the register example).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::Ctx;

const BASE: &str = "plans:
  free:
    description: Pour découvrir
    limits: { workspaces: 2, registries: 5, records: 20, users: 2 }
users:
  helene@morel.example:
    memberships:
      morel: { role: org_admin }
";

fn config(ctx: &Ctx, name: &str, tenant: &str) -> String {
    let path = ctx.dir().join(format!("{name}.yaml"));
    std::fs::write(&path, format!("{BASE}tenants:\n{tenant}")).expect("write");
    path.display().to_string()
}

async fn lowered_limit_and_deleted_workspace(ctx: Ctx) {
    let v1 = config(
        &ctx,
        "v1",
        "  morel:\n    plan: free\n    workspaces:\n      siege: {}\n      annexe: {}\n",
    );
    let r = ctx.tenantctl(["apply", "--auto-approve", &v1]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let s = ctx.server();
    for key in ["personnel", "rgpd", "securite"] {
        let a = s
            .post(
                "/api/v1/tenants/morel/workspaces/siege/registries",
                json!({ "key": key, "name": key }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let a = s
        .post(
            "/api/v1/tenants/morel/workspaces/siege/registries/rgpd/records",
            json!({ "title": "Paie" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    // The live state carries the usage; the registers are not resources.
    let live = ctx.live().await;
    assert_eq!(live.usage["morel"].registries, 3);
    assert_eq!(live.usage["morel"].records, 1);
    let r = ctx.tenantctl(["plan", "--detailed-exitcode", &v1]).await;
    assert_eq!(r.code, 0, "no change: {}\n{}", r.stdout, r.stderr);

    // Lowering the registers limit below the three held: a risk the plan shows, that apply
    // refuses unless acknowledged.
    let v2 = config(
        &ctx,
        "v2",
        "  morel:\n    plan: free\n    limits: { registries: 2 }\n    workspaces:\n      siege: {}\n      annexe: {}\n",
    );
    let r = ctx.tenantctl(["plan", &v2]).await;
    assert!(
        r.stdout.contains("limit_below_usage")
            && r.stdout.contains(
                "registries limit of tenant `morel` goes from 5 to 2, below its 3 live registries"
            ),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let r = ctx.tenantctl(["apply", "--auto-approve", &v2]).await;
    assert_ne!(r.code, 0, "refused: {}\n{}", r.stdout, r.stderr);
    assert_eq!(
        ctx.live().await.tenants["morel"].spec.limits.registries,
        None
    );
    let r = ctx
        .tenantctl(["apply", "--auto-approve", "--allow-limit-below-usage", &v2])
        .await;
    assert_eq!(r.code, 0, "acknowledged: {}\n{}", r.stdout, r.stderr);
    assert_eq!(
        ctx.live().await.tenants["morel"].spec.limits.registries,
        Some(2)
    );
    let a = s
        .post(
            "/api/v1/tenants/morel/workspaces/annexe/registries",
            json!({ "key": "courrier", "name": "Courrier" }),
        )
        .await;
    assert_eq!(a.body["code"], "limit_exceeded", "{}", a.text);

    // An apply that deletes the workspace holding them is refused, in the platform's words.
    let v3 = config(
        &ctx,
        "v3",
        "  morel:\n    plan: free\n    limits: { registries: 2 }\n    workspaces:\n      annexe: {}\n",
    );
    let r = ctx
        .tenantctl([
            "apply",
            "--auto-approve",
            "--max-delete-percent",
            "100",
            &v3,
        ])
        .await;
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let said = r.stderr_flat();
    assert!(
        said.contains("workspace `morel/siege` holds 3 register(s) and 1 record(s)"),
        "{said}"
    );
    assert!(ctx.live().await.workspaces.contains_key("morel/siege"));
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowered_limit_and_deleted_workspace_sqlite() {
    lowered_limit_and_deleted_workspace(Ctx::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowered_limit_and_deleted_workspace_postgres() {
    let Some(ctx) = Ctx::postgres().await else {
        return;
    };
    lowered_limit_and_deleted_workspace(ctx).await;
}

/// The register example grows registers and records through the API, as its users: the
/// Free tenant is refused a sixth register, and each user's requests on records are decided
/// as `explain` decides them.
async fn register_example(ctx: Ctx) {
    let dir = crate::reconcile::examples_dir().join("registers");
    let r = ctx
        .tenantctl(["apply", "--auto-approve", &dir.display().to_string()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let s = ctx.server();

    // The Free tenant: five registers, then the sixth is refused.
    let sophie = s
        .token(
            "tenant:atelier-roux",
            None,
            Some("sophie.roux@atelier-roux.fr"),
        )
        .await;
    let base = "/api/v1/tenants/atelier-roux/workspaces/menuiserie/registries";
    let names = [
        ("personnel", "Registre unique du personnel"),
        ("securite", "Registre de sécurité"),
        ("rgpd", "Registre des traitements RGPD"),
        ("dechets", "Registre des déchets"),
        ("accidents", "Registre des accidents bénins"),
        ("controles", "Registre des contrôles"),
    ];
    for (i, (key, name)) in names.iter().enumerate() {
        let a = s
            .call(
                Method::POST,
                base,
                Some(&sophie),
                Some(&json!({ "key": key, "name": name })),
                &[],
            )
            .await;
        if i < 5 {
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        } else {
            assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
            assert_eq!(a.body["code"], "limit_exceeded");
            assert_eq!(a.body["details"]["value"], 5);
        }
    }

    // Cabinet Morel: each user's requests on a workspace's records, as `explain` decides.
    let morel = "/api/v1/tenants/cabinet-morel/workspaces";
    for w in [
        "boulangerie-martin",
        "garage-dupuis",
        "pharmacie-des-halles",
    ] {
        let a = s
            .post(
                &format!("{morel}/{w}/registries"),
                json!({ "key": "rgpd", "name": "Registre des traitements RGPD" }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        let a = s
            .post(
                &format!("{morel}/{w}/registries/rgpd/records"),
                json!({ "title": "Gestion de la paie", "fields": { "base_legale": "obligation légale" } }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let mut decided = 0;
    for user in [
        "lucie.bernard@cabinet-morel.fr",
        "antoine.rousseau@cabinet-morel.fr",
    ] {
        let token = s.token("tenant:cabinet-morel", None, Some(user)).await;
        for w in [
            "boulangerie-martin",
            "garage-dupuis",
            "pharmacie-des-halles",
        ] {
            for action in ["read", "create"] {
                let e = ctx
                    .tenantctl([
                        "explain",
                        "user",
                        user,
                        "--tenant",
                        "cabinet-morel",
                        "--workspace",
                        w,
                        "--permission",
                        action,
                    ])
                    .await;
                let records = format!("{morel}/{w}/registries/rgpd/records");
                let a = match action {
                    "read" => s.call(Method::GET, &records, Some(&token), None, &[]).await,
                    _ => {
                        let body = json!({ "title": format!("par {user}") });
                        s.call(Method::POST, &records, Some(&token), Some(&body), &[])
                            .await
                    }
                };
                assert!(a.status != StatusCode::NOT_FOUND, "{}", a.text);
                assert_eq!(
                    a.status.is_success(),
                    e.code == 0,
                    "{user} {action} on {w}: {} / explain:\n{}",
                    a.text,
                    e.stdout
                );
                decided += 1;
            }
        }
    }
    assert_eq!(decided, 12);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_example_sqlite() {
    register_example(Ctx::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_example_postgres() {
    let Some(ctx) = Ctx::postgres().await else {
        return;
    };
    register_example(ctx).await;
}
