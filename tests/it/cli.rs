//! Transcript tests of the command line itself (issue 11): exit codes CI can read, output
//! that cannot be written, files written safely, special files in a configuration, progress
//! in logs, completions and the man page. The real binary, in a temp dir.

use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::cargo_bin_cmd;

/// `tenantctl ARGS` in `dir` without colour or a platform from the environment: the
/// transcript (exit code, stdout, stderr) and the exit code.
fn run(dir: &Path, args: &[&str]) -> (String, i32) {
    let out = cargo_bin_cmd!("tenantctl")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TENANTCTL_ENDPOINT")
        .env_remove("TENANTCTL_TOKEN")
        .output()
        .expect("run tenantctl");
    let code = out.status.code().unwrap_or(-1);
    (
        format!(
            "exit: {code}\n--- stdout\n{}--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        code,
    )
}

/// A usage error exits 1, like every other error: 2 means only "changes present" with
/// `--detailed-exitcode`, and a drift job must not read a typo as drift.
#[test]
fn usage_errors_exit_1() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (typo, code) = run(
        tmp.path(),
        &["plan", "--detailed-exitcode", "--typo", "config"],
    );
    assert_eq!(code, 1, "{typo}");
    insta::assert_snapshot!("usage_error_unknown_flag", typo);
    let (missing, code) = run(tmp.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 1, "{missing}");
    insta::assert_snapshot!("usage_error_missing_argument", missing);
    let (_, code) = run(tmp.path(), &[]);
    assert_eq!(code, 1, "no command is a usage error");
    let (help, code) = run(tmp.path(), &["plan", "--help"]);
    assert_eq!(code, 0, "{help}");
    let (_, code) = run(tmp.path(), &["--version"]);
    assert_eq!(code, 0);
}

/// Output that cannot be written (a full disk) is an error with a message and exit 1,
/// never a panic (exit 101); the embedded platform's export and the schema alike.
#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_exits_1_with_a_message() {
    let tmp = tempfile::tempdir().expect("tmp");
    for args in [vec!["export"], vec!["schema"]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
            .args(&args)
            .current_dir(tmp.path())
            .env("NO_COLOR", "1")
            .env_remove("TENANTCTL_ENDPOINT")
            .stdout(Stdio::from(full))
            .stderr(Stdio::piped())
            .output()
            .expect("run tenantctl");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        insta::assert_snapshot!(format!("full_stdout_{}", args[0]), stderr);
    }
}
