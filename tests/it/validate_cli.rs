//! Transcript tests of `tenantctl validate`: the real binary on every file of
//! `examples/invalid/` (exit 1) and `examples/warnings/` (exit 0), on bad input generated at
//! test time (missing path, empty directory, non-YAML directory, a 50 MB file), and on a
//! generated configuration with 100,000 users. Exit code, stdout and stderr are snapshotted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tenantctl ARGS` in `dir` and returns the transcript and the exit code.
fn run(dir: &Path, args: &[&str]) -> (String, i32) {
    let out = cargo_bin_cmd!("tenantctl")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TENANTCTL_EXAMPLE_UNSET_PHONE")
        .env_remove("TENANTCTL_EXAMPLE_UNSET_ACCOUNT")
        .output()
        .expect("run tenantctl");
    let code = out.status.code().unwrap_or(-1);
    let mut t = String::new();
    let _ = write!(
        t,
        "exit: {code}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (t, code)
}

/// Entries of an examples directory: files and sub-directories, sorted.
fn entries(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join(dir))
        .expect("examples directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn snapshot_name(entry: &str) -> String {
    entry.trim_end_matches(".yaml").to_string()
}

#[test]
fn every_invalid_example_fails_with_its_diagnostic() {
    let all = entries("examples/invalid");
    assert!(
        all.len() >= 25,
        "examples/invalid holds one file per rule and per kind of bad input"
    );
    for entry in all {
        let path = format!("examples/invalid/{entry}");
        let (transcript, code) = run(&root(), &["validate", &path]);
        assert_eq!(code, 1, "{path} must fail:\n{transcript}");
        assert!(
            transcript.contains("tenantctl::"),
            "{path} has a diagnostic code:\n{transcript}"
        );
        insta::assert_snapshot!(format!("invalid__{}", snapshot_name(&entry)), transcript);
    }
}

#[test]
fn every_warning_example_passes_with_its_warning() {
    for entry in entries("examples/warnings") {
        let path = format!("examples/warnings/{entry}");
        let (transcript, code) = run(&root(), &["validate", &path]);
        assert_eq!(code, 0, "{path} has warnings only:\n{transcript}");
        assert!(
            transcript.contains("warning: "),
            "{path} warns:\n{transcript}"
        );
        insta::assert_snapshot!(format!("warnings__{}", snapshot_name(&entry)), transcript);
    }
}

#[test]
fn json_format() {
    let (transcript, code) = run(
        &root(),
        &[
            "validate",
            "--format",
            "json",
            "examples/invalid/duplicate_identity",
        ],
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!(transcript);
}

#[test]
fn github_format() {
    let (errors, code) = run(
        &root(),
        &[
            "validate",
            "--format",
            "github",
            "examples/invalid/duplicate_identity",
        ],
    );
    assert_eq!(code, 1);
    let (warnings, code) = run(
        &root(),
        &[
            "validate",
            "--format",
            "github",
            "examples/warnings/workspaces_ignored.yaml",
        ],
    );
    assert_eq!(code, 0);
    insta::assert_snapshot!(format!("{errors}{warnings}"));
}

#[test]
fn all_problems_of_several_paths_in_one_run() {
    let (transcript, code) = run(
        &root(),
        &[
            "validate",
            "examples/invalid/unknown_plan.yaml",
            "examples/invalid/tabs.yaml",
            "examples/warnings/single_org_admin.yaml",
            "no/such/path.yaml",
        ],
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!(transcript);
}

#[test]
fn missing_path_empty_directory_and_directory_without_yaml() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(tmp.path().join("empty")).expect("mkdir");
    std::fs::create_dir(tmp.path().join("docs")).expect("mkdir");
    std::fs::write(tmp.path().join("docs/README.md"), "# not YAML\n").expect("write");
    for (name, args) in [
        ("missing_path", vec!["validate", "missing.yaml"]),
        ("empty_dir", vec!["validate", "empty"]),
        ("dir_without_yaml", vec!["validate", "docs"]),
    ] {
        let (transcript, code) = run(tmp.path(), &args);
        assert_eq!(code, 1, "{name}:\n{transcript}");
        insta::assert_snapshot!(name, transcript);
    }
}

#[test]
fn directories_are_read_recursively_in_sorted_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("config");
    std::fs::create_dir_all(dir.join("tenants")).expect("mkdir");
    std::fs::write(dir.join("plans.yml"), "plans:\n  essential: {}\n").expect("write");
    std::fs::write(
        dir.join("tenants/acme.yaml"),
        "tenants:\n  acme:\n    plan: essential\n",
    )
    .expect("write");
    std::fs::write(dir.join("tenants/notes.txt"), "not read").expect("write");
    std::fs::write(dir.join(".hidden.yaml"), "{{{ not read").expect("write");
    std::fs::write(
        dir.join("users.yaml"),
        "users:\n  alice@acme.example:\n    memberships:\n      acme: { role: org_admin }\n  bob@acme.example:\n    memberships:\n      acme: { role: org_admin }\n",
    )
    .expect("write");
    let (transcript, code) = run(tmp.path(), &["validate", "config"]);
    assert_eq!(code, 0, "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn env_substitution_reads_the_environment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("c.yaml"),
        "plans:\n  essential: {}\ntenants:\n  acme:\n    plan: essential\n    contact: { email: \"${env:TENANTCTL_TEST_CONTACT}\" }\nusers:\n  a@acme.example: { memberships: { acme: { role: org_admin } } }\n  b@acme.example: { memberships: { acme: { role: org_admin } } }\n",
    )
    .expect("write");
    let ok = cargo_bin_cmd!("tenantctl")
        .args(["validate", "c.yaml"])
        .current_dir(tmp.path())
        .env("TENANTCTL_TEST_CONTACT", "ops@acme.example")
        .output()
        .expect("run");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // The substituted value is checked like any other: an invalid address is reported.
    let bad = cargo_bin_cmd!("tenantctl")
        .args(["validate", "c.yaml"])
        .current_dir(tmp.path())
        .env("TENANTCTL_TEST_CONTACT", "not an address")
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("tenantctl::invalid_email"));
}

#[test]
fn a_50_mb_file_is_refused_without_being_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("huge.yaml");
    let line =
        "# padding padding padding padding padding padding padding padding padding padding\n";
    let mut text = String::with_capacity(50 * 1024 * 1024 + line.len());
    text.push_str("plans:\n  essential: {}\n");
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(line);
    }
    std::fs::write(&path, text).expect("write");
    let (transcript, code) = run(tmp.path(), &["validate", "huge.yaml"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(transcript);
}

/// 2,000 tenants of 50 users each (two org_admins per tenant), in one users file.
pub fn generate_large(dir: &Path, users: usize) {
    let tenants = users / 50;
    let mut t = String::from(
        "plans:\n  essential:\n    limits: { users: 100, workspaces: 10 }\ntenants:\n",
    );
    for i in 0..tenants {
        let _ = write!(t, "  tenant-{i}:\n    plan: essential\n    workspaces:\n      paris: {{}}\n      lyon: {{}}\n");
    }
    std::fs::write(dir.join("tenants.yaml"), t).expect("write");
    let mut u = String::from("users:\n");
    for n in 0..users {
        let tenant = n / 50;
        let membership = if n % 50 < 2 {
            "{ role: org_admin }"
        } else {
            "{ role: member, workspaces: [paris] }"
        };
        let _ = write!(
            u,
            "  user{n}@example.com:\n    first_name: User\n    last_name: N{n}\n    language: fr\n    memberships:\n      tenant-{tenant}: {membership}\n"
        );
    }
    std::fs::write(dir.join("users.yaml"), u).expect("write");
}

#[test]
fn one_hundred_thousand_users_validate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    generate_large(tmp.path(), 100_000);
    let (transcript, code) = run(tmp.path(), &["validate", "."]);
    assert_eq!(code, 0, "{}", &transcript[..transcript.len().min(4000)]);
    insta::assert_snapshot!(transcript.lines().find(|l| l.starts_with("valid:")).unwrap_or_default(), @"valid: 2 files, 1 plan, 2000 tenants, 4000 workspaces, 100000 users, 100000 memberships");
}

/// The configuration examples: directories of `examples/` holding `*.yaml` files, other
/// than the invalid and warning cases.
fn config_examples() -> Vec<String> {
    entries("examples")
        .into_iter()
        .filter(|e| e != "invalid" && e != "warnings")
        .filter(|e| {
            std::fs::read_dir(root().join("examples").join(e))
                .map(|rd| {
                    rd.flatten()
                        .any(|f| f.path().extension().is_some_and(|x| x == "yaml"))
                })
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn every_example_validates_and_carries_the_schema_modeline() {
    let examples = config_examples();
    assert!(examples.len() >= 4, "{examples:?}");
    for example in examples {
        let dir = format!("examples/{example}");
        for f in std::fs::read_dir(root().join(&dir))
            .expect("example directory")
            .flatten()
        {
            let text = std::fs::read_to_string(f.path()).expect("example file");
            assert!(
                text.starts_with(
                    "# yaml-language-server: $schema=../../schemas/tenantctl.schema.json\n"
                ),
                "{} starts with the yaml-language-server modeline",
                f.path().display()
            );
        }
        let (transcript, code) = run(&root(), &["validate", &dir]);
        assert_eq!(code, 0, "{dir}:\n{transcript}");
        assert!(
            transcript.contains("--- stdout\nvalid: "),
            "{dir} has no warning:\n{transcript}"
        );
    }
}

#[test]
fn invalid_and_warning_examples_carry_the_schema_modeline() {
    for dir in ["examples/invalid", "examples/warnings"] {
        for entry in entries(dir) {
            let path = root().join(dir).join(&entry);
            if path.is_dir() || entry == "empty.yaml" {
                continue;
            }
            let bytes = std::fs::read(&path).expect("example file");
            assert!(
                bytes.starts_with(
                    b"# yaml-language-server: $schema=../../schemas/tenantctl.schema.json\n"
                ),
                "{}",
                path.display()
            );
        }
    }
}

/// A reader that goes away (`tenantctl … | head`) ends the command quietly: no error on
/// stderr, and the status the command had reached (validate's errors still exit 1).
#[test]
fn a_closed_stdout_ends_quietly_with_the_commands_status() {
    let tmp = tempfile::tempdir().expect("tmp");
    let local = tmp.path().join("local");
    let local = local.to_str().expect("utf-8 path");
    let invalid = root().join("examples/invalid");
    let invalid = invalid.to_str().expect("utf-8 path");
    for (args, code) in [
        (vec!["schema"], 0),
        (vec!["validate", "--format", "json", invalid], 1),
        (vec!["export", "--local-dir", local], 0),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"))
            .args(&args)
            .current_dir(tmp.path())
            .env("NO_COLOR", "1")
            .env_remove("TENANTCTL_ENDPOINT")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run tenantctl");
        // Close the reading end before the command writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}\n{stderr}");
        let said: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("using the embedded local platform"))
            .collect();
        assert!(
            said.is_empty(),
            "{args:?}: nothing more on stderr\n{stderr}"
        );
    }
}

/// The codes `validate --format json` reports for `paths`, in order, and the exit code.
fn codes(dir: &Path, paths: &[&str]) -> (Vec<String>, i32) {
    let out = cargo_bin_cmd!("tenantctl")
        .args(["validate", "--format", "json"])
        .args(paths)
        .current_dir(dir)
        .output()
        .expect("run tenantctl");
    let diagnostics: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("validate --format json prints JSON");
    let codes = diagnostics
        .as_array()
        .expect("an array of diagnostics")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_string())
        .collect();
    (codes, out.status.code().unwrap_or(-1))
}

/// A schema mistake does not hide the rules' mistakes: the rules run on everything that
/// typed, in the same file and in the other files, and a mistake both report (a bad
/// e-mail key) is reported once.
#[test]
fn schema_and_rule_problems_are_reported_in_one_run() {
    let (five, code) = codes(&root(), &["examples/invalid/five_mistakes.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(
        five,
        [
            "tenantctl::wrong_type",
            "tenantctl::unknown_permission",
            "tenantctl::unknown_plan",
            "tenantctl::no_org_admin",
            "tenantctl::invalid_email",
        ]
    );
    let (two, _) = codes(&root(), &["examples/invalid/key_and_missing_field.yaml"]);
    assert_eq!(two, ["tenantctl::missing_field", "tenantctl::invalid_key"]);

    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("a.yaml"),
        "plans:\n  essential:\n    limits: { users: many }\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("b.yaml"),
        "tenants:\n  acme:\n    plan: essentail\nusers:\n  a@acme.example:\n    status: blokced\n    memberships: { acme: { role: org_admin } }\n  b@acme.example:\n    memberships: { acme: { role: org_admin } }\n",
    )
    .expect("write");
    let (both, code) = codes(tmp.path(), &["a.yaml", "b.yaml"]);
    assert_eq!(code, 1);
    // The user with a bad status keeps their membership: no `no_org_admin`/`single_org_admin` noise.
    assert_eq!(
        both,
        [
            "tenantctl::wrong_type",
            "tenantctl::unknown_plan",
            "tenantctl::invalid_value",
        ]
    );
}

/// A file whose shape is wrong above its entries (a misspelt section) hides what it
/// declares: the rules do not run rather than report every reference to it.
#[test]
fn a_misspelt_section_stops_the_rules() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.yaml"), "plan:\n  essential: {}\n").expect("write");
    std::fs::write(
        tmp.path().join("b.yaml"),
        "tenants:\n  acme:\n    plan: essential\n",
    )
    .expect("write");
    let (codes, code) = codes(tmp.path(), &["a.yaml", "b.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(codes, ["tenantctl::unknown_field"]);
}
