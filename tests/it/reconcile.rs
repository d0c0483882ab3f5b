//! End-to-end tests of the reconciler: the real `tenantctl` binary (assert_cmd) against the
//! real platform server on a loopback port over a real SQLite file. Per example: apply from
//! empty, re-plan, a set of edits (rename, role change, e-mail replace, workspace and user
//! deletes, a limit below usage, a protected tenant left out), the plan in three formats
//! (snapshots), apply, converged; then an unmanaged user left alone and pruned. Also: export
//! round-trips, stale saved plans, explain, users CSV, and a server killed mid-apply. Each
//! test holds a [`Ctx`] (server, temp dir, token, snapshot filters) and runs the binary with
//! `ctx.tenantctl([...]).await`.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};

use serde_json::json;
use tenantctl::config::Document;
use tenantctl::model::{Kind, MembershipSpec, State, SystemRole};

use crate::common::context::Run;
use crate::common::Ctx;
use crate::ctx_snapshot;

const EXAMPLES: &[&str] = &["imagegen", "registers", "geodata", "workspaces"];

pub(crate) fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// An example's directory, as an argument.
fn example_path(name: &str) -> String {
    examples_dir()
        .join(name)
        .to_str()
        .expect("a UTF-8 path")
        .to_string()
}

/// An example's files merged into one document.
fn load_example(name: &str) -> Document {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir().join(name))
        .expect("example dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut doc = Document::default();
    for f in files {
        let d: Document = serde_saphyr::from_str(&std::fs::read_to_string(&f).expect("read"))
            .expect("example parses");
        doc.plans.extend(d.plans);
        doc.models.extend(d.models);
        doc.roles.extend(d.roles);
        doc.tenants.extend(d.tenants);
        doc.users.extend(d.users);
    }
    doc
}

/// What the edits did, for the assertions.
#[derive(Debug)]
struct Edits {
    renamed: (String, String),
    protected_left_out: String,
    removed_workspace: Option<String>,
    removed_user: String,
    email: (String, String),
    role_changed: String,
    lowered: String,
}

/// The tenant to leave out: the example's protected tenant, or its last tenant, made
/// protected in the initial configuration.
fn protected_tenant(doc: &mut Document) -> String {
    let key = doc
        .tenants
        .iter()
        .find(|(_, t)| t.protected)
        .map(|(k, _)| k.clone())
        .or_else(|| doc.tenants.keys().last().cloned())
        .expect("a tenant");
    if let Some(t) = doc.tenants.get_mut(&key) {
        t.protected = true;
    }
    key
}

fn members(doc: &Document, tenant: &str) -> Vec<(String, MembershipSpec)> {
    doc.users
        .iter()
        .filter_map(|(u, d)| d.memberships.get(tenant).map(|m| (u.clone(), m.clone())))
        .collect()
}

/// The edits of the issue, made generically on any example.
fn edit(mut doc: Document) -> (Document, Edits) {
    let p = doc
        .tenants
        .iter()
        .find(|(_, t)| t.protected)
        .map(|(k, _)| k.clone())
        .expect("a protected tenant");
    let others: Vec<String> = doc.tenants.keys().filter(|k| **k != p).cloned().collect();
    let r = others[0].clone();

    // A protected tenant left out of the YAML, with the memberships naming it.
    doc.tenants.remove(&p);
    for u in doc.users.values_mut() {
        u.memberships.shift_remove(&p);
    }

    // Remove a workspace (with what refers to it), from the tenant with the most.
    let removed_workspace = others
        .iter()
        .max_by_key(|t| doc.tenants[*t].workspaces.len())
        .filter(|t| !doc.tenants[*t].workspaces.is_empty())
        .map(|t| {
            let tenant = doc.tenants.get_mut(t).expect("tenant");
            let w = tenant.workspaces.keys().last().cloned().expect("workspace");
            tenant.workspaces.remove(&w);
            tenant.grants.retain(|g| g.workspace != w);
            for u in doc.users.values_mut() {
                if let Some(m) = u.memberships.get_mut(t) {
                    m.workspaces.retain(|x| *x != w);
                }
            }
            format!("{t}/{w}")
        });

    // Remove a user who is not an org_admin, and lower their tenant's user limit to the
    // members left: below the live usage.
    let (removed_user, lowered) = others
        .iter()
        .find_map(|t| {
            members(&doc, t)
                .into_iter()
                .find(|(_, m)| m.role != "org_admin")
                .map(|(u, _)| (u, t.clone()))
        })
        .expect("a non-admin member");
    doc.users.remove(&removed_user);
    for t in doc.tenants.values_mut() {
        t.grants
            .retain(|g| g.to != tenantctl::config::GrantTo::User(removed_user.clone()));
    }
    let left = members(&doc, &lowered).len() as u32;
    doc.tenants.get_mut(&lowered).expect("tenant").limits.users = Some(left);

    // Change a member's role.
    let role_changed = others
        .iter()
        .find_map(|t| {
            members(&doc, t)
                .into_iter()
                .find(|(_, m)| m.role == "member")
                .map(|(u, _)| format!("{u}/{t}"))
        })
        .or_else(|| {
            others.iter().find_map(|t| {
                members(&doc, t)
                    .into_iter()
                    .find(|(_, m)| m.role != "org_admin")
                    .map(|(u, _)| format!("{u}/{t}"))
            })
        })
        .expect("a membership to change");
    let (ru, rt) = role_changed.split_once('/').expect("key");
    let m = doc
        .users
        .get_mut(ru)
        .and_then(|u| u.memberships.get_mut(rt))
        .expect("membership");
    m.role = if m.role == "member" {
        "user_admin".into()
    } else {
        "member".into()
    };

    // Change an e-mail: a user with a membership, other than the one whose role changed.
    let old = doc
        .users
        .iter()
        .find(|(u, d)| !d.memberships.is_empty() && u.as_str() != ru)
        .map(|(u, _)| u.clone())
        .expect("a user");
    let (local, domain) = old.split_once('@').expect("email");
    let new = format!("{local}.new@{domain}");
    let mut u = doc.users.remove(&old).expect("user");
    u.previously = Some(old.clone());
    doc.users.insert(new.clone(), u);
    for t in doc.tenants.values_mut() {
        for g in &mut t.grants {
            if g.to == tenantctl::config::GrantTo::User(old.clone()) {
                g.to = tenantctl::config::GrantTo::User(new.clone());
            }
        }
    }

    // Rename a tenant with `previously`.
    let renamed = format!("{r}-group");
    let mut t = doc.tenants.remove(&r).expect("tenant");
    t.previously = Some(r.clone());
    doc.tenants.insert(renamed.clone(), t);
    for u in doc.users.values_mut() {
        if let Some(m) = u.memberships.shift_remove(&r) {
            u.memberships.insert(renamed.clone(), m);
        }
    }
    let role_changed = role_changed.replace(&format!("/{r}"), &format!("/{renamed}"));
    let lowered = if lowered == r {
        renamed.clone()
    } else {
        lowered
    };
    (
        doc,
        Edits {
            renamed: (r, renamed),
            protected_left_out: p,
            removed_workspace,
            removed_user,
            email: (old, new),
            role_changed,
            lowered,
        },
    )
}

fn assert_no_changes(run: &Run, what: &str) {
    assert_eq!(
        run.code, 0,
        "{what}: expected no changes (exit 0)\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("No changes."), "{what}: {}", run.stdout);
}

async fn example_lifecycle(name: &str) {
    lifecycle(Ctx::sqlite().await, name, None).await;
}

/// The lifecycle of one example; with `parallelism`, the edits are applied resource by
/// resource (without the lowered limit: single-resource writes cannot accept it) and the
/// plans are not snapshotted again.
async fn lifecycle(ctx: Ctx, name: &str, parallelism: Option<&str>) {
    let mut initial = load_example(name);
    protected_tenant(&mut initial);
    let v1 = ctx.write_config("v1", &initial);

    // Apply from empty, then a re-plan shows no changes.
    let r = ctx.tenantctl(["apply", "--auto-approve", &v1]).await;
    assert_eq!(
        r.code, 0,
        "first apply\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    let first = ctx.live().await;
    assert!(first.len() > 10, "{name}: {} resources", first.len());
    let managed_all = Kind::ALL.iter().all(|k| {
        first
            .keys(*k)
            .all(|key| first.meta(*k, key).is_some_and(|m| m.managed))
    });
    assert!(managed_all, "everything applied is managed");
    assert_no_changes(
        &ctx.tenantctl(["plan", "--detailed-exitcode", &v1]).await,
        "re-plan after the first apply",
    );

    // The edits, and the expected plan in three formats.
    let (mut edited, edits) = edit(initial);
    if parallelism.is_some() {
        edited
            .tenants
            .get_mut(&edits.lowered)
            .expect("tenant")
            .limits
            .users = None;
    }
    let v2 = ctx.write_config("v2", &edited);
    if let Some(n) = parallelism {
        let r = ctx
            .tenantctl([
                "apply",
                "--auto-approve",
                "--max-delete-percent",
                "100",
                "--parallelism",
                n,
                &v2,
            ])
            .await;
        assert_eq!(
            r.code, 0,
            "resource-by-resource apply of the edits\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        assert_no_changes(
            &ctx.tenantctl(["plan", "--detailed-exitcode", &v2]).await,
            "re-plan after the edits",
        );
        let state = ctx.live().await;
        assert!(
            state.tenants.contains_key(&edits.renamed.1)
                && !state.tenants.contains_key(&edits.renamed.0)
        );
        assert!(
            state.users.contains_key(&edits.email.1) && !state.users.contains_key(&edits.email.0)
        );
        ctx.shutdown().await;
        return;
    }
    let human = ctx.tenantctl(["plan", &v2]).await;
    let md = ctx.tenantctl(["plan", "--format", "markdown", &v2]).await;
    let js = ctx.tenantctl(["plan", "--format", "json", &v2]).await;
    ctx_snapshot!(
        ctx,
        format!("{name}_edits_human"),
        format!(
            "exit {}\n{}\n--- stderr\n{}",
            human.code, human.stdout, human.stderr
        )
    );
    ctx_snapshot!(ctx, format!("{name}_edits_markdown"), md.stdout);
    ctx_snapshot!(ctx, format!("{name}_edits_json"), js.stdout);
    let plan: serde_json::Value = serde_json::from_str(&js.stdout).expect("json plan");
    assert_eq!(plan["format_version"], 1);
    let changes = plan["changes"].as_array().expect("changes");
    let find = |action: &str, kind: &str, key: &str| {
        changes
            .iter()
            .any(|c| c["action"] == action && c["kind"] == kind && c["key"] == key)
    };
    assert!(
        find("update", "tenant", &edits.renamed.1),
        "{name}: tenant rename is an update: {edits:?}"
    );
    assert!(
        find("replace", "user", &edits.email.1),
        "{name}: e-mail change is a replace"
    );
    assert!(changes
        .iter()
        .any(|c| c["action"] == "replace" && c["reason"] == "email"));
    assert!(
        find("delete", "user", &edits.removed_user),
        "{name}: removed user deleted"
    );
    assert!(
        !changes
            .iter()
            .any(|c| c["kind"] == "tenant" && c["key"] == edits.protected_left_out.as_str()),
        "{name}: protected tenant untouched"
    );
    assert!(plan["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .any(|w| w["code"] == "protected_kept" && w["key"] == edits.protected_left_out.as_str()));
    assert!(
        plan["risks"]
            .as_array()
            .expect("risks")
            .iter()
            .any(|r| r["code"] == "limit_below_usage" && r["key"] == edits.lowered.as_str()),
        "{name}: {}",
        js.stdout
    );
    if let Some(w) = &edits.removed_workspace {
        let w = w.replace(
            &format!("{}/", edits.renamed.0),
            &format!("{}/", edits.renamed.1),
        );
        assert!(
            find("delete", "workspace", &w)
                || changes
                    .iter()
                    .any(|c| c["kind"] == "workspace" && c["action"] == "delete"),
            "{name}: workspace {w} deleted"
        );
    }
    assert!(
        changes.iter().any(|c| c["kind"] == "membership"
            && c["key"] == edits.role_changed.as_str()
            && c["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["path"] == "role"))),
        "{name}: role change of {}",
        edits.role_changed
    );

    // Apply refuses the lowered limit without the flag, and changes nothing.
    let before = ctx.live().await.revision;
    let r = ctx
        .tenantctl([
            "apply",
            "--auto-approve",
            "--max-delete-percent",
            "100",
            &v2,
        ])
        .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("limit_below_usage"), "{}", r.stderr);
    assert_eq!(ctx.live().await.revision, before);

    // Apply, converged.
    let r = ctx
        .tenantctl([
            "apply",
            "--auto-approve",
            "--max-delete-percent",
            "100",
            "--allow-limit-below-usage",
            &v2,
        ])
        .await;
    assert_eq!(
        r.code, 0,
        "apply of the edits\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    let after = ctx.tenantctl(["plan", "--detailed-exitcode", &v2]).await;
    assert_no_changes(&after, "re-plan after the edits");
    let state = ctx.live().await;
    assert!(
        state.tenants.contains_key(&edits.renamed.1)
            && !state.tenants.contains_key(&edits.renamed.0)
    );
    assert!(
        state.tenants.contains_key(&edits.protected_left_out),
        "protected tenant kept"
    );
    assert!(state.users.contains_key(&edits.email.1) && !state.users.contains_key(&edits.email.0));
    assert!(!state.users.contains_key(&edits.removed_user));

    // An unmanaged user (made outside tenantctl) is left alone, then pruned.
    put_unmanaged(
        &ctx,
        "/api/v1/users/zoe.outside@elsewhere.example",
        json!({ "first_name": "Zoé" }),
    )
    .await;
    let r = ctx.tenantctl(["plan", "--detailed-exitcode", &v2]).await;
    assert_no_changes(&r, "an unmanaged user is left alone");
    assert!(
        r.stdout.contains("Unmanaged, left alone: 1 user"),
        "{}",
        r.stdout
    );
    let r = ctx
        .tenantctl(["plan", "--prune", "--detailed-exitcode", &v2])
        .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    ctx_snapshot!(ctx, format!("{name}_prune_human"), r.stdout);
    let r = ctx
        .tenantctl(["apply", "--auto-approve", "--prune", &v2])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!ctx
        .live()
        .await
        .users
        .contains_key("zoe.outside@elsewhere.example"));
    assert_no_changes(
        &ctx.tenantctl(["plan", "--prune", "--detailed-exitcode", &v2])
            .await,
        "converged after prune",
    );

    // Export round-trips: both layouts plan to no changes.
    for layout in ["kind", "tenant"] {
        let out = ctx.path(&format!("export-{layout}"));
        let r = ctx
            .tenantctl(["export", "--layout", layout, "--out", &out])
            .await;
        assert_eq!(r.code, 0, "export: {}", r.stderr);
        let r = ctx.tenantctl(["plan", "--detailed-exitcode", &out]).await;
        assert_no_changes(&r, &format!("{name}: plan of the {layout} export"));
        assert!(!r.stdout.contains("Unmanaged"), "{}", r.stdout);
    }
    ctx.shutdown().await;
}

/// Creates a resource outside tenantctl (`managed: false`) through the API.
async fn put_unmanaged(ctx: &Ctx, path: &str, spec: serde_json::Value) {
    let a = ctx
        .server()
        .call(
            reqwest::Method::PUT,
            path,
            Some(ctx.token()),
            Some(&json!({ "spec": spec, "managed": false })),
            &[("if-match", "\"0\"")],
        )
        .await;
    assert!(a.status.is_success(), "unmanaged {path}: {}", a.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_imagegen() {
    example_lifecycle("imagegen").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_registers() {
    example_lifecycle("registers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_geodata() {
    example_lifecycle("geodata").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_workspaces() {
    example_lifecycle("workspaces").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_resource_by_resource() {
    for name in ["imagegen", "workspaces", "registers"] {
        lifecycle(Ctx::sqlite().await, name, Some("3")).await;
    }
}

/// The same lifecycle on PostgreSQL: the same plans, byte for byte (same snapshots).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_on_postgres() {
    for name in ["registers", "geodata"] {
        let Some(ctx) = Ctx::postgres().await else {
            return;
        };
        lifecycle(ctx, name, None).await;
    }
    let Some(ctx) = Ctx::postgres().await else {
        return;
    };
    lifecycle(ctx, "imagegen", Some("3")).await;
}

#[test]
fn every_example_is_tested() {
    let mut found: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.path().is_dir()
                && !["github", "invalid", "warnings"]
                    .contains(&e.file_name().to_string_lossy().as_ref())
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut tested: Vec<String> = EXAMPLES.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(found, tested);
}

/// Two plans saved from the same revision: the first applies, the second is refused as
/// stale and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_saved_plan_is_refused() {
    let ctx = Ctx::sqlite().await;
    let base = load_example("workspaces");
    let v1 = ctx.write_config("v1", &base);
    let r = ctx.tenantctl(["apply", "--auto-approve", &v1]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut a = base.clone();
    let t = a.tenants.keys().next().cloned().expect("tenant");
    a.tenants.get_mut(&t).expect("t").display_name = Some("Renamed by plan A".into());
    let mut b = base.clone();
    b.tenants.get_mut(&t).expect("t").description = Some("Described by plan B".into());
    let va = ctx.write_config("a", &a);
    let vb = ctx.write_config("b", &b);
    let pa = ctx.path("a.plan");
    let pb = ctx.path("b.plan");
    let r = ctx.tenantctl(["plan", "--out", &pa, &va]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Saved the plan"), "{}", r.stderr);
    let r = ctx.tenantctl(["plan", "--out", &pb, &vb]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = ctx
        .tenantctl(["apply", "--auto-approve", "--plan", &pa])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let after_a = ctx.live().await;
    assert_eq!(
        after_a.tenants[&t].spec.display_name.as_deref(),
        Some("Renamed by plan A")
    );

    let r = ctx
        .tenantctl(["apply", "--auto-approve", "--plan", &pb])
        .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let stderr = r.stderr;
    ctx_snapshot!(ctx, "stale_plan_refused", stderr);
    assert_eq!(
        ctx.live().await,
        after_a,
        "the refused plan changed nothing"
    );
    ctx.shutdown().await;
}

/// `explain` on the imagegen example, live and on the desired state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_cases() {
    let ctx = Ctx::sqlite().await;
    let ex = example_path("imagegen");
    let r = ctx.tenantctl(["apply", "--auto-approve", &ex]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cases: &[(&str, &[&str], bool)] = &[
        (
            "allow_by_tenant_grant",
            &[
                "marc.bouchard@chaussuresboreal.ca",
                "--model",
                "chaussure-boreal-v1",
            ],
            true,
        ),
        (
            "deny_by_admin_only",
            &[
                "yuki.tanaka@maisonlumiere.ca",
                "--model",
                "parfum-lumiere-v1",
            ],
            false,
        ),
        (
            "direct_allow_overrides_missing_tenant_grant",
            &[
                "camille.roy@maisonlumiere.ca",
                "--model",
                "portrait-studio-v1",
            ],
            true,
        ),
        (
            "direct_deny_overrides_tenant_grant",
            &[
                "olivier.lavoie@chaussuresboreal.ca",
                "--model",
                "chaussure-boreal-v1",
            ],
            false,
        ),
        (
            // A platform administrator without any membership (document 000's Super Admin).
            "super_admin_without_membership",
            &[
                "mathieu.fortin@imagineoai.com",
                "--model",
                "portrait-studio-v1",
            ],
            true,
        ),
        (
            "not_a_member_of_tenant",
            &[
                "marc.bouchard@chaussuresboreal.ca",
                "--model",
                "portrait-studio-v1",
                "--tenant",
                "atelier-erable",
            ],
            false,
        ),
    ];
    for (name, args, allowed) in cases {
        let mut live_args = vec!["explain", "user"];
        live_args.extend_from_slice(args);
        let r = ctx.tenantctl(live_args.clone()).await;
        assert_eq!(
            r.code,
            i32::from(!*allowed),
            "{name}: exit 0 allowed, 1 denied: {}",
            r.stderr
        );
        assert_eq!(
            r.stdout.contains("\nALLOWED:"),
            *allowed,
            "{name}: {}",
            r.stdout
        );
        ctx_snapshot!(ctx, format!("explain_{name}"), r.stdout);
        // The same decision on the desired state.
        let mut desired_args = live_args;
        desired_args.extend_from_slice(&["--path", &ex]);
        let d = ctx.tenantctl(desired_args).nowhere().await;
        assert_eq!(d.stdout, r.stdout, "{name}: desired and live agree");
    }
    ctx.shutdown().await;
}

/// `users export --csv` writes the platform's CSV, one row per membership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_export_csv() {
    let ctx = Ctx::sqlite().await;
    let r = ctx
        .tenantctl(["apply", "--auto-approve", &example_path("workspaces")])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ctx.tenantctl(["users", "export", "--csv"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = ctx.live().await;
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines.len() > 1, "{}", r.stdout);
    let memberships = state.memberships.len();
    let users_without = state
        .users
        .keys()
        .filter(|u| {
            !state
                .memberships
                .keys()
                .any(|m| m.starts_with(&format!("{u}/")))
        })
        .count();
    assert!(
        lines.len() > memberships,
        "{} rows for {memberships} memberships ({users_without} users without one)",
        lines.len() - 1
    );
    for m in state.memberships.keys() {
        let (u, _) = m.split_once('/').expect("key");
        assert!(r.stdout.contains(u), "{u} in the CSV");
    }
    ctx.shutdown().await;
}

/// A counts-by-kind summary of a state.
fn counts(s: &State) -> BTreeMap<Kind, usize> {
    Kind::ALL.iter().map(|k| (*k, s.count(*k))).collect()
}

/// The platform is killed (SIGKILL) in the middle of a resource-by-resource apply, restarted
/// over the same database, and apply is run again: converged, nothing lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_apply_then_apply_again_converges() {
    // The platform is a `tenantctl serve` process of the test's own, to be killed.
    let ctx = Ctx::without_server();
    let db = format!("sqlite://{}", ctx.path("platform.db"));
    let (mut child, url, token) = serve(&db).await;
    let token = token.expect("bootstrap token on a new database");
    let ex = example_path("imagegen");

    // Apply slowly (2 requests in flight, 15 per second) in the background.
    let apply = tokio::spawn(
        ctx.tenantctl([
            "apply",
            "--max-rps",
            "15",
            "--lock-ttl",
            "5",
            "--auto-approve",
            "--parallelism",
            "2",
            &ex,
        ])
        .endpoint(&url)
        .token(&token)
        .into_future(),
    );
    // Kill the platform once some writes landed.
    let http = reqwest::Client::new();
    let mut seen = 0;
    for _ in 0..400 {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        if let Ok(r) = http
            .get(format!("{url}/api/v1/state"))
            .bearer_auth(&token)
            .send()
            .await
        {
            if let Ok(s) = r.json::<State>().await {
                seen = s.revision;
                if seen >= 8 {
                    break;
                }
            }
        }
    }
    assert!(
        seen >= 8,
        "the apply made progress before the kill (revision {seen})"
    );
    child.kill().expect("kill -9");
    let _ = child.wait();
    let first = apply.await.expect("join");
    assert_eq!(
        first.code, 1,
        "the interrupted apply fails\n{}\n{}",
        first.stdout, first.stderr
    );
    assert!(
        first.stderr.contains("run `tenantctl apply` again")
            || first.stderr.contains("cannot reach"),
        "{}",
        first.stderr
    );

    // Restart over the same database and apply again.
    let (mut child, url, again) = serve(&db).await;
    assert!(
        again.is_none(),
        "an existing database mints no new bootstrap token"
    );
    let mid: State = http
        .get(format!("{url}/api/v1/state"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert!(
        !mid.is_empty() && mid.len() < 42,
        "partial state after the kill: {} resources",
        mid.len()
    );
    // The killed apply could not release the apply lock: it holds until its lease ends
    // (5 s here), then the next apply goes through.
    let lock = || async {
        http.get(format!("{url}/api/v1/apply-lock"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("lock")
            .json::<serde_json::Value>()
            .await
            .expect("json")
    };
    let held = lock().await;
    if !held["lock"].is_null() {
        let r = ctx
            .tenantctl(["apply", "--auto-approve", &ex])
            .endpoint(&url)
            .token(&token)
            .await;
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("apply lock is held by"), "{}", r.stderr);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !lock().await["lock"].is_null() {
            assert!(
                std::time::Instant::now() < deadline,
                "the lease never ended"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let r = ctx
        .tenantctl(["apply", "--auto-approve", "--parallelism", "4", &ex])
        .endpoint(&url)
        .token(&token)
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = ctx
        .tenantctl(["plan", "--detailed-exitcode", &ex])
        .endpoint(&url)
        .token(&token)
        .await;
    assert_no_changes(&r, "converged after the restart");
    let end: State = http
        .get(format!("{url}/api/v1/state"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    // Nothing lost or duplicated: exactly the desired resources, all managed.
    let checked = tenantctl::validate::check_paths(&[PathBuf::from(&ex)]);
    let desired = checked.desired.expect("example valid").state;
    assert_eq!(counts(&end), counts(&desired));
    for kind in Kind::ALL {
        let a: Vec<&str> = end.keys(*kind).collect();
        let b: Vec<&str> = desired.keys(*kind).collect();
        assert_eq!(a, b, "{kind}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `tenantctl serve` on a free port; returns the child, its URL and the bootstrap
/// token if it printed one.
async fn serve(database: &str) -> (std::process::Child, String, Option<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let bin = assert_cmd::cargo::cargo_bin("tenantctl");
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send((true, line));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx2.send((false, line));
        }
    });
    let mut token = None;
    let url = tokio::task::spawn_blocking(move || {
        loop {
            let (out, line) = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("serve prints its address");
            if out {
                if let Some(t) = line.strip_prefix("bootstrap token: ") {
                    token = Some(t.trim().to_string());
                }
            } else if let Some(rest) = line.split(" on http://").nth(1) {
                let addr = rest.split_whitespace().next().expect("addr");
                // The token goes to stdout first; the pipes are read by two threads, so
                // give the stdout line a moment to arrive.
                while token.is_none() {
                    match rx.recv_timeout(std::time::Duration::from_millis(500)) {
                        Ok((true, l)) => {
                            token = l
                                .strip_prefix("bootstrap token: ")
                                .map(|t| t.trim().to_string())
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                return (format!("http://{addr}"), token, rx);
            }
        }
    })
    .await
    .expect("join");
    let (url, token, rx) = url;
    // Keep draining the pipes so the server never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    (child, url, token)
}

/// Rule 6 through the real platform: a token acting as a user cannot demote that user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applying_identity_cannot_demote_itself() {
    let ctx = Ctx::sqlite().await;
    let mut doc = load_example("workspaces");
    let v1 = ctx.write_config("v1", &doc);
    assert_eq!(
        ctx.tenantctl(["apply", "--auto-approve", &v1]).await.code,
        0
    );
    let me = "claire.dubois@voyages-azur.fr";
    // A system token acts as a user only while that user is a super admin.
    doc.users.get_mut(me).expect("claire").system_role = Some(SystemRole::SuperAdmin);
    let v1 = ctx.write_config("v1-admin", &doc);
    assert_eq!(
        ctx.tenantctl(["apply", "--auto-approve", &v1]).await.code,
        0
    );
    let as_claire = ctx.server().token("system", None, Some(me)).await;
    doc.users
        .get_mut(me)
        .expect("claire")
        .memberships
        .get_mut("voyages-azur")
        .expect("m")
        .role = "member".into();
    let v2 = ctx.write_config("v2", &doc);
    let r = ctx.tenantctl(["plan", &v2]).token(&as_claire).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("cannot demote itself from `org_admin` to `member` (rule 6)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("apply would refuse this plan"),
        "{}",
        r.stderr
    );
    let before = ctx.live().await;
    let r = ctx
        .tenantctl(["apply", "--auto-approve", &v2])
        .token(&as_claire)
        .await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("self_lockout"), "{}", r.stderr);
    assert_eq!(ctx.live().await, before);
    // Another identity may do it.
    let r = ctx.tenantctl(["plan", "--detailed-exitcode", &v2]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    ctx.shutdown().await;
}

/// Rule 6 with one ranking of roles for the plan and the platform: a `billing_admin` that
/// demotes itself to `member` is a `self_lockout` risk in the plan (as the platform refuses
/// it), and apply refuses before any write, with the tenant token of that billing admin and
/// with a system token acting as it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_admin_cannot_demote_itself() {
    let ctx = Ctx::sqlite().await;
    let s = ctx.server();
    let mut doc = load_example("workspaces");
    let me = "olivier.marchand@fiduciaire-marchand.fr";
    // A system token acts as a user only while that user is a super admin.
    doc.users.get_mut(me).expect("olivier").system_role = Some(SystemRole::SuperAdmin);
    let v1 = ctx.write_config("v1", &doc);
    let r = ctx.tenantctl(["apply", "--auto-approve", &v1]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    doc.users
        .get_mut(me)
        .expect("olivier")
        .memberships
        .get_mut("voyages-azur")
        .expect("m")
        .role = "member".into();
    let v2 = ctx.write_config("v2", &doc);
    let before = ctx.live().await;
    let as_tenant_billing_admin = s
        .token("tenant:voyages-azur", Some("billing_admin"), Some(me))
        .await;
    let as_system = s.token("system", None, Some(me)).await;
    for (who, as_me) in [
        ("tenant token", &as_tenant_billing_admin),
        ("system token", &as_system),
    ] {
        let r = ctx.tenantctl(["plan", &v2]).token(as_me).await;
        assert_eq!(r.code, 1, "{who}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!(
                "the identity running the apply (`{me}`) cannot demote itself from `billing_admin` to `member` (rule 6)"
            )),
            "{who}: {}",
            r.stdout
        );
        let r = ctx
            .tenantctl(["apply", "--auto-approve", &v2])
            .token(as_me)
            .await;
        assert_eq!(r.code, 1, "{who}: {}", r.stderr);
        assert!(r.stderr.contains("self_lockout"), "{who}: {}", r.stderr);
        assert_eq!(ctx.live().await, before, "{who}: nothing written");
    }
    // The platform refuses the same change for the same reason.
    let a = s
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/users/{me}/memberships/voyages-azur"),
            Some(&as_system),
            Some(&json!({ "spec": { "role": "member" } })),
            &[],
        )
        .await;
    assert_eq!(
        a.status,
        reqwest::StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        a.text
    );
    assert_eq!(
        a.body["details"]["violations"][0]["code"], "self_demotion",
        "{}",
        a.text
    );
    assert_eq!(ctx.live().await, before);
    // Another identity may do it.
    let r = ctx.tenantctl(["plan", "--detailed-exitcode", &v2]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    ctx.shutdown().await;
}

/// `--target` limits the plan to a resource, what it depends on and its children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_limit_the_plan() {
    let ctx = Ctx::sqlite().await;
    let ex = example_path("workspaces");
    let r = ctx
        .tenantctl([
            "plan",
            "--format",
            "json",
            "--target",
            "tenant/kobayashi-ramen",
            &ex,
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let mut got: Vec<String> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["kind"].as_str().unwrap_or(""),
                c["key"].as_str().unwrap_or("")
            )
        })
        .collect();
    got.sort();
    assert!(
        got.contains(&"tenant kobayashi-ramen".to_string())
            && got.contains(&"plan starter".to_string()),
        "{got:?}"
    );
    assert!(got.iter().all(|c| !c.contains("voyages-azur")), "{got:?}");
    assert!(
        got.iter()
            .any(|c| c.starts_with("workspace kobayashi-ramen/")),
        "{got:?}"
    );
    // A targeted plan says it is partial in every format.
    assert_eq!(plan["partial"], true);
    assert_eq!(
        plan["targets"],
        serde_json::json!(["tenant/kobayashi-ramen"])
    );
    let mut transcript = String::new();
    for format in ["human", "markdown"] {
        let r = ctx
            .tenantctl([
                "plan",
                "--format",
                format,
                "--target",
                "tenant/kobayashi-ramen",
                &ex,
            ])
            .await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let line = r
            .stdout
            .lines()
            .find(|l| l.contains("Partial plan"))
            .unwrap_or_else(|| panic!("no partial label in {format}: {}", r.stdout));
        transcript.push_str(&format!("{format}: {line}\n"));
    }
    let untargeted = ctx.tenantctl(["plan", "--format", "json", &ex]).await;
    let whole: serde_json::Value = serde_json::from_str(&untargeted.stdout).expect("json");
    assert!(whole.get("partial").is_none(), "{whole}");
    assert!(!untargeted.stdout.contains("Partial plan"));
    // Typos get a did-you-mean, for the kind and for the key.
    for target in ["tenat/acme", "tenant/kobayashi-ramne", "tenant/zzz"] {
        let r = ctx.tenantctl(["plan", "--target", target, &ex]).await;
        assert_eq!(r.code, 1, "{}", r.stderr);
        transcript.push_str(&format!("$ tenantctl plan --target {target}\n{}", r.stderr));
    }
    crate::ctx_snapshot!(ctx, "targets_partial_and_did_you_mean", transcript);
    let r = ctx
        .tenantctl([
            "apply",
            "--auto-approve",
            "--target",
            "tenant/kobayashi-ramen",
            &ex,
        ])
        .await;
    // The tenant alone has no org_admin: memberships are children of users too, and come
    // with the tenant target.
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let st = ctx.live().await;
    assert!(st.tenants.contains_key("kobayashi-ramen") && !st.tenants.contains_key("voyages-azur"));
    let r = ctx.tenantctl(["plan", "--target", "nope/x", &ex]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`nope` is not a kind"), "{}", r.stderr);
    let r = ctx
        .tenantctl(["plan", "--target", "tenant/ghost", &ex])
        .await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("matches nothing"), "{}", r.stderr);
    ctx.shutdown().await;
}

/// Without a terminal, apply needs --auto-approve; the plan is not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_terminal_needs_auto_approve() {
    let ctx = Ctx::sqlite().await;
    let r = ctx.tenantctl(["apply", &example_path("workspaces")]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no terminal to ask for confirmation on")
            && r.stderr.contains("--auto-approve"),
        "{}",
        r.stderr
    );
    assert!(ctx.live().await.is_empty());
    ctx.shutdown().await;
}

/// With no endpoint, commands run on the embedded local platform in `.tenantctl/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_local_platform_is_the_default() {
    let ctx = Ctx::without_server();
    let ex = example_path("imagegen");
    let r = ctx
        .tenantctl(["apply", "--auto-approve", &ex])
        .embedded()
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("using the embedded local platform (.tenantctl/local.db)"),
        "{}",
        r.stderr
    );
    assert!(ctx.dir().join(".tenantctl/local.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ctx.dir().join(".tenantctl/local.token"))
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let r = ctx
        .tenantctl(["plan", "--detailed-exitcode", &ex])
        .embedded()
        .await;
    assert_no_changes(&r, "a re-plan on the embedded platform");
}

/// Colour on request (a terminal, or CLICOLOR_FORCE), plain under NO_COLOR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_only_when_asked() {
    let ctx = Ctx::sqlite().await;
    let ex = example_path("workspaces");
    let plain = ctx
        .tenantctl(["plan", &ex])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .await;
    let forced = ctx
        .tenantctl(["plan", &ex])
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .await;
    assert!(!plain.stdout.contains('\u{1b}'), "piped output is plain");
    assert!(forced.stdout.contains("\u{1b}[32m"), "forced colour");
    ctx.shutdown().await;
}

/// A live resource made outside tenantctl that the YAML mentions, unchanged, is adopted:
/// the plan shows `managed: false → true`, apply marks it managed, the re-plan is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentioned_unmanaged_resources_are_adopted() {
    let ctx = Ctx::sqlite().await;
    let doc = load_example("workspaces");
    let (email, user) = doc.users.iter().next().expect("a user");
    let spec = json!({ "first_name": user.first_name, "last_name": user.last_name, "language": user.language, "date_format": user.date_format });
    put_unmanaged(&ctx, &format!("/api/v1/users/{email}"), spec).await;
    assert!(!ctx.live().await.users[email].managed);
    let v1 = ctx.write_config("v1", &doc);
    let r = ctx.tenantctl(["plan", "--format", "json", &v1]).await;
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let adopt = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["key"] == email.as_str())
        .expect("the user is in the plan");
    assert_eq!(adopt["action"], "update");
    assert_eq!(
        adopt["fields"],
        json!([{ "path": "managed", "before": false, "after": true }])
    );
    let r = ctx.tenantctl(["apply", "--auto-approve", &v1]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(ctx.live().await.users[email].managed);
    assert_no_changes(
        &ctx.tenantctl(["plan", "--detailed-exitcode", &v1]).await,
        "after adoption",
    );
    ctx.shutdown().await;
}

/// Every write of an apply carries the apply's change-set id and the CI commit, recorded in
/// the platform's audit log; in batch and in resource-by-resource mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_carry_the_change_set_and_the_commit() {
    let ctx = Ctx::sqlite().await;
    let mut doc = load_example("workspaces");
    let v1 = ctx.write_config("v1", &doc);
    let r = ctx
        .tenantctl(["apply", "--auto-approve", &v1])
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = doc.tenants.keys().next().cloned().expect("tenant");
    doc.tenants.get_mut(&t).expect("t").display_name = Some("Changed in resource mode".into());
    let v2 = ctx.write_config("v2", &doc);
    let r = ctx
        .tenantctl(["apply", "--auto-approve", "--parallelism", "2", &v2])
        .env("CI_COMMIT_SHA", "feedface")
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let audit = ctx.server().get("/api/v1/audit?limit=1000").await;
    assert!(audit.status.is_success(), "{}", audit.text);
    let items = audit.body["items"].as_array().expect("items");
    let first: Vec<&serde_json::Value> = items.iter().filter(|e| e["revision"] == 1).collect();
    let second: Vec<&serde_json::Value> = items
        .iter()
        .filter(|e| e["revision"].as_i64().is_some_and(|r| r > 1))
        .collect();
    assert!(
        first.len() > 10 && !second.is_empty(),
        "{} then {} entries",
        first.len(),
        second.len()
    );
    let sets: std::collections::BTreeSet<&str> = first
        .iter()
        .map(|e| e["change_set"].as_str().expect("a change set"))
        .collect();
    assert_eq!(
        sets.len(),
        1,
        "one change set for the whole apply: {sets:?}"
    );
    let set = sets.into_iter().next().expect("set");
    assert!(uuid::Uuid::parse_str(set).is_ok(), "{set}");
    assert!(first
        .iter()
        .all(|e| e["commit"] == "0123456789abcdef0123456789abcdef01234567"));
    assert!(second
        .iter()
        .all(|e| e["commit"] == "feedface" && e["change_set"].as_str().is_some_and(|c| c != set)));
    ctx.shutdown().await;
}

/// `explain` of workspace grants and catalog permissions, on the desired state of examples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_workspace_grants_and_permissions() {
    let ctx = Ctx::without_server();
    let registers = examples_dir().join("registers");
    let geodata = examples_dir().join("geodata");
    let imagegen = examples_dir().join("imagegen");
    let cases: &[(&str, &Path, &[&str], bool)] = &[
        (
            "grant_to_user",
            &registers,
            &[
                "lucie.bernard@cabinet-morel.fr",
                "--permission",
                "update",
                "--workspace",
                "boulangerie-martin",
            ],
            true,
        ),
        (
            // Antoine is not given pharmacie-des-halles; the whole tenant may read it.
            "grant_to_whole_tenant",
            &registers,
            &[
                "antoine.rousseau@cabinet-morel.fr",
                "--permission",
                "read",
                "--workspace",
                "pharmacie-des-halles",
            ],
            true,
        ),
        (
            // Grants add to the role: members read garage-dupuis though Lucie is not given it.
            "grant_to_role",
            &registers,
            &[
                "lucie.bernard@cabinet-morel.fr",
                "--permission",
                "read",
                "--workspace",
                "garage-dupuis",
                "--tenant",
                "cabinet-morel",
            ],
            true,
        ),
        (
            "workspace_not_seen",
            &registers,
            &[
                "lucie.bernard@cabinet-morel.fr",
                "--permission",
                "update",
                "--workspace",
                "garage-dupuis",
            ],
            false,
        ),
        (
            "action_not_granted",
            &registers,
            &[
                "lucie.bernard@cabinet-morel.fr",
                "--permission",
                "delete",
                "--workspace",
                "pharmacie-des-halles",
            ],
            false,
        ),
        (
            "custom_role_permission",
            &geodata,
            &[
                "ines.garnier@carrieres-du-rhone.fr",
                "--permission",
                "analytics.request",
            ],
            true,
        ),
        (
            "custom_role_lacks_permission",
            &geodata,
            &[
                "ines.garnier@carrieres-du-rhone.fr",
                "--permission",
                "users.remove",
            ],
            false,
        ),
        (
            "blocked_user",
            &imagegen,
            &[
                "kevin.ouellet@chaussuresboreal.ca",
                "--model",
                "chaussure-boreal-v1",
            ],
            false,
        ),
    ];
    for (name, path, args, allowed) in cases {
        let mut all = vec!["explain", "user"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--path", path.to_str().expect("p")]);
        let r = ctx.tenantctl(all).nowhere().await;
        assert_eq!(
            r.code,
            i32::from(!*allowed),
            "{name}: exit 0 allowed, 1 denied: {}",
            r.stderr
        );
        assert_eq!(
            r.stdout.contains("\nALLOWED:"),
            *allowed,
            "{name}: {}",
            r.stdout
        );
        let stdout = r.stdout;
        ctx_snapshot!(ctx, format!("explain_{name}"), stdout);
    }
}

/// A workspace renamed in its tenant (an update that carries its grants), and one moved to
/// another tenant (a replace, reason `tenant`), in batch and resource-by-resource mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_rename_and_move_between_tenants() {
    for parallelism in [None, Some("2")] {
        let ctx = Ctx::sqlite().await;
        let doc = load_example("registers");
        let v1 = ctx.write_config("v1", &doc);
        assert_eq!(
            ctx.tenantctl(["apply", "--auto-approve", &v1]).await.code,
            0
        );

        let mut d = doc.clone();
        // Rename cabinet-morel/garage-dupuis to garage-dupuis-auto.
        let morel = d.tenants.get_mut("cabinet-morel").expect("morel");
        let mut w = morel.workspaces.remove("garage-dupuis").expect("garage");
        w.previously = Some("garage-dupuis".into());
        morel.workspaces.insert("garage-dupuis-auto".into(), w);
        for g in &mut morel.grants {
            if g.workspace == "garage-dupuis" {
                g.workspace = "garage-dupuis-auto".into();
            }
        }
        for u in d.users.values_mut() {
            if let Some(m) = u.memberships.get_mut("cabinet-morel") {
                for x in &mut m.workspaces {
                    if x == "garage-dupuis" {
                        *x = "garage-dupuis-auto".into();
                    }
                }
            }
        }
        // Move groupe-vernier/vernier-services to cabinet-morel.
        let vernier = d.tenants.get_mut("groupe-vernier").expect("vernier");
        let mut moved = vernier
            .workspaces
            .remove("vernier-services")
            .expect("services");
        vernier.grants.retain(|g| g.workspace != "vernier-services");
        for u in d.users.values_mut() {
            if let Some(m) = u.memberships.get_mut("groupe-vernier") {
                m.workspaces.retain(|x| x != "vernier-services");
            }
        }
        moved.previously = Some("groupe-vernier/vernier-services".into());
        d.tenants
            .get_mut("cabinet-morel")
            .expect("morel")
            .workspaces
            .insert("vernier-services".into(), moved);
        let v2 = ctx.write_config("v2", &d);

        let r = ctx
            .tenantctl([
                "plan",
                "--format",
                "json",
                "--max-delete-percent",
                "100",
                &v2,
            ])
            .await;
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        let changes = plan["changes"].as_array().expect("changes");
        let rename = changes
            .iter()
            .find(|c| c["key"] == "cabinet-morel/garage-dupuis-auto")
            .expect("rename");
        assert_eq!(
            (rename["action"].as_str(), rename["kind"].as_str()),
            (Some("update"), Some("workspace"))
        );
        let mv = changes
            .iter()
            .find(|c| c["key"] == "cabinet-morel/vernier-services")
            .expect("move");
        assert_eq!(
            (mv["action"].as_str(), mv["reason"].as_str()),
            (Some("replace"), Some("tenant"))
        );

        let mut args = vec!["apply", "--auto-approve", "--max-delete-percent", "100"];
        if let Some(n) = parallelism {
            args.extend_from_slice(&["--parallelism", n]);
        }
        args.push(&v2);
        let r = ctx.tenantctl(args).await;
        assert_eq!(r.code, 0, "{parallelism:?}\n{}\n{}", r.stdout, r.stderr);
        assert_no_changes(
            &ctx.tenantctl(["plan", "--detailed-exitcode", &v2]).await,
            "after the workspace rename and move",
        );
        let st = ctx.live().await;
        assert!(
            st.workspaces
                .contains_key("cabinet-morel/garage-dupuis-auto")
                && !st.workspaces.contains_key("cabinet-morel/garage-dupuis")
        );
        assert!(
            st.grants
                .contains_key("cabinet-morel/garage-dupuis-auto/role:member"),
            "the grants moved with the workspace"
        );
        assert!(
            st.workspaces.contains_key("cabinet-morel/vernier-services")
                && !st
                    .workspaces
                    .contains_key("groupe-vernier/vernier-services")
        );
        ctx.shutdown().await;
    }
}

/// The configuration of the large change: 50 tenants of 60 members (two `org_admin`s each),
/// users `u{n}@tenant-{t}.example`.
fn large_platform(users: std::ops::Range<usize>, admins_of: impl Fn(usize) -> bool) -> Document {
    let mut doc = Document::default();
    doc.plans.insert("standard".into(), Default::default());
    for t in 0..50 {
        doc.tenants.insert(
            format!("tenant-{t:02}"),
            tenantctl::config::TenantDecl {
                plan: "standard".into(),
                display_name: Some(format!("Tenant {t}")),
                ..Default::default()
            },
        );
    }
    for n in users {
        let t = n % 50;
        let mut user = tenantctl::config::UserDecl {
            first_name: Some(format!("User {n}")),
            ..Default::default()
        };
        let role = if n < 100 {
            "org_admin"
        } else if admins_of(n) {
            "user_admin"
        } else {
            "member"
        };
        user.memberships.insert(
            format!("tenant-{t:02}"),
            MembershipSpec {
                role: role.into(),
                workspaces: vec![],
            },
        );
        doc.users
            .insert(format!("u{n}@tenant-{t:02}.example"), user);
    }
    doc
}

/// A 2,806-change plan (1,000 users deleted with their memberships, acknowledged; 286 role
/// changes; 260 new users with their memberships) as pull-request comments: each under 65,000 characters, the first
/// with the summary and the risk, all of them together with every change's key; and the saved
/// plan applies with no flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_plan_is_split_into_comments_that_hold_every_change() {
    let ctx = Ctx::sqlite().await;
    let v1 = ctx.write_config("v1", &large_platform(0..3000, |_| false));
    let r = ctx.tenantctl(["apply", "--auto-approve", &v1]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // v2: users 2000..3000 leave, 286 members become user admins, 260 users arrive.
    let mut v2 = large_platform(0..2000, |n| (1000..1286).contains(&n));
    v2.users.extend(large_platform(3000..3260, |_| false).users);
    v2.acknowledge.push(tenantctl::config::AcknowledgeDecl {
        code: tenantctl::config::acknowledge::AckCode::TooManyDeletes,
        kind: Kind::User,
        key: None,
        reason: Some("the 2025 cohort leaves".into()),
    });
    // Their memberships go with them: a third of the live memberships.
    v2.acknowledge.push(tenantctl::config::AcknowledgeDecl {
        code: tenantctl::config::acknowledge::AckCode::TooManyDeletes,
        kind: Kind::Membership,
        key: None,
        reason: None,
    });
    let v2 = ctx.write_config("v2", &v2);
    let comments = ctx.dir().join("comments");
    let plan_file = ctx.path("large.plan");
    let r = ctx
        .tenantctl([
            "plan",
            &v2,
            "--out",
            &plan_file,
            "--comment-dir",
            comments.to_str().expect("path"),
            "--format",
            "json",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("json plan");
    assert_eq!(
        json["summary"],
        serde_json::json!({ "create": 520, "update": 286, "replace": 0, "delete": 2000 })
    );
    let keys: Vec<&str> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys.len(), 2806);
    let mut parts = Vec::new();
    for n in 1.. {
        let Ok(text) = std::fs::read_to_string(comments.join(format!("plan-{n}.md"))) else {
            break;
        };
        parts.push(text);
    }
    let sizes: Vec<usize> = parts.iter().map(|p| p.chars().count()).collect();
    eprintln!("comment files: {sizes:?} characters");
    assert!(parts.len() > 1, "{sizes:?}");
    assert!(sizes.iter().all(|n| *n < 65_000), "{sizes:?}");
    let first = &parts[0];
    assert!(first.contains("**Plan: 520 to create, 286 to update, 0 to replace, 2000 to delete.**"));
    assert!(
        first.contains("| user | 260 | 0 | 0 | 1,000 |"),
        "{}",
        &first[..600]
    );
    assert!(first.contains("Acknowledged risks: applied as planned"));
    assert!(first.contains("`too_many_deletes` user *: the plan deletes 1000 of 3000 live users"));
    assert!(first.contains("acknowledged in the configuration: “the 2025 cohort leaves”"));
    let all = parts.concat();
    let missing: Vec<&&str> = keys.iter().filter(|k| !all.contains(**k)).collect();
    assert!(
        missing.is_empty(),
        "{} keys in no comment: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // The 286 identical role changes are one entry of the first comment, with their keys.
    assert!(
        first.contains(
            "! 286 memberships, each (keys under “Repeated updates”):\n!     role: \"member\" → \"user_admin\"\n"
        ),
        "{}",
        &first[..3000]
    );
    // Role changes are shown in full before the condensed deletes.
    assert!(
        all.find("!     role: \"member\" → \"user_admin\"")
            < all.find("#### Bulk creates and deletes")
    );
    assert!(all.contains("| − | user | 1,000 | no longer in the configuration |"));
    // `show` prints the same plan; the saved plan applies with no flag.
    let shown = ctx
        .tenantctl(["show", &plan_file, "--format", "json"])
        .await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(shown.stdout, r.stdout);
    let r = ctx
        .tenantctl(["apply", "--plan", &plan_file, "--auto-approve"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(ctx.live().await.users.len(), 2260);
    ctx.shutdown().await;
}
