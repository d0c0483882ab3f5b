//! Wall time of `validate` on a generated configuration: 2,000 tenants (two workspaces
//! each) and 100,000 users with one membership each, in two files (16 MB of YAML).
//! Run with `cargo bench --bench validate`; prints the time of each phase over 5 runs.
//! Measured, never asserted.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

fn generate(dir: &Path, users: usize, warnings: bool) {
    let tenants = users / 50;
    let mut t = String::from(
        "plans:\n  essential:\n    limits: { users: 100, workspaces: 10 }\ntenants:\n",
    );
    for i in 0..tenants {
        let _ = write!(t, "  tenant-{i}:\n    plan: essential\n    workspaces:\n      paris: {{}}\n      lyon: {{}}\n");
    }
    std::fs::write(dir.join("tenants.yaml"), t).expect("write tenants");
    let mut u = String::from("users:\n");
    for n in 0..users {
        let tenant = n / 50;
        let membership = match (n % 50 < 2, warnings) {
            (true, false) => "{ role: org_admin }",
            // An ignored workspace list: one warning per org_admin.
            (true, true) => "{ role: org_admin, workspaces: [paris] }",
            (false, _) => "{ role: member, workspaces: [paris] }",
        };
        let _ = write!(
            u,
            "  user{n}@example.com:\n    first_name: User\n    last_name: N{n}\n    language: fr\n    memberships:\n      tenant-{tenant}: {membership}\n"
        );
    }
    std::fs::write(dir.join("users.yaml"), u).expect("write users");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
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
    for (name, warnings) in [
        ("100k users, no warning", false),
        ("100k users, 4,000 warnings", true),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        generate(tmp.path(), 100_000, warnings);
        let paths = vec![tmp.path().to_path_buf()];
        let mut load = Vec::new();
        let mut total = Vec::new();
        let mut render = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let loaded = tenantctl::config::load_paths(&paths);
            load.push(t.elapsed());
            drop(loaded);
            let t = Instant::now();
            let checked = tenantctl::validate::check_paths(&paths);
            total.push(t.elapsed());
            let t = Instant::now();
            let mut out = Vec::new();
            tenantctl::validate::render(
                &checked.diagnostics,
                tenantctl::validate::Format::Human,
                false,
                &mut out,
            )
            .expect("render");
            render.push(t.elapsed());
            assert!(checked.desired.is_some());
            std::mem::forget(checked);
        }
        println!(
            "{name}: read+parse {:?}, check_paths {:?}, render {:?} (median of 5)",
            median(load),
            median(total),
            median(render)
        );
    }
}
