//! Plan time on a big state: the diff of a desired state against a live state of the same
//! size, with no changes and with ~1 % of the users changed, and the renderers on the result.
//! Run: `cargo bench --bench plan` (or `-- TENANTS USERS_PER_TENANT`).

use std::time::Instant;

use tenantctl::config::{Document, GrantDecl, GrantTo, TenantDecl, UserDecl, WorkspaceDecl};
use tenantctl::model::{Kind, MembershipSpec, PlanSpec, State};
use tenantctl::plan::{diff, PlanInput, PlanOptions};

fn document(tenants: usize, users_per_tenant: usize, workspaces: usize) -> Document {
    let mut doc = Document::default();
    doc.plans.insert("standard".into(), PlanSpec::default());
    for t in 0..tenants {
        let tk = format!("tenant-{t:05}");
        let mut td = TenantDecl {
            plan: "standard".into(),
            display_name: Some(format!("Tenant {t}")),
            ..TenantDecl::default()
        };
        for w in 0..workspaces {
            td.workspaces.insert(
                format!("ws-{w:02}"),
                WorkspaceDecl {
                    display_name: Some(format!("Workspace {w}")),
                    ..WorkspaceDecl::default()
                },
            );
            td.grants.push(GrantDecl {
                workspace: format!("ws-{w:02}"),
                to: GrantTo::Tenant(true),
                actions: vec![tenantctl::model::GrantAction::Read],
            });
        }
        doc.tenants.insert(tk.clone(), td);
        for u in 0..users_per_tenant {
            let mut ud = UserDecl {
                first_name: Some(format!("First{u}")),
                last_name: Some(format!("Last{t}")),
                ..UserDecl::default()
            };
            let role = if u < 2 { "org_admin" } else { "member" };
            ud.memberships.insert(
                tk.clone(),
                MembershipSpec {
                    role: role.into(),
                    workspaces: if u < 2 {
                        vec![]
                    } else {
                        vec![format!("ws-{:02}", u % workspaces)]
                    },
                },
            );
            doc.users.insert(format!("user{u}@{tk}.example"), ud);
        }
    }
    doc
}

fn live_of(desired: &PlanInput) -> State {
    let mut s = desired.state.clone();
    s.mark_all_managed(true);
    s.revision = 1000;
    s
}

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) -> T {
    let mut out = f();
    let start = Instant::now();
    for _ in 0..runs {
        out = f();
    }
    let per = start.elapsed() / runs;
    println!("{label:<44} {per:>12.2?}");
    out
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: this focused
    // measurement is too heavy for a debug test run; the `scale` bench is the smoke test.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!(
            "{}: a measurement; run it with `cargo bench --bench {}`",
            file!(),
            env!("CARGO_CRATE_NAME")
        );
        return;
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let tenants = args.first().copied().unwrap_or(1000);
    let users = args.get(1).copied().unwrap_or(20);
    let doc = document(tenants, users, 10);
    let desired = tenantctl::pipeline::plan_input(doc.to_desired());
    let live = live_of(&desired);
    println!(
        "state: {} resources ({} tenants, {} users, {} memberships, {} workspaces, {} grants)",
        desired.state.len(),
        desired.state.count(Kind::Tenant),
        desired.state.count(Kind::User),
        desired.state.count(Kind::Membership),
        desired.state.count(Kind::Workspace),
        desired.state.count(Kind::Grant)
    );
    let opts = PlanOptions::default();
    let plan = time("diff, no changes", 5, || diff(&desired, &live, &opts));
    assert!(!plan.has_changes());

    let mut changed = doc.clone();
    for (i, u) in changed.users.values_mut().enumerate() {
        if i % 100 == 0 {
            u.first_name = Some("Changed".into());
        }
    }
    let changed = tenantctl::pipeline::plan_input(changed.to_desired());
    let plan = time("diff, 1 % of users changed", 5, || {
        diff(&changed, &live, &opts)
    });
    println!("  {} changes", plan.changes.len());
    time("render human", 5, || {
        tenantctl::render::human(&plan, false).len()
    });
    time("render markdown", 5, || {
        tenantctl::render::markdown(&plan).len()
    });
    time("render json", 5, || {
        tenantctl::render::json::json(&plan).len()
    });
    let from_empty = time("diff from empty (everything created)", 3, || {
        diff(&desired, &State::default(), &opts)
    });
    println!("  {} changes", from_empty.changes.len());
}
