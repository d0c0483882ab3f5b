//! End-to-end tests of the reconciler: the real `tenantctl` binary (assert_cmd) against the
//! real platform server on a loopback port over a real SQLite file. Per example: apply from
//! empty, re-plan, a set of edits (rename, role change, e-mail replace, workspace and user
//! deletes, a limit below usage, a protected tenant left out), the plan in three formats
//! (snapshots), apply, converged; then an unmanaged user left alone and pruned. Also: export
//! round-trips, stale saved plans, explain, users CSV, and a server killed mid-apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::TestServer;
use assert_cmd::Command;
use serde_json::json;
use tenantctl::config::Document;
use tenantctl::model::{Kind, MembershipSpec, State};

const EXAMPLES: &[&str] = &["imagegen", "registers", "geodata", "workspaces"];

/// The outcome of one run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `tenantctl ARGS` against `server` with its system token, in `dir`, without colour.
async fn tenantctl(server_url: &str, token: &str, dir: &Path, args: &[&str]) -> Run {
    tenantctl_env(server_url, token, dir, args, &[]).await
}

/// [`tenantctl`] with extra environment variables.
async fn tenantctl_env(
    server_url: &str,
    token: &str,
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Run {
    let (url, token, dir) = (server_url.to_string(), token.to_string(), dir.to_path_buf());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::cargo_bin("tenantctl")
            .expect("binary built")
            .args(&args)
            .current_dir(&dir)
            .env("TENANTCTL_ENDPOINT", &url)
            .env("TENANTCTL_TOKEN", &token)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_SHA")
            .env_remove("CI_COMMIT_SHA")
            .env_remove("TENANTCTL_MAX_RPS")
            .envs(envs)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .expect("tenantctl runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    })
    .await
    .expect("join")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
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

fn write_doc(dir: &Path, doc: &Document) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join("config.yaml");
    std::fs::write(&path, serde_saphyr::to_string(doc).expect("yaml")).expect("write");
    path
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

async fn live(server: &TestServer) -> State {
    let a = server.get("/api/v1/state").await;
    assert!(a.status.is_success(), "state: {}", a.text);
    serde_json::from_value(a.body).expect("state parses")
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
    lifecycle(TestServer::sqlite().await, name, None).await;
}

/// The lifecycle of one example; with `parallelism`, the edits are applied resource by
/// resource (without the lowered limit: single-resource writes cannot accept it) and the
/// plans are not snapshotted again.
async fn lifecycle(s: TestServer, name: &str, parallelism: Option<&str>) {
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mut initial = load_example(name);
    protected_tenant(&mut initial);
    let v1 = write_doc(&dir.join("v1"), &initial);
    let v1 = v1.to_str().expect("path");

    // Apply from empty, then a re-plan shows no changes.
    let r = tenantctl(&url, &token, dir, &["apply", "--auto-approve", v1]).await;
    assert_eq!(
        r.code, 0,
        "first apply\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    let first = live(&s).await;
    assert!(first.len() > 10, "{name}: {} resources", first.len());
    let managed_all = Kind::ALL.iter().all(|k| {
        first
            .keys(*k)
            .all(|key| first.meta(*k, key).is_some_and(|m| m.managed))
    });
    assert!(managed_all, "everything applied is managed");
    assert_no_changes(
        &tenantctl(&url, &token, dir, &["plan", "--detailed-exitcode", v1]).await,
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
    let v2 = write_doc(&dir.join("v2"), &edited);
    let v2 = v2.to_str().expect("path");
    if let Some(n) = parallelism {
        let r = tenantctl(
            &url,
            &token,
            dir,
            &[
                "apply",
                "--auto-approve",
                "--max-delete-percent",
                "100",
                "--parallelism",
                n,
                v2,
            ],
        )
        .await;
        assert_eq!(
            r.code, 0,
            "resource-by-resource apply of the edits\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        assert_no_changes(
            &tenantctl(&url, &token, dir, &["plan", "--detailed-exitcode", v2]).await,
            "re-plan after the edits",
        );
        let state = live(&s).await;
        assert!(
            state.tenants.contains_key(&edits.renamed.1)
                && !state.tenants.contains_key(&edits.renamed.0)
        );
        assert!(
            state.users.contains_key(&edits.email.1) && !state.users.contains_key(&edits.email.0)
        );
        s.shutdown().await;
        return;
    }
    let human = tenantctl(&url, &token, dir, &["plan", v2]).await;
    let md = tenantctl(&url, &token, dir, &["plan", "--format", "markdown", v2]).await;
    let js = tenantctl(&url, &token, dir, &["plan", "--format", "json", v2]).await;
    insta::assert_snapshot!(
        format!("{name}_edits_human"),
        format!(
            "exit {}\n{}\n--- stderr\n{}",
            human.code, human.stdout, human.stderr
        )
    );
    insta::assert_snapshot!(format!("{name}_edits_markdown"), md.stdout);
    insta::assert_snapshot!(format!("{name}_edits_json"), js.stdout);
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
    let before = live(&s).await.revision;
    let r = tenantctl(
        &url,
        &token,
        dir,
        &["apply", "--auto-approve", "--max-delete-percent", "100", v2],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("limit_below_usage"), "{}", r.stderr);
    assert_eq!(live(&s).await.revision, before);

    // Apply, converged.
    let r = tenantctl(
        &url,
        &token,
        dir,
        &[
            "apply",
            "--auto-approve",
            "--max-delete-percent",
            "100",
            "--allow-limit-below-usage",
            v2,
        ],
    )
    .await;
    assert_eq!(
        r.code, 0,
        "apply of the edits\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    let after = tenantctl(&url, &token, dir, &["plan", "--detailed-exitcode", v2]).await;
    assert_no_changes(&after, "re-plan after the edits");
    let state = live(&s).await;
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
    let a = s
        .call(
            reqwest::Method::PUT,
            "/api/v1/users/zoe.outside@elsewhere.example",
            Some(&token),
            Some(&json!({ "spec": { "first_name": "Zoé" }, "managed": false })),
            &[("if-match", "\"0\"")],
        )
        .await;
    assert!(a.status.is_success(), "unmanaged user: {}", a.text);
    let r = tenantctl(&url, &token, dir, &["plan", "--detailed-exitcode", v2]).await;
    assert_no_changes(&r, "an unmanaged user is left alone");
    assert!(
        r.stdout.contains("Unmanaged, left alone: 1 user"),
        "{}",
        r.stdout
    );
    let r = tenantctl(
        &url,
        &token,
        dir,
        &["plan", "--prune", "--detailed-exitcode", v2],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    insta::assert_snapshot!(format!("{name}_prune_human"), r.stdout);
    let r = tenantctl(
        &url,
        &token,
        dir,
        &["apply", "--auto-approve", "--prune", v2],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!live(&s)
        .await
        .users
        .contains_key("zoe.outside@elsewhere.example"));
    assert_no_changes(
        &tenantctl(
            &url,
            &token,
            dir,
            &["plan", "--prune", "--detailed-exitcode", v2],
        )
        .await,
        "converged after prune",
    );

    // Export round-trips: both layouts plan to no changes.
    for layout in ["kind", "tenant"] {
        let out = dir.join(format!("export-{layout}"));
        let out = out.to_str().expect("path");
        let r = tenantctl(
            &url,
            &token,
            dir,
            &["export", "--layout", layout, "--out", out],
        )
        .await;
        assert_eq!(r.code, 0, "export: {}", r.stderr);
        let r = tenantctl(&url, &token, dir, &["plan", "--detailed-exitcode", out]).await;
        assert_no_changes(&r, &format!("{name}: plan of the {layout} export"));
        assert!(!r.stdout.contains("Unmanaged"), "{}", r.stdout);
    }
    s.shutdown().await;
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
        lifecycle(TestServer::sqlite().await, name, Some("3")).await;
    }
}

/// The same lifecycle on PostgreSQL: the same plans, byte for byte (same snapshots).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_on_postgres() {
    for name in ["registers", "geodata"] {
        let Some(s) = TestServer::postgres().await else {
            return;
        };
        lifecycle(s, name, None).await;
    }
    let Some(s) = TestServer::postgres().await else {
        return;
    };
    lifecycle(s, "imagegen", Some("3")).await;
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
    let s = TestServer::sqlite().await;
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let base = load_example("workspaces");
    let v1 = write_doc(&dir.join("v1"), &base);
    let r = tenantctl(
        &url,
        &token,
        dir,
        &["apply", "--auto-approve", v1.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut a = base.clone();
    let t = a.tenants.keys().next().cloned().expect("tenant");
    a.tenants.get_mut(&t).expect("t").display_name = Some("Renamed by plan A".into());
    let mut b = base.clone();
    b.tenants.get_mut(&t).expect("t").description = Some("Described by plan B".into());
    let va = write_doc(&dir.join("a"), &a);
    let vb = write_doc(&dir.join("b"), &b);
    let pa = dir.join("a.plan");
    let pb = dir.join("b.plan");
    let r = tenantctl(
        &url,
        &token,
        dir,
        &[
            "plan",
            "--out",
            pa.to_str().expect("p"),
            va.to_str().expect("p"),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Saved the plan"), "{}", r.stderr);
    let r = tenantctl(
        &url,
        &token,
        dir,
        &[
            "plan",
            "--out",
            pb.to_str().expect("p"),
            vb.to_str().expect("p"),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = tenantctl(
        &url,
        &token,
        dir,
        &["apply", "--auto-approve", "--plan", pa.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let after_a = live(&s).await;
    assert_eq!(
        after_a.tenants[&t].spec.display_name.as_deref(),
        Some("Renamed by plan A")
    );

    let r = tenantctl(
        &url,
        &token,
        dir,
        &["apply", "--auto-approve", "--plan", pb.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let stderr = r.stderr.replace(&url, "URL");
    insta::assert_snapshot!("stale_plan_refused", stderr);
    assert_eq!(live(&s).await, after_a, "the refused plan changed nothing");
    s.shutdown().await;
}

/// `explain` on the imagegen example, live and on the desired state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_cases() {
    let s = TestServer::sqlite().await;
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let ex = examples_dir().join("imagegen");
    let ex = ex.to_str().expect("p");
    let r = tenantctl(&url, &token, dir, &["apply", "--auto-approve", ex]).await;
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
            "not_a_member",
            &[
                "mathieu.fortin@imagineoai.com",
                "--model",
                "portrait-studio-v1",
            ],
            false,
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
        let r = tenantctl(&url, &token, dir, &live_args).await;
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert_eq!(
            r.stdout.contains("\nALLOWED:"),
            *allowed,
            "{name}: {}",
            r.stdout
        );
        insta::assert_snapshot!(format!("explain_{name}"), r.stdout);
        // The same decision on the desired state.
        let mut desired_args = live_args.clone();
        desired_args.extend_from_slice(&["--path", ex]);
        let d = tenantctl("http://127.0.0.1:9", "unused", dir, &desired_args).await;
        assert_eq!(d.stdout, r.stdout, "{name}: desired and live agree");
    }
    s.shutdown().await;
}

/// `users export --csv` writes the platform's CSV, one row per membership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_export_csv() {
    let s = TestServer::sqlite().await;
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let ex = examples_dir().join("workspaces");
    let r = tenantctl(
        &url,
        &token,
        tmp.path(),
        &["apply", "--auto-approve", ex.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = tenantctl(&url, &token, tmp.path(), &["users", "export", "--csv"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = live(&s).await;
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
    s.shutdown().await;
}

/// A counts-by-kind summary of a state.
fn counts(s: &State) -> BTreeMap<Kind, usize> {
    Kind::ALL.iter().map(|k| (*k, s.count(*k))).collect()
}

/// The platform is killed (SIGKILL) in the middle of a resource-by-resource apply, restarted
/// over the same database, and apply is run again: converged, nothing lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_apply_then_apply_again_converges() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("platform.db").display());
    let (mut child, url, token) = serve(&db, None).await;
    let token = token.expect("bootstrap token on a new database");
    let ex = examples_dir().join("imagegen");
    let ex = ex.to_str().expect("p").to_string();

    // Apply slowly (2 requests in flight, 15 per second) in the background.
    let apply = {
        let (url, token, dir, ex) = (url.clone(), token.clone(), dir.to_path_buf(), ex.clone());
        tokio::spawn(async move {
            tenantctl(
                &url,
                &token,
                &dir,
                &[
                    "--max-rps",
                    "15",
                    "apply",
                    "--auto-approve",
                    "--parallelism",
                    "2",
                    &ex,
                ],
            )
            .await
        })
    };
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
    let (mut child, url, again) = serve(&db, None).await;
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
    let r = tenantctl(
        &url,
        &token,
        dir,
        &["apply", "--auto-approve", "--parallelism", "4", &ex],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = tenantctl(&url, &token, dir, &["plan", "--detailed-exitcode", &ex]).await;
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
async fn serve(
    database: &str,
    _port: Option<u16>,
) -> (std::process::Child, String, Option<String>) {
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
    let s = TestServer::sqlite().await;
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mut doc = load_example("workspaces");
    let v1 = write_doc(&dir.join("v1"), &doc);
    assert_eq!(
        tenantctl(
            &url,
            &token,
            dir,
            &["apply", "--auto-approve", v1.to_str().expect("p")]
        )
        .await
        .code,
        0
    );
    let me = "claire.dubois@voyages-azur.fr";
    let as_claire = s.token("system", "org_admin", Some(me)).await;
    doc.users
        .get_mut(me)
        .expect("claire")
        .memberships
        .get_mut("voyages-azur")
        .expect("m")
        .role = "member".into();
    let v2 = write_doc(&dir.join("v2"), &doc);
    let r = tenantctl(&url, &as_claire, dir, &["plan", v2.to_str().expect("p")]).await;
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
    let before = live(&s).await;
    let r = tenantctl(
        &url,
        &as_claire,
        dir,
        &["apply", "--auto-approve", v2.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("self_lockout"), "{}", r.stderr);
    assert_eq!(live(&s).await, before);
    // Another identity may do it.
    let r = tenantctl(
        &url,
        &token,
        dir,
        &["plan", "--detailed-exitcode", v2.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    s.shutdown().await;
}

/// Rule 6 with one ranking of roles for the plan and the platform: a `billing_admin` that
/// demotes itself to `member` is a `self_lockout` risk in the plan (as the platform refuses
/// it), and apply refuses before any write, with the tenant token of that billing admin and
/// with a system token acting as it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_admin_cannot_demote_itself() {
    let s = TestServer::sqlite().await;
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mut doc = load_example("workspaces");
    let v1 = write_doc(&dir.join("v1"), &doc);
    let r = tenantctl(
        &url,
        &token,
        dir,
        &["apply", "--auto-approve", v1.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let me = "olivier.marchand@fiduciaire-marchand.fr";
    doc.users
        .get_mut(me)
        .expect("olivier")
        .memberships
        .get_mut("voyages-azur")
        .expect("m")
        .role = "member".into();
    let v2 = write_doc(&dir.join("v2"), &doc);
    let before = live(&s).await;
    let as_tenant_billing_admin = s
        .token("tenant:voyages-azur", "billing_admin", Some(me))
        .await;
    let as_system = s.token("system", "billing_admin", Some(me)).await;
    for (who, as_me) in [
        ("tenant token", &as_tenant_billing_admin),
        ("system token", &as_system),
    ] {
        let r = tenantctl(&url, as_me, dir, &["plan", v2.to_str().expect("p")]).await;
        assert_eq!(r.code, 1, "{who}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!(
                "the identity running the apply (`{me}`) cannot demote itself from `billing_admin` to `member` (rule 6)"
            )),
            "{who}: {}",
            r.stdout
        );
        let r = tenantctl(
            &url,
            as_me,
            dir,
            &["apply", "--auto-approve", v2.to_str().expect("p")],
        )
        .await;
        assert_eq!(r.code, 1, "{who}: {}", r.stderr);
        assert!(r.stderr.contains("self_lockout"), "{who}: {}", r.stderr);
        assert_eq!(live(&s).await, before, "{who}: nothing written");
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
    assert_eq!(live(&s).await, before);
    // Another identity may do it.
    let r = tenantctl(
        &url,
        &token,
        dir,
        &["plan", "--detailed-exitcode", v2.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    s.shutdown().await;
}

/// `--target` limits the plan to a resource, what it depends on and its children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_limit_the_plan() {
    let s = TestServer::sqlite().await;
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let ex = examples_dir().join("workspaces");
    let ex = ex.to_str().expect("p");
    let r = tenantctl(
        &url,
        &token,
        dir,
        &[
            "plan",
            "--format",
            "json",
            "--target",
            "tenant/kobayashi-ramen",
            ex,
        ],
    )
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
    let r = tenantctl(
        &url,
        &token,
        dir,
        &[
            "apply",
            "--auto-approve",
            "--target",
            "tenant/kobayashi-ramen",
            ex,
        ],
    )
    .await;
    // The tenant alone has no org_admin: memberships are children of users too, and come
    // with the tenant target.
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let st = live(&s).await;
    assert!(st.tenants.contains_key("kobayashi-ramen") && !st.tenants.contains_key("voyages-azur"));
    let r = tenantctl(&url, &token, dir, &["plan", "--target", "nope/x", ex]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`nope` is not a kind"), "{}", r.stderr);
    let r = tenantctl(&url, &token, dir, &["plan", "--target", "tenant/ghost", ex]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("matches nothing"), "{}", r.stderr);
    s.shutdown().await;
}

/// Without a terminal, apply needs --auto-approve; the plan is not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_terminal_needs_auto_approve() {
    let s = TestServer::sqlite().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let ex = examples_dir().join("workspaces");
    let r = tenantctl(
        &s.url(),
        s.system_token(),
        tmp.path(),
        &["apply", ex.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no terminal to ask for confirmation on")
            && r.stderr.contains("--auto-approve"),
        "{}",
        r.stderr
    );
    assert!(live(&s).await.is_empty());
    s.shutdown().await;
}

/// With no endpoint, commands run on the embedded local platform in `.tenantctl/`.
#[test]
fn the_embedded_local_platform_is_the_default() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ex = examples_dir().join("imagegen");
    let run = |args: &[&str]| {
        Command::cargo_bin("tenantctl")
            .expect("bin")
            .args(args)
            .current_dir(tmp.path())
            .env_remove("TENANTCTL_ENDPOINT")
            .env_remove("TENANTCTL_TOKEN")
            .env_remove("TENANTCTL_LOCAL_DIR")
            .env("NO_COLOR", "1")
            .output()
            .expect("runs")
    };
    let out = run(&["apply", "--auto-approve", ex.to_str().expect("p")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("using the embedded local platform (.tenantctl/local.db)"),
        "{stderr}"
    );
    assert!(tmp.path().join(".tenantctl/local.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join(".tenantctl/local.token"))
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = run(&["plan", "--detailed-exitcode", ex.to_str().expect("p")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes."));
}

/// Colour on request (a terminal, or CLICOLOR_FORCE), plain under NO_COLOR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_only_when_asked() {
    let s = TestServer::sqlite().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let ex = examples_dir().join("workspaces");
    let (url, token, dir, ex) = (
        s.url(),
        s.system_token().to_string(),
        tmp.path().to_path_buf(),
        ex.to_str().expect("p").to_string(),
    );
    let out = tokio::task::spawn_blocking(move || {
        let plain = Command::cargo_bin("tenantctl")
            .expect("bin")
            .args(["plan", &ex])
            .current_dir(&dir)
            .env("TENANTCTL_ENDPOINT", &url)
            .env("TENANTCTL_TOKEN", &token)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .expect("runs");
        let forced = Command::cargo_bin("tenantctl")
            .expect("bin")
            .args(["plan", &ex])
            .current_dir(&dir)
            .env("TENANTCTL_ENDPOINT", &url)
            .env("TENANTCTL_TOKEN", &token)
            .env_remove("NO_COLOR")
            .env("CLICOLOR_FORCE", "1")
            .output()
            .expect("runs");
        (plain, forced)
    })
    .await
    .expect("join");
    assert!(
        !String::from_utf8_lossy(&out.0.stdout).contains('\u{1b}'),
        "piped output is plain"
    );
    assert!(
        String::from_utf8_lossy(&out.1.stdout).contains("\u{1b}[32m"),
        "forced colour"
    );
    s.shutdown().await;
}

/// A live resource made outside tenantctl that the YAML mentions, unchanged, is adopted:
/// the plan shows `managed: false → true`, apply marks it managed, the re-plan is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentioned_unmanaged_resources_are_adopted() {
    let s = TestServer::sqlite().await;
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let doc = load_example("workspaces");
    let (email, user) = doc.users.iter().next().expect("a user");
    let spec = json!({ "first_name": user.first_name, "last_name": user.last_name, "language": user.language, "date_format": user.date_format });
    let a = s
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/users/{email}"),
            Some(&token),
            Some(&json!({ "spec": spec, "managed": false })),
            &[("if-match", "\"0\"")],
        )
        .await;
    assert!(a.status.is_success(), "{}", a.text);
    assert!(!live(&s).await.users[email].managed);
    let v1 = write_doc(&dir.join("v1"), &doc);
    let v1 = v1.to_str().expect("p");
    let r = tenantctl(&url, &token, dir, &["plan", "--format", "json", v1]).await;
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
    let r = tenantctl(&url, &token, dir, &["apply", "--auto-approve", v1]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(live(&s).await.users[email].managed);
    assert_no_changes(
        &tenantctl(&url, &token, dir, &["plan", "--detailed-exitcode", v1]).await,
        "after adoption",
    );
    s.shutdown().await;
}

/// Every write of an apply carries the apply's change-set id and the CI commit, recorded in
/// the platform's audit log; in batch and in resource-by-resource mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_carry_the_change_set_and_the_commit() {
    let s = TestServer::sqlite().await;
    let (url, token) = (s.url(), s.system_token().to_string());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mut doc = load_example("workspaces");
    let v1 = write_doc(&dir.join("v1"), &doc);
    let r = tenantctl_env(
        &url,
        &token,
        dir,
        &["apply", "--auto-approve", v1.to_str().expect("p")],
        &[("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = doc.tenants.keys().next().cloned().expect("tenant");
    doc.tenants.get_mut(&t).expect("t").display_name = Some("Changed in resource mode".into());
    let v2 = write_doc(&dir.join("v2"), &doc);
    let r = tenantctl_env(
        &url,
        &token,
        dir,
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "2",
            v2.to_str().expect("p"),
        ],
        &[("CI_COMMIT_SHA", "feedface")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let audit = s.get("/api/v1/audit?limit=1000").await;
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
    s.shutdown().await;
}

/// `explain` of workspace grants and catalog permissions, on the desired state of examples.
#[test]
fn explain_workspace_grants_and_permissions() {
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
            "grant_to_whole_tenant",
            &registers,
            &[
                "lucie.bernard@cabinet-morel.fr",
                "--permission",
                "read",
                "--workspace",
                "pharmacie-des-halles",
            ],
            true,
        ),
        (
            "grant_to_role",
            &registers,
            &[
                "antoine.rousseau@cabinet-morel.fr",
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
                "read",
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
        let out = Command::cargo_bin("tenantctl")
            .expect("bin")
            .args(&all)
            .env("NO_COLOR", "1")
            .env("TENANTCTL_ENDPOINT", "http://127.0.0.1:9")
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.contains("\nALLOWED:"), *allowed, "{name}: {stdout}");
        insta::assert_snapshot!(format!("explain_{name}"), stdout);
    }
}

/// A workspace renamed in its tenant (an update that carries its grants), and one moved to
/// another tenant (a replace, reason `tenant`), in batch and resource-by-resource mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_rename_and_move_between_tenants() {
    for parallelism in [None, Some("2")] {
        let s = TestServer::sqlite().await;
        let (url, token) = (s.url(), s.system_token().to_string());
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        let doc = load_example("registers");
        let v1 = write_doc(&dir.join("v1"), &doc);
        assert_eq!(
            tenantctl(
                &url,
                &token,
                dir,
                &["apply", "--auto-approve", v1.to_str().expect("p")]
            )
            .await
            .code,
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
        let v2 = write_doc(&dir.join("v2"), &d);
        let v2 = v2.to_str().expect("p");

        let r = tenantctl(
            &url,
            &token,
            dir,
            &[
                "plan",
                "--format",
                "json",
                "--max-delete-percent",
                "100",
                v2,
            ],
        )
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
        args.push(v2);
        let r = tenantctl(&url, &token, dir, &args).await;
        assert_eq!(r.code, 0, "{parallelism:?}\n{}\n{}", r.stdout, r.stderr);
        assert_no_changes(
            &tenantctl(&url, &token, dir, &["plan", "--detailed-exitcode", v2]).await,
            "after the workspace rename and move",
        );
        let st = live(&s).await;
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
        s.shutdown().await;
    }
}

/// A plan too big for one pull-request comment: the markdown stays under 60,000 characters,
/// keeps the summary table, and says what was cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_markdown_plan_is_cut_with_a_note() {
    let s = TestServer::sqlite().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut doc = Document::default();
    doc.plans.insert("standard".into(), Default::default());
    for t in 0..150 {
        let tk = format!("tenant-{t:03}");
        doc.tenants.insert(
            tk.clone(),
            tenantctl::config::TenantDecl {
                plan: "standard".into(),
                display_name: Some(format!("Tenant {t}")),
                ..Default::default()
            },
        );
        for u in 0..4 {
            let mut user = tenantctl::config::UserDecl {
                first_name: Some(format!("User {u}")),
                ..Default::default()
            };
            user.memberships.insert(
                tk.clone(),
                MembershipSpec {
                    role: "org_admin".into(),
                    workspaces: vec![],
                },
            );
            doc.users.insert(format!("u{u}@{tk}.example"), user);
        }
    }
    let path = write_doc(tmp.path(), &doc);
    let r = tenantctl(
        &s.url(),
        s.system_token(),
        tmp.path(),
        &["plan", "--format", "markdown", path.to_str().expect("p")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let md = r.stdout;
    assert!(
        md.chars().count() <= 60_000,
        "{} characters",
        md.chars().count()
    );
    assert!(
        md.contains("**Plan: 1351 to create, 0 to update, 0 to replace, 0 to delete.**"),
        "{}",
        &md[..300]
    );
    assert!(md.contains("| membership | 600 | 0 | 0 | 0 |"));
    let note = md
        .lines()
        .find(|l| l.contains("changes are not shown"))
        .expect("a note of what was cut");
    assert!(
        note.contains("of 1351 changes are not shown") && note.contains("under 60,000 characters"),
        "{note}"
    );
    s.shutdown().await;
}
