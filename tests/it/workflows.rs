//! The GitHub workflows are valid YAML, and every `tenantctl …` command the users' workflow
//! runs parses with the real command line (so a renamed flag breaks this test, not a user's CI).

use std::path::Path;

use clap::Parser;
use serde_json::Value;

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("workflow file");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// The `tenantctl` command lines of every `run:` step, with shell variables filled in.
fn tenantctl_lines(workflow: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for job in workflow["jobs"].as_object().expect("jobs").values() {
        for step in job["steps"].as_array().expect("steps") {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            for line in run.lines().map(str::trim) {
                if let Some(rest) = line.strip_prefix("tenantctl ") {
                    let cmd = rest
                        .split(" > ")
                        .next()
                        .unwrap_or(rest)
                        .replace("\"$CONFIG\"", "config");
                    out.push(cmd);
                }
            }
        }
    }
    out
}

#[test]
fn the_project_ci_runs_fmt_clippy_and_the_test_script() {
    let ci = load(".github/workflows/ci.yml");
    let runs: Vec<&str> = ci["jobs"]
        .as_object()
        .expect("jobs")
        .values()
        .flat_map(|j| j["steps"].as_array().into_iter().flatten())
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo fmt") && r.contains("--check")),
        "{runs:?}"
    );
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo clippy --all-targets") && r.contains("-D warnings")),
        "{runs:?}"
    );
    assert!(runs.iter().any(|r| r.contains("bash .ci/run")), "{runs:?}");
}

#[test]
fn the_users_workflow_plans_applies_and_checks_drift_with_real_commands() {
    let wf = load("examples/github/tenantctl.yml");
    let jobs = wf["jobs"].as_object().expect("jobs");
    for job in ["plan", "apply", "drift"] {
        assert!(jobs.contains_key(job), "job `{job}`");
    }
    assert!(wf["on"]["schedule"].is_array(), "a scheduled drift check");
    let lines = tenantctl_lines(&wf);
    assert!(
        lines.iter().any(|l| l.starts_with("plan ")
            && l.contains("--format markdown")
            && l.contains("--out")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("apply --plan")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("plan ")
            && l.contains("--detailed-exitcode")
            && !l.contains("--out")),
        "{lines:?}"
    );
    for line in &lines {
        let args = std::iter::once("tenantctl").chain(line.split_whitespace());
        if let Err(e) = tenantctl::cli::Cli::try_parse_from(args) {
            panic!("`tenantctl {line}` does not parse:\n{e}");
        }
    }
}
