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

/// Mode bits of a file, as `0o600`.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `plan --out FILE` writes a temporary file of its own and renames it: a neighbouring
/// `FILE.tmp` of the user's survives, the plan is 0600, a symbolic link is written
/// through, and a directory is refused.
#[cfg(unix)]
#[test]
fn out_writes_safely() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::write(dir.join("tenantctl.tmp"), "mine\n").expect("write");
    let (t, code) = run(
        dir,
        &["plan", &example("workspaces"), "--out", "tenantctl.plan"],
    );
    assert_eq!(code, 0, "{t}");
    assert_eq!(
        std::fs::read_to_string(dir.join("tenantctl.tmp")).expect("read"),
        "mine\n"
    );
    assert_eq!(mode(&dir.join("tenantctl.plan")), 0o600);
    let names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".tenantctl"))
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.ends_with(".tmp") || n == "tenantctl.tmp"),
        "no temporary file left: {names:?}"
    );

    std::fs::create_dir(dir.join("plans")).expect("mkdir");
    std::os::unix::fs::symlink("plans/current.plan", dir.join("link.plan")).expect("symlink");
    let (t, code) = run(dir, &["plan", &example("workspaces"), "--out", "link.plan"]);
    assert_eq!(code, 0, "{t}");
    assert!(std::fs::symlink_metadata(dir.join("link.plan"))
        .expect("meta")
        .file_type()
        .is_symlink());
    assert!(
        dir.join("plans/current.plan").is_file(),
        "written through the link"
    );

    let (refused, code) = run(dir, &["plan", &example("workspaces"), "--out", "plans"]);
    assert_eq!(code, 1, "{refused}");
    assert!(
        refused.contains("`plans` is a directory, not a regular file"),
        "{refused}"
    );
}

/// The embedded platform's database is created 0600 (it holds every user and token hash),
/// its WAL files too, and its directory ignores itself in git.
#[cfg(unix)]
#[test]
fn the_embedded_database_is_private() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (t, code) = run(
        tmp.path(),
        &["apply", "--auto-approve", &example("workspaces")],
    );
    assert_eq!(code, 0, "{t}");
    let local = tmp.path().join(".tenantctl");
    for name in ["local.db", "local.token"] {
        assert_eq!(mode(&local.join(name)), 0o600, "{name}");
    }
    for name in ["local.db-wal", "local.db-shm"] {
        if local.join(name).exists() {
            assert_eq!(mode(&local.join(name)), 0o600, "{name}");
        }
    }
    let ignore = std::fs::read_to_string(local.join(".gitignore")).expect(".gitignore");
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
}

/// `export --out DIR` over an earlier export of another layout refuses, rather than leave
/// files that declare every resource twice; `--clean` removes tenantctl's own files first,
/// and never a file of the user's.
#[test]
fn export_into_a_directory_of_another_layout() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (t, code) = run(dir, &["apply", "--auto-approve", &example("workspaces")]);
    assert_eq!(code, 0, "{t}");
    let (t, code) = run(dir, &["export", "--out", "config"]);
    assert_eq!(code, 0, "{t}");
    std::fs::write(dir.join("config/notes.yaml"), "# mine\nplans: {}\n").expect("write");
    let (refused, code) = run(dir, &["export", "--out", "config", "--layout", "tenant"]);
    assert_eq!(code, 1, "{refused}");
    insta::assert_snapshot!("export_other_layout_refused", refused);
    let (cleaned, code) = run(
        dir,
        &["export", "--out", "config", "--layout", "tenant", "--clean"],
    );
    assert_eq!(code, 0, "{cleaned}");
    insta::assert_snapshot!("export_other_layout_cleaned", cleaned);
    assert!(!dir.join("config/plans.yaml").exists());
    assert!(dir.join("config/platform.yaml").exists());
    assert!(
        dir.join("config/notes.yaml").exists(),
        "the user's file stays"
    );
    std::fs::remove_file(dir.join("config/notes.yaml")).expect("rm");
    let (t, code) = run(dir, &["plan", "config"]);
    assert_eq!(code, 0, "{t}");
    assert!(t.contains("No changes."), "{t}");

    std::fs::write(dir.join("config/users.yaml"), "users: {}\n").expect("write");
    let (mine, code) = run(dir, &["export", "--out", "config", "--layout", "tenant"]);
    assert_eq!(code, 1, "{mine}");
    assert!(mine.contains("were not written by tenantctl"), "{mine}");
}

/// A FIFO in a configuration directory is reported, not opened: opening it would wait for
/// a writer forever.
#[cfg(unix)]
#[test]
fn a_fifo_in_a_configuration_directory_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = tmp.path().join("config");
    std::fs::create_dir(&config).expect("mkdir");
    std::fs::write(config.join("plans.yaml"), "plans:\n  essential: {}\n").expect("write");
    let made = Command::new("mkfifo")
        .arg(config.join("pipe.yaml"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .args(["validate", "config"])
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tenantctl");
    // Without the check the read blocks for ever; a generous bound tells the two apart.
    let deadline = std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("validate waited on the FIFO for {deadline:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("`config/pipe.yaml` is a FIFO, not a regular file; it was not read"),
        "{stdout}"
    );
    insta::assert_snapshot!("fifo_in_config_dir", stdout);
}

/// An apply resource by resource whose stderr is a pipe (a CI log) says how far it is
/// every few seconds, and ends with its last line; every apply ends with its wall time.
#[test]
fn a_piped_apply_prints_progress_lines() {
    let tmp = tempfile::tempdir().expect("tmp");
    // 42 writes at 10 requests per second: at least 4 seconds, two lines on the way.
    let (t, code) = run(
        tmp.path(),
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "2",
            "--max-rps",
            "10",
            &example("imagegen"),
        ],
    );
    assert_eq!(code, 0, "{t}");
    let lines: Vec<&str> = t.lines().filter(|l| l.starts_with("applied ")).collect();
    let shape = |l: &str| {
        let Some(rest) = l.strip_prefix("applied ") else {
            return false;
        };
        let Some((counts, timing)) = rest.split_once(" (") else {
            return false;
        };
        counts.ends_with("/42") && timing.ends_with("/s)") && timing.contains(" s, ")
    };
    assert!(
        lines.len() >= 3,
        "progress lines on the way and at the end:\n{t}"
    );
    assert!(lines.iter().all(|l| shape(l)), "{lines:#?}");
    assert!(
        lines[lines.len() - 1].starts_with("applied 42/42 ("),
        "{lines:#?}"
    );
    let complete = t
        .lines()
        .find(|l| l.starts_with("Apply complete!"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        complete.starts_with("Apply complete! Resources: 42 created, 0 updated, 0 replaced, 0 deleted (live revision 42) in ")
            && complete.ends_with(" s."),
        "{complete}"
    );
}

/// `serve` with its stderr in a file writes plain logs: no colour escapes.
#[test]
fn serve_logs_are_plain_in_a_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let log = tmp.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(format!("sqlite://{}", tmp.path().join("p.db").display()))
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "debug,sqlx=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .spawn()
        .expect("serve");
    let mut text = String::new();
    for _ in 0..200 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("serving") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("serving"), "{text}");
    assert!(
        text.lines().count() > 1,
        "some logs besides the banner: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no escape sequences in a log file:\n{text:?}"
    );
}

/// `completions SHELL` prints a script for each shell clap knows, naming every command; the
/// bash one parses (`bash -n`) and, sourced, completes `tenantctl pl` to `plan`.
#[test]
fn completions_are_generated_for_every_shell() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut transcript = String::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = cargo_bin_cmd!("tenantctl")
            .args(["completions", shell])
            .output()
            .expect("run");
        let script = String::from_utf8_lossy(&out.stdout);
        let names_all = [
            "validate",
            "plan",
            "apply",
            "export",
            "token",
            "completions",
            "man",
        ]
        .iter()
        .all(|c| script.contains(c));
        transcript.push_str(&format!(
            "{shell}: exit {}, names every command: {names_all}, completes --detailed-exitcode: {}\n",
            out.status.code().unwrap_or(-1),
            script.contains("detailed-exitcode"),
        ));
        if shell == "bash" {
            let path = tmp.path().join("tenantctl.bash");
            std::fs::write(&path, script.as_bytes()).expect("write");
            let check = Command::new("bash")
                .arg("-n")
                .arg(&path)
                .status()
                .expect("bash");
            assert!(check.success(), "bash -n refuses the script");
            let probe = format!(
                "source {}; COMP_WORDS=(tenantctl pl); COMP_CWORD=1; _tenantctl tenantctl pl tenantctl; echo \"${{COMPREPLY[@]}}\"",
                path.display()
            );
            let out = Command::new("bash")
                .args(["-c", &probe])
                .output()
                .expect("bash");
            transcript.push_str(&format!(
                "bash: `tenantctl pl<TAB>` -> {}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    let (bad, code) = run(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(code, 1, "{bad}");
    insta::assert_snapshot!("completions", transcript);
}

/// `man` prints `tenantctl.1`, which groff renders, and `man --out DIR` writes one page per
/// command and subcommand.
#[test]
fn man_pages_are_generated() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = cargo_bin_cmd!("tenantctl")
        .arg("man")
        .output()
        .expect("run");
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH tenantctl 1"), "{page}");
    if let Ok(mut groff) = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        use std::io::Write as _;
        groff
            .stdin
            .take()
            .expect("stdin")
            .write_all(&out.stdout)
            .expect("write");
        let done = groff.wait_with_output().expect("groff");
        assert!(done.status.success());
        assert_eq!(String::from_utf8_lossy(&done.stderr), "", "groff warnings");
    }
    let dir = tmp.path().join("man1");
    let (t, code) = run(tmp.path(), &["man", "--out", dir.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{t}");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let plan = std::fs::read_to_string(dir.join("tenantctl-plan.1")).expect("plan page");
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");
    insta::assert_snapshot!(
        "man_pages",
        format!(
            "{}\n{}",
            names.join("\n"),
            t.replace(tmp.path().to_str().expect("utf-8"), "[TMP]")
        )
    );
}

/// `--help` shows only the options a command uses, with examples: no platform options on
/// `validate` or `schema`; `plan` has them under their own heading.
#[test]
fn help_shows_only_a_commands_options() {
    let tmp = tempfile::tempdir().expect("tmp");
    for cmd in ["validate", "schema", "completions", "man"] {
        let (t, code) = run(tmp.path(), &[cmd, "--help"]);
        assert_eq!(code, 0, "{t}");
        assert!(!t.contains("--endpoint") && !t.contains("--token"), "{t}");
    }
    let (validate, _) = run(tmp.path(), &["validate", "-h"]);
    insta::assert_snapshot!("help_validate", validate);
    let (plan, _) = run(tmp.path(), &["plan", "-h"]);
    assert!(
        plan.contains("Platform:") && plan.contains("--endpoint"),
        "{plan}"
    );
    assert!(
        !plan.contains("--lock-ttl"),
        "only apply takes the lock: {plan}"
    );
    assert!(plan.contains("Examples:"), "{plan}");
    let (apply, _) = run(tmp.path(), &["apply", "-h"]);
    assert!(apply.contains("--lock-ttl"), "{apply}");
}
