//! Every cell of the role matrix of documents 002/004 (Manager, User, Contributeur,
//! Opérateur, as `examples/geodata/roles.yaml` declares them) and of the capability table
//! of document 003 (the four built-in roles), walked through the API by a user of each role
//! acting through a token created with `user` and no role. For each cell the test asks the
//! access decision (`GET /api/v1/access`), asks `tenantctl explain --format json` the same
//! question (the same answer, to the byte), checks both against the document, and where the
//! platform has an endpoint for the action, does it with the user's token and checks the
//! platform's answer is the decision's. Over SQLite and PostgreSQL.
//!
//! Reading the 002 table: a blank cell is allowed, `x` refused, `*` "only on the projects
//! you are given", `**` "the project's name only, to upload". Every role but the Manager
//! works on the projects given to it, so an allowed action on a project is `*` for them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{Ctx, TestServer};

const T: &str = "carrieres";

/// A cell: what the document says a role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// Allowed (on every project).
    Y,
    /// Only on the projects given (`*`).
    G,
    /// Refused (`x`).
    N,
}
use Cell::{G, N, Y};

/// What the platform does for a row, with the acting user's token.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// No endpoint: the decision is the platform's answer (applications ask it).
    Ask,
    CreateProject,
    Invite(&'static str),
    Remove(&'static str),
    DeleteProject,
    ListInFull,
    ListEveryName,
    Rename,
    Update,
    Read,
    ReadTenant,
    UpdateTenant,
    ListUsers,
    UpdateUser,
    AssignWorkspaces,
    Promote,
    TogglePlan,
    DeleteTenant,
}

struct Row {
    /// The row of the document, in its words.
    text: &'static str,
    permission: &'static str,
    /// Asked on the given project and on another one (`false`: on the tenant).
    on_projects: bool,
    cells: [Cell; 4],
    action: Action,
}

const fn row(
    text: &'static str,
    permission: &'static str,
    on_projects: bool,
    cells: [Cell; 4],
    action: Action,
) -> Row {
    Row {
        text,
        permission,
        on_projects,
        cells,
        action,
    }
}

/// Document 002 (004 with sites): columns Manager, User, Contributeur, Opérateur.
const ROLES_002: [&str; 4] = ["manager", "user", "contributor", "operator"];
const TABLE_002: &[Row] = &[
    row(
        "Créer un Projet",
        "project.create",
        false,
        [Y, N, N, N],
        Action::CreateProject,
    ),
    row(
        "Télécharger un Relevé",
        "survey.upload",
        true,
        [Y, G, N, G],
        Action::Ask,
    ),
    row(
        "Inviter de nouveaux Utilisateurs",
        "users.invite",
        false,
        [Y, N, N, N],
        Action::Invite("user"),
    ),
    row(
        "Supprimer des Utilisateurs",
        "users.remove",
        false,
        [Y, N, N, N],
        Action::Remove("operator"),
    ),
    row(
        "Supprimer un Projet",
        "project.delete",
        true,
        [Y, N, N, N],
        Action::DeleteProject,
    ),
    row(
        "Supprimer un Relevé",
        "survey.delete",
        true,
        [Y, N, N, N],
        Action::Ask,
    ),
    row(
        "Afficher tous les Projets d'un compte",
        "project.list",
        true,
        [Y, G, G, N],
        Action::ListInFull,
    ),
    row(
        "Afficher tous les Projets d'un compte (** le nom seulement)",
        "project.list_names",
        false,
        [Y, N, N, Y],
        Action::ListEveryName,
    ),
    row(
        "Renommer un Projet",
        "project.rename",
        true,
        [Y, N, N, N],
        Action::Rename,
    ),
    row(
        "Renommer un Relevé",
        "survey.rename",
        true,
        [Y, N, N, N],
        Action::Ask,
    ),
    row(
        "Afficher les informations d'un Projet",
        "project.read",
        true,
        [Y, G, G, G],
        Action::Read,
    ),
    row(
        "Modifier les informations d'un Projet",
        "project.update",
        true,
        [Y, N, N, N],
        Action::Update,
    ),
    row(
        "Télécharger des fichiers",
        "files.upload",
        true,
        [Y, G, N, G],
        Action::Ask,
    ),
    row(
        "Lancer un traitement d'images",
        "processing.launch",
        true,
        [Y, G, N, N],
        Action::Ask,
    ),
    row(
        "Demander la réalisation d'Analyses avancées",
        "analytics.request",
        true,
        [Y, G, N, N],
        Action::Ask,
    ),
    row(
        "Accès aux outils d'Annotation",
        "annotation.access",
        true,
        [Y, G, G, N],
        Action::Ask,
    ),
    row(
        "Annotation d'images",
        "annotation.annotate",
        true,
        [Y, G, G, N],
        Action::Ask,
    ),
    row(
        "Accès à toutes les Cartes générées",
        "map.read",
        true,
        [Y, G, G, N],
        Action::Ask,
    ),
    row(
        "Accès aux Relevés",
        "survey.read",
        true,
        [Y, G, G, N],
        Action::Ask,
    ),
    row(
        "Accès à la Bibliothèque de fichiers",
        "library.read",
        false,
        [Y, Y, Y, N],
        Action::Ask,
    ),
    row(
        "Télécharger des fichiers depuis la Bibliothèque de fichiers",
        "library.download",
        false,
        [Y, Y, Y, N],
        Action::Ask,
    ),
    row(
        "Supprimer des fichiers Raster ou Vecteur d'un Relevé",
        "files.delete",
        true,
        [Y, G, N, N],
        Action::Ask,
    ),
];

/// Document 003: columns Administrateur de facturation, Administrateur (utilisateurs),
/// Membre, Administrateur de l'organisation (last: it deletes an organisation).
const ROLES_003: [&str; 4] = ["billing_admin", "user_admin", "member", "org_admin"];
const TABLE_003: &[Row] = &[
    row(
        "Accéder à tous les paramètres de l'organisation",
        "organization.settings",
        false,
        [Y, N, N, Y],
        Action::Ask,
    ),
    row(
        "Gérer les informations de l'organisation",
        "organization.update",
        false,
        [N, N, N, Y],
        Action::UpdateTenant,
    ),
    row(
        "Voir les informations de l'organisation",
        "organization.read",
        false,
        [Y, Y, N, Y],
        Action::ReadTenant,
    ),
    row(
        "Gérer les informations de facturation",
        "billing.manage",
        false,
        [Y, N, N, Y],
        Action::Ask,
    ),
    row(
        "Voir les informations de facturation",
        "billing.read",
        false,
        [Y, Y, N, Y],
        Action::Ask,
    ),
    row(
        "Gérer tous les utilisateurs",
        "users.update",
        false,
        [N, Y, N, Y],
        Action::UpdateUser,
    ),
    row(
        "Voir tous les utilisateurs",
        "users.read",
        false,
        [Y, Y, N, Y],
        Action::ListUsers,
    ),
    row(
        "Ajouter des utilisateurs de rôle de membre",
        "users.invite",
        false,
        [N, Y, N, Y],
        Action::Invite("member"),
    ),
    row(
        "Supprimer les utilisateurs du rôle de membre",
        "users.remove",
        false,
        [N, Y, N, Y],
        Action::Remove("member"),
    ),
    row(
        "Modifier les espaces de travail assignés à tous les utilisateurs",
        "users.assign_workspaces",
        false,
        [N, Y, N, Y],
        Action::AssignWorkspaces,
    ),
    row(
        "Promouvoir ou rétrograder les membres",
        "users.promote",
        false,
        [N, N, N, Y],
        Action::Promote,
    ),
    row(
        "Gérer tous les espaces de travail",
        "workspace.manage",
        false,
        [N, Y, N, Y],
        Action::CreateProject,
    ),
    row(
        "Voir tous les Workspaces",
        "workspace.read",
        false,
        [Y, Y, N, Y],
        Action::Ask,
    ),
    row(
        "Accéder aux espaces de travail (les membres : ceux donnés)",
        "project.read",
        true,
        [Y, Y, G, Y],
        Action::Read,
    ),
    row(
        "Gérer l'abonnement",
        "subscription.manage",
        false,
        [Y, N, N, Y],
        Action::TogglePlan,
    ),
    row(
        "Annuler l'abonnement",
        "subscription.cancel",
        false,
        [N, N, N, Y],
        Action::Ask,
    ),
    row(
        "Supprimer l'organisation",
        "organization.delete",
        false,
        [N, N, N, Y],
        Action::DeleteTenant,
    ),
];

fn put(kind: &str, key: &str, spec: Value) -> Value {
    json!({ "op": "put", "kind": kind, "key": key, "spec": spec })
}

fn email(name: &str) -> String {
    format!("{name}@{T}.example")
}

/// The platform: the geodata roles as the example declares them, tenant `carrieres` with a
/// project given to every role (`given`), one given to none (`other`), one to delete per
/// role; a user of each role, and the users the actions act on. Tenant `doomed` is the
/// organisation the 003 roles try to delete.
fn fixture() -> Vec<Value> {
    let roles: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/geodata/roles.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut ops = vec![
        put("plan", "essential", json!({})),
        put("plan", "premium", json!({})),
    ];
    for (name, spec) in roles["roles"].as_object().unwrap() {
        ops.push(put("role", name, spec.clone()));
    }
    for t in [T, "doomed"] {
        ops.push(put("tenant", t, json!({ "plan": "essential" })));
    }
    ops.push(put(
        "workspace",
        &format!("{T}/given"),
        json!({ "display_name": "Site donné", "description": "Le site attribué" }),
    ));
    ops.push(put(
        "workspace",
        &format!("{T}/other"),
        json!({ "display_name": "Autre site", "description": "Un autre site" }),
    ));
    let all_roles = ROLES_002.iter().chain(ROLES_003.iter());
    for role in all_roles.clone() {
        let doomed = format!("doomed-{}", role.replace('_', "-"));
        ops.push(put(
            "workspace",
            &format!("{T}/{doomed}"),
            json!({ "description": "À supprimer" }),
        ));
        let me = email(&role.replace('_', "-"));
        ops.push(put("user", &me, json!({})));
        ops.push(put(
            "membership",
            &format!("{me}/{T}"),
            json!({ "role": role, "workspaces": ["given", doomed] }),
        ));
        if ROLES_003.contains(role) {
            ops.push(put(
                "membership",
                &format!("{me}/doomed"),
                json!({ "role": role }),
            ));
        }
        // The users its actions act on: one to remove of each kind, one to promote.
        for (victim, victim_role) in [
            ("victim", "operator"),
            ("m-victim", "member"),
            ("promote", "member"),
        ] {
            let v = email(&format!("{victim}-{}", role.replace('_', "-")));
            ops.push(put("user", &v, json!({})));
            ops.push(put(
                "membership",
                &format!("{v}/{T}"),
                json!({ "role": victim_role }),
            ));
        }
    }
    for (name, role) in [("target", "member"), ("assigned", "contributor")] {
        ops.push(put("user", &email(name), json!({})));
        ops.push(put(
            "membership",
            &format!("{}/{T}", email(name)),
            json!({ "role": role, "workspaces": ["given"] }),
        ));
    }
    ops
}

/// The answer of `GET /api/v1/access`, asked with the system token.
async fn ask(s: &TestServer, user: &str, permission: &str, workspace: Option<&str>) -> Value {
    let mut path = format!("/api/v1/access?user={user}&tenant={T}&permission={permission}");
    if let Some(w) = workspace {
        path.push_str(&format!("&workspace={w}"));
    }
    let a = s.get(&path).await;
    assert_eq!(a.status, 200, "{path}: {}", a.text);
    a.body
}

/// `tenantctl explain --format json` of the same question, with its exit code.
async fn explain(ctx: &Ctx, user: &str, permission: &str, workspace: Option<&str>) -> (i32, Value) {
    let mut args = vec![
        "explain",
        "user",
        user,
        "--tenant",
        T,
        "--permission",
        permission,
        "--format",
        "json",
    ];
    if let Some(w) = workspace {
        args.extend(["--workspace", w]);
    }
    let r = ctx.tenantctl(args).await;
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    (r.code, v)
}

/// `200`/`201`/`204` is true, `403` false; anything else fails the test.
fn yes_no(status: u16, what: &str, body: &str) -> bool {
    match status {
        200 | 201 | 204 => true,
        403 => false,
        other => panic!("{what}: unexpected {other}: {body}"),
    }
}

/// Does the action with `token`: the platform's answer for workspace `ws`.
async fn platform(
    s: &TestServer,
    token: &str,
    role: &str,
    action: Action,
    ws: Option<&str>,
    n: usize,
) -> Option<bool> {
    let slug = role.replace('_', "-");
    let call = |m: Method, path: String, body: Option<Value>| async move {
        let a = s.call(m, &path, Some(token), body.as_ref(), &[]).await;
        (a.status.as_u16(), a.body, a.text)
    };
    let ws_path = |w: &str| format!("/api/v1/tenants/{T}/workspaces/{w}");
    let (status, body, text) = match action {
        Action::Ask => return None,
        Action::CreateProject => call(Method::PUT, ws_path(&format!("new-{slug}-{n}")), Some(json!({ "spec": {} }))).await,
        Action::Invite(r) => call(Method::POST, "/api/v1/invitations".into(), Some(json!({ "emails": [format!("inv-{slug}-{n}@new.example")], "tenant": T, "role": r }))).await,
        Action::Remove(r) => {
            let victim = if r == "member" { "m-victim" } else { "victim" };
            call(Method::DELETE, format!("/api/v1/users/{}/memberships/{T}", email(&format!("{victim}-{slug}"))), None).await
        }
        // Its own project to delete, given to it like `given`.
        Action::DeleteProject if ws == Some("given") => call(Method::DELETE, ws_path(&format!("doomed-{slug}")), None).await,
        Action::DeleteProject => return None,
        Action::Rename => call(Method::PUT, ws_path(ws?), Some(json!({ "spec": { "display_name": format!("Renommé {n}"), "description": if ws == Some("given") { "Le site attribué" } else { "Un autre site" } } }))).await,
        Action::Update => call(Method::PUT, ws_path(ws?), Some(json!({ "spec": { "description": format!("Modifié {n}") } }))).await,
        Action::Read => {
            let (st, b, t) = call(Method::GET, ws_path(ws?), None).await;
            // In full: its description is there (a name-only answer has none).
            return Some(yes_no(st, "read", &t) && b["spec"].get("description").is_some());
        }
        Action::ListInFull | Action::ListEveryName => {
            let (st, b, t) = call(Method::GET, "/api/v1/workspaces?limit=1000".into(), None).await;
            if !yes_no(st, "list", &t) {
                return Some(false);
            }
            let items = b["items"].as_array().cloned().unwrap_or_default();
            let listed = |w: &str| items.iter().find(|i| i["key"] == format!("{T}/{w}"));
            return Some(match action {
                Action::ListInFull => listed(ws?).is_some_and(|i| i["spec"].get("description").is_some()),
                _ => ["given", "other"].iter().all(|w| listed(w).is_some()),
            });
        }
        Action::ReadTenant => call(Method::GET, format!("/api/v1/tenants/{T}"), None).await,
        Action::UpdateTenant => call(Method::PUT, format!("/api/v1/tenants/{T}"), Some(json!({ "spec": { "display_name": format!("Carrières {n}"), "plan": current_plan(s).await } }))).await,
        Action::ListUsers => call(Method::GET, "/api/v1/users".into(), None).await,
        Action::UpdateUser => call(Method::PUT, format!("/api/v1/users/{}", email("target")), Some(json!({ "spec": { "first_name": format!("T{n}") } }))).await,
        Action::AssignWorkspaces => {
            let ws = if n.is_multiple_of(2) { json!(["given", "other"]) } else { json!(["given"]) };
            call(Method::PUT, format!("/api/v1/users/{}/memberships/{T}", email("assigned")), Some(json!({ "spec": { "role": "contributor", "workspaces": ws } }))).await
        }
        Action::Promote => call(Method::PUT, format!("/api/v1/users/{}/memberships/{T}", email(&format!("promote-{slug}"))), Some(json!({ "spec": { "role": "billing_admin" } }))).await,
        Action::TogglePlan => {
            let plan = if current_plan(s).await == "essential" { "premium" } else { "essential" };
            call(Method::PUT, format!("/api/v1/tenants/{T}"), Some(json!({ "spec": { "plan": plan } }))).await
        }
        Action::DeleteTenant => {
            let t = s.token("tenant:doomed", None, Some(&email(&slug))).await;
            let a = s.call(Method::DELETE, "/api/v1/tenants/doomed", Some(&t), None, &[]).await;
            (a.status.as_u16(), a.body, a.text)
        }
    };
    let _ = body;
    Some(yes_no(status, &format!("{action:?}"), &text))
}

async fn current_plan(s: &TestServer) -> String {
    s.get(&format!("/api/v1/tenants/{T}")).await.body["spec"]["plan"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Walks `table` for `roles`; returns the cells that differ and how many were walked.
async fn walk(ctx: &Ctx, roles: &[&str; 4], table: &[Row], doc: &str) -> (Vec<String>, usize) {
    let s = ctx.server();
    let mut failures = Vec::new();
    let mut n = 0;
    for (col, role) in roles.iter().enumerate() {
        let user = email(&role.replace('_', "-"));
        // A token acting as the user, with no role of its own: exactly the user's access.
        let token = s.token(&format!("tenant:{T}"), None, Some(&user)).await;
        for r in table {
            let wss: &[Option<&str>] = if r.on_projects {
                &[Some("given"), Some("other")]
            } else {
                &[None]
            };
            for &ws in wss {
                n += 1;
                let want = match (r.cells[col], ws) {
                    (Y, _) => true,
                    (N, _) => false,
                    (G, Some(w)) => w == "given",
                    (G, None) => true,
                };
                let at = format!(
                    "{doc} « {} » × {role} ({}{})",
                    r.text,
                    r.permission,
                    ws.map(|w| format!(" on {w}")).unwrap_or_default()
                );
                let answer = ask(s, &user, r.permission, ws).await;
                if answer["allowed"] != want {
                    failures.push(format!(
                        "{at}: GET /access says {}, the document {want}: {}",
                        answer["allowed"], answer["verdict"]
                    ));
                }
                let (code, explained) = explain(ctx, &user, r.permission, ws).await;
                if explained != answer {
                    failures.push(format!("{at}: explain --format json differs from GET /access:\n{explained}\n{answer}"));
                }
                if code != i32::from(!want) {
                    failures.push(format!("{at}: explain exits {code}"));
                }
                if let Some(done) = platform(s, &token, role, r.action, ws, n).await {
                    if done != want {
                        failures.push(format!(
                            "{at}: the platform {} it ({:?})",
                            if done { "did" } else { "refused" },
                            r.action
                        ));
                    }
                }
            }
        }
    }
    (failures, n)
}

async fn matrix(ctx: Ctx) {
    let s = ctx.server();
    let a = s.batch(json!({ "operations": fixture() })).await;
    assert_eq!(a.status, 200, "fixture: {}", a.text);
    let (mut failures, n002) = walk(&ctx, &ROLES_002, TABLE_002, "002").await;
    let (f003, n003) = walk(&ctx, &ROLES_003, TABLE_003, "003").await;
    failures.extend(f003);
    // Every row, every role, on the given project and another one where it applies.
    assert_eq!((n002, n003), (4 * (22 + 16), 4 * (17 + 1)));
    assert!(
        failures.is_empty(),
        "{} cell(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_002_and_003_sqlite() {
    matrix(Ctx::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_002_and_003_postgres() {
    let Some(ctx) = Ctx::postgres().await else {
        return;
    };
    matrix(ctx).await;
}
